"""A stages column that looks like the deals' amounts, read by nothing for want of a
``value`` column, is said in the manifest's notes and on the command line (new-user report
22b, S2: ``Amount`` / ``VALUE`` / ``deal_value`` ignored, every conversion's revenue $0 and
``notes == []``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import attribution

TOUCHES = pl.DataFrame({"contact_id": ["c1", "c1", "c2"],
                        "channel": ["linkedin", "email", "webinar"],
                        "timestamp": ["2025-01-01", "2025-01-05", "2025-01-02"]})


def _stages(tmp_path: Path, column: str) -> Path:
    path = tmp_path / f"stages_{column}.csv"
    pl.DataFrame({"contact_id": ["c1", "c2"], "stage": ["closed_won"] * 2,
                  "timestamp": ["2025-01-10"] * 2, column: [1000.0, 500.0]}).write_csv(path)
    return path


@pytest.mark.parametrize("column", ["Amount", "VALUE", "deal_value", "Betrag"])
def test_an_amount_column_not_read_is_said(tmp_path: Path, column: str) -> None:
    result = attribution.attribute(TOUCHES, _stages(tmp_path, column), models=["linear"])
    assert result.channel_credit.get_column("value").sum() == 0.0
    (note,) = [n for n in result.manifest["notes"] if "no 'value' column" in n]
    assert f"'{column}' looks like the deals' amounts: every conversion is worth 0" in note
    assert f"[columns.stages] value = \"{column}\"" in note
    assert result.manifest["inputs"]["stages"]["value_column_not_read"] == column


def test_mapped_it_is_read_and_nothing_is_said(tmp_path: Path) -> None:
    options = attribution.RunOptions(models=["linear"], columns={"stages": {"value": "Amount"}})
    result = attribution.attribute(TOUCHES, _stages(tmp_path, "Amount"), options=options)
    assert result.channel_credit.get_column("value").sum() == 1500.0
    assert not [n for n in result.manifest["notes"] if "no 'value' column" in n]


def test_the_command_line_says_it(tmp_path: Path) -> None:
    touches = tmp_path / "t.csv"
    TOUCHES.write_csv(touches)
    done = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches", str(touches),
         "--stages", str(_stages(tmp_path, "Amount")), "-m", "linear",
         "--out", str(tmp_path / "runs")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "no 'value' column was read, and 'Amount' looks like the deals' amounts" in (
        " ".join(done.stderr.split()))
