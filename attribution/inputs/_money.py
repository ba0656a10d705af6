"""Money written as a finance sheet or a CRM export writes it: ``$7,880.74``, ``24,000.00``.

One reading for ``attribution import`` (:func:`attribution.importers._read.parse_amounts`)
and for the money columns a run reads (:data:`MONEY_COLUMNS`: spend amounts, conversion
values, touch costs, subscription MRR / ARR, a lift test's incremental pipeline):

- a currency sign, ``$``, ``£``, ``€`` or ``¥``, before the amount (after a sign, with
  spaces around it: ``-$500``, ``£ 24,000``) or after it (``2.750,00 €``), is removed.
  *Decision*: the values of a table's money columns are written with one sign (or none):
  two signs (``£`` beside ``€`` or ``$``) are an error naming the lines of the less common
  one (:func:`sign_mix`), never summed as one currency. ``£`` names GBP and ``€`` EUR
  (:data:`SIGN_CURRENCY`), read as a currency column is
  (:mod:`attribution.inputs._currency_column`): the run's currency then, and a currency
  option or column that says another is an error; ``$`` and ``¥`` (the signs of several
  currencies) name none, as ``$`` never did;
- a decimal point, with ``,`` (or a space, NBSP, narrow NBSP) between groups of exactly
  three digits: ``24,000.00``, ``$1,500.50``, ``12 000`` -- so ``1,5`` is never 15;
- the run reads a column so only when none of its values reads as a decimal comma
  (``1,5``, ``24.000,00``; any comma in a ``;``-separated file, which Excel writes in a
  comma-decimal locale): such a column keeps the error naming the file, the user's
  column and the lines, never a misread amount; nor when a value such as ``$1.234`` reads
  either way (1.234 or 1234) and no other value of the column shows the dot is a decimal
  point. What was read so is counted (:attr:`attribution.inputs._schema.Table.money`) and
  said once (:func:`money_note`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from attribution._reporting_currency import ISO_4217
from attribution.exceptions import SchemaError
from attribution.inputs._read_errors import COMMA_HINT

if TYPE_CHECKING:
    from attribution.inputs._sources import Source

__all__ = [
    "ANY_SIGN",
    "COMMA_DECIMAL",
    "DOT_DECIMAL",
    "DOT_IS_DECIMAL",
    "DOT_THOUSANDS_LOOK",
    "MONEY_COLUMNS",
    "EitherWay",
    "SIGN_CURRENCY",
    "SPACES",
    "comma_decimal",
    "dot_decimal",
    "money_note",
    "money_sign",
    "money_text",
    "read_money",
    "rows_refused",
    "sign_currency",
    "sign_mix",
]

#: A digit group separator besides ``,`` / ``.``: a space, NBSP or narrow NBSP.
SPACES = "[ \u00a0\u202f]"
#: An amount with a decimal point (``24,000.00``, ``12 000``, ``1e6``), after :func:`money_text`.
DOT_DECIMAL = (
    rf"^[-+]?(\d+|\d{{1,3}}(,\d{{3}})+|\d{{1,3}}({SPACES}\d{{3}})+)(\.\d+)?$"
    r"|^[-+]?\d+(\.\d+)?[eE][+-]?\d+$"
)
#: An amount with a decimal comma (``24.000,00``, ``1,5``, ``12 000,00``).
COMMA_DECIMAL = rf"^[-+]?(\d+|\d{{1,3}}(\.\d{{3}})+|\d{{1,3}}({SPACES}\d{{3}})+)(,\d+)?$"
#: ``1.234`` / ``24.000``: a dot before exactly three digits reads either way (1.234 or
#: 1234); ambiguous unless another amount of the column shows the dot is a decimal point
DOT_THOUSANDS_LOOK = r"^-?[1-9]\d{0,2}(\.\d{3})+$"
#: what shows a column's dots are decimal points: one before 1-2 or 4+ digits, comma groups
DOT_IS_DECIMAL = r"^-?\d+\.(\d{1,2}|\d{4,})$|,\d{3}"

class EitherWay(SchemaError):  # noqa: N818 (a SchemaError: the kind of one)
    """Values such as ``4.744`` / ``$1.234`` that read either way, and none of the values
    judged shows the column's dots are decimal points: judged on the whole file, so a
    partition of it is not refused where the file is read (``Source.decimal_points``)."""


#: table -> its money columns (ours) that a run reads as :func:`read_money` reads them
MONEY_COLUMNS: Mapping[str, frozenset[str]] = {
    "spend": frozenset({"amount"}),
    "stages": frozenset({"value"}),
    "touches": frozenset({"cost"}),
    "events": frozenset({"cost", "value"}),
    "subscriptions": frozenset({"mrr", "arr"}),
    "experiments": frozenset({"incremental_pipeline"}),
}
_SHOWN = 5
#: the currency signs a money column reads -> the currency the sign names (None: ``$`` and
#: ``¥`` are the signs of several currencies: USD, CAD, AUD ...; JPY, CNY)
SIGN_CURRENCY: Mapping[str, str | None] = {"$": None, "£": "GBP", "€": "EUR", "¥": None}
_CODES = "|".join(sorted(ISO_4217))
#: a sign, or an ISO 4217 code in capitals (``GBP 2,750.00``, as CRM exports write it)
_SIGNS = "[$£€¥]"
_SIGNS_CODES = rf"(?:[$£€¥]|{_CODES})"
#: a money value written with a sign or a code (the one search over a whole file)
ANY_SIGN = rf"[$£€¥]|^\s*[-+]?\s*(?:{_CODES})|(?:{_CODES})\s*$"


def _signs(codes: bool) -> str:
    return _SIGNS_CODES if codes else _SIGNS


def sign_currency(sign: str) -> str | None:
    """The currency a sign or code names: ``£`` GBP, ``€`` EUR, a code itself; ``$`` and
    ``¥`` none."""
    return SIGN_CURRENCY.get(sign, sign if len(sign) == 3 else None)


def money_text(text: pl.Expr, *, codes: bool = True) -> pl.Expr:
    """``text`` without a currency sign (:data:`SIGN_CURRENCY`) or, with ``codes``, an ISO
    4217 code in capitals (before the amount, after a minus, spaces around it; or after the
    amount) and surrounding spaces: ``-$ 500`` -> ``-500``, ``£2,750.00`` -> ``2,750.00``,
    ``2.750,00 €`` -> ``2.750,00``, ``GBP 2,750.00`` -> ``2,750.00``. ``attribution import``
    reads codes its own way (``codes=False``: :mod:`attribution.importers._currency`)."""
    signs = _signs(codes)
    return (
        text.str.strip_chars()
        .str.replace(rf"^([-+]?)\s*{signs}\s*", "${1}")
        .str.replace(rf"\s*{signs}$", "")
        .str.strip_chars()
    )


def money_sign(text: pl.Expr, *, codes: bool = True) -> pl.Expr:
    """The currency sign (:data:`SIGN_CURRENCY`) or code ``text`` is written with, where
    :func:`money_text` removes it; else null."""
    text = text.str.strip_chars()
    signs = _signs(codes)
    return pl.coalesce(
        text.str.extract(rf"^[-+]?\s*({signs})", 1), text.str.extract(rf"({signs})$", 1)
    )


def sign_mix(values: pl.Series, *, codes: bool = True) -> tuple[str | None, pl.Series]:
    """(the sign most of ``values`` are written with, None without one; a mask of the values
    written with another sign, which must not be summed with them). A sign and the code of
    its currency are one (``£`` is ``GBP``: the code is returned). Ties: the first sign of
    :data:`SIGN_CURRENCY`, then the codes in order."""
    raw = values.to_frame("v").select(money_sign(pl.col("v").cast(pl.String), codes=codes))
    signs = raw.to_series().replace({"£": "GBP", "€": "EUR"})  # one currency, one key
    counts = signs.drop_nulls().value_counts(name="n")
    if counts.height == 0:
        return None, pl.Series([False] * values.len())
    order = ["$", "GBP", "EUR", "¥"]
    ranked = sorted(
        counts.iter_rows(),
        key=lambda r: (-r[1], order.index(r[0]) if r[0] in order else len(order), r[0]),
    )
    main = str(ranked[0][0])
    written = raw.to_series().filter(signs == main).mode().sort()  # as most are written
    return str(written[0]), (signs.is_not_null() & (signs != main)).fill_null(False)


def dot_decimal(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(``text`` is an amount with a decimal point, its number as text: group separators
    removed) for :func:`money_text`'s ``text``."""
    return text.str.contains(DOT_DECIMAL), text.str.replace_all(rf"[,{SPACES[1:-1]}]", "")


def comma_decimal(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """:func:`dot_decimal` for an amount with a decimal comma (``24.000,00`` -> 24000.00)."""
    number = text.str.replace_all(rf"[.{SPACES[1:-1]}]", "").str.replace(",", ".")
    return text.str.contains(COMMA_DECIMAL), number


def read_money(
    frame: pl.DataFrame,
    converted: pl.DataFrame,
    row: str,
    column: str,
    table: str,
    source: Source,
    found: dict[str, tuple[int, str]] | None = None,
) -> pl.DataFrame:
    """``converted`` (``frame`` with its text ``column`` cast to Float64: null where it
    did not read) with the values written as money (``$7,880.74``, ``24,000.00``) read,
    and (how many, the first) of them in ``found[column]``; as it is when there are none,
    or when no value the plain cast missed reads as money (the caller's check names it). A
    column with a value that reads as a decimal comma (``1,5``), or a ``$1.234`` that
    reads either way, is a :class:`SchemaError` naming those values' lines (``row``: the
    0-based source rows)."""
    raw, parsed = frame.get_column(column), converted.get_column(column)
    rows = frame.get_column(row)
    failed = raw.is_not_null() & (raw.str.strip_chars().str.len_bytes() > 0) & parsed.is_null()
    if not failed.any():
        return converted
    values = pl.DataFrame({"raw": raw, "row": rows, "failed": failed}).with_columns(
        text=money_text(pl.col("raw"))
    )
    valid, number = dot_decimal(pl.col("text"))
    values = values.with_columns(
        read=pl.col("failed") & valid,
        number=number.cast(pl.Float64, strict=False),
        # a decimal comma; in a ';'-separated file (Excel in a comma-decimal locale) any
        # comma is one: '1,500' there is 1.5, never read as 1500
        comma=(comma_decimal(pl.col("text"))[0] & ~valid)
        | (pl.col("failed") & pl.col("text").str.contains(",") & (source.separator == ";")),
        either=pl.col("text").str.contains(DOT_THOUSANDS_LOOK),
    )
    fixed = values.filter("read")
    if fixed.height == 0:
        return converted
    example = str(fixed.get_column("raw")[0])
    where = (table, column, source)
    if (comma := values.filter("comma")).height:
        first = str(comma.get_column("raw")[0])
        raise rows_refused(
            f"{comma.height:,} value(s) read as a decimal comma (e.g. {first!r}"
            + ("; in a ';'-separated file every comma is one" if source.separator == ";" else "")
            + ")"
            + (f" beside money with a decimal point (e.g. {example!r})" if example != first else "")
            + ": the column is read neither way",
            COMMA_HINT,
            comma.get_column("row"), *where,
        )  # fmt: skip
    either = fixed.filter("either")
    decided = column in source.decimal_points  # by the whole file, of which this is a part
    if either.height and not decided and not values.get_column("text").str.contains(
        DOT_IS_DECIMAL
    ).any():
        raise rows_refused(
            f"{either.height:,} amount(s) such as {either.get_column('raw')[0]!r} read either "
            "way (a decimal point or a thousands separator) and no other amount of the "
            "column tells which",
            "write the amounts without the dot if it separates thousands ($1234), with two "
            "decimals if it is a decimal point ($1.23)",
            either.get_column("row"), *where, kind=EitherWay,
        )  # fmt: skip
    if found is not None:
        found[column] = (fixed.height, example)
    read = values.get_column("read").fill_null(False)
    return converted.with_columns(values.get_column("number").zip_with(read, parsed).alias(column))


def rows_refused(
    message: str,
    hint: str,
    rows: pl.Series,
    table: str,
    column: str,
    source: Source,
    their: str | None = None,
    *,
    kind: type[SchemaError] = SchemaError,
) -> SchemaError:
    """The error naming ``table``'s ``source``, ``column`` (``their``: the user's name, when
    the caller does not locate the error) and the first of ``rows`` (0-based source rows, in
    the file's numbering) where a value cannot be read."""
    return kind(
        message,
        table=table,
        source=source.name,
        column=column,
        rows=rows.head(_SHOWN).to_list(),
        hint=hint,
        numbering=source.numbering,
        their_column=their,
    )


def money_note(
    table: str, source: str, column: str, their: str | None, read: tuple[int, str]
) -> str:
    """The one line that says a money column's values were read as money (``read``: how
    many, the first)."""
    named = f"'{their}' (ours: '{column}')" if their and their != column else f"'{column}'"
    count, example = read
    return (
        f"NOTE: {table} '{source}', column {named}: {count:,} amount(s) written as money "
        f"(e.g. {example!r}) were read without the currency sign and the thousands commas "
        "(no amount of the column reads as a decimal comma)"
    )
