"""The bootstrap (``RunOptions(bootstrap=N)``): seeded draws over journeys (accounts at account
level), every model refitted per draw; intervals of credit and unit economics, breach
probabilities, the small-sample mark and the levers' draw agreement."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution
from attribution import RunOptions, check_plan, unit_economics
from attribution.b2b._economics_draws import DRAW_COLUMNS, MIN_CUSTOMERS, interval_columns
from attribution.b2b._economics_slices import credit_by
from attribution.engine._bootstrap import (
    Bootstrap,
    _design,
    bootstrap_credit,
    conversion_segments,
    draw_weights,
)
from attribution.engine._memory import load_inputs
from attribution.engine._stages import build_part, rule_credit_columns
from attribution.exceptions import ConfigError, InputError
from attribution.inputs._account_inputs import load_accounts
from attribution.options import MAX_BOOTSTRAP_DRAWS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
SALES = ["sales_call", "sales_email", "meeting"]
DATA_MODELS = ["markov", "shapley", "counterfactual"]
SMALL_MODELS = ["first_touch", "linear", "time_decay", "w_shaped", *DATA_MODELS]


def _close(got: pl.Series, expected: pl.Series, rel: float = 1e-12) -> None:
    """Equal to ``rel`` of the larger of 1 and the expected value (float sums in another
    order), nulls where the expected has them."""
    a, b = got.to_numpy(), expected.to_numpy()
    assert got.is_null().to_list() == expected.is_null().to_list()
    a, b = a[~np.isnan(b.astype(float))], b[~np.isnan(b.astype(float))]
    assert np.all(np.abs(a - b) <= rel * np.maximum(1.0, np.abs(b))), np.max(np.abs(a - b))


def _parts(touches, stages, options, contacts=None, accounts=None):
    """The result, the journeys and the rule credit of a run, and each conversion's segment."""
    result = attribution.attribute(touches, stages, contacts=contacts, options=options)
    inputs = load_inputs(touches, stages, contacts, options)
    part = build_part(inputs.touches, inputs.stages, inputs.contacts, options)
    rules = rule_credit_columns(part.journeys.touches, options)
    groups = conversion_segments(part.journeys.touches, accounts)
    return result, part.journeys, rules, groups


# --- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "whole number of draws >= 0"),
        (True, "whole number of draws >= 0"),
        (2.5, "whole number of draws >= 0"),
        (MAX_BOOTSTRAP_DRAWS + 1, f"at most {MAX_BOOTSTRAP_DRAWS:,} draws"),
    ],
)
def test_bootstrap_option_is_checked_and_named(value, message) -> None:
    with pytest.raises(InputError, match=message) as caught:
        RunOptions(bootstrap=value)
    assert caught.value.option == "bootstrap"
    with pytest.raises(InputError, match="bootstrap_seed") as seeded:
        RunOptions(bootstrap=2, bootstrap_seed=-3)
    assert seeded.value.option == "bootstrap_seed"
    assert RunOptions(bootstrap=MAX_BOOTSTRAP_DRAWS).bootstrap == MAX_BOOTSTRAP_DRAWS
    assert "bootstrap" in RunOptions(bootstrap=3).progress_stages
    assert "bootstrap" not in RunOptions().progress_stages


def test_cli_refuses_too_many_draws_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches",
         str(SAMPLE / "touches.parquet"), "--stages", str(SAMPLE / "stages.parquet"),
         "--bootstrap", "5000", "--out", str(tmp_path)],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "--bootstrap: bootstrap takes at most 1,000 draws" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())
    # the plan check takes the draws too, and refuses the same way
    plan = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "plan", str(SAMPLE / "plan.toml"),
         "--touches", str(SAMPLE / "touches.parquet"), "--stages", str(SAMPLE / "stages.parquet"),
         "--spend", str(SAMPLE / "spend.parquet"), "-m", "linear", "--bootstrap", "1001",
         "--out", str(tmp_path)],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plan.returncode == 2
    assert "bootstrap takes at most 1,000 draws" in plan.stderr
    assert "Traceback" not in plan.stderr
    assert not list(tmp_path.iterdir())


def test_executors_without_every_journey_refuse_the_bootstrap(tmp_path: Path) -> None:
    touches, stages = SAMPLE / "touches.parquet", SAMPLE / "stages.parquet"
    with pytest.raises(ConfigError, match="bootstrap=5 is not available in partitioned mode"):
        attribution.attribute_partitioned(touches, stages, partitions=2, bootstrap=5)
    with pytest.raises(ConfigError, match="bootstrap=5 is not available in incremental runs"):
        attribution.attribute_incremental(touches, stages, state=tmp_path / "s", bootstrap=5)


# --- the draws: properties on small random data -------------------------------------------


@st.composite
def small_runs(draw):
    """Touches and stages of up to 8 contacts in up to 3 accounts, channels a-d."""
    n = draw(st.integers(2, 8))
    touches, stages = [], []
    for i in range(n):
        k = draw(st.integers(1, 4))
        days = sorted(draw(st.lists(st.integers(0, 30), min_size=k, max_size=k)))
        for j, day in enumerate(days):
            touches.append(
                {"touch_id": f"t{i}-{j}", "contact_id": f"c{i}", "account_id": f"a{i % 3}",
                 "channel": draw(st.sampled_from("abcd")),
                 "timestamp": f"2025-01-{day + 1:02d}"}  # fmt: skip
            )
        if draw(st.booleans()) or i == 0:
            stages.append(
                {"contact_id": f"c{i}", "account_id": f"a{i % 3}", "stage": "closed_won",
                 "timestamp": "2025-02-15", "value": float(draw(st.integers(0, 5000)))}  # fmt: skip
            )
    return pl.DataFrame(touches), pl.DataFrame(stages)


@settings(max_examples=25, deadline=None)
@given(small_runs(), st.integers(0, 2**32 - 1), st.sampled_from(["contact", "account"]))
def test_every_draw_reconciles_and_is_reproducible(data, seed, level) -> None:
    touches, stages = data
    options = RunOptions(models=SMALL_MODELS, level=level, bootstrap=6, bootstrap_seed=seed)
    result, journeys, rules, _ = _parts(touches, stages, options)
    boot = result.bootstrap
    assert boot is not None
    assert boot.draws == 6
    assert boot.unit == ("account" if level == "account" else "journey")
    # seeded: the same seed gives the same draws, bit for bit
    again = attribution.attribute(touches, stages, options=options).bootstrap
    assert again is not None
    assert again.credit.equals(boot.credit)
    design = _design(journeys, None)
    weights = list(draw_weights(seed, 6, design.n_units))
    conv_weight = [float(w[design.conv_unit].sum()) for w in weights]
    conv_value = [float((w[design.conv_unit] * design.conv_value).sum()) for w in weights]
    credit = boot.credit.filter(pl.col("segment") == "all")
    assert credit.get_column("customers").min() >= 0  # never negative
    totals = credit.group_by("draw", "model").agg(pl.col("customers", "revenue").sum())
    for draw, model, customers, revenue in totals.iter_rows():
        # every draw's credit per conversion sums to 1: the draw's credit is its count of
        # conversions, and the credited value its counted deal values (totals reconcile)
        assert customers == pytest.approx(conv_weight[draw], rel=1e-9, abs=1e-9), model
        if model in DATA_MODELS and conv_weight[draw] > 0 or model not in DATA_MODELS:
            assert revenue == pytest.approx(conv_value[draw], rel=1e-9, abs=1e-6), model
    # per segment too: each draw's allocation of a conversion sums to 1, so the segment
    # rows of every model add up to the draw's count of conversions
    groups = pl.DataFrame({"conversion_id": design.conv_ids}).with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.lit("smb")).otherwise(pl.lit("ent"))
        .alias("segment")
    )  # fmt: skip
    split = bootstrap_credit(journeys, options, rules, groups=groups, weights=weights).credit
    assert split.get_column("customers").min() >= 0
    parts = split.filter(pl.col("segment") != "all").group_by("draw", "model").agg(
        pl.col("customers").sum()
    )
    for draw, model, customers in parts.iter_rows():
        assert customers == pytest.approx(conv_weight[draw], rel=1e-9, abs=1e-9), model
    intervals = result.channel_credit.filter(pl.col("ci_low").is_not_null())
    assert (intervals.get_column("ci_low") <= intervals.get_column("ci_high") + 1e-15).all()


@settings(max_examples=20, deadline=None)
@given(small_runs(), st.lists(st.integers(0, 4), min_size=60, max_size=60))
def test_account_draws_keep_each_account_together(data, counts) -> None:
    touches, stages = data
    options = RunOptions(models=["linear", "markov"], level="account", bootstrap=1)
    _, journeys, rules, _ = _parts(touches, stages, options)
    design = _design(journeys, None)
    assert design.unit == "account"
    # one unit per account: its conversions and its non-converting path share it
    accounts = pl.DataFrame({"conversion_id": design.conv_ids}).join(
        journeys.conversions.select("conversion_id", "account_id"), on="conversion_id"
    )
    by_account = pl.DataFrame(
        {"account_id": accounts.get_column("account_id"), "unit": design.conv_unit}
    )
    assert by_account.group_by("account_id").agg(pl.col("unit").n_unique()).get_column(
        "unit"
    ).max() == 1
    units, owners = by_account.get_column("unit"), by_account.get_column("account_id")
    assert units.n_unique() == owners.n_unique()
    # an account drawn k times counts each of its conversions k times
    weights = np.asarray(counts[: design.n_units], dtype=float)
    boot = bootstrap_credit(journeys, options, rules, weights=[weights])
    expected = float(weights[design.conv_unit].sum())
    got = boot.credit.filter(pl.col("segment") == "all").group_by("model").agg(
        pl.col("customers").sum()
    )
    for model, customers in got.iter_rows():
        assert customers == pytest.approx(expected, abs=1e-9), model


def test_zero_draws_give_null_intervals_and_a_low_n_mark() -> None:
    touches = pl.DataFrame({"contact_id": ["c1", "c2", "c2"], "channel": ["a", "b", "a"],
                            "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03"]})  # fmt: skip
    stages = pl.DataFrame({"contact_id": ["c1", "c2"], "stage": ["closed_won"] * 2,
                           "timestamp": ["2025-01-10"] * 2, "value": [1000.0, 2000.0]})  # fmt: skip
    spend = pl.DataFrame({"channel": ["a", "b"], "month": ["2025-01-01"] * 2,
                          "amount": [100.0, 400.0]})  # fmt: skip
    result = attribution.attribute(touches, stages, models=["linear"])
    assert result.bootstrap is None
    assert "ci_low" not in result.channel_credit.columns
    econ = unit_economics(result, spend)
    for column in interval_columns():
        assert econ.table.get_column(column).null_count() == econ.table.height, column
    assert econ.draws.height == 0
    # 1.5 and 0.5 credited customers: both fewer than the minimum
    assert econ.table.get_column("low_confidence").to_list() == [True, True]
    assert MIN_CUSTOMERS == 5


# --- all weights 1: the point estimate, exactly ---------------------------------------------


@pytest.fixture(scope="module")
def sample_runs() -> dict[str, tuple]:
    accounts = load_accounts(SAMPLE / "accounts.parquet")
    out = {}
    for level, models in (("contact", None), ("account", ["linear", "u_shaped", *DATA_MODELS])):
        options = RunOptions(models=models, level=level, exclude_touch_types=SALES)
        result, journeys, rules, groups = _parts(
            SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", options,
            contacts=SAMPLE / "contacts.parquet", accounts=accounts,
        )  # fmt: skip
        design = _design(journeys, groups)
        ones = bootstrap_credit(
            journeys, options, rules, groups=groups, weights=[np.ones(design.n_units)]
        )
        out[level] = (result, ones, accounts)
    return out


@pytest.mark.parametrize("level", ["contact", "account"])
def test_a_draw_of_all_ones_is_the_point_estimate(sample_runs, level) -> None:
    result, ones, accounts = sample_runs[level]
    models = set(result.channel_credit.get_column("model"))
    assert set(ones.credit.get_column("model")) == models  # every model of the run
    assert len(models) == (14 if level == "contact" else 5)
    both = ones.credit.filter(pl.col("segment") == "all").join(
        result.channel_credit, on=["model", "channel"], how="inner"
    )
    assert both.height == result.channel_credit.height
    _close(both.get_column("customers"), both.get_column("conversions"))
    _close(both.get_column("revenue"), both.get_column("value"))
    # per segment: the touch credit of the conversions of each segment, as the economics take it
    point = credit_by(result.touch_credit, accounts, "segment")
    seg = ones.credit.filter(pl.col("segment") != "all").join(
        point, on=["model", "channel", "segment"], how="inner", suffix="_point"
    )
    assert seg.height == point.height
    assert ones.segmented
    _close(seg.get_column("customers"), seg.get_column("customers_point"))
    _close(seg.get_column("revenue"), seg.get_column("revenue_point"))


def test_economics_of_an_all_ones_draw_are_the_point_estimate(sample_runs) -> None:
    result, ones, accounts = sample_runs["contact"]
    drawn = dataclasses.replace(result, bootstrap=ones)
    econ = unit_economics(
        drawn, SAMPLE / "spend.parquet", accounts=accounts, costs={"sales": 270_000.0},
        subscriptions=SAMPLE / "subscriptions.parquet", gross_margin=0.8,
    )  # fmt: skip
    assert econ.draws.columns == list(DRAW_COLUMNS)
    keys = ["model", "segment", "channel"]
    point = econ.frame
    both = point.join(econ.draws.filter(pl.col("draw") == 0), on=keys, suffix="_d")
    assert both.height == point.height
    bought = both.filter(pl.col("status") != "no_customers")
    for figure in ("customers", "spend", "cac", "loaded_cac", "ltv_to_cac", "payback_months",
                   "guardrail_share"):  # fmt: skip
        _close(bought.get_column(f"{figure}_d"), bought.get_column(figure))
    assert both.get_column("breach_d").to_list() == both.get_column("breach").to_list()
    # spend that bought nobody: an infinite CAC in the draws (null, "no customers", in the
    # point estimate), so it counts at the top of the percentiles
    nobody = both.filter((pl.col("status") == "no_customers") & (pl.col("spend") > 0))
    assert nobody.height
    assert nobody.get_column("cac").null_count() == nobody.height
    assert nobody.get_column("loaded_cac_d").is_infinite().all()
    # one draw: every interval is the point itself, and P(breach) is 0 or 1
    _close(bought.get_column("loaded_cac_ci_low"), bought.get_column("loaded_cac"))
    assert both.get_column("breach_probability").to_list() == [
        float(b) for b in both.get_column("breach").to_list()
    ]


# --- on the sample: intervals, breach probability, levers -----------------------------------


@pytest.fixture(scope="module")
def drawn_sample() -> attribution.AttributionResult:
    return attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
        contacts=SAMPLE / "contacts.parquet", accounts=SAMPLE / "accounts.parquet",
        models=["linear", "last_non_direct", "markov"], exclude_touch_types=SALES,
        bootstrap=30, bootstrap_seed=7,
    )  # fmt: skip


def test_intervals_and_breach_probability_on_the_sample(drawn_sample) -> None:
    boot = drawn_sample.bootstrap
    assert isinstance(boot, Bootstrap)
    assert boot.draws == 30
    assert boot.segmented
    assert drawn_sample.manifest["bootstrap"]["unit"] == "journey"
    econ = unit_economics(
        drawn_sample, SAMPLE / "spend.parquet", accounts=SAMPLE / "accounts.parquet",
        costs={"sales": 270_000.0}, gross_margin=0.8,
    )  # fmt: skip
    frame = econ.frame
    paid = frame.filter((pl.col("status") == "paid") & (pl.col("segment") == "all"))
    for figure in ("customers", "cac", "loaded_cac", "ltv_to_cac", "payback_months",
                   "guardrail_share"):  # fmt: skip
        low, high = paid.get_column(f"{figure}_ci_low"), paid.get_column(f"{figure}_ci_high")
        assert low.null_count() == 0, figure
        assert (low <= high).all(), figure
    p = frame.get_column("breach_probability")
    assert p.null_count() == 0
    assert p.min() >= 0
    assert p.max() <= 1
    # breach_probability is the share of draws in breach, row by row
    share = econ.draws.group_by("model", "segment", "channel").agg(
        pl.col("breach").mean().alias("expected")
    )
    joined = frame.join(share, on=["model", "segment", "channel"])
    assert joined.height == frame.height
    gap = joined.get_column("breach_probability") - joined.get_column("expected")
    assert gap.abs().max() == 0
    assert econ.draws.get_column("draw").n_unique() == 30
    low = frame.filter(pl.col("low_confidence"))
    assert low.height
    assert (low.get_column("customers") < MIN_CUSTOMERS).all()
    assert "~ low n" in econ.summary("linear")
    assert "P(breach)" in econ.summary("linear")


def test_levers_say_how_many_draws_agree(drawn_sample) -> None:
    check = check_plan(
        SAMPLE / "plan.toml", drawn_sample, SAMPLE / "spend.parquet", SAMPLE / "stages.parquet",
        model="linear",
    )  # fmt: skip
    levers = check.levers
    agreement = levers.get_column("draw_agreement")
    assert agreement.null_count() == 0
    assert agreement.min() >= 0
    assert agreement.max() <= 1
    # a fraction of 30 draws
    assert ((agreement * 30).round(9) % 1 == 0).all()
    assert any("of draws" in line for line in check.summary().splitlines())
