"""A conversion sent as a date alone (Salesforce's Opportunity.CloseDate) is the end of that
day, as ``attribution import`` reads close dates: the day's touches come before it
(newuser-report3 #4: scoring refused them with 422 "touch is after its conversion"). The
library's three engines and the HTTP service over a real uvicorn server on loopback, through
each of its body readers (typed, walk, schema) and its process lane."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import attribution
from attribution import JourneyScorer
from service import Settings, create_app

KEY = "close-dates-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
ENGINES = ("small", "fast", "reference")


def deal(closed: Any, *touches: tuple[str, str], stage: str | None = None,
         cid: str = "o") -> dict[str, Any]:
    conversion: dict[str, Any] = {"id": cid, "timestamp": closed, "value": 100}
    if stage:
        conversion["stage"] = stage
    return {"conversion": conversion,
            "touches": [{"timestamp": at, "channel": channel} for at, channel in touches]}


# the tester's request: a deal closed on 2025-03-01, a webinar that morning
TESTER = deal("2025-03-01", ("2025-02-01T00:00:00Z", "email"),
              ("2025-03-01T09:00:00Z", "webinar"))


def _credit(journeys: list[dict[str, Any]], models: list[str], engine: str) -> list[float]:
    scores = JourneyScorer(models=models).fit().score(journeys, engine=engine)  # type: ignore[arg-type]
    return scores.touch_credit.get_column("credit").to_list()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_close_date_takes_that_day_s_touches(engine: str) -> None:
    assert _credit([TESTER], ["linear", "last_touch"], engine) == [0.5, 0.5, 0.0, 1.0]
    as_date = deal(date(2025, 3, 1), ("2025-03-01T23:59:59.999999Z", "webinar"))
    assert _credit([as_date], ["last_touch"], engine) == [1.0]
    # a conversion at stage opportunity is its own milestone: at the end of its day, after
    # the morning's touch, which w_shaped then credits as the opportunity touch (first and
    # opportunity 0.3 each, the other 0.1; no lead: renormalised)
    opened = deal("2025-03-01", ("2025-01-01T00:00:00Z", "email"),
                  ("2025-02-01T00:00:00Z", "linkedin"), ("2025-03-01T09:00:00Z", "webinar"),
                  stage="opportunity")
    assert _credit([opened], ["w_shaped"], engine) == pytest.approx([3 / 7, 1 / 7, 3 / 7])


@pytest.mark.parametrize("engine", ENGINES)
def test_only_the_conversion_s_date_is_its_end_and_a_time_is_kept(engine: str) -> None:
    scorer = JourneyScorer(models=["linear"]).fit()
    for refused in (
        deal("2025-03-01", ("2025-03-02T00:00:00Z", "email")),        # the next day
        deal("2025-03-01T00:00:00Z", ("2025-03-01T09:00:00Z", "email")),  # midnight sent
        deal(datetime(2025, 3, 1), ("2025-03-01T09:00:00Z", "email")),    # a datetime
    ):
        with pytest.raises(attribution.InputError, match="after its conversion") as err:
            scorer.score([refused], engine=engine if engine != "small" else "auto")
        assert err.value.column == "journeys[0].touches[0].timestamp"
    # a touch sent as a date alone is that day's midnight: before a conversion that day
    touch_date = deal("2025-03-01T00:00:00Z", ("2025-03-01", "email"))
    assert _credit([touch_date], ["linear"], engine) == [1.0]


# --- over HTTP ---------------------------------------------------------------------------------

@pytest.fixture
def url(tmp_path: Path, start_server: Callable[[Any], str]) -> str:
    return start_server(create_app(Settings(api_keys=(KEY,), data_dir=tmp_path,
                                            runs_dir=tmp_path / "runs")))


@pytest.mark.parametrize("reader", ["typed", "walk", "schema"])
def test_the_service_reads_a_close_date_as_the_end_of_that_day(url: str, reader: str) -> None:
    journey = json.loads(json.dumps(TESTER))
    if reader == "schema":  # non-ASCII: the plain readers leave it to the pydantic schema
        journey["touches"][0]["channel"] = "émail"
    sent = {"models": ["linear", "last_touch"], "journeys": [journey]}
    raw = json.dumps(sent, ensure_ascii=reader != "walk").encode()
    if reader == "walk":  # an escape in the bytes: the typed decoder leaves it to the walk
        raw = raw.replace(b'"webinar"', b'"web\\u0069nar"')
    with httpx.Client(base_url=url, headers=AUTH | {"Content-Type": "application/json"},
                      timeout=30) as http:
        answer = http.post("/v1/attribute", content=raw)
        assert answer.status_code == 200, answer.text
        assert [r["credit"] for r in answer.json()["touch_credit"]] == [0.5, 0.5, 0.0, 1.0]
        assert answer.json()["touch_credit"][1]["channel"] == "webinar"
        # the next day's touch is still after the conversion
        late = json.loads(json.dumps(sent))
        late["journeys"][0]["touches"][1]["timestamp"] = "2025-03-02T00:00:00Z"
        refused = http.post("/v1/attribute", json=late)
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "journeys[0].touches[1].timestamp"


def test_the_process_lane_reads_a_close_date_as_the_end_of_that_day(url: str) -> None:
    """A body over 64 KiB is parsed and scored in a child process: the same rule."""
    journeys = [deal("2025-03-01", *[(f"2025-02-{d:02d}T10:00:00Z", "email")
                                     for d in range(1, 29)],
                     ("2025-03-01T09:00:00Z", "webinar"), cid=f"o{k}") for k in range(40)]
    sent = {"models": ["last_touch"], "journeys": journeys}
    assert len(json.dumps(sent)) > 64 * 1024
    answer = httpx.post(f"{url}/v1/attribute", json=sent, headers=AUTH, timeout=60)
    assert answer.status_code == 200, answer.text
    last = [r for r in answer.json()["touch_credit"] if r["credit"] == 1.0]
    assert {r["channel"] for r in last} == {"webinar"}
    assert len(last) == 40


def test_the_end_of_a_day_is_defined_once() -> None:
    """One public constant says what a date alone stands for (attribution.inputs.END_OF_DAY);
    the importers, the library's scoring request, the small-journey scorer and the service
    read it instead of writing the time again."""
    import re
    from datetime import time

    from attribution.inputs import END_OF_DAY

    assert END_OF_DAY == time(23, 59, 59, 999_999)
    root = Path(attribution.__file__).parent.parent
    written = re.compile(
        r"time\(23\b|hour=23|86_?400_?000_?000\s*-\s*1|days=1\)\s*-|T23:59:59|999_999\)"
        r"|\"\(23:59|999999 UTC\), so a deal won"
    )
    found = [
        f"{path.relative_to(root)}:{n}"
        for folder in ("attribution", "service")
        for path in sorted((root / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if written.search(line.split("#")[0]) and "END_OF_DAY: Final" not in line
    ]
    assert found == []
