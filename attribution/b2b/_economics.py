"""Unit economics by model, channel and segment: CAC, fully loaded CAC, LTV, LTV/CAC,
payback, the guardrail, pipeline per dollar and marketing ROI.

Methods (also written to ``economics.json``'s notes; see the README, "Unit economics"):

- **Customers** of a channel under a model = the conversions the model credits to it (sum of
  credit), and its **revenue** the credited value. Spend = the spend table's ``amount``
  summed by channel over every row given (pass the rows of the period you want).
- **CAC** = spend / credited customers. A channel with spend but no credited customers has
  ``cac`` null (infinite), ``status`` ``no_customers`` and is flagged as a breach, not
  dropped. A channel with customers but no spend (organic, direct) has ``cac`` 0 and
  ``status`` ``unpaid``: it bought nothing, so its media CAC is zero, and its fully loaded
  CAC holds only its share of the non-media costs.
- **Fully loaded CAC** = (spend + allocated non-media costs) / customers. Non-media costs
  (sales compensation, tooling, onboarding... totals for the same period) are allocated
  ``by customers`` (each row gets the costs x its share of the model's credited
  customers, i.e. the same cost per customer everywhere; the default) or ``by spend``
  (x its share of spend; unpaid channels get none).
- **LTV** = ARPA x gross margin x lifetime (lifetime = 1 / churn in years, capped at
  ``max_lifetime_years``, default 5), with ARPA
  the average annual revenue per credited customer of the row (credited value / credited
  customers; deal values are taken as ``value_period_months`` of revenue, 12 = ARR),
  unless ``arpa`` or ``ltv`` is given. Churn is, in this order: ``annual_churn`` when
  given; else the annual logo churn observed in the subscriptions table, per segment
  (:mod:`attribution.b2b._retention`; the ``all`` rows take every account's); else the
  default assumption 0.15. The output says which for each input (``ltv_inputs``).
- **LTV/CAC** and **payback months** use the fully loaded CAC: payback = loaded CAC /
  (ARPA / 12 x gross margin), judged against the row's segment target
  (``payback_target_months`` column: the benchmark table's ``payback_target_months``, 18
  months SMB, 24 enterprise, mid-market as SMB and strategic as enterprise;
  ``payback_target_months`` for ``all`` and other segments).
- **Guardrail** (``guardrail_basis``): ``guardrail_share`` = loaded CAC / gross profit per
  customer, where gross profit per customer is the customer's lifetime gross profit (=
  LTV; ``lifetime_gross_profit``, the default), its first year's (ARPA x margin;
  ``first_year_gross_profit``) or that of a period as long as the spend table's
  (ARPA x margin x months / 12; ``period_gross_profit``: acquisition spend as a share of
  the gross profit the credited customers earn in the period). A row breaches when it
  exceeds ``guardrail_limit`` (default 0.30). Why lifetime by default: the 10-30% range
  read on lifetime gross profit is the LTV/CAC >= 3 rule (30% is LTV/CAC 3.3); read on a
  first year it would mean a payback of 1.2-3.6 months, far stricter than the 3-24 month
  payback targets of the same playbook.
- **Pipeline per dollar** = credited closed-won value / media spend (the won part of the
  pipeline: an attribution of won deals does not see open or lost ones; divide by the win
  rate to compare with the created-pipeline ranges); **marketing ROI** = (credited
  revenue - media spend) / media spend.
- **Segments, metros, regions and months**: see :mod:`attribution.b2b._economics_slices`
  (how spend, which has no segment, is split).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from attribution.b2b import _economics_ranges as _ranges_module
from attribution.b2b._economics_draws import bootstrap_parameters, draw_notes, with_bootstrap
from attribution.b2b._economics_joins import join_findings, matched_churns
from attribution.b2b._economics_metrics import (
    DEFAULT_ANNUAL_CHURN,
    DEFAULT_GROSS_MARGIN,
    DEFAULT_GUARDRAIL_BASIS,
    DEFAULT_GUARDRAIL_LIMIT,
    DEFAULT_MAX_LIFETIME_YEARS,
    Allocation,
    Assumptions,
    GuardrailBasis,
    check_economics,
    economics_notes,
    payback_target_table,
    target_expr,
    with_metrics,
)
from attribution.b2b._economics_ranges import blended_pipeline, with_pipeline, with_ranges
from attribution.b2b._economics_slices import (
    ALL,
    SLICE_SCHEMA,
    MonthlySegments,
    SegmentSpend,
    allocate_non_media,
    blended_rows,
    check_margin_segments,
    conversion_segments,
    credit_by,
    known_share,
    ltv_inputs,
    margin_source,
    monthly_rows,
    segment_spend_shares,
    split_margins,
    split_spend,
    with_exposure,
)
from attribution.b2b._economics_summary import economics_summary
from attribution.b2b._economics_window import month_count, spend_window
from attribution.b2b._retention import Retention, retention
from attribution.b2b._shared import chosen_models, doc_text, jsonable, rows_error
from attribution.b2b._spend_checks import spend_checks
from attribution.engine._files import RunFiles, write_json_atomic, write_parquet_atomic
from attribution.inputs._account_inputs import Accounts, Subscriptions, as_accounts
from attribution.inputs._benchmarks import Benchmarks, load_benchmarks
from attribution.inputs._channels import (
    check_channel_aliases,
    normalise_channels,
    unmatched_channels,
)
from attribution.inputs._formats import resolve_formats
from attribution.inputs._schema import SPEND, load
from attribution.typing import TableLike

if TYPE_CHECKING:  # only annotations: the engine imports the b2b room, not the other way
    from attribution import AttributionResult

__all__ = [
    "DEFAULT_ANNUAL_CHURN",
    "DEFAULT_GROSS_MARGIN",
    "DEFAULT_GUARDRAIL_LIMIT",
    "UnitEconomics",
    "unit_economics",
]


@dataclass
class UnitEconomics:
    """What :func:`unit_economics` returns.

    Attributes
    ----------
    table : pl.DataFrame
        One row per model and channel, every segment together (``segment`` = ``all``):
        ``model``, ``segment``, ``channel``, ``status`` (``paid``, ``unpaid``,
        ``no_customers``, ``no_touches``), ``spend``, ``customers``, ``revenue``, ``arpa``,
        ``cac``, ``non_media_cost``, ``loaded_cac``, ``annual_churn``, ``ltv``,
        ``ltv_to_cac``, ``payback_months``, ``payback_target_months``,
        ``gross_profit_per_customer``, ``guardrail_basis``, ``guardrail_share``,
        ``guardrail_limit``, ``breach``, ``ltv_to_cac_ok``, ``payback_ok``,
        ``pipeline_per_dollar``, ``marketing_roi``, and against the segment's published
        ranges (:mod:`attribution.b2b._economics_ranges`) ``opportunities``,
        ``pipeline_created``, ``created_pipeline_per_dollar``, ``pipeline_per_dollar_low``,
        ``_high``, ``_gap``, ``_judgement`` and ``cac_payback_low``, ``_high``, ``_gap``,
        ``_judgement``.
    segments : pl.DataFrame
        The same columns per model, segment and channel (with an accounts table; else
        empty). ``economics.parquet`` holds ``table`` and ``segments`` together.
    slices : pl.DataFrame
        Per model, ``dimension`` (``metro``, ``region``), ``slice`` and channel, the same
        figures (``economics_slices.parquet``; empty without those account columns).
    monthly : pl.DataFrame
        Per model, ``segment`` (``all``, and each segment with an accounts table), channel
        and ``month``: the figures of the trailing three months, with ``breach_streak`` and
        ``rerate`` (``economics_monthly.parquet``).
    blended : pl.DataFrame
        One row per model and segment (``all`` too): every channel together.
    retention : Retention or None
        The retention measured from the subscriptions table, when given.
    draws : pl.DataFrame
        Every bootstrap draw's figures (:mod:`attribution.b2b._economics_draws`), or empty.
    parameters, notes : dict
        The parameters used (with where each came from) and the method notes.
    """

    table: pl.DataFrame
    blended: pl.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    segments: pl.DataFrame = field(default_factory=pl.DataFrame)
    slices: pl.DataFrame = field(default_factory=pl.DataFrame)
    monthly: pl.DataFrame = field(default_factory=pl.DataFrame)
    retention: Retention | None = None
    draws: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def frame(self) -> pl.DataFrame:
        """What ``economics.parquet`` holds (and a write-back appends): the ``all`` rows
        and the segment rows."""
        return pl.concat([self.table, self.segments]) if self.segments.height else self.table

    def write(self, directory: str | Path) -> Path:
        """Write ``economics.parquet`` (``all`` and segment rows), ``economics_slices.parquet``,
        ``economics_monthly.parquet``, ``economics.json`` (and draws) into ``directory``."""
        out = Path(directory)
        write_parquet_atomic(out / RunFiles.ECONOMICS, self.frame)
        write_parquet_atomic(out / RunFiles.ECONOMICS_SLICES, self.slices)
        write_parquet_atomic(out / RunFiles.ECONOMICS_MONTHLY, self.monthly)
        if self.draws.height:
            write_parquet_atomic(out / RunFiles.ECONOMICS_DRAWS, self.draws)
        write_json_atomic(
            out / RunFiles.ECONOMICS_JSON,
            jsonable(
                {
                    "parameters": self.parameters,
                    "notes": self.notes,
                    "blended": self.blended.to_dicts(),
                    "breaches": self.table.filter(pl.col("breach"))
                    .select("model", "channel", "status", "loaded_cac", "guardrail_share")
                    .to_dicts(),
                    "segment_breaches": self.segments.filter(pl.col("breach"))
                    .select("model", "segment", "channel", "status", "loaded_cac",
                            "guardrail_share")  # fmt: skip
                    .to_dicts()
                    if self.segments.height
                    else [],
                    "rerate": self.monthly.filter(pl.col("rerate"))
                    .select("model", "segment", "channel", "month", "guardrail_share",
                            "breach_streak")  # fmt: skip
                    .to_dicts()
                    if self.monthly.height
                    else [],
                }
            ),
        )
        return out

    def summary(self, model: str | None = None) -> str:
        """CAC by channel and segment against the guardrail, blended LTV/CAC, payback per
        segment and NRR, for ``model`` (default: ``linear`` if present, else the first)."""
        return economics_summary(self, model)


def unit_economics(
    result: AttributionResult,
    spend: TableLike,
    *,
    costs: Mapping[str, float] | None = None,
    allocation: Allocation = "customers",
    gross_margin: float | Mapping[str, float] | None = None,
    annual_churn: float | None = None,
    arpa: float | None = None,
    ltv: float | None = None,
    value_period_months: float = 12.0,
    guardrail_limit: float = DEFAULT_GUARDRAIL_LIMIT,
    guardrail_basis: GuardrailBasis = DEFAULT_GUARDRAIL_BASIS,
    ltv_to_cac_target: float = 3.0,
    payback_target_months: float = 18.0,
    max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS,
    payback_targets: Mapping[str, float] | None = None,
    benchmarks: Benchmarks | None = None,
    segment_spend: SegmentSpend = "touches",
    monthly_lag_months: int | None = None,
    exposure: pl.DataFrame | None = None,
    pipeline: pl.DataFrame | None = None,
    models: Iterable[str] | None = None,
    columns: Mapping[str, str] | None = None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
    accounts: Accounts | TableLike | None = None,
    subscriptions: Subscriptions | Retention | TableLike | None = None,
) -> UnitEconomics:
    """CAC, fully loaded CAC, LTV, LTV/CAC, payback and the guardrail by model, channel and
    (with ``accounts``) segment, metro and region, and by month.

    Parameters
    ----------
    result
        From :func:`attribute`; its ``channel_credit`` gives credited customers and revenue.
    spend
        Spend table: ``channel``, ``month`` or ``date``, ``amount`` (path or frame).
    costs
        Non-media costs for the same period, by name (e.g. ``{"sales_compensation": 300000,
        "tooling": 40000, "onboarding": 60000}``).
    allocation
        How non-media costs reach channels: ``"customers"`` (by credited customers) or
        ``"spend"`` (by media spend).
    gross_margin, annual_churn
        Fractions in (0, 1]; ``None`` = the default assumptions 0.75 and 0.15, marked as such.
        ``gross_margin`` may also map segment -> margin (``{"smb": 0.7, "enterprise": 0.85,
        "all": 0.8}``): each segment's rows use its own, ``all`` the ``all`` rows and the
        segments not named (the default 0.75 without it).
    arpa
        Annual revenue per customer; ``None`` = from the data, per channel.
    ltv
        Lifetime value per customer; ``None`` = ARPA x gross margin x lifetime, the lifetime
        ``1 / annual churn`` years capped at ``max_lifetime_years``.
    max_lifetime_years
        The longest customer lifetime LTV counts (default 5 years, as finance teams cap
        LTV at 3-5 years): a segment that barely churns gets no 30-year LTV.
    value_period_months
        Months of revenue a deal ``value`` stands for (12: values are ARR).
    guardrail_limit
        The highest loaded CAC as a share of gross profit per customer.
    guardrail_basis
        ``"lifetime_gross_profit"`` (default), ``"first_year_gross_profit"`` or
        ``"period_gross_profit"`` (see the module docstring).
    ltv_to_cac_target, payback_target_months
        Targets for the ``ltv_to_cac_ok`` and ``payback_ok`` columns (b2b.md: LTV/CAC >= 3;
        payback <= 12-18 months SMB, <= 24 enterprise); ``payback_target_months`` judges the
        ``all`` rows and segments without a target of their own.
    payback_targets
        Payback targets by segment, months, over those of the benchmark table.
    benchmarks
        The benchmark table (:func:`attribution.load_benchmarks`; default: the shipped one):
        the segments' payback targets are the upper ends of its ``payback_target_months``
        (<= 18 months SMB, <= 24 enterprise; mid-market as SMB and strategic as enterprise
        where it has none).
    exposure
        Touches per ``channel`` and ``account_id`` over the whole touch log
        (:func:`attribution.b2b._economics_slices.touch_exposure`): the weights of the
        ``touches`` spend split; without it, the attributed journeys' touches.
    pipeline
        Created pipeline per ``segment`` and sourced ``channel`` (:attr:`Funnel.pipeline`):
        ``created_pipeline_per_dollar`` against the segment's range (``None``: null).
    monthly_lag_months
        Months between spend and the customers it buys in the monthly figures (default: the
        data's median months from first credited touch to conversion).
    segment_spend
        How a channel's spend is split across segments, metros and regions: ``"touches"``
        (its touches there in the attributed journeys) or ``"customers"``.
    models
        Models of ``result`` to include (default: all).
    columns
        Our spend column -> the data's.
    timestamp_formats
        strftime patterns for dates written as text, as
        :attr:`attribution.RunOptions.timestamp_formats` (a list, or a mapping by column).
    accounts
        The accounts table (:func:`attribution.inputs.load_accounts`, or a path / frame):
        segment, metro and region rows.
    subscriptions
        The subscriptions table (or its :class:`Retention`): observed churn for LTV.

    Examples
    --------
    >>> import polars as pl, attribution
    >>> from attribution import unit_economics
    >>> touches = pl.DataFrame({"contact_id": ["c1", "c2"], "channel": ["linkedin"] * 2,
    ...     "timestamp": ["2025-01-01", "2025-01-02"]})
    >>> stages = pl.DataFrame({"contact_id": ["c1", "c2"], "stage": ["closed_won"] * 2,
    ...     "timestamp": ["2025-01-10"] * 2, "value": [12000.0, 12000.0]})
    >>> res = attribution.attribute(touches, stages, models=["linear"])
    >>> spend = pl.DataFrame({"channel": ["linkedin"], "month": ["2025-01-01"],
    ...     "amount": [3000.0]})
    >>> econ = unit_economics(res, spend, gross_margin=0.8, annual_churn=0.2)
    >>> econ.table.select("cac", "ltv", "payback_months").row(0)
    (1500.0, 48000.0, 1.875)
    """
    costs = dict(costs or {})
    account_table = as_accounts(accounts)
    kept = (
        subscriptions
        if isinstance(subscriptions, Retention) or subscriptions is None
        else retention(subscriptions, account_table)
    )
    check_economics(
        costs=costs,
        allocation=allocation,
        gross_margin=gross_margin,
        annual_churn=annual_churn,
        arpa=arpa,
        ltv=ltv,
        value_period_months=value_period_months,
        guardrail_limit=guardrail_limit,
        ltv_to_cac_target=ltv_to_cac_target,
        payback_target_months=payback_target_months,
        guardrail_basis=guardrail_basis,
        segment_spend=segment_spend,
        payback_targets=payback_targets,
        monthly_lag_months=monthly_lag_months,
        max_lifetime_years=max_lifetime_years,
    )
    margin, margins, spelled_margin = split_margins(gross_margin)
    check_margin_segments(margins, account_table)
    table = load(spend, SPEND, columns=columns, formats=resolve_formats(timestamp_formats, "spend"))
    negative = (frame := table.frame).filter(pl.col("amount") < 0)
    if negative.height:
        raise rows_error(
            f"{negative.height} negative amount(s)",
            table,
            negative,
            column="amount",
            hint="spend is money paid out; record refunds as lower positive amounts",
        )
    frame, date_col, spend_found = spend_checks(table, result.conversions, result.manifest)
    chosen = chosen_models(result.channel_credit, models, "the attribution result")
    window = spend_window(result, frame.get_column(date_col), monthly_lag_months, table, chosen)
    frame = window.spend_of(frame, date_col)  # only the spend that buys the customers kept
    # spend channels in the run's spelling (trimmed, folded, lower case, its aliases), so
    # that 'LinkedIn' spend meets 'linkedin' touches
    rec = result.manifest.get("reconciliation") or {}
    aliases = (result.manifest.get("parameters") or {}).get("channel_aliases") or {}
    frame, spend_renamed, _, _ = normalise_channels(frame, check_channel_aliases(aliases))
    by_channel = frame.group_by("channel").agg(pl.col("amount").sum().alias("spend"))
    touch_channels = rec.get("touch_channels")
    unmatched = (
        unmatched_channels(by_channel.get_column("channel").sort().to_list(), touch_channels)
        if touch_channels is not None
        else {}
    )
    credit = window.channel_credit.select(  # the chosen models' (reconciled touch sums below)
        "model", "channel", pl.col("conversions").alias("customers"), pl.col("value")
    )
    grid = (
        pl.DataFrame({"model": chosen}, schema={"model": pl.String})
        .join(by_channel, how="cross")
        .join(credit, on=["model", "channel"], how="full", coalesce=True)
        .with_columns(
            pl.col("spend").fill_null(0.0),
            pl.col("customers").fill_null(0.0),
            pl.col("value").fill_null(0.0).alias("revenue"),
        )
    )
    non_media = float(sum(costs.values()))
    totals = grid.group_by("model").agg(pl.col("customers", "spend").sum())
    grid = allocate_non_media(grid, non_media, allocation, totals)
    months = frame.get_column(date_col).dt.truncate("1mo")
    period_months = float(month_count(months.min(), months.max()))  # type: ignore[arg-type]
    churns, churn_source, subs_match = matched_churns(annual_churn, kept, window.touch_credit)
    all_churn = churns.get(ALL, DEFAULT_ANNUAL_CHURN)
    targets, target_source = payback_target_table(
        benchmarks, payback_targets, payback_target_months
    )
    assumptions = Assumptions(
        margin=margin,
        margins=tuple(sorted(margins.items())),
        arpa=arpa,
        ltv=ltv,
        value_period_months=value_period_months,
        basis=guardrail_basis,
        limit=guardrail_limit,
        ltv_to_cac_target=ltv_to_cac_target,
        period_months=period_months,
        unmatched=tuple(unmatched),
        max_lifetime_years=float(max_lifetime_years),
    )
    order = pl.col("model").replace_strict({m: i for i, m in enumerate(chosen)})
    out = with_metrics(
        grid.with_columns(
            pl.lit(ALL).alias("segment"),
            pl.lit(all_churn).alias("annual_churn"),
            pl.lit(float(payback_target_months)).alias("payback_target_months"),
        ),
        assumptions,
        ("model", "segment", "channel"),
    ).sort(order, "customers", "channel", descending=[False, True, False])
    bench = benchmarks if benchmarks is not None else load_benchmarks()
    out = with_ranges(with_pipeline(out, pipeline), bench)
    touch_credit = window.touch_credit  # sums per model and channel to its channel credit
    sliced = account_table is not None and touch_credit.height > 0

    def slice_rows(dimension: str, per_segment: bool) -> pl.DataFrame:
        by = credit_by(touch_credit, account_table, dimension)
        if exposure is not None and segment_spend == "touches" and account_table is not None:
            by = with_exposure(by, exposure, account_table, dimension, chosen)
        rows = split_spend(by, grid, dimension, segment_spend)
        rows = allocate_non_media(rows, non_media, allocation, totals)
        churn = (
            pl.col(dimension).replace_strict(churns, default=all_churn, return_dtype=pl.Float64)
            if per_segment
            else pl.lit(all_churn)
        )
        target = (
            target_expr(targets, float(payback_target_months), dimension)
            if per_segment
            else pl.lit(float(payback_target_months)).alias("payback_target_months")
        )
        return with_metrics(
            rows.with_columns(churn.alias("annual_churn"), target),
            assumptions,
            ("model", dimension, "channel"),
        )

    segments = (
        with_ranges(with_pipeline(slice_rows("segment", True), pipeline), bench).sort(
            order, "segment", "customers", "channel", descending=[False, False, True, False]
        )
        if sliced
        else out.clear()
    )
    slices = (
        pl.concat(
            [
                slice_rows(dim, False).select(
                    "model", pl.lit(dim).alias("dimension"), pl.col(dim).alias("slice"),
                    pl.exclude("model", dim),
                )  # fmt: skip
                for dim in ("metro", "region")
                if account_table is not None and account_table.has(dim)
            ]
            or [pl.DataFrame(schema=SLICE_SCHEMA)]
        )
        if sliced
        else pl.DataFrame(schema=SLICE_SCHEMA)
    )
    blended = blended_rows(
        pl.concat([out, segments]),
        assumptions,
        churns,
        all_churn,
        targets,
        float(payback_target_months),
    )
    blended = with_ranges(blended_pipeline(blended, pipeline), bench)
    boot = window.bootstrap  # intervals of the rows and every draw's figures
    out, segments, draws = with_bootstrap(out, segments, boot, chosen, assumptions, non_media,
                                          allocation, segment_spend)  # fmt: skip
    monthly, lag = monthly_rows(
        touch_credit,
        window.conversions,
        frame.select("channel", months.alias("month"), "amount"),
        chosen,
        non_media,
        allocation,
        period_months,
        all_churn,
        replace(assumptions, period_months=3.0),
        float(payback_target_months),
        monthly_lag_months,
        segments=MonthlySegments(
            of_conversion=conversion_segments(touch_credit, account_table),
            spend_shares=segment_spend_shares(out, segments),
            churns=churns,
            targets=targets,
        )
        if sliced and account_table is not None
        else None,
    )
    conv = result.conversions
    conv_span = (
        [str(conv.get_column("timestamp").min()), str(conv.get_column("timestamp").max())]
        if "timestamp" in conv.columns and conv.height
        else None
    )
    spend_span = [str(frame.get_column(date_col).min()), str(frame.get_column(date_col).max())]
    parameters = {
        "costs": costs,
        "non_media_total": non_media,
        "allocation": allocation,
        "gross_margin": {
            "value": margin,
            "source": margin_source(ALL, spelled_margin),
            **({"by_segment": margins} if margins else {}),
        },
        "annual_churn": {"value": all_churn, "source": churn_source},
        "annual_churn_by_segment": {k: v for k, v in churns.items() if k != ALL},
        "arpa": {"value": arpa, "source": "given" if arpa is not None else "data, per row"},
        "ltv": {"value": ltv, "source": "given" if ltv is not None else "computed"},
        "value_period_months": value_period_months,
        "guardrail_basis": guardrail_basis,
        "guardrail_limit": guardrail_limit,
        "ltv_to_cac_target": ltv_to_cac_target,
        "payback_target_months": payback_target_months,
        "max_lifetime_years": max_lifetime_years,
        "payback_targets": {"value": targets, "source": target_source},
        "segment_spend": segment_spend if sliced else None,
        "segment_spend_touches": (
            None
            if not sliced or segment_spend != "touches"
            else "every touch of the touch log"
            if exposure is not None
            else "the touches of the attributed journeys"
        ),
        "period_months": period_months,
        "monthly_lag_months": {
            "value": lag,
            "source": "given" if monthly_lag_months is not None else "data: median months "
            "from a journey's first credited touch to its conversion",
        },
        "models": chosen,
        "reconciled_to_channel_credit": list(window.reconciled),
        "spend_source": table.source.name,
        "spend_period": spend_span,
        "spend_checks": spend_found,
        "spend_coverage": window.coverage,
        "conversion_period": conv_span,
        "spend_channels_without_credit": sorted(
            set(by_channel.get_column("channel")) - set(credit.get_column("channel"))
        ),
        "spend_channels_renamed": spend_renamed,
        "spend_channels_without_touches": unmatched,
        "accounts_source": account_table.source if account_table is not None else None,
        "customers_with_a_segment": known_share(segments),
        **join_findings(account_table, window, subs_match, blended, result.manifest, out),
        "subscriptions_source": kept.notes.get("source") if kept is not None else None,
        "ltv_inputs": ltv_inputs(blended, arpa, ltv, spelled_margin, churns, churn_source),
        "bootstrap": bootstrap_parameters(boot, sliced),
    }
    notes = economics_notes(
        allocation=allocation,
        ltv=ltv,
        arpa=arpa,
        value_period_months=value_period_months,
        guardrail_basis=guardrail_basis,
        guardrail_limit=guardrail_limit,
        segment_spend=segment_spend,
        max_lifetime_years=max_lifetime_years,
    )
    notes["ranges"] = " ".join(doc_text(_ranges_module.__doc__).split("\n\n", 1)[-1].split())
    parameters["pipeline"] = "opportunities by sourced channel" if pipeline is not None else None
    return UnitEconomics(
        table=out,
        blended=blended,
        parameters=parameters,
        notes={**notes, **draw_notes(boot, sliced)},
        segments=segments,
        slices=slices,
        monthly=monthly,
        retention=kept,
        draws=draws,
    )
