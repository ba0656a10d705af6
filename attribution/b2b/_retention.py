"""Retention, the fifth stage: gross and net revenue retention, expansion and observed churn
from the subscriptions table (``account_id``, ``month``, ``mrr``), by segment and cohort.

Methods (also in ``retention.json`` and the README, "Retention and NRR"):

- An account is **active** in a month when its MRR that month is > 0; a month without a
  row is MRR 0.
- **Month over month**, for every month M after the first of the table and every account
  active in M-1: ``mrr_start`` = its MRR in M-1; it **churned** when it is not active in M
  (all of its MRR lost), **contracted** by ``max(0, start - now)`` and **expanded** by
  ``max(0, now - start)`` when still active. Accounts new in M (or back after a gap) are
  new business, not retention. Summed per segment (and ``all``) and month.
- **Pooled rates** over the table's months, per segment: monthly GRR = 1 - (churned +
  contraction) / mrr_start, monthly NRR = 1 + (expansion - churned - contraction) /
  mrr_start, monthly logo churn = accounts churned / accounts active at the start.
  **Annualised**: GRR and NRR to the 12th power; annual churn = 1 - (1 - monthly logo
  churn)^12. Compounding the monthly rates gives an annual figure from less than a year
  of data, and equals the cohort figure when rates are steady.
- **Cohort curves** (``retention_cohorts.parquet``): the cohort of an account is the month
  its first won deal closed when the run gives close months (``close_months``; the command
  line does, from the attributed conversions) and it has an active month from then on,
  else its first active month (``accounts_by_close`` counts the former); per segment,
  cohort and month, the cohort's MRR now against its starting MRR (each account's MRR in
  its first active month of the cohort or after): ``nrr`` = MRR now / starting MRR,
  ``grr`` = sum over accounts of min(MRR now, starting MRR) / starting MRR, and
  ``logo_retention`` = accounts active / accounts in the cohort.
- **Observed churn for LTV** = the annual logo churn of the segment (expected lifetime =
  1 / churn). A segment with no account-month at risk, or no churn observed, has none: LTV
  then uses the labelled default and says why.

The funnel's KPI list takes NRR from :func:`nrr` (one figure per segment).

Examples
--------
>>> import polars as pl
>>> subs = pl.DataFrame({"account_id": ["a", "a", "b", "b", "c"],
...     "month": ["2025-01-01", "2025-02-01", "2025-01-01", "2025-02-01", "2025-01-01"],
...     "mrr": [100.0, 120.0, 100.0, 90.0, 100.0]})
>>> r = retention(subs)
>>> row = r.table.filter(pl.col("segment") == "all").row(0, named=True)
>>> row["mrr_start"], row["churned_mrr"], row["contraction"], row["expansion"]
(300.0, 100.0, 10.0, 20.0)
>>> round(row["monthly_nrr"], 4), round(row["monthly_grr"], 4)
(0.7, 0.6333)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from attribution._reporting_currency import money_text
from attribution.b2b._shared import jsonable, pct
from attribution.engine._files import RunFiles, write_json_atomic, write_parquet_atomic
from attribution.exceptions import InputError
from attribution.inputs._account_inputs import (
    UNKNOWN,
    Accounts,
    Subscriptions,
    as_accounts,
    as_subscriptions,
)
from attribution.typing import TableLike

if TYPE_CHECKING:
    from attribution.engine._result import AttributionResult

ALL: Final = "all"

RETENTION_COLUMNS: Final = (
    "segment",
    "months",
    "accounts",
    "account_months_at_risk",
    "accounts_churned",
    "mrr_start",
    "churned_mrr",
    "contraction",
    "expansion",
    "new_mrr",
    "monthly_grr",
    "monthly_nrr",
    "monthly_logo_churn",
    "grr",
    "nrr",
    "annual_churn",
    "last_month_mrr",
)


@dataclass
class Retention:
    """What :func:`retention` returns.

    Attributes
    ----------
    table : pl.DataFrame
        One row per segment (and ``all``): the pooled and annualised rates (see the module
        docstring): ``segment``, ``months`` (month-over-month steps observed),
        ``accounts``, ``account_months_at_risk``, ``accounts_churned``, ``mrr_start``,
        ``churned_mrr``, ``contraction``, ``expansion``, ``new_mrr``, ``monthly_grr``,
        ``monthly_nrr``, ``monthly_logo_churn``, ``grr``, ``nrr`` (annualised),
        ``annual_churn`` (logo), ``last_month_mrr``.
    monthly : pl.DataFrame
        Per segment and month: the same sums and the month's ``grr`` / ``nrr`` (not
        annualised).
    cohorts : pl.DataFrame
        Per segment, ``cohort`` (close month or first active month) and ``month``:
        ``age_months``, ``accounts``, ``accounts_by_close``, ``accounts_active``,
        ``mrr_start``, ``mrr``, ``grr``, ``nrr``, ``logo_retention``.
    notes : dict
        The source and method notes (written to ``retention.json``).
    """

    table: pl.DataFrame
    monthly: pl.DataFrame
    cohorts: pl.DataFrame
    notes: dict[str, Any] = field(default_factory=dict)
    #: the accounts with recurring revenue (for the economics' match with the customers)
    accounts: pl.Series = field(default_factory=lambda: pl.Series("account_id", [], pl.String))

    def churn(self) -> dict[str, float]:
        """Observed annual logo churn by segment, where some was observed (for LTV)."""
        usable = self.table.filter(pl.col("annual_churn") > 0).select("segment", "annual_churn")
        return dict(usable.iter_rows())

    def nrr(self, segment: str = ALL) -> float | None:
        """Annualised net revenue retention of ``segment`` (``all``: every account)."""
        row = self.table.filter(pl.col("segment") == segment)
        return row.get_column("nrr").item() if row.height else None

    def write(self, directory: str | Path) -> Path:
        """Write ``retention.parquet``, ``retention_cohorts.parquet`` and
        ``retention.json`` into ``directory``."""
        out = Path(directory)
        write_parquet_atomic(out / RunFiles.RETENTION, self.table)
        write_parquet_atomic(out / RunFiles.RETENTION_COHORTS, self.cohorts)
        write_json_atomic(
            out / RunFiles.RETENTION_JSON,
            jsonable({**self.notes, "monthly": self.monthly.to_dicts()}),
        )
        return out

    def summary(self) -> str:
        """NRR, GRR and churn per segment, one line each."""
        lines = [
            "Retention (subscriptions; annualised from month-over-month rates): "
            f"{self.notes.get('months_observed', 0)} months observed"
        ]
        lines.extend(
            f"  {r['segment']:<12} NRR {pct(r['nrr']):>7}  GRR {pct(r['grr']):>7}  "
            f"annual churn {pct(r['annual_churn']):>6}  expansion "
            f"{money_text(r['expansion'])}  accounts {r['accounts']:,}"
            for r in self.table.iter_rows(named=True)
        )
        warning = (self.notes.get("amount_check") or {}).get("warning")
        return "\n".join([warning, *lines] if warning else lines)


def _with_segment(frame: pl.DataFrame, accounts: Accounts | None) -> pl.DataFrame:
    if accounts is None:
        return frame.with_columns(pl.lit(UNKNOWN).alias("segment"))
    return accounts.attach(frame, ("segment",))


def _both(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its rows again under segment ``all``."""
    return pl.concat([frame, frame.with_columns(pl.lit(ALL).alias("segment"))])


def retention(
    subscriptions: Subscriptions | TableLike,
    accounts: Accounts | TableLike | None = None,
    *,
    close_months: pl.DataFrame | None = None,
    result: AttributionResult | None = None,
) -> Retention:
    """GRR, NRR, expansion and churn by segment and cohort (see the module docstring).
    ``close_months`` (``account_id``, ``month``: e.g. :func:`close_months` of a run) makes an
    account's cohort the month its first deal closed.

    ``result``: the run whose won deals the subscriptions' amounts are checked against (the
    cents check of :mod:`attribution.b2b._retention_units`, as ``attribution run`` does: a
    ``WARNING`` above :meth:`Retention.summary` and ``notes["amount_check"]``; the cohorts
    then start at its close months unless ``close_months`` is given). Without it there are
    no deals to compare: ``notes["amount_check"]`` says ``not_checked``, and amounts left in
    cents (Stripe's ``4900`` for $49) go unseen."""
    from attribution.b2b._retention_units import NOT_CHECKED, run_amount_check

    if close_months is None and result is not None:
        close_months = _run_close_months(result.touch_credit, result.conversions)
    subs = as_subscriptions(subscriptions)
    acc = as_accounts(accounts)
    assert subs is not None
    active = subs.frame.filter(pl.col("mrr") > 0).select("account_id", "month", "mrr")
    if active.height == 0:
        raise subs.table.error(
            InputError(
                "no account has recurring revenue (every mrr is 0): retention needs months "
                "with MRR > 0",
                table="subscriptions",
                source=subs.source,
                column="mrr",
            )
        )
    first, last = active.get_column("month").min(), active.get_column("month").max()
    prev = active.select(
        "account_id",
        pl.col("month").dt.offset_by("1mo").alias("month"),
        pl.col("mrr").alias("start"),
    ).filter(pl.col("month") <= last)
    steps = _both(
        _with_segment(
            prev.join(active.rename({"mrr": "now"}), on=["account_id", "month"], how="full",
                      coalesce=True),  # fmt: skip
            acc,
        ).filter(pl.col("month") > first)
    )
    start, now = pl.col("start").fill_null(0.0), pl.col("now").fill_null(0.0)
    at_risk = start > 0
    monthly = (
        steps.group_by("segment", "month")
        .agg(
            at_risk.sum().alias("account_months_at_risk"),
            (at_risk & (now == 0)).sum().alias("accounts_churned"),
            start.sum().alias("mrr_start"),
            pl.when(now == 0).then(start).otherwise(0.0).sum().alias("churned_mrr"),
            pl.when(at_risk & (now > 0)).then((start - now).clip(0.0)).otherwise(0.0).sum()
            .alias("contraction"),
            pl.when(at_risk & (now > 0)).then((now - start).clip(0.0)).otherwise(0.0).sum()
            .alias("expansion"),
            pl.when(~at_risk).then(now).otherwise(0.0).sum().alias("new_mrr"),
        )
        .with_columns(_rates())
        .sort("segment", "month")
    )
    accounts_per = _both(_with_segment(active.select("account_id").unique(), acc))
    last_mrr = _both(_with_segment(active.filter(pl.col("month") == last), acc))
    table = (
        monthly.group_by("segment")
        .agg(
            pl.len().alias("months"),
            pl.col(
                "account_months_at_risk", "accounts_churned", "mrr_start", "churned_mrr",
                "contraction", "expansion", "new_mrr",
            ).sum(),  # fmt: skip
        )
        .join(
            accounts_per.group_by("segment").agg(pl.len().alias("accounts")),
            on="segment",
            how="full",
            coalesce=True,
        )
        .join(
            last_mrr.group_by("segment").agg(pl.col("mrr").sum().alias("last_month_mrr")),
            on="segment",
            how="left",
        )
        .with_columns(_rates())
        .with_columns(
            pl.col("monthly_grr").pow(12).alias("grr"),
            pl.col("monthly_nrr").pow(12).alias("nrr"),
            (1 - (1 - pl.col("monthly_logo_churn")).pow(12)).alias("annual_churn"),
        )
        .with_columns(
            pl.col("months", "accounts", "account_months_at_risk", "accounts_churned").fill_null(0),
            pl.col("mrr_start", "churned_mrr", "contraction", "expansion", "new_mrr").fill_null(
                0.0
            ),
        )
        .sort(pl.col("segment") != ALL, "segment")
        .select(RETENTION_COLUMNS)
    )
    cohorts = _cohorts(active, acc, close_months)
    notes = {
        "source": subs.source,
        "amounts_from": subs.amount,
        "rows_in": subs.rows_in,
        "months_merged": subs.months_merged,
        "first_month": first,
        "last_month": last,
        "months_observed": monthly.get_column("month").n_unique(),
        "segments_from": acc.source if acc is not None else None,
        "amount_check": dict(NOT_CHECKED) if result is None else run_amount_check(subs, result),
        "method": {
            "active": "MRR > 0 in the month; a month without a row is 0",
            "cohort": "the month the account's first won deal closed (the run's conversions)"
            if close_months is not None
            else "the account's first active month",
            "monthly": "accounts active in M-1: churned (not active in M), contraction, "
            "expansion; accounts new in M are new business",
            "pooled": "monthly GRR = 1 - (churned + contraction) / start MRR; monthly NRR = 1 "
            "+ (expansion - churned - contraction) / start MRR; monthly logo churn = churned "
            "/ accounts at risk; summed over every month of the table",
            "annualised": "GRR, NRR ^ 12; annual churn = 1 - (1 - monthly logo churn) ^ 12",
        },
    }
    return Retention(
        table=table,
        monthly=monthly,
        cohorts=cohorts,
        notes=notes,
        accounts=active.get_column("account_id").unique(),
    )


def _rates() -> list[pl.Expr]:
    start = pl.col("mrr_start")
    lost = pl.col("churned_mrr") + pl.col("contraction")
    return [
        pl.when(start > 0).then(1 - lost / start).alias("monthly_grr"),
        pl.when(start > 0).then(1 + (pl.col("expansion") - lost) / start).alias("monthly_nrr"),
        pl.when(pl.col("account_months_at_risk") > 0)
        .then(pl.col("accounts_churned") / pl.col("account_months_at_risk"))
        .alias("monthly_logo_churn"),
    ]


def _cohorts(
    active: pl.DataFrame, accounts: Accounts | None, closed: pl.DataFrame | None
) -> pl.DataFrame:
    """Cohort curves; the cohort of an account is its close month (``closed``: account_id,
    month) when it has one and an active month from then on, else its first active month;
    its starting MRR that of its first active month in the cohort or after."""
    rows = active
    if closed is not None:
        first_close = closed.group_by("account_id").agg(pl.col("month").min().alias("_close"))
        rows = (
            active.join(first_close, on="account_id", how="left")
            .with_columns(  # closed but never active since: its first active month
                pl.when((pl.col("month") >= pl.col("_close")).any().over("account_id"))
                .then(pl.col("_close"))
                .alias("_close")
            )
            .filter(pl.col("_close").is_null() | (pl.col("month") >= pl.col("_close")))
        )
        basis = pl.when(pl.col("_close").is_not_null())
        cohort = basis.then(pl.col("_close")).otherwise(pl.col("month")).first()
        kind = basis.then(pl.lit("close_month")).otherwise(pl.lit("first_month")).first()
    else:
        cohort, kind = pl.col("month").first(), pl.lit("first_month")
    firsts = rows.sort("month").group_by("account_id").agg(
        cohort.alias("cohort"), pl.col("mrr").first().alias("base"), kind.alias("cohort_basis")
    )
    rows = _both(_with_segment(rows.select(active.columns).join(firsts, on="account_id"), accounts))
    sizes = (
        _both(_with_segment(firsts, accounts))
        .group_by("segment", "cohort")
        .agg(
            pl.len().alias("accounts"),
            pl.col("base").sum().alias("mrr_start"),
            (pl.col("cohort_basis") == "close_month").sum().alias("accounts_by_close"),
        )
    )
    return (
        rows.group_by("segment", "cohort", "month")
        .agg(
            pl.len().alias("accounts_active"),
            pl.col("mrr").sum(),
            pl.min_horizontal("mrr", "base").sum().alias("_kept"),
        )
        .join(sizes, on=["segment", "cohort"])
        .with_columns(
            (
                (pl.col("month").dt.year() - pl.col("cohort").dt.year()) * 12
                + pl.col("month").dt.month().cast(pl.Int32)
                - pl.col("cohort").dt.month().cast(pl.Int32)
            ).alias("age_months"),
            (pl.col("_kept") / pl.col("mrr_start")).alias("grr"),
            (pl.col("mrr") / pl.col("mrr_start")).alias("nrr"),
            (pl.col("accounts_active") / pl.col("accounts")).alias("logo_retention"),
        )
        .select(
            "segment", "cohort", "month", "age_months", "accounts", "accounts_by_close",
            "accounts_active", "mrr_start", "mrr", "grr", "nrr", "logo_retention",
        )  # fmt: skip
        .sort(pl.col("segment") != ALL, "segment", "cohort", "month")
    )


def close_months(touch_credit: pl.DataFrame, conversions: pl.DataFrame) -> pl.DataFrame:
    """``account_id`` -> ``month`` of its first won deal, from a run (the account of a
    conversion is that of its credited touches)."""
    if touch_credit.height == 0 or "timestamp" not in conversions.columns:
        return pl.DataFrame(schema={"account_id": pl.String, "month": pl.Date})
    first = touch_credit.get_column("model").first()
    owners = (
        touch_credit.filter(pl.col("model") == first)
        .group_by("conversion_id")
        .agg(pl.col("account_id").drop_nulls().first())
    )
    return (
        conversions.select("conversion_id", "timestamp")
        .join(owners, on="conversion_id")
        .drop_nulls("account_id")
        .group_by("account_id")
        .agg(pl.col("timestamp").min().dt.date().dt.truncate("1mo").alias("month"))
    )


#: :func:`close_months`, by a name that :func:`retention`'s parameter does not shadow
_run_close_months = close_months


def nrr(
    subscriptions: Subscriptions | TableLike, accounts: Accounts | TableLike | None = None
) -> dict[str, float | None]:
    """Annualised net revenue retention by segment (``all``: every account), the KPI the
    funnel lists: ``{"all": 1.04, "smb": 0.97, ...}``."""
    table = retention(subscriptions, accounts).table
    return dict(zip(table.get_column("segment"), table.get_column("nrr"), strict=True))
