"""Item 6 of fix19 (new-user report 13 #9): a run that reads times without a time zone (a
CRM export's local times: Pipedrive's ``Won time``) beside times written with one (GA4's
``Z``) says so, as ``attribution import`` does: a note among the manifest's notes (code
``naive_times``), counted per table (``inputs.<table>.time_zones``), printed by ``run`` as a
NOTE naming ``--timezone``; nothing with ``--timezone``, nor when the times are all of one
kind, nor for dates alone. The credit is read as before (naive = UTC)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli import app
from attribution.engine._manifest import coded_notes

GA4 = ("timestamp,contact_id,channel\n2025-01-01T10:00:00Z,a,google\n"
       "2025-01-02T10:00:00.5Z,b,linkedin\n2025-01-03 10:00:00 UTC,b,email\n")  # fmt: skip
PIPEDRIVE = ("timestamp,contact_id,stage,value\n2025-01-05 10:22:00,a,closed_won,100\n"
             "2025-01-06 10:22,b,closed_won,200\n")  # fmt: skip


def _files(tmp_path: Path, touches: str = GA4, stages: str = PIPEDRIVE) -> tuple[Path, Path]:
    (tmp_path / "ga4.csv").write_text(touches)
    (tmp_path / "deals.csv").write_text(stages)
    return tmp_path / "ga4.csv", tmp_path / "deals.csv"


def _notes(result: attribution.RunResult) -> list[str]:
    return coded_notes(result.manifest, "naive_times")


def test_naive_times_beside_zoned_ones_are_said_and_counted(tmp_path: Path) -> None:
    touches, stages = _files(tmp_path)
    result = attribution.attribute(touches, stages, models=["linear"])
    [note] = _notes(result)
    assert note in result.manifest["notes"]
    assert note.startswith("2 time(s) without a time zone (e.g. stages '")
    assert ("deals.csv', column 'timestamp': '2025-01-05 10:22:00') were read as UTC, beside "
            "3 written with one (e.g. touches '") in note
    assert "(touches 0 naive, 3 zoned; stages 2 naive, 0 zoned)" in note
    assert "--timezone ZONE" in note
    inputs = result.manifest["inputs"]
    assert inputs["touches"]["time_zones"] == {"timestamp": {"naive": 0, "zoned": 3}}
    assert inputs["stages"]["time_zones"] == {"timestamp": {"naive": 2, "zoned": 0}}
    zoned = attribution.attribute(touches, stages, models=["linear"], timezone="Europe/Berlin")
    assert _notes(zoned) == []
    assert "time_zones" not in zoned.manifest["inputs"]["stages"]


@pytest.mark.parametrize("stages", [
    PIPEDRIVE.replace(":00,", ":00Z,").replace(":22,", ":22Z,"),  # all zoned
    PIPEDRIVE.replace(" 10:22:00", "").replace(" 10:22", ""),  # dates alone: no time to move
])  # fmt: skip
def test_one_kind_of_time_is_not_said(tmp_path: Path, stages: str) -> None:
    touches, stages_file = _files(tmp_path, stages=stages)
    result = attribution.attribute(touches, stages_file, models=["linear"])
    assert _notes(result) == []
    assert "time_zones" not in result.manifest["inputs"]["touches"]


def test_a_typed_column_counts_by_its_type_and_one_column_may_mix(tmp_path: Path) -> None:
    touches = pl.DataFrame({"contact_id": ["a", "b"], "channel": ["google", "email"],
                            "timestamp": pl.Series(["2025-01-01 10:00", "2025-01-02 10:00"]
                                                   ).str.to_datetime()})  # naive  # fmt: skip
    stages = _files(tmp_path, stages=PIPEDRIVE.replace("10:22:00,", "10:22:00Z,"))[1]
    [note] = _notes(attribution.attribute(touches, stages, models=["linear"]))
    assert "3 time(s) without a time zone" in note  # 2 typed naive + 1 in the stages
    assert "touches 2 naive, 0 zoned; stages 1 naive, 1 zoned" in note


def test_run_prints_the_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ["run", "--touches", "ga4.csv", "--stages", "deals.csv", "-m", "linear",
            "--out", "runs"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.stderr.splitlines() if "without a time zone" in x]
    assert line.startswith("NOTE: 2 time(s) without a time zone")
    assert "run again with --timezone ZONE" in line
