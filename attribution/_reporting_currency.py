"""The run's reporting currency, and the one place that writes money as text.

*Decision* (README, "Input formats", "Currencies"): a run reports its money in one currency,
decided once per run and recorded in the manifest's ``currency``
(``{"code": "EUR", "sign": "€", "from": "currency_rates"}``):

1. the rates file's currency at rate 1, with ``--currency-rates`` (``from``:
   ``currency_rates``);
2. else the one currency the data's currency column(s) name: every table with money and a
   currency column agreeing (``from``: ``data``); two tables in two currencies without
   rates are an error naming both (their CAC, ROI and payback would mix them);
3. else the run option ``currency`` (``--currency EUR``, ``[run] currency``,
   ``RunOptions(currency=...)``, the HTTP run request's ``currency``): an ISO 4217 code, a
   label of the amounts as written, never a conversion (``from``: ``option``); an option
   that contradicts the rates' currency or the data's one currency is an error naming
   both;
4. else USD (``from``: ``default``), as every run before.

Money is written by :func:`money_text` with the sign of the currency in force: ``$`` USD,
``€`` EUR, ``£`` GBP, ``¥`` JPY, else the code before the amount (``CHF 1,234``). The
currency in force is a :mod:`contextvars` variable set by :func:`money_in` around a run's
B2B stage (:func:`attribution.analyse`), its summaries, its writing and its report, and
reset after; each thread (the service runs runs in worker threads) and each process starts
at USD, so a run's currency never leaks into another's. Column names (``cac``) and JSON
numbers never change: only text.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any

from attribution.exceptions import ConfigError, InputError

__all__ = [
    "DEFAULT_CURRENCY",
    "check_currency_code",
    "current_currency",
    "decide_currency",
    "money_in",
    "money_prefix",
    "money_text",
    "sign",
    "sign_of",
]

DEFAULT_CURRENCY = "USD"
#: the currencies written with their own sign; any other is written as its code
SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
#: ISO 4217's active codes (2025), for checking the ``currency`` option
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS
    TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER
    ZAR ZMW ZWG ZWL""".split()
)

_CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar(
    "attribution_reporting_currency", default=DEFAULT_CURRENCY
)


def check_currency_code(value: object) -> str:
    """``value`` as an ISO 4217 code (trimmed, upper case), or an :class:`InputError`."""
    code = value.strip().upper() if isinstance(value, str) else None
    if code not in ISO_4217:
        raise InputError(
            f"currency must be an ISO 4217 code such as EUR, USD or GBP (the currency your "
            f"amounts are written in); got {value!r}"
        )
    return code


def sign_of(code: str) -> str:
    """``$`` for USD, ``€`` EUR, ``£`` GBP, ``¥`` JPY; else the code and a space (``CHF ``)."""
    return SIGNS.get(code, f"{code} ")


def current_currency() -> str:
    """The ISO code of the currency in force (:func:`money_in`; USD outside a run)."""
    return _CURRENT.get()


def sign() -> str:
    """The sign of the currency in force, without a trailing space: ``$``, ``€``, ``CHF``
    (for labels: "pipeline per €", "budget (CHF a year)")."""
    return sign_of(_CURRENT.get()).strip()


def money_prefix() -> str:
    """What goes before an amount in the currency in force: ``$``, ``€``, ``CHF `` (for a
    chart's tick prefix, a table's cell built by Polars)."""
    return sign_of(_CURRENT.get())


def money_text(value: float, digits: int = 0) -> str:
    """``value`` with ``digits`` decimals and thousands commas, the sign of the currency in
    force before it and a minus before the sign: ``$1,786``, ``-€40,000``, ``CHF 12.35``.

    >>> money_text(1785.7), money_text(-40000.0), money_text(12.345, 2)
    ('$1,786', '-$40,000', '$12.35')
    >>> with money_in("EUR"):
    ...     money_text(-1785.7), current_currency()
    ('-€1,786', 'EUR')
    """
    text = f"{abs(value):,.{digits}f}"
    negative = value < 0 and text.strip("0.,") != ""
    return f"{'-' if negative else ''}{sign_of(_CURRENT.get())}{text}"


def _code_of(currency: str | Mapping[str, Any] | None) -> str:
    """The code of what a run recorded: a code, or the manifest (``currency.code``; a
    manifest without it, of a run without the B2B stage or written before the reporting
    currency was recorded: its data's one currency, else its ``parameters.currency``, else
    the default)."""
    if isinstance(currency, str):
        return currency.strip().upper() or DEFAULT_CURRENCY
    if not isinstance(currency, Mapping):
        return DEFAULT_CURRENCY
    recorded = currency.get("currency")
    if isinstance(recorded, Mapping) and isinstance(recorded.get("code"), str):
        return str(recorded["code"])
    found = {c for c in _found_in_inputs(currency.get("inputs")).values() if c}
    if len(found) == 1:
        return found.pop()
    given = (currency.get("parameters") or {}).get("currency")  # the option, as given
    return given if isinstance(given, str) and not found else DEFAULT_CURRENCY


@contextlib.contextmanager
def money_in(currency: str | Mapping[str, Any] | None) -> Iterator[str]:
    """Money written inside in ``currency`` (a code, or a run's manifest: its ``currency``);
    the currency before it in force again after."""
    token = _CURRENT.set(_code_of(currency))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def _found_in_inputs(inputs: object) -> dict[str, str | None]:
    """Per table of a manifest's ``inputs``, the one currency its currency column named
    (after conversion: the reporting one)."""
    found: dict[str, str | None] = {}
    if not isinstance(inputs, Mapping):
        return found
    for table, entry in inputs.items():
        seen = entry.get("currency") if isinstance(entry, Mapping) else None
        if isinstance(seen, Mapping):
            code = seen.get("currency")
            found[str(table)] = str(code) if isinstance(code, str) else None
    return found


def decide_currency(
    *,
    option: str | None,
    rates_file: object | None,
    found: Mapping[str, tuple[str, str | None]],
) -> dict[str, str]:
    """The run's reporting currency (see the module): ``option`` the ``currency`` option,
    ``rates_file`` the ``currency_rates`` option, ``found`` per table its source's name and
    the one currency its currency column named (None: none). Returns the manifest's
    ``currency``; errors name both sides of a contradiction."""
    if rates_file is not None:
        from attribution.importers._currency import read_rates

        code = read_rates(str(rates_file))[1]
        if option is not None and option != code:
            raise ConfigError(
                f"currency = {option!r} contradicts the currency rates file {rates_file}, "
                f"whose reporting currency (rate 1) is {code}: give one of them, or the "
                f"rates with {option} at rate 1"
            )
        return _recorded(code, "currency_rates")
    named = {table: (source, code) for table, (source, code) in found.items() if code}
    codes = sorted({code for _, code in named.values() if code})
    where = ", ".join(f"{table} '{source}' in {code}" for table, (source, code) in named.items())
    if len(codes) > 1:
        raise ConfigError(
            f"the amounts are in {len(codes)} currencies across the tables ({where}): "
            "their CAC, ROI and payback would mix them. Give the run the rates "
            "(--currency-rates rates.csv; [run] currency_rates; currency_rates= in Python): "
            "a CSV of currency,rate with your reporting currency at rate 1"
        )
    if codes:
        if option is not None and option != codes[0]:
            raise ConfigError(
                f"currency = {option!r} contradicts the data: {where} (its currency column, or "
                "its amounts' sign: £ GBP, € EUR); "
                f"drop the option, or convert the amounts with --currency-rates"
            )
        return _recorded(codes[0], "data")
    if option is not None:
        return _recorded(option, "option")
    return _recorded(DEFAULT_CURRENCY, "default")


def _recorded(code: str, origin: str) -> dict[str, str]:
    return {"code": code, "sign": sign_of(code).strip(), "from": origin}


def run_currency(
    manifest: Mapping[str, Any], tables: Mapping[str, Any], options: Any | None
) -> dict[str, str]:
    """:func:`decide_currency` for a run: its options (``currency``, ``currency_rates``),
    the currency each of its tables with money named: the touches and stages as the
    manifest's ``inputs`` records them, and ``tables`` (``spend``, ``subscriptions``: a
    :class:`~attribution.inputs._sources.Source` as :meth:`B2BInputs.read` holds it, or
    anything a table is given as, read here for its currency column only when no rates
    decide)."""
    option = getattr(options, "currency", None)
    rates = getattr(options, "currency_rates", None)
    found: dict[str, tuple[str, str | None]] = {}
    if rates is None:
        inputs = manifest.get("inputs")
        for table, code in _found_in_inputs(inputs).items():
            entry = inputs[table] if isinstance(inputs, Mapping) else {}
            found[table] = (str(entry.get("source", table)), code)
        for table, data in tables.items():
            if data is not None and table not in found:
                seen = _table_currency(table, data, options)
                if seen is not None:
                    found[table] = seen
    return decide_currency(option=option, rates_file=rates, found=found)


def _table_currency(table: str, data: Any, options: Any | None) -> tuple[str, str | None] | None:
    """A B2B table's source name and the one currency its currency column names (None
    without a currency column)."""
    from attribution.inputs._sources import Source

    if isinstance(data, Source) and data.currency is not None:
        source = data
    else:
        columns = options.table_columns(table) if options is not None else None
        formats = options.table_formats(table) if options is not None else None
        if table == "spend":
            from attribution.inputs._schema import SPEND, load

            source = load(data, SPEND, columns=columns, formats=formats).source
        elif table == "subscriptions":
            from attribution.inputs._account_inputs import load_subscriptions

            source = load_subscriptions(data, columns=columns, formats=formats).table.source
        else:
            return None
    if not source.currency:
        return None
    code = source.currency.get("currency")
    return source.name, code if isinstance(code, str) else None
