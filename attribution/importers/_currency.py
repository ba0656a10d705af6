"""Deal amounts and their currency: an export of a multi-currency CRM holds amounts in
several currencies, which summed as one would be a wrong revenue, ROI and LTV.

*Decision* (README, "From your CRM", "Currencies"): the amount's currency column
(Salesforce reports ``Amount Currency``, Data Loader ``CurrencyIsoCode``; HubSpot
``Currency`` / ``deal_currency_code``) is read beside the amount. An amount written with
its ISO code (``USD 146,200.00``, as multi-currency Salesforce orgs' reports show it, or
``146,200.00 USD``) is read without it when the code is the currency beside it (a blank
currency cell takes the code; another code is an error naming the lines); without a
currency column the codes are the currency column.

* one currency (or no currency column): the amounts are taken as they are, and the
  currency is recorded in ``import_report.json`` (``currency``);
* ``--currency-rates FILE`` (``currency,rate``: the value of one unit of each currency in
  the reporting currency, which is the one at rate 1): each amount is converted, one rate
  per currency for the whole import, counted per currency (one currency too: an export in
  EUR with USD at rate 1 is converted to USD);
* several currencies and the CRM's own converted amount in the export (Salesforce
  ``Amount (converted)``, HubSpot ``Amount in company currency``) in one currency: that
  column is the value, noted;
* otherwise an error naming the file, the column, the currencies with their counts and the
  lines of the rows not in the most common one, with both remedies.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from attribution._reporting_currency import ISO_4217
from attribution.exceptions import InputError, SchemaError
from attribution.importers._read import LINE, Export, parse_amounts
from attribution.importers._result import ImportReport
from attribution.inputs._money import SIGN_CURRENCY, money_sign

#: The amount's currency column, by CRM
CURRENCY = {
    "salesforce": ["Amount Currency", "CurrencyIsoCode", "Opportunity Currency", "Currency"],
    "hubspot": ["Currency", "Deal currency code", "deal_currency_code", "Deal Currency"],
    "pipedrive": ["Deal - Currency", "Deal - Currency of Value", "Currency", "Currency of Value"],
    "ads": ["Currency code", "Currency"],  # Google Ads, LinkedIn Campaign Manager reports
}
#: The CRM's own amount converted to one currency, and that column's currency column
CONVERTED = {
    "salesforce": (["Amount (converted)", "Amount (Converted)"], ["Amount (converted) Currency"]),
    "hubspot": (["Amount in company currency", "amount_in_home_currency"], []),
    "pipedrive": ([], []),  # Pipedrive's export has no converted value column
    "ads": ([], []),
}
_HINT = (
    "give --currency-rates rates.csv (columns currency,rate: the value of one unit in your "
    "reporting currency, which has rate 1; currency_rates= in Python), or export the "
    "amounts converted to one currency ({converted})"
)


def _code(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().str.to_uppercase()


def deal_amounts(export: Export, amount: str | None, report: ImportReport) -> pl.Expr:
    """The deals' values (Float64) in one currency, read as :func:`parse_amounts` reads
    them; records ``report.currency``. Errors name the file, the column and the lines.
    Amounts written with their ISO code (``USD 146,200.00``, ``146,200.00 USD``): see
    :func:`amounts_without_codes`."""
    if amount is None:
        return parse_amounts(export, None)
    coded = amounts_without_codes(
        export, amount, export.column(CURRENCY[report.crm], required=False),
        decimal_comma=report.decimal_comma,
    )  # fmt: skip
    if coded is None:
        value = _deal_amounts(export, amount, report, None)
        note_far_amounts(report, export, amount, export.frame.select(value).to_series())
        return value
    stripped, column = coded
    value = _deal_amounts(stripped, amount, report, column)
    report.notes.append(
        f"{export.label}: amounts in '{amount}' written with their currency code or sign "
        f"({stripped.frame.get_column(column).drop_nulls().head(1).to_list()[0]} ...): "
        f"the code is read as the amount's currency ('{column}')"
    )
    values = stripped.frame.select(value).to_series()
    note_far_amounts(report, export, amount, values)
    return pl.lit(values)  # export.frame's rows, in order


#: an amount this many times the median of a file's amounts is named (a typo's extra zeros)
FAR_FROM_MEDIAN = 100
#: ... when the file has at least this many amounts above 0 (a median worth comparing with)
_MIN_AMOUNTS = 5


def note_far_amounts(report: ImportReport, export: Export, amount: str, values: pl.Series) -> None:
    """Count (``counts.amounts_over_100x_median``) and note the amounts above
    :data:`FAR_FROM_MEDIAN` times the median of the file's amounts above 0, naming the
    largest as written and the file lines (new-user report 22, M16: a $46,500 deal typed
    4650000000 made LTV/CAC 37,920 without a word). They are kept: a large deal can be
    real; the note puts the figure in front of the user before the run sums it."""
    positive = values.filter(values > 0)
    median = positive.median() if positive.len() >= _MIN_AMOUNTS else None
    if median is None:
        return
    far = values > FAR_FROM_MEDIAN * float(median)  # type: ignore[arg-type]
    n = int(far.sum())
    report.counts["amounts_over_100x_median"] = n
    if not n:
        return
    rows = export.frame.with_columns(values.alias("_value")).filter(far.fill_null(False))
    top = rows.sort("_value", descending=True).row(0, named=True)
    lines = rows.sort("_value", descending=True).get_column(LINE).head(5).to_list()
    report.notes.append(
        f"{export.label}: {n:,} amount(s) in '{amount}' above {FAR_FROM_MEDIAN}x the median "
        f"amount ({float(median):,.2f}), the largest {top[amount]!r} ({top['_value']:,.2f}) at "  # type: ignore[arg-type]
        f"file line(s) {', '.join(map(str, lines))}: a typo (extra zeros)? Kept as written; "
        "correct it in the CRM and export again if it is one (one such deal outweighs all "
        "the others in revenue, ARPA and LTV)"
    )


def amounts_without_codes(
    export: Export, amount: str, column: str | None, *, decimal_comma: bool = False
) -> tuple[Export, str] | None:
    """None when no amount carries an ISO currency code or a sign that names one (``£``,
    ``€``: :data:`attribution.inputs._money.SIGN_CURRENCY`); else ``export`` with the codes cut
    from ``amount`` and the currency column to read: ``column`` (its blank cells filled
    with the code; a code that disagrees with it is an error naming the lines) or, without
    one, the codes themselves as ``'<amount> (currency code)'``, read as a currency column
    is (one currency recorded; several need ``--currency-rates``). An amount that does not
    read (``decimal_comma``: how they are written) is its error first; then amounts whose
    currency only a code names among amounts with none are an error
    (:func:`_refuse_coded_among_bare`)."""
    text = pl.col(amount).str.strip_chars()
    def iso(found: pl.Expr) -> pl.Expr:  # 'TBD 500' names no currency: unreadable
        return found.replace_strict(sorted(ISO_4217), sorted(ISO_4217), default=None)

    code = pl.coalesce(
        iso(text.str.extract(r"^([A-Z]{3})\s*[-+$]?\s*[\d.,]", 1)),
        iso(text.str.extract(r"[\d.]\s*([A-Z]{3})$", 1)),
        # '£42,000.00': the sign's currency (inputs/_money.py; '$' and '¥' name none)
        money_sign(text, codes=False).replace_strict(
            list(SIGN_CURRENCY), list(SIGN_CURRENCY.values()), default=None,
            return_dtype=pl.String,
        ),
    )  # fmt: skip
    if not export.frame.select(code.is_not_null().any()).item():
        return None
    cut = text.str.replace(r"^[A-Z]{3}\s*", "").str.replace(r"\s*[A-Z]{3}$", "")
    read = export.frame.with_columns(pl.when(code.is_not_null()).then(cut).otherwise(text))
    parse_amounts(replace(export, frame=read), amount, decimal_comma=decimal_comma)
    _refuse_coded_among_bare(export, amount, column, code)
    if column is None:
        column = f"{amount} (currency code)"
        frame = export.frame.with_columns(code.alias(column))
    else:
        other = code.is_not_null() & pl.col(column).is_not_null() & (code != _code(column))
        if n := export.frame.select(other.sum()).item():
            example = export.frame.filter(other).row(0, named=True)
            raise SchemaError(
                f"{n} amount(s) written with a currency code or sign other than the one in "
                f"'{column}' beside them, e.g. {example[amount]!r} beside "
                f"{example[column]!r}, at file line(s) "
                f"{', '.join(map(str, export.lines(other)))}",
                table=export.label,
                source=export.name,
                column=amount,
                hint=f"each amount's code must be its currency in '{column}': correct the "
                "export, or write the amounts without the code",
            )
        frame = export.frame.with_columns(pl.coalesce(pl.col(column), code).alias(column))
    frame = frame.with_columns(pl.when(code.is_not_null()).then(cut).otherwise(text).alias(amount))
    return replace(export, frame=frame), column


def _refuse_coded_among_bare(
    export: Export, amount: str, column: str | None, code: pl.Expr
) -> None:
    """Amounts whose currency only a sign or code names (``€24,000``; no currency cell
    beside it) among amounts with no currency at all (``46500``): an error naming the lines
    of the fewer (new-user report 22, S1: one ``€`` typed in one deal labelled every deal
    EUR). Unsigned amounts are not in the sign's currency, and a currency column that names
    their currency says otherwise (then this is not an error)."""
    given = pl.col(column).is_not_null() if column is not None else pl.lit(False)
    coded = code.is_not_null() & ~given
    bare = pl.col(amount).is_not_null() & code.is_null() & ~given
    n_coded, n_bare = export.frame.select(coded.sum().alias("c"), bare.sum().alias("b")).row(0)
    if not (n_coded and n_bare):
        return
    shown = export.frame.filter(coded).get_column(amount).head(1).item()
    codes = ", ".join(
        export.frame.filter(coded).select(code.unique().sort()).to_series().head(3).to_list()
    )
    few, what = (
        (coded, f"{n_coded:,} amount(s) written with a currency ({codes}: e.g. {shown!r})"
         f" among {n_bare:,} written without one")
        if n_coded <= n_bare
        else (bare, f"{n_bare:,} amount(s) written without a currency among {n_coded:,} "
              f"written with one ({codes}: e.g. {shown!r})")
    )  # fmt: skip
    where = f"no currency column beside '{amount}'" if column is None else f"'{column}' blank"
    raise SchemaError(
        f"{what} ({where}), at file line(s) {', '.join(map(str, export.lines(few)))}: an "
        "amount without a sign is not in the sign's currency, so the deals' currency is "
        "unknown and summed as one it could be wrong",
        table=export.label,
        source=export.name,
        column="value",
        their_column=amount,
        hint="if those amounts are in the others' currency, write them alike (remove the "
        "sign, or add it to every amount); if the deals are in several currencies, export "
        "the deal currency column (HubSpot 'Currency', Salesforce 'Amount Currency') beside "
        "the amounts, and give --currency-rates to convert them",
    )


def _deal_amounts(
    export: Export, amount: str, report: ImportReport, column: str | None
) -> pl.Expr:
    """:func:`deal_amounts` with its currency column (``None``: the export's, if any)."""
    column = column or export.column(CURRENCY[report.crm], required=False)
    value = parse_amounts(export, amount, decimal_comma=report.decimal_comma)
    if column is None:
        report.currency = {"column": None, "currency": None, "counts": {}}
        return value
    priced = pl.col(amount).is_not_null()
    counts = (
        export.frame.filter(priced & pl.col(column).is_not_null())
        .group_by(_code(column).alias("code"))
        .len()
        .sort(["len", "code"], descending=[True, False])
    )
    by_code = {str(c): int(n) for c, n in counts.iter_rows()}
    report.currency = {"column": column, "currency": None, "counts": by_code}
    if len(by_code) == 1 and report.currency_rates is not None:
        # one currency, converted when the rates say another is the reporting one (a blank
        # currency cell is that currency)
        return _convert(export, column, value, by_code, report, fill=next(iter(by_code)))
    if len(by_code) <= 1:
        report.currency["currency"] = next(iter(by_code), None)
        return value
    shown = ", ".join(f"{c} {n:,}" for c, n in by_code.items())
    blank = priced & pl.col(column).is_null()
    _refuse(export, column, blank, f"{{n}} amount(s) without a currency (the others are {shown})")
    if report.currency_rates is not None:
        return _convert(export, column, value, by_code, report)
    converted = _converted(export, report)
    if converted is not None:
        return converted
    names, _ = CONVERTED[report.crm]
    main = next(iter(by_code))
    other = priced & (_code(column) != main)
    raise SchemaError(
        f"the amounts in '{amount}' are in {len(by_code)} currencies by '{column}' ({shown}); "
        f"summed as one they would be wrong (rows not in {main} at file line(s) "
        f"{', '.join(map(str, export.lines(other)))})",
        table=export.label,
        source=export.name,
        column=column,
        hint=_HINT.format(converted=f"'{names[0]}'" if names else "one column"),
    )


def _refuse(export: Export, column: str, mask: pl.Expr, what: str) -> None:
    n = export.frame.select(mask.sum()).item()
    if n:
        raise SchemaError(
            what.format(n=n) + f" at file line(s) {', '.join(map(str, export.lines(mask)))}",
            table=export.label,
            source=export.name,
            column=column,
            hint="fill in each amount's currency, or " + _HINT.format(converted="one column"),
        )


def _converted(export: Export, report: ImportReport) -> pl.Expr | None:
    """The CRM's own converted amount when the export has it in one currency; else None."""
    names, currencies = CONVERTED[report.crm]
    column = export.column(names, required=False)
    if column is None:
        return None
    code_col = export.column(currencies, required=False) if currencies else None
    codes = (
        export.frame.filter(pl.col(column).is_not_null()).select(_code(code_col).unique())
        .drop_nulls().to_series().to_list()
        if code_col
        else []
    )  # fmt: skip
    if len(codes) > 1:
        return None
    report.currency["currency"] = codes[0] if codes else "the CRM's company currency"
    report.currency["value_column"] = column
    report.notes.append(
        f"{export.label}: amounts in {len(report.currency['counts'])} currencies by "
        f"'{report.currency['column']}': the value is the CRM's converted amount "
        f"'{column}' ({report.currency['currency']})"
    )
    return parse_amounts(export, column, decimal_comma=report.decimal_comma)


def _convert(
    export: Export,
    column: str,
    value: pl.Expr,
    by_code: dict[str, int],
    report: ImportReport,
    fill: str | None = None,
) -> pl.Expr:
    """``value`` times the rate of each row's currency (``--currency-rates``; ``fill``: the
    currency of a row whose currency cell is blank)."""
    assert report.currency_rates is not None
    rates, reporting = read_rates(report.currency_rates)
    missing = [c for c in by_code if c not in rates]
    if missing:
        mask = pl.col(column).is_not_null() & _code(column).is_in(missing)
        _refuse(
            export,
            column,
            mask,
            f"{{n}} amount(s) in {', '.join(missing)}, a currency the rates file "
            f"{report.currency_rates} has no rate for,",
        )
    report.currency.update(
        {"currency": reporting, "converted_from": by_code, "rates": str(report.currency_rates)}
    )
    report.notes.append(
        f"{export.label}: amounts by their currency in '{column}' ("
        + ", ".join(f"{c} {n:,}" for c, n in by_code.items())
        + f") converted to {reporting} with the rates of {report.currency_rates}"
    )
    rate = _code(column).fill_null(pl.lit(fill, pl.String)).replace_strict(
        list(rates), list(rates.values()), default=None, return_dtype=pl.Float64
    )
    return value * rate


def read_rates(path: str | Path) -> tuple[dict[str, float], str]:
    """``--currency-rates``: a CSV of ``currency,rate`` (the value of one unit of the
    currency in the reporting currency; the reporting currency is the one row at 1). Every
    error names the file, the column and the lines."""
    label, source = "currency_rates", str(path)
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read the file: {exc}".splitlines()[0], table=label,
                         source=source) from None  # fmt: skip
    frame = frame.rename({c: c.lstrip("\ufeff").strip().lower() for c in frame.columns})
    for name in ("currency", "rate"):
        if name not in frame.columns:
            raise InputError(
                f"needs the columns currency,rate; found {', '.join(frame.columns)}",
                table=label,
                source=source,
                column=name,
                hint="one row per currency: EUR,1.08 (one euro in the reporting currency); "
                "the reporting currency itself at 1",
            )
    rows = frame.select(
        (pl.int_range(pl.len()) + 2).alias("line"),
        _code("currency").alias("currency"),
        pl.col("rate").str.strip_chars().cast(pl.Float64, strict=False).alias("rate"),
        pl.col("rate").alias("text"),
    )
    bad = rows.filter(
        pl.col("currency").is_null()
        | pl.col("rate").is_null()
        | ~pl.col("rate").is_finite()
        | (pl.col("rate") <= 0)
    )
    if bad.height:
        raise InputError(
            f"{bad.height} row(s) without a currency or a positive rate, e.g. "
            f"{bad.get_column('text').item(0)!r}, at file line(s) "
            f"{', '.join(map(str, bad.get_column('line').head(5)))}",
            table=label,
            source=source,
            column="rate",
            hint="a rate is a number above 0 written with a decimal point (1.08)",
        )
    twice = rows.filter(pl.col("currency").is_duplicated())
    if twice.height:
        raise InputError(
            f"currency {twice.get_column('currency').item(0)!r} is given more than once at "
            f"file line(s) {', '.join(map(str, twice.get_column('line').head(5)))}",
            table=label,
            source=source,
            column="currency",
        )
    rates: dict[str, Any] = dict(rows.select("currency", "rate").iter_rows())
    at_one = [c for c, r in rates.items() if math.isclose(r, 1.0, rel_tol=0, abs_tol=0)]
    if len(at_one) != 1:
        raise InputError(
            "the reporting currency is the one at rate 1: "
            + ("no currency has rate 1" if not at_one else f"{', '.join(at_one)} all have it"),
            table=label,
            source=source,
            column="rate",
            hint="add your reporting currency with rate 1 (USD,1), once",
        )
    return rates, at_one[0]
