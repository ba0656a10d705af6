"""``--timezone UTC`` written out is the default's clock: a state built without it is built
on, not recomputed (new-user report 17, M3: writing it to silence the note about times
without a zone cost a full night); another zone is another clock: a full recompute."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

import attribution
from attribution import attribute_incremental
from tests.test_incremental import _batches, assert_same

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def test_utc_written_out_builds_on_a_state_made_without_it(tmp_path) -> None:
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    cut = datetime(2025, 10, 1, tzinfo=UTC)
    (t0, t1), (s0, s1) = _batches(touches, [cut]), _batches(stages, [cut])
    state = tmp_path / "state"
    attribute_incremental(t0, s0, models=["linear"], state=state)
    night = attribute_incremental(t1, s1, models=["linear"], state=state, timezone="UTC")
    assert night.manifest["parameters"]["incremental"]["mode"] == "incremental"
    assert_same(night, attribution.attribute(t1, s1, models=["linear"], timezone="UTC"))
    other = attribute_incremental(t1, s1, models=["linear"], state=state, timezone="Etc/UTC")
    assert other.manifest["parameters"]["incremental"]["mode"] == "incremental"
    berlin = attribute_incremental(
        t1, s1, models=["linear"], state=state, timezone="Europe/Berlin"
    )
    info = berlin.manifest["parameters"]["incremental"]
    assert info["mode"] == "full"
    assert "timezone" in info["reason"]


def test_a_state_whose_sums_do_not_add_up_is_rebuilt(tmp_path) -> None:
    """One changed number in a state file that still reads (new-user report 17, M7: 328
    first-touch conversions of 228, exit 0): the night sees that the rule-based sums do not
    add up to the conversions counted and recomputes in full."""
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    state = tmp_path / "state"
    models = ["first_touch", "linear", "markov"]
    attribute_incremental(touches, stages, models=models, state=state)
    (sums,) = state.glob("tables-*/rule_sums*")
    frame = pl.read_ipc(sums)
    first = (pl.col("model") == "first_touch") & (pl.int_range(pl.len()) == 0)
    damaged = frame.with_columns(
        pl.when(first).then(pl.col("credit") + 100).otherwise(pl.col("credit")).alias("credit")
    )
    damaged.write_ipc(sums)
    night = attribute_incremental(touches, stages, models=models, state=state)
    info = night.manifest["parameters"]["incremental"]
    assert info["mode"] == "full"
    assert "the state's sums do not add up: first_touch credits" in info["reason"]
    assert_same(night, attribution.attribute(touches, stages, models=models))
    again = attribute_incremental(touches, stages, models=models, state=state)
    assert again.manifest["parameters"]["incremental"]["mode"] == "incremental"
