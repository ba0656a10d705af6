"""What the b2b modules share: the models a step reports on, JSON-safe values, the number
formats of the summaries, the finite-number test of parameters, the error that names
offending input rows and the stage events loaded with their names mapped."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from attribution._reporting_currency import money_prefix as money_prefix  # re-exported
from attribution._reporting_currency import money_text as money_text  # re-exported
from attribution.exceptions import InputError, ModelNotFoundError
from attribution.inputs._formats import resolve_formats
from attribution.inputs._schema import ROW, SPEND, STAGES, Table, load
from attribution.inputs._stage_names import map_stage_names
from attribution.typing import TableLike

__all__ = [
    "doc_text",
    "chosen_models",
    "is_number",
    "jsonable",
    "load_spend",
    "load_stage_events",
    "money",
    "num",
    "pct",
    "rows_error",
]


def chosen_models(credit: pl.DataFrame, models: Iterable[str] | None, what: str) -> list[str]:
    """The models a b2b step reports on: ``models`` (default: every model of ``credit``, in
    its order); a model ``credit`` does not have is a ModelNotFoundError naming ``what``
    (e.g. "the attribution result") and the models it has."""
    available = credit.get_column("model").unique(maintain_order=True).to_list()
    chosen = list(models) if models is not None else available
    for name in chosen:
        if name not in available:
            raise ModelNotFoundError(f"model '{name}' is not in {what}; it has {available}")
    return chosen


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


def money(x: float | None, cents_below: float = 10.0) -> str:
    """``$1,235`` (whole currency units, the sign of the run's reporting currency:
    :func:`attribution._reporting_currency.money_text`); below ``cents_below`` with cents
    (``$0.62``, ``$2.50``; ``$3`` for a whole amount), so an amount that is not zero is
    never shown as ``$0`` (under a cent: ``<$0.01``); ``-`` for a missing value."""
    if x is None:
        return "-"
    if x == 0 or abs(x) >= cents_below:
        return money_text(x)
    if abs(x) < 0.005:
        return f"<{money_text(0.01, 2)}" if x > 0 else f">{money_text(-0.01, 2)}"
    return money_text(x, 2).replace(".00", "")


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


def load_stage_events(
    stages: TableLike,
    *,
    stage_names: Mapping[str, str | Sequence[str]] | None,
    columns: Mapping[str, Mapping[str, str]] | None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None,
) -> tuple[Table, pl.DataFrame, str]:
    """The stages table read with the user's column mapping and timestamp formats, its
    frame with the stage names mapped to ours (``stage_names``: ours -> theirs), and the
    entity key: ``contact_id``, else ``account_id``."""
    table = load(
        stages,
        STAGES,
        columns=(columns or {}).get("stages"),
        formats=resolve_formats(timestamp_formats, "stages"),
    )
    # the run's mapping and spellings (attribution.inputs._stage_names), as the journeys' own
    frame = map_stage_names(table.frame, stage_names)[0]
    key = "contact_id" if "contact_id" in frame.columns else "account_id"
    return table, frame, key


def load_spend(
    spend: TableLike,
    *,
    columns: Mapping[str, Mapping[str, str]] | None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None,
) -> pl.DataFrame:
    """The spend table read with the user's column mapping and timestamp formats."""
    return load(
        spend,
        SPEND,
        columns=(columns or {}).get("spend"),
        formats=resolve_formats(timestamp_formats, "spend"),
    ).frame


_ROLE = re.compile(r":[a-z]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``([^`]*)``")
_BOLD = re.compile(r"\*\*([^*]*)\*\*")


def doc_text(doc: str | None) -> str:
    """A module docstring's text as a reader of ``economics.json`` / ``funnel.json`` and the
    report's method notes sees it: reStructuredText roles (``:func:`a.b.name```) as the
    last name, literals and bold as plain text (new-user report 22, M11: 132 pairs of
    double back-ticks and ``:mod:`` roles in report.html's method notes)."""
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1].strip(), doc or "")
    return _BOLD.sub(r"\1", _LITERAL.sub(r"\1", text))
