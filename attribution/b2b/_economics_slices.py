"""Unit economics sliced by what accounts carry (segment, metro, region) and by month.

Methods (also in ``economics.json``'s notes and the README, "Unit economics"):

- **A conversion's account** is the account of its credited touches (``touch_credit``'s
  ``account_id``: the touch's own, or its contact's from the contacts table); its segment,
  metro and region come from the accounts table (:meth:`Accounts.attach`); a conversion
  without an account, or whose account is not in the table, is in ``unknown``.
- **Customers and revenue** of a channel in a slice = the credit (and credited value) the
  model gives the channel on conversions of that slice, so the slices of a channel add up
  to its ``all`` row. The touch credit summed is the economics' (the spend window's):
  under Markov and Shapley, whose touch credit does not sum per channel to their channel
  credit, each channel's credit split over its touches in proportion to their touch credit
  (:func:`attribution.b2b._reconcile.touches_reconciled`), so the slices and the months of
  a channel hold its channel credit split in proportion to its touch credit there.
- **Spend has no segment.** A channel's spend is split across the slices in proportion to
  its touches on each slice's accounts (``segment_spend = "touches"``, the default: spend
  follows the touches it bought, so a slice that takes many touches and converts few
  carries a higher CAC): every touch of the touch log when it is given
  (:func:`touch_exposure`, non-converting accounts included), else the touches of the
  attributed journeys; or in proportion to its credited customers (``"customers"``: every
  slice then has the channel's own CAC). A channel with no such
  touches (no customers) is split like the model's touches overall. Non-media costs follow
  the ``allocation`` of the ``all`` rows within each model. Spend and non-media costs of
  the slices therefore add up to the channel's.
- **By month**: for each calendar month M, the figures of the three months M-2..M: the
  customers and revenue of the conversions closed in them, against the spend of the same
  three months moved back by the **spend lag** (spend buys customers later: the median
  time from a journey's first credited touch to its conversion, in whole months, unless
  ``monthly_lag_months`` is given), and non-media costs x 3 / the spend period's months.
  Only months with a whole window: the lagged spend inside the spend table and M before the
  month of the last conversion (a partial month, unless the data reach its last day).
  ``breach_streak`` counts the consecutive months (up to M) in breach; ``rerate`` flags a
  channel whose guardrail breaches two months running (the re-rating rule).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import polars as pl

from attribution.b2b._economics_metrics import (
    DEFAULT_GROSS_MARGIN,
    METRIC_COLUMNS,
    Assumptions,
    target_expr,
    with_metrics,
)
from attribution.b2b._retention import Retention
from attribution.exceptions import ModelParameterError, did_you_mean
from attribution.inputs._account_inputs import UNKNOWN, Accounts
from attribution.inputs._channels import check_channel_aliases, normalise_channels
from attribution.inputs._formats import formats_for
from attribution.inputs._schema import CONTACTS, TOUCHES, load
from attribution.typing import TableLike

SegmentSpend = Literal["touches", "customers"]
#: The value of ``segment`` on the rows that hold every segment together.
ALL: Final = "all"
WINDOW_MONTHS: Final = 3
_TYPES: Final = {
    "status": pl.String,
    "guardrail_basis": pl.String,
    "breach": pl.Boolean,
    "ltv_to_cac_ok": pl.Boolean,
    "payback_ok": pl.Boolean,
}
_METRICS: Final = {c: _TYPES.get(c, pl.Float64) for c in METRIC_COLUMNS}
#: ``economics_slices.parquet``: the figures per model, dimension, slice and channel.
SLICE_SCHEMA: Final = pl.Schema(
    {"model": pl.String, "dimension": pl.String, "slice": pl.String, "channel": pl.String,
     **_METRICS}  # fmt: skip
)
#: ``economics_monthly.parquet``: the figures of the trailing three months, per month.
MONTHLY_SCHEMA: Final = pl.Schema(
    {"model": pl.String, "segment": pl.String, "channel": pl.String, "month": pl.Date,
     **_METRICS, "breach_streak": pl.Int32, "rerate": pl.Boolean}  # fmt: skip
)


def conversion_accounts(touch_credit: pl.DataFrame) -> pl.DataFrame:
    """``conversion_id`` -> ``account_id`` (the first account among its credited touches;
    every model credits the same touches, so one model's rows are read)."""
    first = touch_credit.get_column("model").first()
    return touch_credit.filter(pl.col("model") == first).group_by("conversion_id").agg(
        pl.col("account_id").drop_nulls().first().alias("account_id")
    )


def credit_by(
    touch_credit: pl.DataFrame, accounts: Accounts | None, dimension: str
) -> pl.DataFrame:
    """Per ``model``, ``channel`` and value of ``dimension`` (segment, metro, region): the
    credited ``customers``, ``revenue`` and the model's ``touches`` of the channel there."""
    owners = conversion_accounts(touch_credit)
    if accounts is not None:
        owners = accounts.attach(owners, (dimension,))
    else:
        owners = owners.with_columns(pl.lit(UNKNOWN).alias(dimension))
    return (
        touch_credit.select("model", "conversion_id", "channel", "credit", "value")
        .join(owners.select("conversion_id", dimension), on="conversion_id", how="left")
        .with_columns(pl.col(dimension).fill_null(UNKNOWN))
        .group_by("model", "channel", dimension)
        .agg(
            pl.col("credit").sum().alias("customers"),
            pl.col("value").sum().alias("revenue"),
            pl.len().cast(pl.Float64).alias("touches"),
        )
    )


def split_spend(
    by_slice: pl.DataFrame,
    overall: pl.DataFrame,
    dimension: str,
    how: SegmentSpend,
) -> pl.DataFrame:
    """The slice rows of every (model, channel) of ``overall`` (the ``all`` rows, with
    ``spend``): the channel's spend split across the slices of ``by_slice`` (see the module
    docstring)."""
    weight = "touches" if how == "touches" else "customers"
    mix = by_slice.group_by("model", dimension).agg(pl.col("touches").sum().alias("_mix"))
    grid = (
        overall.select("model", "channel", "spend")
        .join(by_slice, on=["model", "channel"], how="left")
        .with_columns(
            pl.col(weight).sum().over("model", "channel").alias("_total"),
            pl.col("customers").sum().over("model", "channel").alias("_customers"),
        )
    )
    has_weight = (pl.col("_total") > 0) | (pl.col("_customers") > 0)
    # channels with nothing to split by: spread like the model's touches overall
    fallback = (
        grid.filter(~has_weight)
        .select("model", "channel", "spend")
        .unique(["model", "channel"])
        .join(mix, on="model", how="left")
        .with_columns(
            pl.col(dimension).fill_null(UNKNOWN),
            pl.lit(0.0).alias("customers"),
            pl.lit(0.0).alias("revenue"),
            pl.lit(0.0).alias("touches"),
            (pl.col("_mix") / pl.col("_mix").sum().over("model", "channel"))
            .fill_null(1.0)
            .alias("_share"),
        )
    )
    # a channel with customers but no weight (no touch in the log) follows its customers
    direct = grid.filter(has_weight).with_columns(
        pl.when(pl.col("_total") > 0)
        .then(pl.col(weight) / pl.col("_total"))
        .otherwise(pl.col("customers") / pl.col("_customers"))
        .alias("_share")
    )
    cols = ["model", "channel", dimension, "customers", "revenue", "touches"]
    return pl.concat(
        [
            frame.select(*cols, (pl.col("spend") * pl.col("_share")).alias("spend"))
            for frame in (direct, fallback)
        ]
    )


def touch_exposure(
    touches: TableLike,
    contacts: TableLike | None = None,
    *,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    formats: Mapping[str, Sequence[str]] | None = None,
    channel_aliases: Mapping[str, str | Sequence[str]] | None = None,
) -> pl.DataFrame | None:
    """Every touch of the touch log counted by ``channel``, ``account_id`` (the touch's
    own, else its contact's from ``contacts``; null when neither) and ``contact_id`` (null
    when the log has none): the weights of the ``touches`` spend split, non-converting
    accounts included (a contact far more active than the others is bounded after:
    :func:`attribution.b2b._economics_heavy.bound_heavy_contacts`). None when the log has no
    ``channel`` column (its channels are derived by the run's rules, which this step does
    not repeat: the split then uses the attributed journeys' touches)."""
    tables = columns or {}
    wanted = {"channel", "account_id", "contact_id"}
    frame = load(
        touches,
        TOUCHES,
        columns=tables.get("touches"),
        formats=formats_for("touches", formats or {}),
        keep=lambda present: wanted & set(present),
    ).frame
    if "channel" not in frame.columns:
        return None
    frame = normalise_channels(frame, check_channel_aliases(channel_aliases or {}))[0]
    account = (
        pl.col("account_id") if "account_id" in frame.columns else pl.lit(None, pl.String)
    )
    if contacts is not None and "contact_id" in frame.columns:
        people = (
            load(contacts, CONTACTS, columns=tables.get("contacts"))
            .frame.select("contact_id", pl.col("account_id").alias("_account"))
            .unique("contact_id", keep="first")
        )
        frame = frame.join(people, on="contact_id", how="left")
        account = account.fill_null(pl.col("_account"))
    contact = (
        pl.col("contact_id") if "contact_id" in frame.columns else pl.lit(None, pl.String)
    )
    return frame.group_by("channel", account.alias("account_id"), contact.alias("contact_id")
                          ).agg(pl.len().cast(pl.Float64).alias("touches"))


def with_exposure(
    by_slice: pl.DataFrame,
    exposure: pl.DataFrame,
    accounts: Accounts,
    dimension: str,
    models: Sequence[str],
) -> pl.DataFrame:
    """``by_slice`` with its ``touches`` replaced by the touch log's (:func:`touch_exposure`)
    per channel and value of ``dimension``, slices without a customer included."""
    counts = (
        accounts.attach(exposure, (dimension,))
        .group_by("channel", dimension)
        .agg(pl.col("touches").sum())
    )
    weights = pl.DataFrame({"model": list(models)}, schema={"model": pl.String}).join(
        counts, how="cross"
    )
    return (
        by_slice.drop("touches")
        .join(weights, on=["model", "channel", dimension], how="full", coalesce=True)
        .with_columns(pl.col("customers", "revenue", "touches").fill_null(0.0))
    )


def allocate_non_media(
    frame: pl.DataFrame, non_media: float, allocation: str, model_totals: pl.DataFrame
) -> pl.DataFrame:
    """``non_media_cost`` of each slice row: the costs x the row's share of its model's
    customers (``allocation = "customers"``) or spend (``"spend"``), as the ``all`` rows."""
    base = "customers" if allocation == "customers" else "spend"
    return (
        frame.join(model_totals.select("model", pl.col(base).alias("_base")), on="model")
        .with_columns(
            (non_media * pl.col(base) / pl.col("_base")).fill_nan(0.0).fill_null(0.0)
            .alias("non_media_cost")
        )
        .drop("_base")
    )


def spend_lag(touch_credit: pl.DataFrame, conversions: pl.DataFrame) -> int:
    """Whole months from a journey's first credited touch to its conversion, the median over
    conversions (rounded): how long spend takes to become customers."""
    first = touch_credit.group_by("conversion_id").agg(pl.col("timestamp").min().alias("first"))
    days = (
        conversions.select("conversion_id", "timestamp")
        .join(first, on="conversion_id", how="inner")
        .select(((pl.col("timestamp") - pl.col("first")).dt.total_seconds() / 86_400).median())
        .item()
    )
    return max(0, round(days / 30.4375)) if days is not None else 0


def conversion_segments(touch_credit: pl.DataFrame, accounts: Accounts) -> pl.DataFrame:
    """``conversion_id`` -> ``segment`` (its account's; ``unknown`` without one)."""
    return accounts.attach(conversion_accounts(touch_credit), ("segment",)).select(
        "conversion_id", "segment"
    )


def segment_spend_shares(overall: pl.DataFrame, segments: pl.DataFrame) -> pl.DataFrame:
    """Per model, channel and segment, the segment's share of the channel's spend in the
    period's split (the segment rows' ``spend`` / the ``all`` row's): the monthly segment
    rows split each month's spend the same way."""
    return (
        segments.select("model", "segment", "channel", "spend")
        .join(
            overall.select("model", "channel", pl.col("spend").alias("_all")),
            on=["model", "channel"],
            how="inner",
        )
        .select(
            "model",
            "segment",
            "channel",
            pl.when(pl.col("_all") > 0).then(pl.col("spend") / pl.col("_all")).alias("_share"),
        )
        .drop_nulls("_share")
    )


@dataclass(frozen=True)
class MonthlySegments:
    """What the monthly rows need to slice by segment: each conversion's segment, each
    segment's share of a channel's spend, and the segment's churn and payback target."""

    of_conversion: pl.DataFrame
    spend_shares: pl.DataFrame
    churns: Mapping[str, float]
    targets: Mapping[str, float]


def monthly_rows(
    touch_credit: pl.DataFrame,
    conversions: pl.DataFrame,
    spend_months: pl.DataFrame,
    models: list[str],
    non_media: float,
    allocation: str,
    period_months: float,
    churn: float,
    assumptions: Assumptions,
    target: float,
    lag: int | None = None,
    segments: MonthlySegments | None = None,
) -> tuple[pl.DataFrame, int | None]:
    """Per model, ``segment`` (``all``, and each segment with ``segments``), channel and
    month M, the figures of the trailing window M-2..M with ``breach_streak`` and
    ``rerate`` (see the module docstring), and the spend lag in months used; empty when no
    month has a whole window or the result has no touch credit."""
    spend_by_month = spend_months.group_by("channel", "month").agg(
        pl.col("amount").sum().alias("spend")
    )
    if touch_credit.height == 0 or "timestamp" not in conversions.columns:
        return pl.DataFrame(schema=MONTHLY_SCHEMA), None
    lag = spend_lag(touch_credit, conversions) if lag is None else lag
    # spend of month m buys the customers of month m + lag
    spend_by_month = spend_by_month.with_columns(pl.col("month").dt.offset_by(f"{lag}mo"))
    first, last = spend_by_month.select(
        pl.col("month").min().alias("first"), pl.col("month").max().alias("last")
    ).row(0)
    # the month of the last conversion is whole only when the data reach its last day
    end = conversions.select(
        pl.when(
            (pl.col("timestamp").max() + pl.duration(days=1)).dt.month()
            != pl.col("timestamp").max().dt.month()
        )
        .then(pl.col("timestamp").max().dt.date().dt.truncate("1mo"))
        .otherwise(pl.col("timestamp").max().dt.date().dt.truncate("1mo").dt.offset_by("-1mo"))
    ).item()
    last = min(last, end) if end is not None else last
    if last < first:
        return pl.DataFrame(schema=MONTHLY_SCHEMA), lag
    closed = conversions.select(
        "conversion_id", pl.col("timestamp").dt.date().dt.truncate("1mo").alias("month")
    )
    dated = touch_credit.join(closed, on="conversion_id", how="inner")
    model_frame = pl.DataFrame({"model": models}, schema={"model": pl.String})
    credit = [dated.with_columns(pl.lit(ALL).alias("segment"))]
    spend = [model_frame.join(spend_by_month.with_columns(pl.lit(ALL).alias("segment")),
                              how="cross")]  # fmt: skip
    if segments is not None:
        credit.append(dated.join(segments.of_conversion, on="conversion_id", how="inner"))
        spend.append(
            segments.spend_shares.join(spend_by_month, on="channel", how="inner").select(
                "model", "channel", "month", (pl.col("spend") * pl.col("_share")).alias("spend"),
                "segment",
            )  # fmt: skip
        )
    keys = ["model", "segment", "channel", "month"]
    credit_rows = (
        pl.concat([c.select("model", "segment", "channel", "month", "credit", "value")
                   for c in credit])  # fmt: skip
        .group_by(keys)
        .agg(pl.col("credit").sum().alias("customers"), pl.col("value").sum().alias("revenue"))
    )
    spend_rows = pl.concat([s.select(keys + ["spend"]) for s in spend])
    calendar = pl.DataFrame({"month": pl.date_range(first, last, "1mo", eager=True)})
    series = (
        pl.concat([credit_rows.select("model", "segment", "channel"),
                   spend_rows.select("model", "segment", "channel")])  # fmt: skip
        .unique()
        .filter(pl.col("model").is_in(models))
    )
    by = ("model", "segment", "channel")
    window = [
        pl.col(c).rolling_sum(WINDOW_MONTHS, min_samples=WINDOW_MONTHS).over(by)
        for c in ("spend", "customers", "revenue")
    ]
    grid = (
        series.join(calendar, how="cross")
        .join(credit_rows, on=keys, how="left")
        .join(spend_rows, on=keys, how="left")
        .with_columns(pl.col("customers", "revenue", "spend").fill_null(0.0))
        .sort(*by, "month")
        .with_columns(window)
        .drop_nulls("spend")
    )
    if grid.height == 0:
        return pl.DataFrame(schema=MONTHLY_SCHEMA), lag
    share = WINDOW_MONTHS / period_months if period_months else 0.0
    base = "customers" if allocation == "customers" else "spend"
    # every segment's rows share out the costs of the model's month, as the 'all' rows do
    total = pl.col(base).filter(pl.col("segment") == ALL).sum().over("model", "month")
    churns = dict(segments.churns) if segments is not None else {}
    targets = dict(segments.targets) if segments is not None else {}
    grid = grid.with_columns(
        (non_media * share * pl.col(base) / total).fill_nan(0.0).fill_null(0.0)
        .alias("non_media_cost"),
        pl.when(pl.col("segment") == ALL)
        .then(pl.lit(churn))
        .otherwise(
            pl.col("segment").replace_strict(churns, default=churn, return_dtype=pl.Float64)
        )
        .alias("annual_churn"),
        pl.when(pl.col("segment") == ALL)
        .then(pl.lit(target))
        .otherwise(target_expr(targets, target))
        .alias("payback_target_months"),
    )
    return rerate(with_metrics(grid, assumptions, ("model", "segment", "channel", "month"))), lag


def observed_churns(
    given: float | None, kept: Retention | None
) -> tuple[dict[str, float], str]:
    """Annual churn by segment (``all`` too, when known) for LTV, and its source: the
    given churn, else the subscriptions' observed logo churn, else the default."""
    if given is not None:
        return {ALL: float(given)}, "given"
    if kept is not None:
        observed = kept.churn()
        if ALL in observed:
            return observed, f"observed (subscriptions: {kept.notes.get('source')})"
        return {}, "default assumption (no churn observed in the subscriptions)"
    return {}, "default assumption"


def churn_source(segment: str, churns: dict[str, float], source: str) -> str:
    """Where the churn of ``segment``'s LTV came from."""
    if not source.startswith("observed") or segment in churns:
        return source
    return "observed, every account (none observed in the segment)"


def blended_rows(
    frame: pl.DataFrame,
    assumptions: Assumptions,
    churns: dict[str, float],
    all_churn: float,
    targets: dict[str, float],
    default_target: float,
) -> pl.DataFrame:
    """One row per model and segment: every channel together, with the same figures."""
    sums = frame.group_by("model", "segment", maintain_order=True).agg(
        pl.col("spend", "customers", "revenue", "non_media_cost").sum()
    )
    return with_metrics(
        sums.with_columns(
            pl.col("segment")
            .replace_strict(churns, default=all_churn, return_dtype=pl.Float64)
            .alias("annual_churn"),
            target_expr(targets, default_target),
        ),
        assumptions,
        ("model", "segment"),
    ).drop("status")


def margin_source(segment: str, gross_margin: float | Mapping[str, float] | None) -> str:
    """Where the gross margin of ``segment``'s LTV came from."""
    if isinstance(gross_margin, Mapping):  # spelled by margins_given
        if segment in gross_margin:
            return f"given for {segment}"
        return f"given for {ALL}" if ALL in gross_margin else "default assumption"
    return "given" if gross_margin is not None else "default assumption"


def spell_segment(name: str) -> str:
    """A segment named in a setting, spelled as the accounts table spells its segments
    (:func:`attribution.inputs._account_inputs.segment_spelling`)."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def margins_given(gross_margin: Mapping[str, float]) -> dict[str, float]:
    """A ``gross_margin`` map with its segments spelled as the accounts table's are."""
    return {spell_segment(k): float(v) for k, v in gross_margin.items()}


def ltv_inputs(
    blended: pl.DataFrame,
    arpa: float | None,
    ltv: float | None,
    gross_margin: float | Mapping[str, float] | None,
    churns: dict[str, float],
    source: str,
) -> list[dict[str, object]]:
    """Per segment (``all`` first) of the first model: the LTV and each of its inputs with
    where it came from (ARPA from the deals of the segment's credited customers)."""
    if blended.height == 0:
        return []
    first = blended.get_column("model").first()
    rows = blended.filter(pl.col("model") == first)
    return [
        {
            "segment": r["segment"],
            "arpa": r["arpa"],
            "arpa_source": "given" if arpa is not None else "data (deal values of the "
            "segment's credited customers)",
            "gross_margin": r["gross_margin"],
            "gross_margin_source": margin_source(r["segment"], gross_margin),
            "annual_churn": r["annual_churn"],
            "annual_churn_source": churn_source(r["segment"], churns, source),
            "ltv": r["ltv"],
            "ltv_source": "given"
            if ltv is not None
            else "ARPA x gross margin x min(1 / annual churn, max_lifetime_years)",
        }
        for r in rows.iter_rows(named=True)
    ]


def rerate(frame: pl.DataFrame) -> pl.DataFrame:
    """``breach_streak`` (consecutive months in breach, to this one) and ``rerate`` (two
    running) per model, segment (when the frame has one) and channel of a monthly frame."""
    run = pl.col("breach").cast(pl.Int32)
    block = (pl.col("breach") != pl.col("breach").shift(1)).fill_null(True).cum_sum()
    by = ["model", *(["segment"] if "segment" in frame.columns else []), "channel"]
    return (
        frame.sort(*by, "month")
        .with_columns(block.over(by).alias("_block"))
        .with_columns(run.cum_sum().over(*by, "_block").alias("breach_streak"))
        .with_columns(
            pl.when(pl.col("breach")).then(pl.col("breach_streak")).otherwise(0),
        )
        .with_columns((pl.col("breach_streak") >= 2).alias("rerate"))
        .drop("_block")
    )


def known_share(segments: pl.DataFrame) -> float | None:
    """The share of the first model's credited customers whose account has a segment in
    the accounts table (the rest are in ``unknown``)."""
    if segments.height == 0:
        return None
    rows = segments.filter(pl.col("model") == segments.get_column("model").first())
    total, known = rows.select(
        pl.col("customers").sum(),
        pl.col("customers").filter(pl.col("segment") != UNKNOWN).sum().alias("known"),
    ).row(0)
    return float(known) / float(total) if total else None


def check_margin_segments(margins: Mapping[str, float], accounts: Accounts | None) -> None:
    """A per-segment ``gross_margin`` naming a segment no account has (``enterprize``) is a
    :class:`ModelParameterError` with a did-you-mean, never a segment silently left at the
    default margin. ``margins``: the segments' own (:func:`split_margins`)."""
    if not margins or accounts is None or not accounts.has("segment"):
        return
    known = sorted({*accounts.frame.get_column("segment").drop_nulls().unique(), UNKNOWN})
    for name in margins:
        if name not in known:
            raise ModelParameterError(
                f"The 'gross_margin' parameter of unit_economics names the segment '{name}', "
                f"which no account of '{accounts.source}' has: {did_you_mean(name, known)} "
                f"(its segments: {', '.join(known)})"
            )


def split_margins(
    gross_margin: float | Mapping[str, float] | None,
) -> tuple[float, dict[str, float], float | dict[str, float] | None]:
    """The ``all`` rows' gross margin, the segments' own, and the parameter as given with
    its segments spelled as the accounts table's (for :func:`margin_source`)."""
    if isinstance(gross_margin, Mapping):
        spelled = margins_given(gross_margin)
        own = {k: v for k, v in spelled.items() if k != ALL}
        return spelled.get(ALL, DEFAULT_GROSS_MARGIN), own, spelled
    margin = DEFAULT_GROSS_MARGIN if gross_margin is None else float(gross_margin)
    return margin, {}, gross_margin
