"""One channel, two Unicode spellings: ``café`` typed on Windows (U+00E9) and on macOS (``e``
then U+0301, the combining acute) printed alike and were two channels, each with half the
credit (newuser-report6 #5). The one channel spelling is in Unicode NFC, in the batch reader
and the scoring (library and HTTP) alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import attribution
from service import Settings, create_app

COMPOSED = "caf\u00e9"        # é as one code point (NFC)
DECOMPOSED = "Cafe\u0301 "    # e + combining acute (NFD), capitalised, padded
KEY = "unicode-key-0123456789"


def test_a_run_reads_both_spellings_as_one_channel(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "touch_id,contact_id,channel,timestamp\n"
        f"t1,c1,{COMPOSED},2025-03-01T09:00:00Z\n"
        f"t2,c1,{DECOMPOSED},2025-03-02T09:00:00Z\n"
        f"t3,c2,{DECOMPOSED},2025-03-02T09:00:00Z\n",
        encoding="utf-8",
    )
    (tmp_path / "s.csv").write_text(
        "contact_id,stage,timestamp,value\n"
        "c1,closed_won,2025-03-10T00:00:00Z,100\n"
        "c2,closed_won,2025-03-10T00:00:00Z,100\n"
    )
    result = attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
    rows = result.channel_credit.select("channel", "conversions").rows()
    assert rows == [(COMPOSED, pytest.approx(2.0))]
    assert result.manifest["reconciliation"]["channel_values_renamed"] == {DECOMPOSED: COMPOSED}


def _journey() -> dict[str, object]:
    return {"conversion": {"id": "opp-1", "timestamp": "2025-03-05T00:00:00Z", "value": 100},
            "touches": [{"timestamp": "2025-03-01T09:00:00Z", "channel": COMPOSED},
                        {"timestamp": "2025-03-02T09:00:00Z", "channel": DECOMPOSED}]}


@pytest.mark.parametrize("engine", ["small", "fast", "reference"])
def test_scoring_reads_both_spellings_as_one_channel(engine: str) -> None:
    scores = attribution.JourneyScorer(models=["linear"]).fit().score(
        [_journey()], engine=engine)  # type: ignore[arg-type]
    assert scores.touch_credit.get_column("channel").to_list() == [COMPOSED, COMPOSED]
    assert scores.channel_credit.select("channel", "conversions").rows() == [(COMPOSED, 1.0)]


def test_the_service_reads_both_spellings_as_one_channel(tmp_path: Path) -> None:
    settings = Settings(api_keys=(KEY,), data_dir=tmp_path, runs_dir=tmp_path / "runs")
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/attribute", headers={"Authorization": f"Bearer {KEY}"},
                               json={"models": ["linear"], "journeys": [_journey()]})
    assert response.status_code == 200, response.text
    rows = response.json()["channel_credit"]
    assert [(r["channel"], r["conversions"]) for r in rows] == [(COMPOSED, 1.0)]
