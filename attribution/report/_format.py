"""Text and HTML pieces of the report: escaping, number formats, tables, notes.

Nothing here draws a chart or imports plotly. Every string that reaches the page goes
through :func:`e` (or a table, which escapes each cell).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from attribution.report._labels import MONEY_COLUMNS, ONE_DECIMAL_COLUMNS, SHARE_COLUMNS, label
from attribution.report._labels import Formatter as Formatter  # re-exported for the sections
from attribution.report._labels import money as money  # re-exported for the sections


def e(value: Any) -> str:
    """Escape anything for HTML text or attributes.

    >>> e('<b class="x">')
    '&lt;b class=&quot;x&quot;&gt;'
    """
    return html.escape(str(value), quote=True)


def is_missing(value: Any) -> bool:
    """None, NaN or an infinity: shown as a dash."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def fmt_num(value: Any, digits: int = 0) -> str:
    """A number with thousands separators (``–`` when missing, yes/no for a bool).

    >>> fmt_num(1234.5), fmt_num(2.25, 1), fmt_num(None), fmt_num(True)
    ('1,234', '2.2', '–', 'yes')
    """
    if is_missing(value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def fmt_pct(value: Any, digits: int = 1) -> str:
    """A share as a percentage.

    >>> fmt_pct(0.1234), fmt_pct(0.5, 0), fmt_pct(None)
    ('12.3%', '50%', '–')
    """
    if is_missing(value) or isinstance(value, bool) or not isinstance(value, int | float):
        return fmt_num(value)
    return f"{100 * value:.{digits}f}%"


def fmt_auto(value: Any) -> str:
    """Any cell value, formatted by its type (the default of :func:`table`).

    >>> fmt_auto(1234.5), fmt_auto(0.012345), fmt_auto(12.5), fmt_auto([1, 2])
    ('1,234', '0.0123', '12.50', '1, 2')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if is_missing(value):
            return "–"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "–" if value is None else str(value)


def column_format(column: str) -> Formatter | None:
    """The format of a known column's cells (money, share or one decimal), else None."""
    if column in MONEY_COLUMNS:
        return money
    if column in SHARE_COLUMNS:
        return fmt_pct
    if column in ONE_DECIMAL_COLUMNS:
        return lambda v: fmt_num(v, 1)
    return None


def duration(seconds: Any) -> str | None:
    """``7776000`` -> ``"90 days"``; ``43200`` -> ``"12 hours"``; None when not a number.

    >>> duration(7776000), duration(43200), duration(90), duration(None)
    ('90 days', '12 hours', '90 seconds', None)
    """
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        return None
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0 or unit == "second":
            n = seconds / size
            text = f"{n:g}"
            return f"{text} {unit}{'' if n == 1 else 's'}"
    return None  # pragma: no cover


def params_text(params: Any) -> str:
    """A model's parameters as JSON, a duration as the option is written (``"7d"``, not
    the manifest's ``"604800.0s"``).

    >>> params_text({"half_life": "604800.0s", "w": 0.4})
    '{"half_life": "7d", "w": 0.4}'
    """
    if not isinstance(params, Mapping):
        return json.dumps(params)
    shown = {}
    for key, value in params.items():
        found = re.fullmatch(r"(\d+(?:\.\d+)?)s", value) if isinstance(value, str) else None
        if found:
            seconds = float(found.group(1))
            unit = next((u for u, n in (("d", 86400), ("h", 3600), ("m", 60))
                         if seconds >= n and seconds % n == 0), "s")  # fmt: skip
            value = f"{seconds / {'d': 86400, 'h': 3600, 'm': 60, 's': 1}[unit]:g}{unit}"
        shown[key] = value
    return json.dumps(shown)


def table(
    frame: pl.DataFrame,
    *,
    formats: Mapping[str, Formatter] | None = None,
    row_class: Callable[[dict[str, Any]], str] | None = None,
    headers: Mapping[str, str] | None = None,
    max_rows: int = 200,
) -> str:
    """A plain HTML table; every cell escaped. Numbers right-aligned. Headers are the
    columns' human labels (:func:`~attribution.report._labels.label`) unless ``headers``
    names them; cells of a known column get its format (money, share, one decimal)."""
    headers = headers or {}
    formats = {
        **{c: f for c in frame.columns if (f := column_format(c)) is not None},
        **(formats or {}),
    }
    numeric = {c for c, t in frame.schema.items() if t.is_numeric()}
    head = "".join(
        f'<th scope="col" class="{"num" if c in numeric else ""}">'
        f"{e(headers.get(c, label(c)))}</th>"
        for c in frame.columns
    )
    rows = []
    for row in frame.head(max_rows).iter_rows(named=True):
        cls = row_class(row) if row_class else ""
        cells = "".join(
            f'<td class="{"num" if c in numeric else ""}">'
            f"{e(formats.get(c, fmt_auto)(row[c]))}</td>"
            for c in frame.columns
        )
        rows.append(f'<tr class="{e(cls)}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    more = (
        f'<p class="note">First {max_rows} of {frame.height:,} rows.</p>'
        if frame.height > max_rows
        else ""
    )
    return (
        f'<div class="table-wrap" tabindex="0"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


def kv_table(items: Mapping[str, Any]) -> str:
    """Keys in the first column, values in the second (mappings and lists as JSON)."""
    rows = "".join(
        f'<tr><th scope="row">{e(label(str(k)))}</th><td>{e(_kv_value(v))}</td></tr>'
        for k, v in items.items()
    )
    return (
        f'<div class="table-wrap" tabindex="0"><table class="kv"><tbody>{rows}</tbody></table>'
        "</div>"
    )


def _kv_value(value: Any) -> str:
    """A value as a reader takes it: ``{"value": 0.75, "source": "given"}`` as
    ``0.75 (given)``, other mappings as ``key: value`` pairs, lists comma-separated.

    >>> _kv_value({"value": 0.75, "source": "default assumption"}), _kv_value({"a_b": 1})
    ('0.75 (default assumption)', 'A b: 1')
    """
    if isinstance(value, dict):
        if set(value) == {"value", "source"}:
            return f"{_kv_value(value['value'])} ({value['source']})"
        return "; ".join(f"{label(str(k))}: {_kv_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return ", ".join(_kv_value(v) for v in value)
        return json.dumps(value, default=str)
    return fmt_auto(value)


def json_block(meta: Mapping[str, Any], *, skip: Iterable[str] = ()) -> str:
    """Render a JSON document of a run: scalars as one key/value table, a mapping as its own
    table under its key, a list of records as a table."""
    skip = set(skip)
    scalars = {k: v for k, v in meta.items() if k not in skip and not isinstance(v, dict | list)}
    parts = [kv_table(scalars)] if scalars else []
    for key, value in meta.items():
        if key in skip or key in scalars:
            continue
        if isinstance(value, dict) and value:
            parts.append(f"<h4>{e(label(key))}</h4>{kv_table(value)}")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            try:
                frame = pl.DataFrame(value, infer_schema_length=None)
            except (TypeError, ValueError, pl.exceptions.PolarsError):
                parts.append(f"<h4>{e(label(key))}</h4>{kv_table({key: value})}")
            else:
                parts.append(f"<h4>{e(label(key))}</h4>{table(frame)}")
        elif isinstance(value, list) and value:
            parts.append(kv_table({key: value}))
    return "".join(parts)


def kpis(items: Iterable[tuple[str, str]]) -> str:
    """A row of big figures, each ``(label, formatted value)``."""
    cells = "".join(f'<div class="kpi"><span>{e(v)}</span>{e(k)}</div>' for k, v in items)
    return f'<div class="kpis">{cells}</div>'


def select(frame: pl.DataFrame, preferred: Sequence[str]) -> pl.DataFrame:
    """The preferred columns that exist, in that order (all columns if none does)."""
    cols = [c for c in preferred if c in frame.columns]
    return frame.select(cols) if cols else frame


def note(text: str) -> str:
    return f'<p class="note">{e(text)}</p>'


def details(summary: str, body: str) -> str:
    """``body`` folded under a one-line ``summary``."""
    return f"<details><summary>{e(summary)}</summary>{body}</details>"


def missing_columns(frame: pl.DataFrame, columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c not in frame.columns]


def skip_note(what: str, missing: Sequence[str], frame: pl.DataFrame) -> str:
    """The note shown instead of ``what`` when the file lacks the ``missing`` columns."""
    return note(
        f"{what} not drawn: column(s) {', '.join(missing)} missing "
        f"(the file has: {', '.join(frame.columns) or 'no columns'})."
    )


def missing_note(what: str, frame: pl.DataFrame, columns: Iterable[str]) -> str | None:
    """:func:`skip_note` when ``frame`` lacks any of ``columns``, else None."""
    missing = missing_columns(frame, columns)
    return skip_note(what, missing, frame) if missing else None
