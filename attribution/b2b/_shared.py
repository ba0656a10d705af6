"""What the b2b modules share: JSON-safe values, the number formats of the summaries, the
finite-number test of parameters and the error that names offending input rows."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._schema import ROW, Table

__all__ = ["is_number", "jsonable", "money", "num", "pct", "rows_error"]


def jsonable(value: Any) -> Any:
    """Floats that JSON cannot hold (inf, nan) become null; dates become text.

    Examples
    --------
    >>> from datetime import date
    >>> jsonable({"cac": float("inf"), "week": date(2025, 1, 6), "rates": (0.5, float("nan"))})
    {'cac': None, 'week': '2025-01-06', 'rates': [0.5, None]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def is_number(x: Any) -> bool:
    """A finite int or float, not a bool (``True`` is an int to Python, not an amount)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def money(x: float | None) -> str:
    """``$1,235`` (whole currency units); ``-`` for a missing value."""
    return "-" if x is None else f"${x:,.0f}"


def num(x: float | None, fmt: str = ",.0f") -> str:
    """``x`` in the format ``fmt``; ``-`` for a missing value."""
    return "-" if x is None else format(x, fmt)


def pct(x: float | None) -> str:
    """``12.3%``; ``-`` for a missing or NaN value."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def rows_error(
    message: str, table: Table, offending: pl.DataFrame, *, column: str, hint: str
) -> InputError:
    """An :class:`InputError` on ``column`` of ``table`` that names its source and the first
    five ``offending`` rows (as the source numbers them: file lines for a CSV) and the
    user's name of the column."""
    return table.error(
        InputError(
            message,
            table=table.spec.name if table.spec is not None else None,
            source=table.source.name,
            column=column,
            rows=offending.get_column(ROW).head(5).to_list(),
            hint=hint,
        )
    )
