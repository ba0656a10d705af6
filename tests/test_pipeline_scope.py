"""One meaning per word (new-user report 4, defect 8): the sourced-vs-influenced table covers
the run's deals (its conversions), so with the default conversion stage it is closed-won
deals only, and says so in ``pipeline.parquet``'s ``note``, the manifest, the command line
and the report; every opportunity's created pipeline is the economics' and the funnel's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from test_account_unknown import CONTACTS, STAGES, TOUCHES

import attribution


@pytest.mark.parametrize("partitions", [None, 2])
@pytest.mark.parametrize(
    ("stage", "scope", "deals"),
    [
        ("closed_won", "closed-won deals only", 2),
        ("opportunity", "every opportunity (open, lost and won)", 2),
    ],
)
def test_the_table_says_which_deals_it_covers(stage, scope, deals, partitions) -> None:
    kw = dict(contacts=CONTACTS, models=["linear"], level="account", conversion_stage=stage)
    if partitions:
        result = attribution.attribute_partitioned(TOUCHES, STAGES, partitions=partitions, **kw)
    else:
        result = attribution.attribute(TOUCHES, STAGES, **kw)
    assert result.manifest["parameters"]["pipeline_deals"] == scope
    notes = result.pipeline.get_column("note").to_list()
    assert notes
    assert all(n.startswith(f"{scope}: ") for n in notes)
    sourced = result.pipeline.filter(pl.col("measure") == "sourced")
    assert sourced.get_column("deals").sum() == deals == result.conversions.height


def test_cli_title_and_line(tmp_path: Path) -> None:
    for name, frame in (("t", TOUCHES), ("s", STAGES), ("c", CONTACTS)):
        frame.write_parquet(tmp_path / f"{name}.parquet")
    done = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches", "t.parquet",
         "--stages", "s.parquet", "--contacts", "c.parquet", "--level", "account",
         "-m", "linear", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Sourced vs influenced pipeline of closed-won deals only" in done.stdout
    assert "pipeline = the opportunity amounts of the run's won deals" in done.stdout
    (run,) = (tmp_path / "runs").iterdir()
    assert "Over closed-won deals only" in (run / "report.html").read_text()
