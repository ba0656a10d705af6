"""Spend against the customers it is divided by: which conversions enter CAC when the spend
table covers only part of the conversions' months.

Rule (README, "Unit economics", "Spend period"): the conversions' months run from the first
conversion's calendar month to the last's, the spend's from its first row's month to its
last's. When the spend's months cover less than ``COVERAGE_FLOOR`` (80%) of the conversions'
months, CAC divided the spend of a few months by the customers of many (a quarter's invoices
against a year of wins gives a CAC several times too low), so the economics keep only the
conversions of the months the spend buys: the spend's months moved on by the **spend lag**
(``monthly_lag_months``, by default the median whole months from a journey's first credited
touch to its conversion), inside the conversions' months (without the lag when that leaves
none). Every figure (customers, revenue, CAC, LTV/CAC, payback, guardrail, segments, months)
is on those customers, and the coverage is stated in ``economics.json``
(``parameters.spend_coverage``) and in the summary. The restricted credit is the touch
credit of the kept conversions summed by model and channel (under Markov and Shapley the touch
credit reconciled to the channel credit, :func:`attribution.b2b._reconcile.touches_reconciled`:
each channel's credit split over its conversions' months in proportion to their touch credit,
the kept months' summed); the bootstrap intervals, drawn on every conversion, are left out
then. Without any overlap, the spend's months moved on by
the lag still buy the customers of those months; when they hold none either (spend of 2024
against conversions of 2025: a wrong file or a year typed wrong), there is no customer to
divide the spend by and the spend table is refused (an InputError naming the file, its
date column and lines), never a CAC or a guardrail
verdict of spend against customers of other months.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl

from attribution.b2b._economics_slices import spend_lag
from attribution.b2b._reconcile import touches_reconciled
from attribution.b2b._shared import rows_error
from attribution.exceptions import InputError

if TYPE_CHECKING:
    from attribution import AttributionResult
    from attribution.engine._bootstrap import Bootstrap
    from attribution.inputs._schema import Table

__all__ = ["COVERAGE_FLOOR", "SpendWindow", "coverage_lines", "month_count", "spend_window"]

#: Below this share of the conversions' months covered by spend, CAC is restricted.
COVERAGE_FLOOR = 0.8


def _index(day: date) -> int:
    return day.year * 12 + day.month - 1


def month_count(first: date | None, last: date | None) -> int:
    """Calendar months from ``first``'s to ``last``'s, both counted; a spend table with no
    month (no row: a frame or a query with nothing in it) is an input error, not 0 months
    (a CAC over no spend would read as free customers)."""
    if first is None or last is None:
        raise InputError(
            "the spend table has no rows: nothing to compute a CAC from",
            table="spend",
            hint="give the spend of the period, one row per channel and month (a month "
            "without spend: amount 0)",
        )
    return _index(last) - _index(first) + 1


@dataclass(frozen=True)
class SpendWindow:
    """The conversions, channel credit, touch credit and bootstrap the economics use, the
    coverage found (``None`` when the spend covers the conversions' months), and the models
    whose touch credit was rescaled to their channel credit (``reconciled``)."""

    conversions: pl.DataFrame
    channel_credit: pl.DataFrame
    touch_credit: pl.DataFrame
    bootstrap: Bootstrap | None
    coverage: dict[str, Any] | None
    reconciled: tuple[str, ...] = ()
    #: the spend's months (first, last: month indexes) that buy the customers kept; None:
    #: all of them
    spend_months: tuple[int, int] | None = None

    def spend_of(self, frame: pl.DataFrame, column: str) -> pl.DataFrame:
        """The rows of the spend table ``frame`` (``column``: its date) of
        :attr:`spend_months`: spend of months whose customers the data does not hold buys
        none of the customers counted, and is not divided by them."""
        if self.spend_months is None:
            return frame
        month = pl.col(column).dt.year() * 12 + pl.col(column).dt.month() - 1
        return frame.filter(month.is_between(*self.spend_months))


def _month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def spend_window(
    result: AttributionResult,
    spend_dates: pl.Series,
    lag: int | None = None,
    table: Table | None = None,
    models: Sequence[str] | None = None,
) -> SpendWindow:
    """The run's figures restricted to the customers its spend buys (module docstring);
    ``lag``: the spend lag in months (default: measured); ``table``: the spend table
    ``spend_dates`` (its date column) is of, refused when it buys no customer; ``models``:
    those the economics report (default: all). Its touch credit sums per model and channel
    to the channel credit (:func:`attribution.b2b._reconcile.touches_reconciled`)."""
    conv = result.conversions
    touch, credit = result.touch_credit, result.channel_credit
    if models is not None:
        touch = touch.filter(pl.col("model").is_in(list(models)))
        credit = credit.filter(pl.col("model").is_in(list(models)))
    touch, rescaled = touches_reconciled(touch, credit)
    whole = SpendWindow(conv, credit, touch, result.bootstrap, None, tuple(rescaled))
    if "timestamp" not in conv.columns or conv.height == 0 or spend_dates.len() == 0:
        return whole
    first, last = conv.select(
        pl.col("timestamp").min().alias("a"), pl.col("timestamp").max().alias("b")
    ).row(0)
    s_first, s_last = spend_dates.min(), spend_dates.max()
    if not all(isinstance(d, date) for d in (first, last, s_first, s_last)):
        return whole
    c_lo, c_hi = _index(first), _index(last)
    s_lo, s_hi = _index(s_first), _index(s_last)  # type: ignore[arg-type]
    lo, hi = max(c_lo, s_lo), min(c_hi, s_hi)
    overlap = max(0, hi - lo + 1)
    months = c_hi - c_lo + 1
    share = overlap / months
    if share >= COVERAGE_FLOOR:
        return whole
    coverage: dict[str, Any] = {
        "conversion_months": months,
        "conversion_period": [_month(c_lo), _month(c_hi)],
        "spend_months": s_hi - s_lo + 1,
        "spend_period": [_month(s_lo), _month(s_hi)],
        "overlap_months": overlap,
        "share": share,
        "floor": COVERAGE_FLOOR,
        "conversions": conv.height,
    }
    if touch.height == 0:
        coverage["restricted"] = False
        coverage["kept_conversions"] = conv.height
        return replace(whole, coverage=coverage)
    if lag is None:
        lag = spend_lag(touch, conv)
    measured = lag
    if max(c_lo, s_lo + lag) <= min(c_hi, s_hi + lag):
        lo, hi = max(c_lo, s_lo + lag), min(c_hi, s_hi + lag)
    elif overlap > 0:  # the lag puts the spend's customers past the data: its own months
        lag = 0
    elif table is not None:  # no customer of the spend's months
        raise rows_error(
            f"the spend ({_month(s_lo)} to {_month(s_hi)}) covers none of the conversions' "
            f"months ({_month(c_lo)} to {_month(c_hi)}), not even {lag} month(s) on (the "
            "spend lag): CAC, LTV/CAC, payback and the guardrail would divide it by "
            "customers it did not buy",
            table, table.frame, column=spend_dates.name,
            hint="check the spend's dates (the wrong file, or a year typed wrong?) or give "
            "the spend of the conversions' months; without --spend the run has no unit "
            "economics",
        )
    month = pl.col("timestamp").dt.year() * 12 + pl.col("timestamp").dt.month() - 1
    kept = conv.filter(month.is_between(lo, hi))
    coverage["restricted"] = True
    coverage["lag_months"] = lag
    coverage["measured_lag_months"] = measured
    coverage["customer_months"] = [_month(lo), _month(hi)]
    coverage["spend_months_used"] = [_month(lo - lag), _month(hi - lag)]
    coverage["kept_conversions"] = kept.height
    bought = (lo - lag, hi - lag)
    if kept.height == conv.height:  # the spend buys every customer: the whole run, draws too
        return replace(whole, coverage=coverage, spend_months=bought)
    touch = touch.filter(pl.col("conversion_id").is_in(kept.get_column("conversion_id")))
    credit = touch.group_by("model", "channel", maintain_order=True).agg(
        pl.col("credit").sum().alias("conversions"), pl.col("value").sum()
    )
    return SpendWindow(kept, credit, touch, None, coverage, whole.reconciled, bought)


def coverage_lines(coverage: dict[str, Any] | None) -> list[str]:
    """The summary's statement of :func:`spend_window`'s coverage."""
    if not coverage:
        return []
    c = coverage
    said = (
        f"Spend covers {c['overlap_months']} of the conversions' {c['conversion_months']} "
        f"months (spend {c['spend_period'][0]} to {c['spend_period'][1]}, conversions "
        f"{c['conversion_period'][0]} to {c['conversion_period'][1]}; {c['share']:.0%}, below "
        f"{c['floor']:.0%})"
    )
    if c.get("restricted"):
        lag, measured = c["lag_months"], c.get("measured_lag_months", c["lag_months"])
        used = c.get("spend_months_used") or c["spend_period"]
        return [
            f"{said}: CAC, LTV/CAC, payback and the guardrail are on the "
            f"{c['kept_conversions']:,} of {c['conversions']:,} conversions of "
            f"{c['customer_months'][0]} to {c['customer_months'][1]} only, and the spend of "
            f"{used[0]} to {used[1]} ("
            + (
                f"the spend's months {lag} month(s) on, the spend lag"
                if lag == measured
                else f"the spend's own months: its {measured}-month lag would put its "
                "customers after the data's"
            )
            + f"{'; no intervals' if c['kept_conversions'] < c['conversions'] else ''}); give "
            "the spend of every month for the whole period."
        ]
    return [f"WARNING: {said}: CAC divides this spend by customers of other months."]
