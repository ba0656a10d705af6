"""inp20 item 5: a long journey is measured against the median of the run's other journeys
(those under 1,000 touches), so a run of two conversions flags its bot: the median of two
journeys is their mean, and 3,502 touches were never 20 times (5 + 3,502) / 2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

import attribution
from attribution.journeys._long import long_journey_counts

START = datetime(2025, 1, 1, tzinfo=UTC)


def _run(lengths: dict[str, int]) -> dict[str, object]:
    rows = [(who, "direct" if k else "google", START + timedelta(minutes=10 * k))
            for who, n in lengths.items() for k in range(n)]  # fmt: skip
    touches = pl.DataFrame(rows, schema=["contact_id", "channel", "timestamp"], orient="row")
    stages = pl.DataFrame({"contact_id": list(lengths), "stage": "closed_won",
                           "timestamp": START + timedelta(days=45)})  # fmt: skip
    rec = attribution.attribute(touches, stages, models=["linear"]).manifest["reconciliation"]
    assert isinstance(rec, dict)
    return rec


@pytest.mark.parametrize(
    ("lengths", "flagged"),
    [
        ({"person": 5, "bot": 3502}, ["bot"]),  # two conversions: the mean was the yardstick
        ({"person": 5, "bot": 3600, "loop": 3500}, ["bot", "loop"]),  # two long ones
        ({"a": 60, "b": 80, "c": 1100}, []),  # 1,100 is not 20 x 70, the others' median
        ({"bot": 3502}, []),  # one conversion: no other journey to compare with
    ],
)
def test_a_long_journey_is_measured_against_the_others(
    lengths: dict[str, int], flagged: list[str]
) -> None:
    rec = _run(lengths)
    listed = rec.get("journeys_long_list") or []
    assert isinstance(listed, list)
    assert [row["contact_id"] for row in listed] == flagged
    assert rec.get("journeys_long", 0) == len(flagged)


def test_every_journey_long_compares_with_the_median_of_all() -> None:
    conversions = pl.DataFrame({"conversion_id": ["a", "b", "c", "d"], "contact_id": list("abcd"),
                                "n_touches": [1200, 1300, 1250, 30000]})  # fmt: skip
    journey = pl.DataFrame({"conversion_id": ["d"], "channel": ["direct"]})
    found = long_journey_counts(conversions, journey, "contact_id", pl.Series([], dtype=pl.String))
    assert found["journeys_long"] == 1  # 30,000 >= 20 x 1,275
    assert found["journeys_long_list"][0]["conversion_id"] == "d"
