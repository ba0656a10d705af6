"""Words the report's answers share: a lever's agreement across models and draws, and the
assumptions an LTV rests on when the data did not give them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attribution.report._format import e, fmt_num, fmt_pct, is_missing

__all__ = ["agreement", "defaults_said"]


def agreement(row: Mapping[str, Any], *, short: bool = False) -> str:
    """``7 of 8 models agree on the direction (first_touch: cut), 98% of bootstrap draws``
    (``short``: ``7/8, 98% of draws``)."""
    agree, total = row.get("models_agreeing"), row.get("models")
    text = (
        f"{fmt_num(agree)} of {fmt_num(total)}" if not short else f"{agree}/{total}"
    ) if agree is not None and total is not None else fmt_pct(row.get("agreement"), 0)
    if not short:  # the draws agree on the direction of the move, not its size
        text += " models agree on the direction" + (
            f" ({e(row['dissenting'])})" if row.get("dissenting") else "")
    draws = row.get("draw_agreement")
    if not is_missing(draws):
        text += f", {fmt_pct(draws, 0)} of bootstrap draws" if not short else (
            f", {fmt_pct(draws, 0)} of draws"
        )
    return text


def defaults_said(params: Mapping[str, Any]) -> str:
    """``, on the default 15% annual churn and 75% gross margin (give yours in [economics])``
    when LTV rests on assumptions the data did not give (as the CLI line says it)."""
    said = [
        f"{float(found['value']):.0%} {what}"
        for key, what in (("annual_churn", "annual churn"), ("gross_margin", "gross margin"))
        if isinstance(found := params.get(key), Mapping)
        and found.get("source") == "default assumption" and found.get("value") is not None
    ]
    if not said:
        return ""
    return f", on the default {' and '.join(said)} (give yours in [economics])"
