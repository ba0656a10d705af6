"""``--late-window`` (or ``[run] late_window``) without ``--state`` says on stderr that it has
no effect (new-user report 4, smaller points): the run still reads every row and exits 0."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from attribution.cli import app

NOTE = "has no effect without --state: a run without a state reads every row"


def _inputs(directory: Path) -> list[str]:
    pl.DataFrame({"timestamp": ["2025-02-01", "2025-02-03"], "channel": ["email", "events"],
                  "contact_id": ["c1", "c2"]}).write_csv(directory / "t.csv")  # fmt: skip
    pl.DataFrame({"timestamp": ["2025-03-01", "2025-03-02"], "stage": ["closed_won"] * 2,
                  "contact_id": ["c1", "c2"]}).write_csv(directory / "s.csv")  # fmt: skip
    return ["run", "--touches", str(directory / "t.csv"), "--stages", str(directory / "s.csv"),
            "-m", "linear"]  # fmt: skip


@pytest.mark.parametrize("how", ["flag", "config", "none"])
def test_late_window_without_state_is_noted(tmp_path: Path, how: str) -> None:
    args = [*_inputs(tmp_path), "--out", str(tmp_path / "runs")]
    if how == "flag":
        args += ["--late-window", "3d"]
    elif how == "config":
        (tmp_path / "run.toml").write_text('[run]\nlate_window = "2d"\n')
        args += ["--config", str(tmp_path / "run.toml")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if NOTE in line]
    if how == "none":
        assert notes == []
        return
    where = "--late-window" if how == "flag" else "[run] late_window"
    assert len(notes) == 1
    assert where in notes[0]
    assert NOTE not in result.stdout
