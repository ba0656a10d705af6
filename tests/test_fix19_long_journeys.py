"""Item 7 of fix19 (new-user report 13 #13): a journey far longer than the run's others
(at least 1,000 touches and 20 times the median journey) under the touch cap is counted
(``journeys_long``), its longest listed with its top channel (``journeys_long_list``), said
in the manifest's notes and the run's summary; its credit is kept as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli import app

START = datetime(2025, 1, 1, tzinfo=UTC)


def _data(bot_touches: int = 3502, people: int = 40, each: int = 3) -> tuple[pl.DataFrame, ...]:
    rows = [(f"c{c}", ("google", "linkedin", "email")[k % 3], START + timedelta(hours=k))
            for c in range(people) for k in range(each)]  # fmt: skip
    rows += [("bot", "direct" if k < bot_touches - 2 else "google",
              START + timedelta(minutes=10 * k)) for k in range(bot_touches)]  # fmt: skip
    touches = pl.DataFrame(rows, schema=["contact_id", "channel", "timestamp"], orient="row")
    stages = pl.DataFrame({"contact_id": [*(f"c{c}" for c in range(people)), "bot"],
                           "stage": "closed_won", "timestamp": START + timedelta(days=45),
                           "value": 100.0})  # fmt: skip
    return touches, stages


def test_a_bot_journey_under_the_cap_is_said_and_its_credit_kept() -> None:
    result = attribution.attribute(*_data(), models=["linear"])
    rec = result.manifest["reconciliation"]
    assert rec["journeys_long"] == 1
    assert rec["journeys_long_list"] == [{"conversion_id": "bot#1", "contact_id": "bot",
                                          "touches": 3502, "top_channel": "direct",
                                          "top_channel_touches": 3500}]  # fmt: skip
    [note] = [n for n in result.manifest["notes"] if "far longer" in n]
    assert "conversion bot#1 of contact_id bot, has 3,502 touches, 3,500 of them direct" in note
    credit = result.touch_credit.filter(pl.col("conversion_id") == "bot#1")
    assert credit.get_column("credit").sum() == pytest.approx(1.0)  # kept: linear over 3,502
    assert credit.filter(pl.col("channel") == "direct").get_column("credit").sum() == (
        pytest.approx(3500 / 3502))


@pytest.mark.parametrize("case", ["all_long", "cut_by_the_cap", "short"])
def test_what_is_not_a_long_journey(case: str) -> None:
    options: dict[str, object] = {}
    if case == "all_long":  # a run of big journeys: 20 x its median is far above them
        touches, stages = _data(bot_touches=1500, people=3, each=1200)
    elif case == "cut_by_the_cap":  # counted as journeys_too_long, not twice
        touches, stages = _data()
        options["max_touches_per_journey"] = 1000
    else:
        touches, stages = _data(bot_touches=999)
    result = attribution.attribute(touches, stages, models=["linear"], **options)
    rec = result.manifest["reconciliation"]
    assert "journeys_long" not in rec
    assert not [n for n in result.manifest["notes"] if "far longer" in n]
    assert rec.get("journeys_too_long", 0) == (1 if case == "cut_by_the_cap" else 0)


def test_partitions_count_it_and_the_summary_says_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touches, stages = _data()
    split = attribution.attribute_partitioned(touches, stages, partitions=2, models=["linear"])
    assert split.manifest["reconciliation"]["journeys_long"] == 1
    touches.write_csv(tmp_path / "t.csv")
    stages.write_csv(tmp_path / "s.csv")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "--touches", "t.csv", "--stages", "s.csv",
                                      "-m", "linear", "--out", "runs"])  # fmt: skip
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.stdout.splitlines() if "far longer" in x]
    assert line.startswith("note: 1 journey(s) far longer than the run's others")
    assert "3,502 touches, 3,500 of them direct" in line
