"""What is wrong with a spend table that is not an error: rows pasted twice and spend dated
away from the conversions it is divided by.

- **Exact duplicate rows** (equal in every column: channel, month or date, amount,
  campaign, impressions, clicks) are one row: the repeats are dropped and counted, as
  duplicate touches are, so an export appended twice does not double a channel's CAC. Two
  real payments of one channel in one month are one row with their sum (or two rows that
  differ, by date or campaign).
- **Spend outside the conversions' period** (before the first conversion's lookback window
  opens, or in a month after the last conversion's) stays in the spend (the user said it was
  spent) but is counted, with its amount, and printed: CAC divides it by customers of
  another period.

Both go into ``economics.json`` (``spend_checks``) and the economics summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from attribution._reporting_currency import money_text
from attribution.inputs._schema import ROW, Table

__all__ = ["spend_check_lines", "spend_checks"]

_LINES_SHOWN = 5


def _lines(table: Table, rows: pl.Series) -> list[int]:
    origin = table.source.numbering[1] if table.source.numbering else 0
    return [int(r) + origin for r in rows.head(_LINES_SHOWN).to_list()]


def spend_checks(
    table: Table, conversions: pl.DataFrame, manifest: Mapping[str, Any]
) -> tuple[pl.DataFrame, str, dict[str, Any]]:
    """The spend frame (without its exact duplicate rows), its date column (``month`` or
    ``date``) and what was found: the duplicates dropped (rows, amount, file lines) and the
    spend outside the period of the run's ``conversions`` (its ``manifest`` gives the
    lookback)."""
    kept = table.frame  # the exact repeats are dropped at load (SPEND.unique_rows)
    date_col = "month" if "month" in kept.columns else "date"
    lookback_seconds = (manifest.get("parameters") or {}).get("lookback_seconds")
    found: dict[str, Any] = {}
    numbering = table.source.numbering
    # a file's lines, or the 1-based rows of a query's result (or a Parquet file's)
    word = "lines" if numbering is not None and numbering[0] == "lines" else "rows"
    if (dropped := table.duplicates) is not None:
        found["exact_duplicate"] = {
            "rows": dropped.height,
            "amount": float(dropped.get_column("amount").sum() or 0.0),
            "lines": _lines(table, dropped.get_column(ROW)),
            **({"numbered": word} if word != "lines" else {}),
        }
    if "timestamp" not in conversions.columns or conversions.height == 0:
        return kept, date_col, found
    first, last = conversions.select(
        pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last")
    ).row(0)
    if not isinstance(first, datetime) or not isinstance(last, datetime):
        return kept, date_col, found
    opens = first - timedelta(seconds=float(lookback_seconds or 0))
    month = pl.col(date_col).dt.truncate("1mo")
    for name, outside, edge in (
        ("after_last_conversion", month > pl.lit(last).dt.date().dt.truncate("1mo"), last),
        ("before_lookback_window", month < pl.lit(opens).dt.date().dt.truncate("1mo"), opens),
    ):
        rows = kept.filter(outside)
        if rows.height:
            found[name] = {
                "rows": rows.height,
                "amount": float(rows.get_column("amount").sum() or 0.0),
                "month": edge.strftime("%Y-%m"),
                "lines": _lines(table, rows.get_column(ROW)),
                **({"numbered": word} if word != "lines" else {}),
            }
    return kept, date_col, found


def spend_check_lines(found: dict[str, Any] | None) -> list[str]:
    """The summary's warnings for :func:`spend_checks`' findings."""
    if not found:
        return []
    out = []
    if dup := found.get("exact_duplicate"):
        out.append(
            f"Spend: {dup['rows']:,} exact duplicate row(s) dropped ({money_text(dup['amount'])}; "
            f"{dup.get('numbered', 'lines')} {', '.join(map(str, dup['lines']))}): a row "
            "repeated in every column is counted once"
        )
    if after := found.get("after_last_conversion"):
        out.append(
            f"Spend: {after['rows']:,} row(s) ({money_text(after['amount'])}) dated after the last "
            f"conversion's month ({after['month']}; {after.get('numbered', 'lines')} "
            f"{', '.join(map(str, after['lines']))}) are in CAC, divided by earlier customers"
        )
    if before := found.get("before_lookback_window"):
        out.append(
            f"Spend: {before['rows']:,} row(s) ({money_text(before['amount'])}) dated before the "
            f"first conversion's lookback window opens ({before['month']}; "
            f"{before.get('numbered', 'lines')} "
            f"{', '.join(map(str, before['lines']))}) are in CAC, though no credited touch "
            "can be that old"
        )
    return out
