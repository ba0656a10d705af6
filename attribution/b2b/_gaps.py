"""A figure's gap against its published range in words, one wording wherever a gap is shown
(new-user report 3, defect 8: the CLI said "6.9% below it" and the report "1.4 points below
its low end" for the same funnel step)."""

from __future__ import annotations

__all__ = ["gap_words", "judgement"]


def judgement(gap: float) -> str:
    """``short`` (on the worse side of the range), ``better`` or ``within``: the one word
    the CLI, ``funnel_kpis.parquet`` and the report use for a gap."""
    return "short" if gap < 0 else "better" if gap > 0 else "within"


def gap_words(
    value: float, low: float | None, high: float | None, unit: str, kpi: str = ""
) -> str:
    """How far ``value`` lies outside ``low``-``high``, worded one way wherever a gap is
    shown (the CLI's gap and KPI lines, the report's funnel answer, callout and KPI table):
    for a figure shown in percent (a rate, NRR) in points and, in brackets, as a share of
    the end it passes (``1.4 points (6.9%) below it``: 18.6% against 20-30%); for other
    units as that share alone (``62% below it``); ``within it`` inside the range."""
    if low is not None and value < low:
        end, side, rel = low, "below", 1 - value / low if low else 0.0
    elif high is not None and value > high:
        end, side, rel = high, "above", value / high - 1 if high else 0.0
    else:
        return "within it"
    if unit == "rate" or kpi == "nrr":
        return f"{abs(value - end) * 100:.1f} points ({_share(rel)}) {side} it"
    return f"{_share(rel)} {side} it"


def _share(x: float) -> str:
    """``12%``, or ``0.4%`` below 10% (a gap of 0.04% is not 0%)."""
    return f"{x:.0%}" if x >= 0.095 else f"{x:.1%}" if x >= 0.0005 else f"{x:.2%}"
