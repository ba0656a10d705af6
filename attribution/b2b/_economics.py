"""Unit economics by model and channel: CAC, fully loaded CAC, LTV, LTV/CAC, payback, guardrail.

Methods (also written to ``economics.json``; see ``b2b.md``, "Unit economics"):

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
  ``by customers`` (each channel gets the costs x its share of the model's credited
  customers, i.e. the same cost per customer everywhere; the default) or ``by spend``
  (x its share of spend; unpaid channels get none).
- **LTV** = ARPA x gross margin / annual churn (lifetime = 1 / churn, in years), with ARPA
  the average annual revenue per credited customer of the channel (credited value /
  credited customers; deal values are taken as ``value_period_months`` of revenue, 12 =
  ARR), unless ``arpa`` or ``ltv`` is given. Gross margin and churn are parameters; the
  output says whether each was given or is the default assumption.
- **LTV/CAC** and **payback months** use the fully loaded CAC: payback = loaded CAC /
  (monthly revenue x gross margin).
- **Guardrail**: gross profit per customer = the customer's expected lifetime gross profit
  (= LTV). ``guardrail_share`` = loaded CAC / gross profit per customer; a channel breaches
  when it exceeds ``guardrail_limit`` (default 0.30, the top of the 10-30% range in
  ``b2b.md``; it is a little stricter than LTV/CAC >= 3, which is a share of 0.33).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from attribution.b2b._shared import is_number, jsonable, money, num, rows_error
from attribution.engine._files import RunFiles, write_json_atomic, write_parquet_atomic
from attribution.exceptions import ModelNotFoundError, ModelParameterError
from attribution.inputs._account_inputs import (
    Accounts,
    Subscriptions,
    as_accounts,
    as_subscriptions,
)
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

Allocation = Literal["customers", "spend"]

DEFAULT_GROSS_MARGIN = 0.75
DEFAULT_ANNUAL_CHURN = 0.15
DEFAULT_GUARDRAIL_LIMIT = 0.30

ECONOMICS_COLUMNS = (
    "model",
    "channel",
    "status",
    "spend",
    "customers",
    "revenue",
    "arpa",
    "cac",
    "non_media_cost",
    "loaded_cac",
    "ltv",
    "ltv_to_cac",
    "payback_months",
    "gross_profit_per_customer",
    "guardrail_share",
    "guardrail_limit",
    "breach",
    "ltv_to_cac_ok",
    "payback_ok",
)


@dataclass
class UnitEconomics:
    """What :func:`unit_economics` returns.

    Attributes
    ----------
    table : pl.DataFrame
        One row per model and channel: ``model``, ``channel``, ``status`` (``paid``,
        ``unpaid``, ``no_customers``), ``spend``, ``customers``, ``revenue``, ``arpa``,
        ``cac``, ``non_media_cost``, ``loaded_cac``, ``ltv``, ``ltv_to_cac``,
        ``payback_months``, ``gross_profit_per_customer``, ``guardrail_share``,
        ``guardrail_limit``, ``breach``, ``ltv_to_cac_ok``, ``payback_ok``.
    blended : pl.DataFrame
        One row per model: every channel together (``spend``, ``customers``, ``cac``,
        ``loaded_cac``...).
    parameters, notes : dict
        The parameters used (with where each came from) and the method notes.
    """

    table: pl.DataFrame
    blended: pl.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def write(self, directory: str | Path) -> Path:
        """Write ``economics.parquet`` and ``economics.json`` into ``directory``."""
        out = Path(directory)
        write_parquet_atomic(out / RunFiles.ECONOMICS, self.table)
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
                }
            ),
        )
        return out

    def summary(self, model: str | None = None) -> str:
        """CAC by channel against the guardrail, for ``model`` (default: ``linear`` if
        present, else the first model)."""
        if self.table.height == 0:
            return "Unit economics: no channels."
        models = self.table.get_column("model").unique(maintain_order=True).to_list()
        model = model or ("linear" if "linear" in models else models[0])
        rows = self.table.filter(pl.col("model") == model).sort(
            pl.col("loaded_cac").is_null(), "loaded_cac", descending=[True, False]
        )
        p = self.parameters
        lines = [
            f"Unit economics under {model} (CAC = spend / credited customers; loaded adds "
            f"non-media costs ${p['non_media_total']:,.0f} allocated by {p['allocation']}; "
            f"LTV = ARPA x {p['gross_margin']['value']:.0%} margin / "
            f"{p['annual_churn']['value']:.0%} annual churn; guardrail: loaded CAC <= "
            f"{p['guardrail_limit']:.0%} of lifetime gross profit per customer):",
            f"  {'channel':<22} {'spend':>10} {'customers':>9} {'CAC':>9} {'loaded':>9} "
            f"{'LTV/CAC':>8} {'payback':>8} {'guardrail':>9}",
        ]
        for r in rows.iter_rows(named=True):
            flag = "BREACH" if r["breach"] else "ok"
            if r["status"] == "unpaid":
                flag = "unpaid"
            elif r["status"] == "no_touches":
                flag = "no touches"
            lines.append(
                f"  {r['channel']:<22} {money(r['spend']):>10} {r['customers']:>9.1f} "
                f"{money(r['cac']):>9} {money(r['loaded_cac']):>9} "
                f"{num(r['ltv_to_cac'], '.1f'):>8} {num(r['payback_months'], '.1f'):>8} "
                f"{num(r['guardrail_share'], '.1%'):>9} {flag}"
            )
        b = self.blended.filter(pl.col("model") == model)
        if b.height:
            r = b.row(0, named=True)
            lines.append(
                f"  {'(blended)':<22} {money(r['spend']):>10} {r['customers']:>9.1f} "
                f"{money(r['cac']):>9} {money(r['loaded_cac']):>9}"
            )
        breaches = self.table.filter(pl.col("breach") & (pl.col("model") == model))
        lines.append(
            f"Guardrail breaches under {model}: "
            + (", ".join(breaches.get_column("channel").to_list()) or "none")
            + "."
        )
        for channel, hint in (p.get("spend_channels_without_touches") or {}).items():
            lines.append(f"Spend channel '{channel}' matches no touch channel: {hint}")
        return "\n".join(lines)


def unit_economics(
    result: AttributionResult,
    spend: TableLike,
    *,
    costs: Mapping[str, float] | None = None,
    allocation: Allocation = "customers",
    gross_margin: float | None = None,
    annual_churn: float | None = None,
    arpa: float | None = None,
    ltv: float | None = None,
    value_period_months: float = 12.0,
    guardrail_limit: float = DEFAULT_GUARDRAIL_LIMIT,
    ltv_to_cac_target: float = 3.0,
    payback_target_months: float = 18.0,
    models: Iterable[str] | None = None,
    columns: Mapping[str, str] | None = None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
    accounts: Accounts | TableLike | None = None,
    subscriptions: Subscriptions | TableLike | None = None,
) -> UnitEconomics:
    """CAC, fully loaded CAC, LTV, LTV/CAC, payback and the guardrail by model and channel.

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
    arpa
        Annual revenue per customer; ``None`` = from the data, per channel.
    ltv
        Lifetime value per customer; ``None`` = ARPA x gross margin / annual churn.
    value_period_months
        Months of revenue a deal ``value`` stands for (12: values are ARR).
    guardrail_limit
        The highest loaded CAC as a share of lifetime gross profit per customer.
    ltv_to_cac_target, payback_target_months
        Targets for the ``ltv_to_cac_ok`` and ``payback_ok`` columns (b2b.md: LTV/CAC >= 3;
        payback <= 12-18 months SMB, <= 24 enterprise).
    models
        Models of ``result`` to include (default: all).
    columns
        Our spend column -> the data's.
    timestamp_formats
        strftime patterns for dates written as text, as
        :attr:`attribution.RunOptions.timestamp_formats` (a list, or a mapping by column).

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
    subscription_table = as_subscriptions(subscriptions)
    _check(
        costs,
        allocation,
        gross_margin,
        annual_churn,
        arpa,
        ltv,
        value_period_months,
        guardrail_limit,
        ltv_to_cac_target,
        payback_target_months,
    )
    margin = DEFAULT_GROSS_MARGIN if gross_margin is None else float(gross_margin)
    churn = DEFAULT_ANNUAL_CHURN if annual_churn is None else float(annual_churn)
    table = load(spend, SPEND, columns=columns, formats=resolve_formats(timestamp_formats, "spend"))
    frame = table.frame
    negative = frame.filter(pl.col("amount") < 0)
    if negative.height:
        raise rows_error(
            f"{negative.height} negative amount(s)",
            table,
            negative,
            column="amount",
            hint="spend is money paid out; record refunds as lower positive amounts",
        )
    date_col = "month" if "month" in frame.columns else "date"
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
    credit = result.channel_credit
    available = credit.get_column("model").unique(maintain_order=True).to_list()
    chosen = list(models) if models is not None else available
    for name in chosen:
        if name not in available:
            raise ModelNotFoundError(
                f"model '{name}' is not in the attribution result; it has {available}"
            )
    credit = credit.filter(pl.col("model").is_in(chosen)).select(
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
    share = (
        pl.col("customers") / pl.col("customers").sum().over("model")
        if allocation == "customers"
        else pl.col("spend") / pl.col("spend").sum().over("model")
    )
    has_customers = pl.col("customers") > 0
    status = (
        pl.when(has_customers & (pl.col("spend") > 0))
        .then(pl.lit("paid"))
        .when(has_customers)
        .then(pl.lit("unpaid"))
        .when(pl.col("channel").is_in(list(unmatched)))
        .then(pl.lit("no_touches"))
        .otherwise(pl.lit("no_customers"))
    )
    arpa_expr = (
        pl.lit(float(arpa))
        if arpa is not None
        else pl.when(has_customers).then(
            pl.col("revenue") / pl.col("customers") * (12.0 / value_period_months)
        )
    )
    ltv_expr = pl.lit(float(ltv)) if ltv is not None else pl.col("arpa") * margin / churn
    out = (
        grid.with_columns(
            status.alias("status"),
            (non_media * share).fill_nan(0.0).fill_null(0.0).alias("non_media_cost"),
            pl.when(has_customers).then(pl.col("spend") / pl.col("customers")).alias("cac"),
            arpa_expr.alias("arpa"),
        )
        .with_columns(
            pl.when(has_customers)
            .then((pl.col("spend") + pl.col("non_media_cost")) / pl.col("customers"))
            .alias("loaded_cac"),
            pl.when(has_customers).then(ltv_expr).alias("ltv"),
        )
        .with_columns(
            pl.col("ltv").alias("gross_profit_per_customer"),
            _ratio(pl.col("ltv"), pl.col("loaded_cac")).alias("ltv_to_cac"),
            _ratio(pl.col("loaded_cac"), pl.col("arpa") / 12.0 * margin).alias("payback_months"),
            _ratio(pl.col("loaded_cac"), pl.col("ltv")).alias("guardrail_share"),
            pl.lit(float(guardrail_limit)).alias("guardrail_limit"),
        )
        .with_columns(
            ((pl.col("status") == "no_customers") | (pl.col("guardrail_share") > guardrail_limit))
            .fill_null(False)
            .alias("breach"),
            (pl.col("ltv_to_cac") >= ltv_to_cac_target).alias("ltv_to_cac_ok"),
            (pl.col("payback_months") <= payback_target_months).alias("payback_ok"),
        )
        .select(*ECONOMICS_COLUMNS)
        .sort(
            pl.col("model").replace_strict({m: i for i, m in enumerate(chosen)}),
            "customers",
            "channel",
            descending=[False, True, False],
        )
    )
    blended = (
        out.group_by("model", maintain_order=True)
        .agg(
            pl.col("spend").sum(),
            pl.col("non_media_cost").sum(),
            pl.col("customers").sum(),
            pl.col("revenue").sum(),
        )
        .with_columns(
            _ratio(pl.col("spend"), pl.col("customers")).alias("cac"),
            _ratio(pl.col("spend") + pl.col("non_media_cost"), pl.col("customers")).alias(
                "loaded_cac"
            ),
        )
    )
    conv = result.conversions
    conv_span = (
        [str(conv.get_column("timestamp").min()), str(conv.get_column("timestamp").max())]
        if "timestamp" in conv.columns and conv.height
        else None
    )
    spend_span = [str(frame.get_column(date_col).min()), str(frame.get_column(date_col).max())]
    credited = set(credit.get_column("channel").to_list())
    parameters = {
        "costs": costs,
        "non_media_total": non_media,
        "allocation": allocation,
        "gross_margin": {
            "value": margin,
            "source": "given" if gross_margin is not None else "default assumption",
        },
        "annual_churn": {
            "value": churn,
            "source": "given" if annual_churn is not None else "default assumption",
        },
        "arpa": {"value": arpa, "source": "given" if arpa is not None else "data, per channel"},
        "ltv": {"value": ltv, "source": "given" if ltv is not None else "computed"},
        "value_period_months": value_period_months,
        "guardrail_limit": guardrail_limit,
        "ltv_to_cac_target": ltv_to_cac_target,
        "payback_target_months": payback_target_months,
        "models": chosen,
        "spend_source": table.source.name,
        "spend_period": spend_span,
        "conversion_period": conv_span,
        "spend_channels_without_credit": sorted(
            set(by_channel.get_column("channel").to_list()) - credited
        ),
        "spend_channels_renamed": spend_renamed,
        "spend_channels_without_touches": unmatched,
        "accounts_source": account_table.source if account_table is not None else None,
        "subscriptions_source": (
            subscription_table.source if subscription_table is not None else None
        ),
    }
    notes = {
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
            "each channel gets the non-media costs x its share of the model's credited "
            "customers (the same cost per customer everywhere)"
            if allocation == "customers"
            else "each channel gets the non-media costs x its share of media spend (unpaid "
            "channels get none)"
        ),
        "ltv": (
            f"given: {ltv}"
            if ltv is not None
            else "ARPA x gross margin / annual churn; ARPA = "
            + (
                f"given {arpa}"
                if arpa is not None
                else f"credited revenue / credited customers x 12 / {value_period_months:g} "
                "(deal values as that many months of revenue)"
            )
        ),
        "payback_months": "loaded CAC / (ARPA / 12 x gross margin)",
        "ltv_to_cac": "LTV / loaded CAC",
        "guardrail": "gross profit per customer = expected lifetime gross profit (= LTV); "
        f"guardrail_share = loaded CAC / it; breach when > {guardrail_limit:g} (or no "
        "customers for the spend)",
        "period": "spend is summed over every row of the spend table; it should cover the "
        "same period as the conversions (spend_period and conversion_period above)",
    }
    return UnitEconomics(table=out, blended=blended, parameters=parameters, notes=notes)


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den)


def _check(
    costs: dict[str, float],
    allocation: str,
    gross_margin: float | None,
    annual_churn: float | None,
    arpa: float | None,
    ltv: float | None,
    value_period_months: float,
    guardrail_limit: float,
    ltv_to_cac_target: float,
    payback_target_months: float,
) -> None:
    def bad(name: str, rule: str, got: Any) -> ModelParameterError:
        return ModelParameterError(
            f"The '{name}' parameter of unit_economics must be {rule}. Got {got!r} instead."
        )

    if allocation not in ("customers", "spend"):
        raise bad("allocation", "'customers' or 'spend'", allocation)
    for key, value in costs.items():
        if not is_number(value) or value < 0:
            raise bad("costs", f"a map of name -> amount >= 0 ('{key}')", value)
    optional: list[tuple[str, float | None]] = [
        ("gross_margin", gross_margin),
        ("annual_churn", annual_churn),
    ]
    for name, fraction in optional:
        if fraction is not None and not (is_number(fraction) and 0 < fraction <= 1):
            raise bad(name, "a fraction in (0, 1]", fraction)
    for name, amount in (("arpa", arpa), ("ltv", ltv)):
        if amount is not None and not (is_number(amount) and amount > 0):
            raise bad(name, "a number > 0 or None", amount)
    for name, value in (
        ("value_period_months", value_period_months),
        ("guardrail_limit", guardrail_limit),
        ("ltv_to_cac_target", ltv_to_cac_target),
        ("payback_target_months", payback_target_months),
    ):
        if not (is_number(value) and value > 0):
            raise bad(name, "a number > 0", value)
