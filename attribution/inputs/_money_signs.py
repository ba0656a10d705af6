"""The currency sign a table's amounts are written with (``£2,750.00``, ``2.750,00 €``), read
as the amounts' currency: the rule of :mod:`attribution.inputs._money` (one sign per table;
``£`` GBP, ``€`` EUR; ``$`` and ``¥`` name none), for ``run``, the library and the service
alike (``attribution import`` applies it to a deal's amount:
:func:`attribution.importers._currency.amounts_without_codes`).

A table whose amounts name a currency by their sign gets it as its ``currency`` column
(:mod:`attribution.inputs._currency_column`) where it has none: one currency, named by the
run (its manifest's ``inputs.<table>.currency``, the run's currency ``from: data``); a
currency option, a currency column or another table that says another currency is then an
error naming both. A sign beside a currency cell that names another currency is an error
naming the lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from attribution.inputs._money import (
    ANY_SIGN,
    MONEY_COLUMNS,
    money_sign,
    rows_refused,
    sign_currency,
    sign_mix,
)

__all__ = ["SIGN_KEY", "read_signs"]

#: the key of a table's found currency (``Source.currency``) that holds the sign read
SIGN_KEY = "sign"
_HINT = (
    "the amounts of a table are in one currency, written with one sign or none (the run "
    "reads $, £, € and ¥ and the number): convert them to one currency, or give each row its "
    "currency in a currency column and the run the rates (--currency-rates rates.csv)"
)


def read_signs(
    frame: pl.DataFrame,
    table: str,
    source: Any,
    row: str,
    names: Mapping[str, str],
    currency: str = "currency",
) -> tuple[pl.DataFrame, str | None]:
    """``frame`` with the currency its money columns' sign names in its ``currency`` column
    (added; or filling its blank cells), and that sign (None: no sign that names a currency).
    Errors (:class:`SchemaError`, the file, the user's column, 0-based ``row`` lines): two
    signs among the amounts; a sign beside a currency cell naming another currency."""
    money = [c for c in sorted(MONEY_COLUMNS.get(table, ()))
             if c in frame.columns and frame.schema[c] == pl.String]  # fmt: skip
    found: dict[str, str] = {}
    signs = frame.select(pl.col(c).str.contains(ANY_SIGN).any() for c in money).row(0) if (
        money) else ()  # fmt: skip
    money = [c for c, any_sign in zip(money, signs, strict=True) if any_sign]  # one pass each
    for col in money:  # a table's two or three money columns, each vectorised
        sign, other = sign_mix(frame.get_column(col))
        if sign is None:
            continue
        if other.any() or (found and _key(sign) not in map(_key, found.values())):
            mask = (
                other
                if other.any()
                else frame.select(
                    money_sign(pl.col(col)).is_not_null().fill_null(False)
                ).to_series()
            )
            first = str(frame.get_column(col).filter(mask)[0])
            main = sign if other.any() else next(iter(found.values()))
            raise rows_refused(
                f"{int(mask.sum()):,} amount(s) written with another currency sign (e.g. "
                f"{first!r}) than the table's other amounts ('{main}'): summed as one "
                "currency they would be wrong",
                _HINT, frame.get_column(row).filter(mask), table, col, source, names.get(col),
            )  # fmt: skip
        found[col] = sign
    sign = next(iter(found.values()), None)
    code = sign_currency(sign) if sign is not None else None
    if code is None:
        return frame, None
    signed = pl.any_horizontal(money_sign(pl.col(c)).is_not_null() for c in found)
    if currency not in frame.columns:
        return frame.with_columns(pl.when(signed).then(pl.lit(code)).alias(currency)), sign
    cell = pl.col(currency).cast(pl.String).str.strip_chars().str.to_uppercase()
    blank = cell.is_null() | (cell == "")
    other = frame.select((signed & ~blank & (cell != code)).fill_null(False)).to_series()
    if other.any():
        col = next(iter(found))
        shown = frame.filter(other).row(0, named=True)
        raise rows_refused(
            f"{int(other.sum()):,} amount(s) written with '{sign}' ({code}) beside another "
            f"currency in '{names.get(currency, currency)}', e.g. {shown[col]!r} beside "
            f"{shown[currency]!r}",
            f"an amount's sign and its currency cell must agree: correct the one that is "
            f"wrong, or write the amounts without '{sign}'",
            frame.get_column(row).filter(other), table, col, source, names.get(col),
        )  # fmt: skip
    fill = pl.when(signed & blank).then(pl.lit(code)).otherwise(pl.col(currency))
    return frame.with_columns(fill.alias(currency)), sign


def _key(sign: str) -> str:
    """One key per currency: ``£`` and ``GBP`` are one."""
    return sign_currency(sign) or sign
