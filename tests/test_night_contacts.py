"""A contact-level night reads the contacts table as a full run does (new-user report 17,
S1): a touch without an account takes its contact's, so the touch credit's ``account_id``
-- and the unit economics by segment that read it -- equal a full run's, every night."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

import attribution
from attribution import attribute_incremental
from tests.test_incremental import _batches, assert_same

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
MODELS = ["first_touch", "linear", "markov"]


def test_nights_with_a_contacts_table_equal_full_runs(tmp_path) -> None:
    # without the touches' own account_id (a web pipeline's table): every account comes
    # from the contacts
    touches = pl.read_parquet(SAMPLE / "touches.parquet").drop("account_id")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    contacts = pl.read_parquet(SAMPLE / "contacts.parquet")
    mover = stages.filter(pl.col("stage") == "closed_won").get_column("contact_id").sort()[0]
    cuts = [datetime(2025, 8, 1, tzinfo=UTC), datetime(2025, 10, 15, tzinfo=UTC)]
    nights = zip(_batches(touches, cuts), _batches(stages, cuts), strict=True)
    for night, (t, s) in enumerate(nights):
        # a contact joins another account on the last night: the night's answer uses the
        # contacts table as it is now, as a full run does
        people = contacts if night < 2 else contacts.with_columns(
            pl.when(pl.col("contact_id") == mover)
            .then(pl.lit("acct-moved")).otherwise(pl.col("account_id")).alias("account_id")
        )
        got = attribute_incremental(t, s, contacts=people, models=MODELS, state=tmp_path / "s")
        full = attribution.attribute(t, s, contacts=people, models=MODELS)
        assert got.manifest["parameters"]["incremental"]["mode"] == (
            "full" if night == 0 else "incremental"
        )
        assert_same(got, full)
        credit = got.touch_credit
        assert credit.get_column("account_id").null_count() < credit.height // 10
        assert got.manifest["inputs"]["contacts"]["rows"] == people.height
    moved = got.touch_credit.filter(pl.col("contact_id") == mover)
    assert moved.height
    assert set(moved.get_column("account_id")) == {"acct-moved"}


def test_a_state_night_has_the_full_runs_segments(tmp_path) -> None:
    """The command line: a --state night with contacts and accounts writes the economics by
    segment a run without --state writes (it was one 'unknown' segment)."""
    touches = tmp_path / "touches.parquet"
    pl.read_parquet(SAMPLE / "touches.parquet").drop("account_id").write_parquet(touches)

    def run(out: Path, *more: str) -> Path:
        proc = subprocess.run(
            [sys.executable, "-m", "attribution.cli", "run",
             "--touches", str(touches), "--stages", str(SAMPLE / "stages.parquet"),
             "--contacts", str(SAMPLE / "contacts.parquet"),
             "--accounts", str(SAMPLE / "accounts.parquet"),
             "--spend", str(SAMPLE / "spend.parquet"), "-m", "linear", "--out", str(out), *more],
            capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ, COLUMNS="200"),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        (run_dir,) = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return run_dir

    night = run(tmp_path / "night", "--state", str(tmp_path / "state"))
    full = run(tmp_path / "full")
    economics = [
        pl.read_parquet(d / "economics.parquet").sort(["model", "segment", "channel"],
                                                       nulls_last=True)
        for d in (night, full)
    ]
    assert_frame_equal(economics[0], economics[1])
    named = economics[1].filter(~pl.col("segment").is_in(["all", "unknown"]))
    assert named.get_column("customers").sum() > 0  # the segments hold customers
    by = ["conversion_id", "touch_id"]
    assert_frame_equal(
        pl.read_parquet(night / "touch_credit.parquet").sort(by, nulls_last=True),
        pl.read_parquet(full / "touch_credit.parquet").sort(by, nulls_last=True),
    )
    manifest = json.loads((night / "manifest.json").read_text())
    assert "contacts" in manifest["inputs"]
