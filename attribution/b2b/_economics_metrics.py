"""The unit-economics figures of one row, whatever the row slices (a channel, a channel in a
segment, a metro, a trailing three-month window): CAC, loaded CAC, LTV, LTV/CAC, payback,
the guardrail on its basis, pipeline per dollar and marketing ROI.

Every slice of :func:`attribution.b2b._economics.unit_economics` is a frame of ``spend``,
``customers``, ``revenue``, ``non_media_cost``, ``annual_churn`` and
``payback_target_months`` per row; :func:`with_metrics` adds the rest with one set of
expressions, so a segment row and an ``all`` row are computed the same way. The
definitions are in the README ("Unit economics") and in ``economics.json``'s notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import polars as pl

from attribution.b2b._shared import is_number
from attribution.exceptions import ModelParameterError
from attribution.inputs._account_inputs import SEGMENTS
from attribution.inputs._benchmarks import Benchmarks, load_benchmarks

Allocation = Literal["customers", "spend"]
DEFAULT_GROSS_MARGIN: Final = 0.75
DEFAULT_ANNUAL_CHURN: Final = 0.15
DEFAULT_GUARDRAIL_LIMIT: Final = 0.30

GuardrailBasis = Literal["lifetime_gross_profit", "first_year_gross_profit", "period_gross_profit"]
GUARDRAIL_BASES: Final = ("lifetime_gross_profit", "first_year_gross_profit", "period_gross_profit")
#: The default basis, and why (README, "Unit economics"): the 10-30% range read on lifetime
#: gross profit is the LTV/CAC >= 3 rule (a 30% share is LTV/CAC 3.3); read on first-year
#: gross profit it would mean a payback of 1.2-3.6 months, far stricter than the 3-24 month
#: payback targets the same playbook gives.
DEFAULT_GUARDRAIL_BASIS: Final = "lifetime_gross_profit"
#: Segments whose payback target, when the benchmark table has none for them, is another's:
#: mid-market takes SMB's (the loose end of SMB's 12-18 months), strategic enterprise's.
PAYBACK_FALLBACK: Final = {"mid_market": "smb", "strategic": "enterprise"}

METRIC_COLUMNS: Final = (
    "status",
    "spend",
    "customers",
    "revenue",
    "arpa",
    "cac",
    "non_media_cost",
    "loaded_cac",
    "annual_churn",
    "gross_margin",
    "ltv",
    "ltv_to_cac",
    "payback_months",
    "payback_target_months",
    "gross_profit_per_customer",
    "guardrail_basis",
    "guardrail_share",
    "guardrail_limit",
    "breach",
    "ltv_to_cac_ok",
    "payback_ok",
    "pipeline_per_dollar",
    "marketing_roi",
)


#: The longest customer lifetime LTV counts (years): 1 / churn is capped there, as finance
#: teams cap LTV at 3-5 years, so a segment with little observed churn gets no 30-year LTV.
DEFAULT_MAX_LIFETIME_YEARS = 5.0


@dataclass(frozen=True)
class Assumptions:
    """The parameters every row shares (churn and payback targets vary by row)."""

    margin: float
    arpa: float | None
    ltv: float | None
    value_period_months: float
    basis: GuardrailBasis
    limit: float
    ltv_to_cac_target: float
    #: months the spend table covers (the period of the ``period_gross_profit`` basis)
    period_months: float
    #: spend channels no touch of the run has (status ``no_touches``, not a breach)
    unmatched: Sequence[str] = ()
    #: the longest customer lifetime LTV counts, in years (1 / churn, capped)
    max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS
    #: gross margin by segment (segment, margin) over ``margin``, for rows with a ``segment``
    margins: tuple[tuple[str, float], ...] = ()


def margin_expr(frame: pl.DataFrame, a: Assumptions) -> pl.Expr:
    """The gross margin of each row: its segment's (``a.margins``) where the frame has a
    ``segment`` column, else (and for other segments) ``a.margin``."""
    if a.margins and "segment" in frame.columns:
        return pl.col("segment").replace_strict(
            dict(a.margins), default=a.margin, return_dtype=pl.Float64
        )
    return pl.lit(float(a.margin))


def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """``num / den`` where ``den`` > 0, else null."""
    return pl.when(den > 0).then(num / den)


def _gross_profit(a: Assumptions) -> pl.Expr:
    """Gross profit per customer on the guardrail's basis."""
    yearly = pl.col("arpa") * pl.col("gross_margin")
    if a.basis == "lifetime_gross_profit":
        return pl.col("ltv")
    if a.basis == "first_year_gross_profit":
        return yearly
    return yearly * (a.period_months / 12.0)


def with_metrics(frame: pl.DataFrame, a: Assumptions, keys: Sequence[str]) -> pl.DataFrame:
    """``frame`` (``keys`` and ``spend``, ``customers``, ``revenue``, ``non_media_cost``,
    ``annual_churn``, ``payback_target_months``) with every figure of
    :data:`METRIC_COLUMNS`, selected as ``keys`` + those columns."""
    has_customers = pl.col("customers") > 0
    status = (
        pl.when(has_customers & (pl.col("spend") > 0))
        .then(pl.lit("paid"))
        .when(has_customers)
        .then(pl.lit("unpaid"))
        .when(pl.col("channel").is_in(list(a.unmatched)))
        .then(pl.lit("no_touches"))
        .otherwise(pl.lit("no_customers"))
        if "channel" in frame.columns
        else pl.when(has_customers).then(pl.lit("paid")).otherwise(pl.lit("no_customers"))
    )
    arpa = (
        pl.lit(float(a.arpa))
        if a.arpa is not None
        # customers without any deal value: not measured (null), not an ARPA of 0
        else pl.when(has_customers & (pl.col("revenue") > 0)).then(
            pl.col("revenue") / pl.col("customers") * (12.0 / a.value_period_months)
        )
    )
    ltv = (
        pl.lit(float(a.ltv))
        if a.ltv is not None
        else pl.col("arpa")
        * pl.col("gross_margin")
        * pl.min_horizontal(ratio(pl.lit(1.0), pl.col("annual_churn")), a.max_lifetime_years)
    )
    return (
        frame.with_columns(
            status.alias("status"),
            pl.when(has_customers).then(pl.col("spend") / pl.col("customers")).alias("cac"),
            arpa.alias("arpa"),
            margin_expr(frame, a).alias("gross_margin"),
        )
        .with_columns(
            pl.when(has_customers)
            .then((pl.col("spend") + pl.col("non_media_cost")) / pl.col("customers"))
            .alias("loaded_cac"),
            pl.when(has_customers).then(ltv).alias("ltv"),
        )
        .with_columns(
            _gross_profit(a).alias("gross_profit_per_customer"),
            pl.lit(a.basis).alias("guardrail_basis"),
            ratio(pl.col("ltv"), pl.col("loaded_cac")).alias("ltv_to_cac"),
            ratio(pl.col("loaded_cac"), pl.col("arpa") / 12.0 * pl.col("gross_margin")).alias(
                "payback_months"
            ),
            pl.lit(float(a.limit)).alias("guardrail_limit"),
            ratio(pl.col("revenue"), pl.col("spend")).alias("pipeline_per_dollar"),
            ratio(pl.col("revenue") - pl.col("spend"), pl.col("spend")).alias("marketing_roi"),
        )
        .with_columns(
            ratio(pl.col("loaded_cac"), pl.col("gross_profit_per_customer")).alias(
                "guardrail_share"
            )
        )
        .with_columns(
            # spend without customers breaches; a window with neither spend nor customers
            # (a monthly row of a channel idle in it) does not
            (
                ((pl.col("status") == "no_customers") & (pl.col("spend") > 0))
                | (pl.col("guardrail_share") > a.limit)
            )
            .fill_null(False)
            .alias("breach"),
            (pl.col("ltv_to_cac") >= a.ltv_to_cac_target).alias("ltv_to_cac_ok"),
            (pl.col("payback_months") <= pl.col("payback_target_months")).alias("payback_ok"),
        )
        .select(*keys, *METRIC_COLUMNS)
    )


def payback_target_table(
    benchmarks: Benchmarks | None, given: Mapping[str, float] | None, default: float
) -> tuple[dict[str, float], str]:
    """Payback targets by segment (months; ``all``: ``default``) and where they came from:
    the upper end of ``payback_target_months`` in the benchmark table (the shipped
    ``attribution/data/benchmarks.csv``: <= 18 SMB, <= 24 enterprise; a user's
    ``[benchmarks]`` file and ``[targets]`` override it), :data:`PAYBACK_FALLBACK` for the
    segments it lacks, then ``given`` (``unit_economics(payback_targets=...)``)."""
    table = benchmarks if benchmarks is not None else load_benchmarks()
    targets: dict[str, float] = {}
    origins = set()
    for segment in SEGMENTS:
        row = table.get("payback_target_months", segment=segment)
        if row is not None and row.segment == segment and row.high is not None:
            targets[segment] = float(row.high)
            origins.add(row.origin)
    for segment, other in PAYBACK_FALLBACK.items():
        if segment not in targets and other in targets:
            targets[segment] = targets[other]
    others = table.table.filter(  # a segment of the user's (or read as a published one)
        pl.col("metric") == "payback_target_months",
        pl.col("segment").is_not_null() & ~pl.col("segment").is_in(list(SEGMENTS)),
        pl.col("channel").is_null() & pl.col("high").is_not_null(),
    )
    for segment, high, origin in others.select("segment", "high", "origin").iter_rows():
        targets[segment] = float(high)
        origins.add(origin)
    targets.update({k: float(v) for k, v in (given or {}).items()})
    targets["all"] = float(default)
    source = "benchmark table payback_target_months (" + ", ".join(sorted(origins)) + ")"
    source += "; mid_market as smb and strategic as enterprise where the table has none"
    if given:
        source += "; given for " + ", ".join(sorted(given))
    return targets, source


def target_expr(targets: Mapping[str, float], default: float, column: str = "segment") -> pl.Expr:
    """The payback target of each row's ``column`` value (``default`` where none is set)."""
    return (
        pl.col(column)
        .replace_strict(dict(targets), default=default, return_dtype=pl.Float64)
        .alias("payback_target_months")
    )


def check_economics(
    *,
    costs: Mapping[str, float],
    allocation: str,
    gross_margin: float | Mapping[str, float] | None,
    annual_churn: float | None,
    arpa: float | None,
    ltv: float | None,
    value_period_months: float,
    guardrail_limit: float,
    ltv_to_cac_target: float,
    payback_target_months: float,
    guardrail_basis: str,
    segment_spend: str,
    payback_targets: Mapping[str, float] | None,
    monthly_lag_months: int | None = None,
    max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS,
) -> None:
    """Every parameter of ``unit_economics`` checked; the error names the parameter."""

    def bad(name: str, rule: str, got: Any) -> ModelParameterError:
        return ModelParameterError(
            f"The '{name}' parameter of unit_economics must be {rule}. Got {got!r} instead."
        )

    if allocation not in ("customers", "spend"):
        raise bad("allocation", "'customers' or 'spend'", allocation)
    if guardrail_basis not in GUARDRAIL_BASES:
        bases = " or ".join(f"'{b}'" for b in GUARDRAIL_BASES)
        raise bad("guardrail_basis", bases, guardrail_basis)
    if segment_spend not in ("touches", "customers"):
        raise bad("segment_spend", "'touches' or 'customers'", segment_spend)
    if monthly_lag_months is not None and (
        not isinstance(monthly_lag_months, int)
        or isinstance(monthly_lag_months, bool)
        or monthly_lag_months < 0
    ):
        raise bad("monthly_lag_months", "an int >= 0 or None", monthly_lag_months)
    for key, value in costs.items():
        if not is_number(value) or value < 0:
            raise bad("costs", f"a map of name -> amount >= 0 ('{key}')", value)
    for key, value in (payback_targets or {}).items():
        if not is_number(value) or value <= 0:
            raise bad("payback_targets", f"a map of segment -> months > 0 ('{key}')", value)
    margins = gross_margin.values() if isinstance(gross_margin, Mapping) else [gross_margin]
    for margin in margins:
        if margin is not None and not (is_number(margin) and 0 < margin <= 1):
            raise bad(
                "gross_margin",
                "a fraction in (0, 1], or a map of segment -> fraction in (0, 1]",
                gross_margin,
            )
    if annual_churn is not None and not (is_number(annual_churn) and 0 < annual_churn <= 1):
        raise bad("annual_churn", "a fraction in (0, 1]", annual_churn)
    for name, amount in (("arpa", arpa), ("ltv", ltv)):
        if amount is not None and not (is_number(amount) and amount > 0):
            raise bad(name, "a number > 0 or None", amount)
    for name, value in (
        ("value_period_months", value_period_months),
        ("guardrail_limit", guardrail_limit),
        ("ltv_to_cac_target", ltv_to_cac_target),
        ("payback_target_months", payback_target_months),
        ("max_lifetime_years", max_lifetime_years),
    ):
        if not (is_number(value) and value > 0):
            raise bad(name, "a number > 0", value)


_GROSS_PROFIT_NOTES: Final = {
    "lifetime_gross_profit": "the customer's expected lifetime gross profit (= LTV)",
    "first_year_gross_profit": "the customer's first-year gross profit (ARPA x gross margin)",
    "period_gross_profit": "the gross profit the customer earns in a period as long as the "
    "spend table's (ARPA x gross margin x months / 12): acquisition spend as a share of the "
    "period's gross profit",
}


def economics_notes(
    *,
    allocation: str,
    ltv: float | None,
    arpa: float | None,
    value_period_months: float,
    guardrail_basis: str,
    guardrail_limit: float,
    segment_spend: str,
    max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS,
) -> dict[str, str]:
    """The method notes written to ``economics.json`` (one per figure)."""
    return {
        "customers": "credited customers = the conversions a model credits to the channel (sum "
        "of credit); revenue = credited value",
        "cac": "spend / credited customers; null (infinite) with status 'no_customers' when a "
        "channel has spend but no credited customers (flagged as a breach); 0 with status "
        "'unpaid' when it has customers but no spend; status 'no_touches' (not a breach) when "
        "no touch of the run has the spend's channel: a naming mismatch to fix in "
        "[channels] (spend_channels_without_touches says which, with a did-you-mean)",
        "channels": "spend channels are spelled as the touches' (trimmed, whitespace folded, "
        "lower case, then the run's [channels] aliases)",
        "loaded_cac": f"(spend + non-media costs allocated by {allocation}) / customers; "
        + (
            "each row gets the non-media costs x its share of the model's credited "
            "customers (the same cost per customer everywhere)"
            if allocation == "customers"
            else "each row gets the non-media costs x its share of media spend (unpaid "
            "channels get none)"
        ),
        "ltv": (
            f"given: {ltv}"
            if ltv is not None
            else "ARPA x gross margin x lifetime, the lifetime 1 / annual churn (annual_churn "
            "column; its source in parameters.annual_churn) capped at max_lifetime_years "
            f"({max_lifetime_years:g}); ARPA = "
            + (
                f"given {arpa}"
                if arpa is not None
                else f"credited revenue / credited customers x 12 / {value_period_months:g} "
                "(deal values as that many months of revenue)"
            )
        ),
        "payback_months": "loaded CAC / (ARPA / 12 x gross margin), judged against the "
        "row's payback_target_months (its segment's target)",
        "ltv_to_cac": "LTV / loaded CAC",
        "guardrail": f"basis {guardrail_basis}: gross profit per customer = "
        f"{_GROSS_PROFIT_NOTES[guardrail_basis]}; guardrail_share = loaded CAC / it; breach "
        f"when > {guardrail_limit:g} (or no customers for the spend)",
        "pipeline_per_dollar": "credited closed-won value / media spend (the won part of the "
        "pipeline; open and lost opportunities are not in an attribution of won deals)",
        "marketing_roi": "(credited revenue - media spend) / media spend",
        "segments": "segment, metro and region of a conversion = those of its account (the "
        "accounts table; 'unknown' when missing); a channel's spend is split across them by "
        + (
            "its touches there (every touch of the touch log when the run has one, else "
            "those of the attributed journeys: parameters.segment_spend_touches says which)"
            if segment_spend == "touches"
            else "its credited customers there"
        )
        + " (a channel without any: like the model's touches overall); customers, spend and "
        "non-media costs of the segments add up to the 'all' row. A channel's customers and "
        "revenue in a segment, metro, region or month are its touch credit there; for a "
        "model whose touch credit does not sum per channel to its channel credit (Markov, "
        "Shapley: they split each journey by channel weights fitted on all journeys; listed "
        "in parameters.reconciled_to_channel_credit), the channel's credit split over them in "
        "proportion to its touch credit there, so they add up to the channel credit",
        "monthly": "economics_monthly.parquet: each month M holds the trailing three months "
        "M-2..M: conversions closed in them against the spend of the same months moved back "
        "by the spend lag (parameters.monthly_lag_months) and non-media costs x 3 / the "
        "period's months; only months with a whole window (lagged spend inside the spend "
        "table, M before the partial month of the last conversion); rerate = guardrail "
        "breached two months running",
        "period": "spend is summed over every row of the spend table; it should cover the "
        "same period as the conversions (spend_period and conversion_period above)",
    }
