"""Numbers written as text, the way a locale writes them: a decimal point (the default) or a
decimal comma (``decimal_comma``: ``--decimal-comma``, ``[formats] decimal_comma = true``,
``RunOptions(decimal_comma=True)``).

Every number column a run reads from text (spend ``amount``, ``impressions``, ``clicks``, a
stage's ``value``, a touch's ``cost``, subscriptions' ``mrr`` / ``arr``, accounts'
``employees``, the experiments' and path tables' numbers) goes through :func:`read_number`:

- **decimal comma** (the option): each value is read as ``attribution import
  --decimal-comma`` reads an amount (one reader: :func:`attribution.inputs._money.
  comma_decimal`): ``1.414,27`` is 1414.27, ``4.744`` is 4744, ``1,5`` is 1.5, ``12 000,00``
  12000; a money column also reads a leading ``$``. A value of the other form (``1,414.27``,
  ``1.5``) is an error naming the file, the user's column and the lines, never a misread
  number.
- **decimal point** (the default): a plain number; a money column also reads money
  (``$7,880.74``: :func:`attribution.inputs._money.read_money`). *Decision*: in a
  ``;``-separated file (what Excel writes in a comma-decimal locale) a column holding values
  such as ``4.744`` or ``18.038`` (dots before groups of exactly three digits, nothing else:
  Excel's German ``#.##0``), with no other value showing that its dots are decimal points,
  reads either way (4.744 or 4744): it is an error naming the file, the column, how many and
  the lines, with the hint to give the decimal-comma option -- the rule ``attribution
  import`` applies to an amount (:data:`~attribution.inputs._money.DOT_THOUSANDS_LOOK`,
  :data:`~attribution.inputs._money.DOT_IS_DECIMAL`), never a number 1000x too small.

The option travels with the timestamp formats (:data:`DECIMAL_COMMA_KEY`), as the time zone
does, so every reader of a run's tables (in memory, partitions, Spark, the B2B stage) reads
alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import polars as pl

from attribution.inputs._money import (
    DOT_IS_DECIMAL,
    DOT_THOUSANDS_LOOK,
    MONEY_COLUMNS,
    EitherWay,
    comma_decimal,
    money_text,
    read_money,
    rows_refused,
)
from attribution.inputs._read_errors import DECIMAL_COMMA_HOW

if TYPE_CHECKING:
    from attribution.inputs._sources import Source

__all__ = [
    "DECIMAL_COMMA_KEY",
    "decimal_comma_of",
    "read_number",
]

#: The key under which a run's ``decimal_comma`` travels with the timestamp formats, from
#: :class:`attribution.RunOptions` to every reader of a table (as ``@timezone`` does).
DECIMAL_COMMA_KEY = "@decimal_comma"
def decimal_comma_of(formats: Mapping[str, Sequence[str]] | None) -> bool:
    """Whether a table's numbers are read with a decimal comma (:data:`DECIMAL_COMMA_KEY`
    among its ``formats``)."""
    return bool((formats or {}).get(DECIMAL_COMMA_KEY))


def read_number(
    frame: pl.DataFrame,
    converted: pl.DataFrame,
    row: str,
    column: str,
    table: str,
    source: Source,
    found: dict[str, tuple[int, str]] | None = None,
    formats: Mapping[str, Sequence[str]] | None = None,
) -> pl.DataFrame:
    """``converted`` (``frame`` with its text number ``column`` cast to Float64, null where
    the cast failed) read as the locale writes it (see the module): with a decimal comma
    when ``formats`` say so, else money read (:func:`~attribution.inputs._money.read_money`,
    ``found``: what was read so) and, in a ``;``-separated file, dot-grouped values refused.
    ``row``: the column of 0-based source rows."""
    money = column in MONEY_COLUMNS.get(table, ())
    if decimal_comma_of(formats):
        return _comma_read(frame, converted, row, column, table, source, money)
    if money:
        converted = read_money(frame, converted, row, column, table, source, found)
    if source.separator == ";":
        _refuse_dot_groups(frame, row, column, table, source, money)
    return converted


def _text(raw: pl.Expr, money: bool) -> pl.Expr:
    text = raw.str.strip_chars()
    return money_text(text) if money else text


def _comma_read(
    frame: pl.DataFrame,
    converted: pl.DataFrame,
    row: str,
    column: str,
    table: str,
    source: Source,
    money: bool,
) -> pl.DataFrame:
    """``column`` read with a decimal comma; a value it cannot read is a SchemaError."""
    valid, number = comma_decimal(_text(pl.col(column), money))
    parsed = frame.select(
        pl.when(valid).then(number.cast(pl.Float64, strict=False)).alias(column),
        (
            pl.col(column).is_not_null()
            & (pl.col(column).str.strip_chars().str.len_bytes() > 0)
        ).alias("_given"),
    )
    bad = parsed.get_column("_given") & parsed.get_column(column).is_null()
    if bad.any():
        # the import's hint for a currency sign ('4.744,40 €'); imported here: the importers
        # package reads tables through this one
        from attribution.importers._amount_hints import amount_hint

        example = str(frame.get_column(column).filter(bad)[0])
        raise rows_refused(
            f"{int(bad.sum()):,} value(s) cannot be read as a number with a decimal comma, "
            f"e.g. {example!r}",
            amount_hint(
                example,
                "with the decimal comma (--decimal-comma, [formats] decimal_comma = true) "
                "numbers are written 1.414,27 / 1,5 / 4.744 / 12 000,00 (dots or spaces "
                "between groups of three digits); a value such as 1,414.27 or 1.5 needs the "
                "run without it",
            ),
            frame.get_column(row).filter(bad), table, column, source,
        )  # fmt: skip
    return converted.with_columns(parsed.get_column(column))


def _refuse_dot_groups(
    frame: pl.DataFrame, row: str, column: str, table: str, source: Source, money: bool
) -> None:
    """A SchemaError when ``column`` (of a ``;``-separated file) holds values such as
    ``4.744`` and none showing its dots are decimal points: the rule of ``attribution
    import`` (:func:`attribution.importers._read.parse_amounts`)."""
    text = _text(pl.col(column), money)
    if column in source.decimal_points:  # the whole file shows them (a partition of it)
        return
    look = frame.select(text.str.contains(DOT_THOUSANDS_LOOK).fill_null(False)).to_series()
    if not look.any() or frame.select(text.str.contains(DOT_IS_DECIMAL).any()).item():
        return
    example = str(frame.get_column(column).filter(look)[0]).strip()
    what = "amount(s)" if money else "value(s)"
    raise rows_refused(
        f"{int(look.sum()):,} {what} such as {example!r} read either way (a decimal point or "
        "a thousands separator) and no other value of the column tells which; the file is "
        "';'-separated (Excel in a comma-decimal locale), where the dot usually separates "
        "thousands",
        f"give {DECIMAL_COMMA_HOW} if the dots separate thousands ({example} = "
        f"{example.replace('.', '')}); if they are decimal points, write the numbers with two "
        "decimals (1.23) or without the dot",
        frame.get_column(row).filter(look), table, column, source, kind=EitherWay,
    )  # fmt: skip

