"""campaign_influence.parquet in its two layouts (``RunOptions.influence_layout``): the wide
one (a row per opportunity and campaign, a ``credit_share:<model>`` column per model) holds
the same shares as the long one (a row per opportunity, model and campaign); every writer
writes the layout asked for; and the run directory writes ``campaign_credit.parquet`` once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution import RunOptions
from attribution.b2b._influence import (
    INFLUENCE_KEY_SCHEMA,
    campaign_influence,
    campaign_influence_wide,
    long_influence,
    share_column,
    wide_influence,
)
from attribution.exceptions import InputError

MODELS = ["first_touch", "linear", "time_decay", "markov", "shapley"]
KEYS = INFLUENCE_KEY_SCHEMA.names()


@pytest.fixture(scope="module")
def synth() -> Any:
    from attribution.datasets._synth import synthesize

    data = synthesize(6000, seed=5)
    # every three opportunities made one (the contacts on a deal each convert), one in
    # seven without an opportunity_id
    rank = pl.col("opportunity_id").rank("dense")
    stages = data.stages.with_columns(
        pl.when(rank % 7 == 0).then(None).otherwise(rank.floordiv(3).cast(pl.String))
        .alias("opportunity_id")
    )
    return data.touches, stages


@pytest.fixture(scope="module")
def result(synth: Any) -> attribution.AttributionResult:
    touches, stages = synth
    return attribution.attribute(touches, stages, models=MODELS)


def _long_of_wide_by_join(wide: pl.DataFrame, labels: list[str]) -> pl.DataFrame:
    """The long rows of a wide table, built another way (a melt), sorted."""
    return (
        wide.unpivot(index=KEYS, on=[share_column(m) for m in labels], variable_name="model",
                     value_name="credit_share")
        .with_columns(pl.col("model").str.strip_prefix("credit_share:"))
        .sort("opportunity_id", "model", "campaign_id", "channel")
    )  # fmt: skip


def test_the_layouts_hold_the_same_shares(result: attribution.AttributionResult) -> None:
    long, wide = result.campaign_influence, result.campaign_influence_wide
    labels = result.channel_credit.get_column("model").unique(maintain_order=True).to_list()
    assert wide.columns == [*KEYS, *(share_column(m) for m in labels)]
    assert long.height == wide.height * len(labels) > 0
    # every (opportunity, model, campaign) of the long rows is the wide row's column, exactly
    melted = _long_of_wide_by_join(wide, labels)
    expected = long.select(*KEYS, "model", "credit_share").sort(
        "opportunity_id", "model", "campaign_id", "channel"
    )
    assert_frame_equal(melted.select(expected.columns), expected, check_exact=True)
    # each layout made from the other gives it back, rows in the same order
    assert_frame_equal(long_influence(wide), long, check_exact=True)
    assert_frame_equal(wide_influence(long), wide, check_exact=True)
    # shares sum to 1 per opportunity and model; the wide rows come by opportunity, campaign
    sums = wide.group_by("opportunity_id").agg(pl.col(f"^{share_column('')}.*$").sum())
    for label in labels:
        assert (sums.get_column(share_column(label)) - 1.0).abs().max() < 1e-9  # type: ignore[operator]
    named = wide.select(KEYS[:4])
    assert named.equals(named.sort("opportunity_id", "campaign_id", "channel"))
    # some opportunities have several conversions, some conversions none
    assert (wide.get_column("conversions") > 1).any()
    assert not wide.get_column("crm_opportunity").all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),  # conversion
            st.sampled_from(["a", "b", "c"]),  # model
            st.sampled_from(["x", "y"]),  # channel
            st.sampled_from(["p", "q", "(none)"]),  # campaign
            st.floats(0, 1),
        ),
        min_size=1,
        max_size=40,
    ),
    st.lists(st.sampled_from(["o1", "o2", None]), min_size=6, max_size=6),
)
def test_layouts_of_any_rows_agree(rows: list[Any], opportunities: list[Any]) -> None:
    frame = pl.DataFrame(
        rows, schema=["conversion_id", "model", "channel", "campaign", "credit"], orient="row"
    ).with_columns(pl.col("conversion_id").cast(pl.String), pl.col("credit").alias("value"))
    conversions = pl.DataFrame(
        {
            "conversion_id": [str(i) for i in range(6)],
            "value": [float(10 * i) for i in range(6)],
            "opportunity_id": opportunities,
        }
    )
    long = campaign_influence(frame, conversions)
    wide = campaign_influence_wide(frame, conversions)
    labels = frame.get_column("model").unique(maintain_order=True).to_list()
    assert long.height == wide.height * len(labels)
    assert_frame_equal(long_influence(wide), long, check_exact=True)
    assert_frame_equal(wide_influence(long, labels), wide, check_exact=True)
    # rows in any order (no longer taken by position: pivoted) give the same table
    shuffled = long.sample(fraction=1.0, shuffle=True, seed=len(rows))
    assert_frame_equal(wide_influence(shuffled, labels), wide, check_exact=True)
    # a share is never negative, and the long layout's derived columns are its products
    shares = wide.select(pl.col(f"^{share_column('')}.*$"))
    assert (shares.min_horizontal() >= 0).all()
    assert_frame_equal(
        long.select((pl.col("credit_share") * 100.0).alias("p")),
        long.select(pl.col("influence_percent").alias("p")),
    )


def test_write_in_either_layout(result: attribution.AttributionResult, tmp_path: Path) -> None:
    assert result.manifest["parameters"]["influence_layout"] == "wide"  # the default
    wide_dir = result.write(tmp_path, run_id="wide", report=False)
    long_dir = result.write(tmp_path, run_id="long", report=False, influence_layout="long")
    assert_frame_equal(
        pl.read_parquet(wide_dir / "campaign_influence.parquet"), result.campaign_influence_wide
    )
    assert_frame_equal(
        pl.read_parquet(long_dir / "campaign_influence.parquet"), result.campaign_influence
    )
    for run, layout in ((wide_dir, "wide"), (long_dir, "long")):
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["parameters"]["influence_layout"] == layout
    with pytest.raises(ValueError, match="influence_layout"):
        result.write(tmp_path, run_id="bad", influence_layout="tall")
    with pytest.raises(InputError, match="influence_layout must be one of") as info:
        RunOptions(influence_layout="tall")  # type: ignore[arg-type]
    assert info.value.option == "influence_layout"


def test_a_result_holding_only_the_long_layout_writes_the_wide_file(
    result: attribution.AttributionResult, tmp_path: Path
) -> None:
    """An executor that holds only the long rows (an incremental run's answer, a result
    made by hand) writes the wide file from them."""
    from dataclasses import replace

    bare = replace(
        result,
        campaign_influence=result.campaign_influence,
        campaign_influence_wide=pl.DataFrame(),
    )
    run = bare.write(tmp_path, run_id="r", report=False, influence_layout="wide")
    assert_frame_equal(
        pl.read_parquet(run / "campaign_influence.parquet"), result.campaign_influence_wide
    )


def test_campaign_credit_written_once(
    result: attribution.AttributionResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With campaign economics among ``also`` (as the command line passes them), the run
    leaves campaign_credit.parquet to them: one write, the table with the spend columns."""
    from attribution.b2b._campaigns import campaign_economics
    from attribution.engine import _result

    economics = campaign_economics(result)
    tables: list[str] = []
    write_tables = _result.write_tables

    def spy(directory: Path, given: Any) -> None:
        tables.extend(file for file, _ in given)
        write_tables(directory, given)

    monkeypatch.setattr(_result, "write_tables", spy)
    run = result.write(tmp_path, run_id="r", report=False, also=[economics])
    assert "campaign_credit.parquet" not in tables
    assert "campaign_influence.parquet" in tables
    assert_frame_equal(pl.read_parquet(run / "campaign_credit.parquet"), economics.table)
    tables.clear()
    result.write(tmp_path, run_id="alone", report=False)
    assert "campaign_credit.parquet" in tables


def test_cli_flag(tmp_path: Path, synth: Any) -> None:
    touches, stages = synth
    touches.write_parquet(tmp_path / "t.parquet")
    stages.write_parquet(tmp_path / "s.parquet")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "attribution.cli", "run", "--touches",
             str(tmp_path / "t.parquet"), "--stages", str(tmp_path / "s.parquet"),
             "-m", "linear", "-m", "last_touch", "--out", str(tmp_path / "runs"), *args],
            capture_output=True, text=True, timeout=300, env=dict(os.environ, COLUMNS="200"),
        )  # fmt: skip

    proc = cli("--influence-layout", "long")
    assert proc.returncode == 0, proc.stderr
    (run,) = (tmp_path / "runs").iterdir()
    long = pl.read_parquet(run / "campaign_influence.parquet")
    assert long.columns[:3] == ["opportunity_id", "crm_opportunity", "model"]
    assert set(long.get_column("model")) == {"linear", "last_touch"}
    proc = cli("--influence-layout", "tall")
    assert proc.returncode == 2
    assert "--influence-layout" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
