"""Touch credit in its two layouts: wide (a row per journey touch, a ``credit:<model>``
column per model: the default file) and long (a row per touch and model: the in-memory
``touch_credit``), the same numbers either way, on the sample log's first contacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution.engine._credit_table import wide_from_long

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
MODELS = ["first_touch", "linear", "time_decay", "markov", "shapley"]
KEYS = ["conversion_id", "touch_id", "contact_id", "account_id", "channel", "timestamp"]


@pytest.fixture(scope="module")
def result() -> attribution.AttributionResult:
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    contacts = touches.get_column("contact_id").unique().sort().head(400)
    return attribution.attribute(
        touches.filter(pl.col("contact_id").is_in(contacts.implode())),
        stages.filter(pl.col("contact_id").is_in(contacts.implode())),
        models=MODELS,
    )


def test_wide_and_long_hold_the_same_credit(result: attribution.AttributionResult) -> None:
    wide, long = result.touch_credit_wide, result.touch_credit
    labels = [run["label"] for run in result.manifest["models"]]
    assert wide.columns == [*KEYS, "conversion_value", *(f"credit:{m}" for m in labels)]
    assert long.height == wide.height * len(labels) > 0
    # long: model after model, each over the journey touches in the wide table's order
    for i, label in enumerate(labels):
        block = long.slice(i * wide.height, wide.height)
        assert block.get_column("model").unique().to_list() == [label]
        assert_frame_equal(block.select(KEYS), wide.select(KEYS))
        assert block.get_column("credit").equals(wide.get_column(f"credit:{label}"))
        value = wide.get_column(f"credit:{label}") * wide.get_column("conversion_value")
        assert block.get_column("value").equals(value.alias("value"))
        # every conversion's credit sums to 1 under every model, never negative
        sums = wide.group_by("conversion_id").agg(pl.col(f"credit:{label}").sum())
        assert (sums.get_column(f"credit:{label}") - 1).abs().max() < 1e-9
        assert wide.get_column(f"credit:{label}").min() >= 0
    # channel credit is the touch credit summed, whichever layout it came from
    summed = long.group_by("model", "channel").agg(pl.col("credit").sum(), pl.col("value").sum())
    joined = result.channel_credit.join(summed, on=["model", "channel"], how="full")
    assert joined.height == result.channel_credit.height
    rules = joined.filter(pl.col("model").is_in(["first_touch", "linear", "time_decay"]))
    assert (rules.get_column("conversions") - rules.get_column("credit")).abs().max() < 1e-9
    assert (rules.get_column("value_right") - rules.get_column("value")).abs().max() < 1e-6


def test_wide_built_from_long_equals_the_run_s(result: attribution.AttributionResult) -> None:
    # what an executor holding only the long layout writes
    rebuilt = wide_from_long(result.touch_credit, result.conversions)
    assert_frame_equal(rebuilt, result.touch_credit_wide)  # model blocks side by side
    # rows in any order: pivoted, the same table up to the row order
    shuffled = result.touch_credit.sample(fraction=1.0, shuffle=True, seed=3)
    assert_frame_equal(
        wide_from_long(shuffled, result.conversions).sort("conversion_id", "touch_id"),
        result.touch_credit_wide.sort("conversion_id", "touch_id"),
        check_column_order=False,  # the models in the order the rows name them first
    )


def test_written_layouts(result: attribution.AttributionResult, tmp_path: Path) -> None:
    wide_dir = result.write(tmp_path, run_id="wide", report=False)
    long_dir = result.write(tmp_path, run_id="long", report=False, touch_credit_layout="long")
    assert_frame_equal(pl.read_parquet(wide_dir / "touch_credit.parquet"), result.touch_credit_wide)
    assert_frame_equal(pl.read_parquet(long_dir / "touch_credit.parquet"), result.touch_credit)
    for run, layout in ((wide_dir, "wide"), (long_dir, "long")):
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["parameters"]["touch_credit_layout"] == layout
    with pytest.raises(ValueError, match="touch_credit_layout"):
        result.write(tmp_path, run_id="bad", touch_credit_layout="tall")


def test_the_option_is_checked_and_the_cli_takes_it(tmp_path: Path) -> None:
    with pytest.raises(attribution.InputError, match="touch_credit_layout"):
        attribution.RunOptions(touch_credit_layout="tall")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "attribution.cli", "run", "--touches",
             str(SAMPLE / "touches.parquet"), "--stages", str(SAMPLE / "stages.parquet"),
             "-m", "linear", "-m", "last_touch", "--out", str(tmp_path / "runs"), *args],
            capture_output=True, text=True, timeout=300, env=dict(os.environ, COLUMNS="200"),
        )  # fmt: skip

    proc = cli("--touch-credit-layout", "long")
    assert proc.returncode == 0, proc.stderr
    (run,) = (tmp_path / "runs").iterdir()
    long = pl.read_parquet(run / "touch_credit.parquet")
    assert long.columns == [*KEYS, "model", "credit", "value"]
    assert set(long.get_column("model")) == {"linear", "last_touch"}
    proc = cli("--touch-credit-layout", "tall")
    assert proc.returncode != 0
    assert "--touch-credit-layout" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_journey_campaigns_by_source_row_equal_the_join() -> None:
    from attribution.engine._campaign_credit import journey_campaigns, key_units
    from attribution.engine._memory import load_inputs
    from attribution.engine._stages import build_part

    options = attribution.RunOptions(models=["linear"])
    inputs = load_inputs(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", None, options)
    part = build_part(inputs.touches, inputs.stages, None, options)
    journeys = part.journeys
    assert journeys.rows is not None
    assert journeys.rows.len() == journeys.touches.height > 0
    _, by_touch = key_units(inputs.touches.frame, "channel", inputs.touches)
    assert by_touch is not None
    fast = journey_campaigns(by_touch, journeys.touches, journeys.rows)
    joined = journey_campaigns(by_touch, journeys.touches)
    assert fast is not None
    assert joined is not None
    assert_frame_equal(fast, joined)
    assert_frame_equal(part.campaigns, fast)
    # rows out of source order: the join is used, with the same answer
    shuffled = by_touch.sample(fraction=1.0, shuffle=True, seed=1)
    assert_frame_equal(journey_campaigns(shuffled, journeys.touches, journeys.rows), joined)


def test_data_driven_runs_allocate_touch_credit_on_first_access(
    result: attribution.AttributionResult, tmp_path: Path
) -> None:
    """Without a rule-based model the run's touch-level credit waits for first access (or
    the writer); read or written, it equals the same models' columns of a run that built it
    eagerly, and the channel credit is the same."""
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    contacts = touches.get_column("contact_id").unique().sort().head(400)
    lazy = attribution.attribute(
        touches.filter(pl.col("contact_id").is_in(contacts.implode())),
        stages.filter(pl.col("contact_id").is_in(contacts.implode())),
        models=["markov", "shapley"],
    )
    assert callable(lazy.__dict__["_touch_credit_wide"])
    assert callable(lazy.__dict__["_touch_credit"])
    channel = result.channel_credit.filter(pl.col("model").is_in(["markov", "shapley"]))
    assert_frame_equal(lazy.channel_credit, channel)
    run = lazy.write(tmp_path / "runs", report=False)
    written = pl.read_parquet(run / "touch_credit.parquet")
    columns = [*KEYS, "conversion_value", "credit:markov", "credit:shapley"]
    assert_frame_equal(written, result.touch_credit_wide.select(columns))
    assert_frame_equal(
        lazy.touch_credit,
        result.touch_credit.filter(pl.col("model").is_in(["markov", "shapley"])),
    )
