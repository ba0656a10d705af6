"""inp20 item 3: the NOTE of naive times beside zoned ones (``naive_times``, counted per
table) was made by in-memory runs only; ``--partitions`` runs and ``--state`` nights make it
too, with the in-memory run's counts (the partitions' counts summed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli import app
from attribution.engine._incremental import attribute_incremental
from attribution.engine._manifest import coded_notes

GA4 = ("timestamp,contact_id,channel\n2025-01-01T10:00:00Z,a,google\n"
       "2025-01-02T10:00:00.5Z,b,linkedin\n2025-01-03 10:00:00 UTC,b,email\n"
       "2025-01-03T11:00:00+01:00,c,email\n2025-01-04 09:00,d,webinar\n")  # fmt: skip
PIPEDRIVE = ("timestamp,contact_id,stage,value\n2025-01-05 10:22:00,a,closed_won,100\n"
             "2025-01-06 10:22,b,closed_won,200\n2025-01-07T10:00:00Z,c,closed_won,50\n"
             "2025-01-08 08:00:00,d,closed_won,70\n")  # fmt: skip
COUNTS = "(touches 1 naive, 4 zoned; stages 3 naive, 1 zoned)"


def _files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "ga4.csv").write_text(GA4)
    (tmp_path / "deals.csv").write_text(PIPEDRIVE)
    return tmp_path / "ga4.csv", tmp_path / "deals.csv"


def _zones(manifest: dict) -> dict[str, object]:
    return {t: manifest["inputs"][t]["time_zones"] for t in ("touches", "stages")}


@pytest.mark.parametrize("partitions", [2, 3])
def test_partitions_say_it_with_the_whole_files_counts(tmp_path: Path, partitions: int) -> None:
    touches, stages = _files(tmp_path)
    memory = attribution.attribute(touches, stages, models=["linear"])
    [said] = coded_notes(memory.manifest, "naive_times")
    assert COUNTS in said
    split = attribution.attribute_partitioned(touches, stages, partitions=partitions,
                                              models=["linear"])  # fmt: skip
    [note] = coded_notes(split.manifest, "naive_times")
    assert note in split.manifest["notes"]
    assert note.startswith("4 time(s) without a time zone (e.g. ")
    assert "beside 5 written with one" in note
    assert COUNTS in note
    assert _zones(split.manifest) == _zones(memory.manifest) == {
        "touches": {"timestamp": {"naive": 1, "zoned": 4}},
        "stages": {"timestamp": {"naive": 3, "zoned": 1}}}  # fmt: skip
    zoned = attribution.attribute_partitioned(touches, stages, partitions=partitions,
                                              models=["linear"], timezone="Europe/Berlin")
    assert coded_notes(zoned.manifest, "naive_times") == []


def test_state_nights_say_it(tmp_path: Path) -> None:
    touches, stages = _files(tmp_path)
    options = attribution.RunOptions(models=["linear"], state=str(tmp_path / "state"))
    first = attribute_incremental(touches, stages, options=options)
    [note] = coded_notes(first.manifest, "naive_times")
    assert COUNTS in note
    with stages.open("a") as f:  # the next night: one more naive deal
        f.write("2025-01-09 08:00:00,a,closed_won,80\n")
    night = attribute_incremental(touches, stages, options=options)
    assert night.manifest["parameters"]["incremental"]["mode"] == "incremental"
    [note] = coded_notes(night.manifest, "naive_times")
    assert "(touches 1 naive, 4 zoned; stages 4 naive, 1 zoned)" in note  # a CSV: read whole


def test_cli_partitions_print_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "--touches", "ga4.csv", "--stages", "deals.csv",
                                      "-m", "linear", "--out", "runs", "--partitions", "2"])
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.stderr.splitlines() if "without a time zone" in x]
    assert line.startswith("NOTE: 4 time(s) without a time zone")
    assert COUNTS in line
