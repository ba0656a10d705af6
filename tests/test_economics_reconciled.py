"""The unit economics below the channel (segment rows, metro and region slices, months, the
re-rating, the conversions a partial spend period keeps) sum per channel to the model's
channel credit under Markov and Shapley too: each channel's credit split over its segments,
slices and months in proportion to its touch credit there (b2b/_reconcile.py), never the
touch-level sums, which under those models are not the channel's credit."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution.b2b import _economics_draws, _economics_window
from attribution.b2b._reconcile import touches_reconciled
from attribution.exceptions import ConfigError

# Journeys whose touch split under Markov and Shapley is far from their channel credit (the
# channel weights are fitted on every path, the journeys split by them); conversions close
# in January, February and March 2025, the last on March 31 (March is a whole month).
_JOURNEYS = [
    # contact, account, channels, close date (None: no conversion)
    ("c0", "a0", ["linkedin", "email"], "2025-01-20"),
    ("c1", "a0", ["email"], "2025-01-25"),
    ("c2", "a1", ["linkedin"], None),
    ("c3", "a1", ["events", "email", "linkedin"], "2025-02-10"),
    ("c4", "a2", ["events"], "2025-02-14"),
    ("c5", "a2", ["linkedin", "events"], None),
    ("c6", "a3", ["email", "events"], "2025-03-03"),
    ("c7", "a3", ["linkedin", "email"], "2025-03-31"),
    ("c8", "a4", ["events", "linkedin"], "2025-01-30"),
    ("c9", "a4", ["email"], None),
    ("c10", "a5", ["linkedin", "events", "email"], "2025-03-15"),
    ("c11", "a5", ["linkedin"], "2025-02-20"),
]
TOUCHES = pl.DataFrame(
    [
        {"contact_id": c, "account_id": a, "channel": ch, "timestamp": f"2025-01-{k + 1:02d}"}
        for c, a, chans, close in _JOURNEYS
        for k, ch in enumerate(chans)
    ]
)
STAGES = pl.DataFrame(
    [
        {"contact_id": c, "stage": "closed_won", "timestamp": close, "value": 1000.0 * (i + 1)}
        for i, (c, _, _, close) in enumerate(_JOURNEYS)
        if close is not None
    ]
)
ACCOUNTS = pl.DataFrame({
    "account_id": ["a0", "a1", "a2", "a3", "a4", "a5"],
    "segment": ["smb", "smb", "enterprise", "enterprise", "mid_market", "smb"],
    "region": ["emea", "amer", "amer", "emea", "apac", "amer"],
    "metro": ["london", "nyc", "sf", "paris", "sydney", "nyc"],
})
SPEND = pl.DataFrame({
    "channel": ["linkedin", "email", "events"] * 3,
    "month": [m for m in ("2025-01-01", "2025-02-01", "2025-03-01") for _ in range(3)],
    "amount": [3000.0, 500.0, 2000.0, 2500.0, 400.0, 1500.0, 3500.0, 600.0, 2500.0],
})
DATA_DRIVEN = ["markov", "shapley"]
RULES = ["linear", "last_non_direct"]


@pytest.fixture(scope="module")
def result() -> attribution.AttributionResult:
    return attribution.attribute(TOUCHES, STAGES, models=RULES + DATA_DRIVEN)


def _credit(result: attribution.AttributionResult) -> pl.DataFrame:
    return result.channel_credit.select(
        "model", "channel", pl.col("conversions").alias("cc"), pl.col("value").alias("cv")
    )


def _assert_sums_to_channel_credit(
    rows: pl.DataFrame, credit: pl.DataFrame, by: tuple[str, ...] = ()
) -> None:
    sums = rows.group_by("model", *by, "channel").agg(pl.col("customers", "revenue").sum())
    joined = sums.join(credit, on=["model", "channel"], how="full", coalesce=True).fill_null(0.0)
    assert joined.height > 0
    gap = joined.select(
        (pl.col("customers") - pl.col("cc")).abs().max().alias("credit"),
        ((pl.col("revenue") - pl.col("cv")).abs() / pl.col("cv").abs().clip(1.0)).max()
        .alias("value"),
    ).row(0, named=True)
    assert gap["credit"] <= 1e-9, gap
    assert gap["value"] <= 1e-9, gap


def test_the_fixture_touch_sums_are_not_the_channel_credit(result) -> None:
    # the case these tests are about: far apart for Markov and Shapley, equal for rules
    touch = result.touch_credit.group_by("model", "channel").agg(pl.col("credit").sum())
    gap = touch.join(_credit(result), on=["model", "channel"]).group_by("model").agg(
        (pl.col("credit") - pl.col("cc")).abs().max().alias("gap")
    )
    gaps = dict(gap.iter_rows())
    assert all(gaps[m] > 0.05 for m in DATA_DRIVEN), gaps
    assert all(gaps[m] < 1e-9 for m in RULES), gaps


def test_segment_and_slice_rows_sum_to_the_channel_credit(result) -> None:
    econ = attribution.unit_economics(result, SPEND, accounts=ACCOUNTS, gross_margin=0.8)
    credit = _credit(result)
    _assert_sums_to_channel_credit(econ.table, credit)
    _assert_sums_to_channel_credit(econ.segments, credit)
    assert set(econ.slices.get_column("dimension")) == {"metro", "region"}
    _assert_sums_to_channel_credit(econ.slices, credit, ("dimension",))
    assert econ.parameters["reconciled_to_channel_credit"] == DATA_DRIVEN
    # CAC = spend / the reconciled customers, row by row
    paid = econ.segments.filter((pl.col("customers") > 0) & (pl.col("spend") > 0))
    assert paid.filter(pl.col("model").is_in(DATA_DRIVEN)).height > 0
    cac = paid.select((pl.col("cac") - pl.col("spend") / pl.col("customers")).abs().max()).item()
    assert cac <= 1e-9


def test_monthly_rows_and_their_segments_sum_to_the_channel_credit(result) -> None:
    econ = attribution.unit_economics(
        result, SPEND, accounts=ACCOUNTS, gross_margin=0.8, monthly_lag_months=0
    )
    # the one month with a whole window: March (January to March), every conversion
    monthly = econ.monthly
    assert monthly.get_column("month").unique().to_list() == [date(2025, 3, 1)]
    credit = _credit(result)
    _assert_sums_to_channel_credit(monthly.filter(pl.col("segment") == "all"), credit)
    _assert_sums_to_channel_credit(monthly.filter(pl.col("segment") != "all"), credit)
    paid = monthly.filter((pl.col("customers") > 0) & (pl.col("spend") > 0))
    cac = paid.select((pl.col("cac") - pl.col("spend") / pl.col("customers")).abs().max()).item()
    assert cac <= 1e-9


def test_a_partial_spend_period_keeps_the_channel_credit_of_its_months(result) -> None:
    january = SPEND.filter(pl.col("month") == "2025-01-01")
    econ = attribution.unit_economics(result, january, accounts=ACCOUNTS, monthly_lag_months=0)
    assert econ.parameters["spend_coverage"]["restricted"] is True
    kept = result.conversions.filter(pl.col("timestamp").dt.month() == 1).get_column(
        "conversion_id"
    )
    touch = result.touch_credit
    # each channel's credit split over its conversions in proportion to their touch credit,
    # the kept conversions' summed
    factor = touch.group_by("model", "channel").agg(pl.col("credit").sum().alias("t")).join(
        _credit(result), on=["model", "channel"]
    ).select("model", "channel", (pl.col("cc") / pl.col("t")).alias("f"))
    expected = (
        touch.filter(pl.col("conversion_id").is_in(kept))
        .group_by("model", "channel")
        .agg(pl.col("credit").sum())
        .join(factor, on=["model", "channel"])
        .select("model", "channel", (pl.col("credit") * pl.col("f")).alias("cc"),
                pl.lit(0.0).alias("cv"))  # fmt: skip
    )
    got = econ.table.filter(pl.col("customers") > 0).select("model", "channel", "customers")
    joined = got.join(expected, on=["model", "channel"], how="full", coalesce=True)
    assert joined.select((pl.col("customers") - pl.col("cc")).abs().max()).item() <= 1e-9
    segments = econ.segments.group_by("model", "channel").agg(pl.col("customers").sum())
    both = segments.join(got, on=["model", "channel"], how="inner", suffix="_all")
    assert both.select((pl.col("customers") - pl.col("customers_all")).abs().max()).item() <= 1e-9


def test_rule_based_figures_are_unchanged(result, monkeypatch) -> None:
    def economics() -> attribution.UnitEconomics:
        return attribution.unit_economics(
            result, SPEND, accounts=ACCOUNTS, gross_margin=0.8, monthly_lag_months=0
        )

    after = economics()
    # the figures as they were: touch credit summed as the models give it
    monkeypatch.setattr(_economics_window, "touches_reconciled", lambda t, c: (t, []))
    monkeypatch.setattr(_economics_draws, "draws_reconciled", lambda c: c)
    before = economics()
    assert before.parameters["reconciled_to_channel_credit"] == []
    for name in ("table", "segments", "slices", "monthly", "blended"):
        columns = getattr(after, name).columns
        keys = [c for c in ("model", "dimension", "slice", "segment", "channel", "month")
                if c in columns]  # fmt: skip
        old, new = (getattr(e, name).sort(keys) for e in (before, after))
        rules = pl.col("model").is_in(RULES)
        assert old.filter(rules).height > 0
        assert_frame_equal(old.filter(rules), new.filter(rules))
        if name not in ("table",):  # the 'all' rows were the channel credit already
            assert not old.filter(~rules).equals(new.filter(~rules)), name


def test_bootstrap_draws_segments_sum_to_the_draws_channel_credit() -> None:
    run = attribution.attribute(
        TOUCHES, STAGES, models=["linear", *DATA_DRIVEN], bootstrap=8, accounts=ACCOUNTS
    )
    econ = attribution.unit_economics(run, SPEND, accounts=ACCOUNTS)
    draws = econ.draws
    assert draws.get_column("segment").n_unique() > 1
    parts = (
        draws.filter(pl.col("segment") != "all")
        .group_by("draw", "model", "channel")
        .agg(pl.col("customers", "revenue").sum())
    )
    whole = draws.filter(pl.col("segment") == "all").select(
        "draw", "model", "channel", pl.col("customers").alias("c"), pl.col("revenue").alias("r")
    )
    joined = parts.join(whole, on=["draw", "model", "channel"])
    assert joined.height == whole.height
    gap = joined.select(
        (pl.col("customers") - pl.col("c")).abs().max(),
        ((pl.col("revenue") - pl.col("r")).abs() / pl.col("r").abs().clip(1.0)).max(),
    ).row(0)
    assert max(gap) <= 1e-9, gap


@st.composite
def _touch_credit(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Touch credit (non-negative, some zero, some values missing) and a channel credit for
    each of its channels (non-negative, some zero) that need not be its sums."""
    channels = ["a", "b", "c"]
    weight = st.sampled_from([0.0, 1e-12, 0.25, 1.0, 3.5])
    rows = [
        {"model": model, "conversion_id": f"k{k}", "channel": draw(st.sampled_from(channels)),
         "credit": draw(weight), "value": draw(st.one_of(st.none(), weight))}
        for model in ("markov", "shapley")
        for k in range(draw(st.integers(1, 12)))
    ]  # fmt: skip
    touch = pl.DataFrame(rows, schema={"model": pl.String, "conversion_id": pl.String,
                                       "channel": pl.String, "credit": pl.Float64,
                                       "value": pl.Float64})  # fmt: skip
    units = touch.select("model", "channel").unique(maintain_order=True)
    credit = units.with_columns(
        pl.Series("conversions", [draw(weight) for _ in range(units.height)], pl.Float64),
        pl.Series("value", [draw(weight) for _ in range(units.height)], pl.Float64),
    )
    return touch, credit


@given(_touch_credit())
def test_reconciled_touch_credit_is_never_negative_and_sums_to_the_channel_credit(
    data: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    touch, credit = data
    out, rescaled = touches_reconciled(touch, credit)
    assert out.height == touch.height
    assert out.select(pl.col("credit", "value").fill_null(0.0).min()).min_horizontal().item() >= 0
    assert not out.select(pl.col("credit", "value").is_nan().any()).max_horizontal().item()
    sums = out.group_by("model", "channel").agg(
        pl.col("credit").sum(), pl.col("value").sum().alias("v")
    ).join(credit, on=["model", "channel"])
    for model in rescaled:
        rows = sums.filter(pl.col("model") == model)
        scale = pl.max_horizontal(pl.col("conversions").abs(), pl.lit(1.0))
        assert rows.select(((pl.col("credit") - pl.col("conversions")).abs() / scale).max()
                           ).item() <= 1e-9  # fmt: skip
        vscale = pl.max_horizontal(pl.col("value").abs(), pl.lit(1.0))
        assert rows.select(((pl.col("v") - pl.col("value")).abs() / vscale).max()).item() <= 1e-9
    # a model not rescaled was within the tolerance already, and is returned as it was
    kept = [m for m in ("markov", "shapley") if m not in rescaled]
    keep = pl.col("model").is_in(kept)
    assert_frame_equal(out.filter(keep), touch.filter(keep))


def test_spend_columns_given_per_table_is_a_config_error(result) -> None:
    with pytest.raises(ConfigError, match=r"columns\['spend'\].*column name") as info:
        attribution.unit_economics(result, SPEND, columns={"spend": {"amount": "cost"}})
    assert info.value.option == "columns"
    with pytest.raises(ConfigError, match=r"columns\['amount'\]"):
        attribution.unit_economics(result, SPEND, columns={"amount": 5})  # type: ignore[dict-item]
