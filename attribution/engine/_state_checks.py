"""A state's own sums checked before a night builds on it (new-user report 17, M7): each
rule-based model's credit over every channel is the number of attributed conversions it
counted, and its value their value (credit per conversion sums to 1). A state whose files
were damaged in a way that still reads (a byte changed by a disk, a restore mixing two
nights' files) then gives a full recompute saying why, rather than a wrong answer: one
changed float gave 328 first-touch conversions of 228 before. Cheap (the rule-based sums
are a few rows a model); files this does not read (the path table, the models' statistics,
the history) are caught when they cannot be read, not when they read otherwise."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from attribution.engine._generations import State

__all__ = ["unreconciled"]

#: the relative tolerance of a sum kept over many nights (each adds and takes away)
_TOLERANCE = 1e-6


def unreconciled(state: State) -> str | None:
    """Why ``state``'s rule-based sums do not add up to its conversions (None: they do)."""
    meta: dict[str, Any] = state.meta
    expected = {
        "credit": float((meta.get("counts") or {}).get("conversions_attributed", 0) or 0),
        "value": float((meta.get("totals") or {}).get("attributed_value", 0.0) or 0.0),
    }
    if "rule_sums" not in (meta.get("files") or {}):
        return None
    sums = state.table("rule_sums")
    if not sums.height:
        return None
    found = sums.group_by("model").agg(pl.col("credit").sum(), pl.col("value").sum()).sort("model")
    for model, credit, value in found.iter_rows():
        for what, got in (("credit", credit), ("value", value)):
            want = expected[what]
            if not math.isclose(got, want, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE):
                said = "conversions" if what == "credit" else "of conversion value"
                return (
                    f"the state's sums do not add up: {model} credits {got:,.6g} {said} where "
                    f"the state counted {want:,.6g} (a damaged file of the state?): it is rebuilt"
                )
    return None
