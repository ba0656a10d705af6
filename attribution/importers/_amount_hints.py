"""The hint of an import's amount that could not be read, derived from the value shown: a
currency sign or code in it (``24.000,00 €``, ``EUR 24,000``) is named as the problem, with
the value as it reads without it, before the way amounts are written."""

from __future__ import annotations

import re
import unicodedata

from attribution._reporting_currency import ISO_4217

__all__ = ["amount_hint", "unread_sign"]

#: an ISO 4217-like code standing alone (``EUR``, ``USD``): three capitals, no other letter
_CODE = re.compile(r"(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])")


def _currency(value: str) -> str | None:
    """The currency sign (``€``, ``£``, a trailing ``$``) or code (``EUR``) in ``value``."""
    code = _CODE.search(value)
    if code is not None:
        return code.group(0)
    signs = [c for c in value if unicodedata.category(c) == "Sc"]
    return signs[0] if signs else None


def unread_sign(value: str, *, codes: bool = False) -> str | None:
    """The currency sign or code in ``value`` that an amount is not read with (``₹``,
    ``CHF``, a second sign): one sign of :data:`attribution.inputs._money.SIGN_CURRENCY`
    (``codes``: or an ISO 4217 code, as ``run`` reads them) before or after the number is
    read."""
    value = value.strip()
    bare = re.sub(r"^([-+]?)\s*[$£€¥]\s*", r"\1", value)
    found = _currency(bare if bare != value else re.sub(r"\s*[$£€¥]$", "", value))
    return None if codes and found in ISO_4217 else found


def amount_hint(example: object, base: str, *, codes: bool = False) -> str:
    """``base`` (how amounts are written), led by what is wrong when ``example`` carries a
    currency sign or code an amount is not read with (one of $, £, €, ¥ is read; with
    ``codes``, as ``run`` reads money, an ISO 4217 code too).

    >>> amount_hint("24.000,00 CHF", "amounts are written 24.000,00").split(";")[0]
    "'CHF' is a currency code: an amount is a number with one sign at most ($, £, € or ¥)"
    >>> amount_hint("1,5x", "amounts are written 1,5")
    'amounts are written 1,5'
    """
    value = str(example).strip()
    if value and not any(c.isdigit() for c in value):  # 'TBD', 'pending': no number at all
        return (
            f"{value!r} is not a number: write the amount, or leave the cell blank where it "
            f"is not known; {base}"
        )
    sign = unread_sign(value, codes=codes)
    if sign is None:
        return base
    bare = value.replace(sign, "").strip()
    what = "is a currency " + ("code" if sign.isalpha() else "sign")
    if sign.isalpha() and (codes or sign not in ISO_4217):  # 'ABC', 'TBD': no ISO code
        what = "is no ISO 4217 currency code (GBP, EUR, USD)"
    read = "($, £, € or ¥, or an ISO 4217 code such as GBP)" if codes else "($, £, € or ¥)"
    return (
        f"'{sign}' {what}: an amount is a number with one sign at most {read}; "
        f"remove '{sign}' from the column (Excel: Find & Replace, or format the "
        f"cells as Number before exporting): {value!r} is then {bare!r}; {base}"
    )
