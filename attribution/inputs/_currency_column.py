"""A run's money in one currency: the ``currency`` column beside the amounts of a table.

An export of a multi-currency CRM (Pipedrive's ``Deal - Currency`` beside ``Deal - Value``)
holds amounts in several currencies, which summed as one would be a wrong revenue, ARPA,
LTV, CAC payback and ROI. *Decision* (README, "Input formats", "Currencies"), as
``attribution import`` decides it (:mod:`attribution.importers._currency`):

- a table with money (stages ``value``; spend ``amount``; touches ``cost``; subscriptions
  ``mrr`` / ``arr``; experiments ``incremental_pipeline``, with its ``standard_error``) may
  carry a ``currency`` column (an ISO code per row; map the user's
  column as ``[columns.<table>] currency = "Deal - Currency"``), compared trimmed and in
  upper case; unmapped, the one column whose name says currency (``Deal - Currency``) is
  read as it, so amounts are never summed across currencies unseen (not when the mapped
  amount column's name says its one currency: ``value_usd``, ``Amount (converted)``);
- one currency throughout: the amounts are taken as they are, and the currency is named
  (the manifest's ``inputs.<table>.currency``, a note of the run);
- the run's currency rates (``--currency-rates rates.csv``, ``[run] currency_rates``,
  ``RunOptions(currency_rates=...)``; the file ``import`` takes: ``currency,rate``, the
  value of one unit in the reporting currency, which is the one at rate 1): every amount
  is converted by its row's currency, counted per currency and said; a currency the rates
  lack is an error naming its lines; a blank cell is the one currency (of the whole file,
  for a partition of it: ``Source.currency``); no currency on any priced row: the amounts
  are taken as they are (said so), the rates unused;
- otherwise several currencies are an error naming the file, the user's column, the
  currencies with their counts and the lines of the rows not in the most common one. An
  amount with a blank currency beside others is an error too (its currency is unknown).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from attribution.exceptions import SchemaError
from attribution.inputs._money import ANY_SIGN, MONEY_COLUMNS

__all__ = ["CURRENCY", "all_currencies", "currency_column", "currency_note", "read_currency"]

#: our name of the column that holds each row's currency
CURRENCY = "currency"
#: table -> {column: the money column whose unit it shares on the rows that have it}: a
#: column converted with that amount, where it is priced (a lift test's standard error is
#: in pipeline dollars beside ``incremental_pipeline``, in conversions beside conversions)
SAME_UNIT: Mapping[str, Mapping[str, str]] = {
    "experiments": {"standard_error": "incremental_pipeline"},
}
_SHOWN = 5
_CURRENCY_NAME = re.compile(r"currency|iso.?code", re.IGNORECASE)
_ONE_CURRENCY = re.compile(
    r"(^|[^a-z])(usd|eur|gbp|cad|aud|chf|jpy|inr|converted|home)([^a-z]|$)", re.IGNORECASE
)
_NOT_CURRENCY = re.compile(r"amount|value|rate|convert|cost|price|revenue", re.IGNORECASE)
_HINT = (
    "give the run the rates (--currency-rates rates.csv; [run] currency_rates in the "
    "config; currency_rates= in Python): a CSV of currency,rate, the value of one unit in "
    "your reporting currency, which has rate 1 (USD,1 / EUR,1.08); or convert the amounts "
    "to one currency"
)


def currency_column(
    table: str, available: Sequence[str], names: Mapping[str, str]
) -> str | None:
    """The user's column read as ``currency`` without a mapping: in a table with money and
    no ``currency`` column (mapped or named so), the one column whose name says currency
    (``Deal - Currency``, ``Currency Code``; not ``Amount Currency Converted`` or ``Currency
    rate``), so that amounts beside it are never summed across currencies unseen; None
    when there is not exactly one, or when the user's amount column names one currency
    (``value_usd``, ``Amount (converted)``: converted already)."""
    if table not in MONEY_COLUMNS or CURRENCY in available or CURRENCY in names:
        return None
    if any(_ONE_CURRENCY.search(names.get(c, "")) for c in MONEY_COLUMNS[table]):
        return None  # the amounts' own name says their one currency ('value_usd')
    mapped = set(names.values())
    found = [c for c in available if c not in mapped and _CURRENCY_NAME.search(c)
             and not _NOT_CURRENCY.search(c)]  # fmt: skip
    return found[0] if len(found) == 1 else None


def _code() -> pl.Expr:
    return pl.col(CURRENCY).cast(pl.String).str.strip_chars().str.to_uppercase()


def read_currency(
    frame: pl.DataFrame,
    table: str,
    source: Any,
    row: str,
    rates_file: str | None,
    names: Mapping[str, str],
    *,
    convert: bool = True,
) -> tuple[pl.DataFrame, dict[str, Any] | None]:
    """``frame`` with its money columns in one currency, and what was found (None when the
    table has no money column or no ``currency`` column): ``column``, ``currency`` (the one
    currency, or the reporting one), ``counts`` per currency and, converted, ``rates`` and
    ``converted`` (amounts converted, per currency). Errors: see the module; ``names``: our
    column -> the user's; ``convert=False``: the checks and counts only."""
    money = [c for c in sorted(MONEY_COLUMNS.get(table, ())) if c in frame.columns]
    if CURRENCY not in frame.columns or not money:
        return frame, None
    priced = pl.any_horizontal(pl.col(c).is_not_null() for c in money)
    counts = (
        frame.filter(priced & _code().is_not_null() & (_code() != ""))
        .group_by(_code().alias("code"))
        .len()
        .sort(["len", "code"], descending=[True, False])
    )
    by_code = {str(c): int(n) for c, n in counts.iter_rows()}
    found: dict[str, Any] = {"column": CURRENCY, "currency": next(iter(by_code), None),
                             "counts": by_code}  # fmt: skip
    code = pl.when(_code() != "").then(_code())
    if len(by_code) > 1:
        shown = ", ".join(f"{c} {n:,}" for c, n in by_code.items())
        _refuse(frame, priced & code.is_null(), row, table, source,
                f"{{n}} amount(s) without a currency beside amounts in {shown}",
                names.get(CURRENCY))  # fmt: skip
    if rates_file is None:
        if len(by_code) > 1:
            main = next(iter(by_code))
            _refuse(
                frame,
                priced & code.is_not_null() & (code != main),
                row,
                table,
                source,
                f"the amounts ({', '.join(repr(names.get(c, c)) for c in money)}) are in "
                f"{len(by_code)} currencies ("
                + ", ".join(f"{c} {n:,}" for c, n in by_code.items())
                + f"); summed as one they would be wrong: {{n}} row(s) not in {main}",
                names.get(CURRENCY),
            )
        return frame, found
    from attribution.importers._currency import read_rates

    rates, reporting = read_rates(rates_file)
    missing = [c for c in by_code if c not in rates]
    if missing:
        _refuse(frame, priced & code.is_in(missing), row, table, source,
                f"{{n}} amount(s) in {', '.join(missing)}, a currency the rates file "
                f"{rates_file} has no rate for", names.get(CURRENCY))  # fmt: skip
    # a blank cell is the one currency: the whole file's when this is a partition of it
    # (its own rows may all be blank), else this frame's; none anywhere: taken as they are
    whole = getattr(source, "currency", None)
    codes = list(whole.get("counts") or ()) if whole else list(by_code)
    if not codes:
        return frame, found
    fill = codes[0] if len(codes) == 1 else None
    rate = code.fill_null(pl.lit(fill, pl.String)).replace_strict(
        list(rates), list(rates.values()), default=None, return_dtype=pl.Float64
    )
    if convert:
        frame = frame.with_columns(
            *((pl.col(c) * rate).alias(c) for c in money),
            *(  # a pipeline test's standard error is in its measure's currency
                pl.when(pl.col(price).is_not_null()).then(pl.col(c) * rate).otherwise(pl.col(c))
                for c, price in SAME_UNIT.get(table, {}).items()
                if c in frame.columns and price in frame.columns
            ),
        )
    found.update({"currency": reporting, "rates": str(rates_file), "converted": by_code})
    return frame, found


def all_currencies(
    source: Any, table: str, names: Mapping[str, str], rates_file: str | os.PathLike[str] | None
) -> dict[str, Any] | None:
    """:func:`read_currency`'s checks and counts over the whole of ``source`` (a table
    read in partitions, each of which may hold one currency of several), its currency and
    money columns only; None without a currency column."""
    schema = source.frame.collect_schema()
    theirs = {c: names.get(c, c) for c in (CURRENCY, *sorted(MONEY_COLUMNS.get(table, ())))}
    present = {ours: their for ours, their in theirs.items() if their in schema}
    text = [t for o, t in present.items() if o != CURRENCY and schema[t] == pl.String]
    if CURRENCY not in present and not (text and source.frame.select(  # an amount's sign?
            pl.any_horizontal(pl.col(t).str.contains(ANY_SIGN).any() for t in text)
    ).collect(engine="streaming").item()):  # fmt: skip
        return None
    frame = (
        source.frame.select(pl.col(t).alias(o) for o, t in present.items())
        .with_row_index("_row")
        .collect()
    )
    from attribution.inputs._money_signs import read_signs  # '£2,750.00': the sign's currency

    frame, sign = read_signs(frame.with_columns(pl.col("_row").cast(pl.Int64)), table, source,
                             "_row", names, CURRENCY)  # fmt: skip
    if CURRENCY not in frame.columns:
        return None
    present[CURRENCY] = names.get(CURRENCY, CURRENCY)
    priced = {  # an amount is there (read and checked by each partition's load)
        c: pl.when(pl.col(c).cast(pl.String).str.strip_chars() != "").then(pl.lit(1.0))
        for c in present if c != CURRENCY
    }  # fmt: skip
    frame = frame.with_columns(pl.col("_row").cast(pl.Int64), **priced)
    rates = None if rates_file is None else str(rates_file)
    found = read_currency(frame, table, source, "_row", rates, names, convert=False)[1]
    return found and {**found, "column": names.get(CURRENCY, CURRENCY),
                      **({"sign": sign} if sign else {})}  # fmt: skip


def _refuse(
    frame: pl.DataFrame, mask: pl.Expr, row: str, table: str, source: Any, what: str,
    their: str | None = None,
) -> None:
    rows = frame.filter(mask.fill_null(False)).get_column(row)
    if rows.len():
        raise SchemaError(
            what.format(n=rows.len()),
            table=table,
            source=source.name,
            column=CURRENCY,
            rows=rows.head(_SHOWN).to_list(),
            hint=_HINT,
            numbering=source.numbering,
            their_column=their,
        )


def currency_note(table: str, source: str, found: Mapping[str, Any]) -> str:
    """The one line that names a table's currency (``found``: what :func:`read_currency`
    found, its ``column`` the user's name), and what was converted."""
    their = found.get("column")
    named = f"'{their}' (ours: 'currency')" if their and their != CURRENCY else "'currency'"
    where = f"{table} '{source}', column {named}"
    if found.get("sign") and their == CURRENCY:  # no currency column: the amounts' sign
        where = f"{table} '{source}', the amounts' sign '{found['sign']}'"
    converted = found.get("converted")
    if converted:
        counts = ", ".join(f"{c} {n:,}" for c, n in converted.items())
        return (
            f"NOTE: {where}: amounts by their currency ({counts}) converted to "
            f"{found.get('currency')} with the rates of {found.get('rates')}"
        )
    if found.get("currency") is None:
        return f"NOTE: {where}: no amount has a currency; the amounts are taken as they are"
    return f"NOTE: {where}: every amount is in {found['currency']}"
