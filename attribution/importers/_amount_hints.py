"""The hint of an import's amount that could not be read, derived from the value shown: a
currency sign or code in it (``24.000,00 €``, ``EUR 24,000``) is named as the problem, with
the value as it reads without it, before the way amounts are written."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["amount_hint"]

#: an ISO 4217-like code standing alone (``EUR``, ``USD``): three capitals, no other letter
_CODE = re.compile(r"(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])")


def _currency(value: str) -> str | None:
    """The currency sign (``€``, ``£``, a trailing ``$``) or code (``EUR``) in ``value``."""
    code = _CODE.search(value)
    if code is not None:
        return code.group(0)
    signs = [c for c in value if unicodedata.category(c) == "Sc"]
    return signs[0] if signs else None


def amount_hint(example: object, base: str) -> str:
    """``base`` (how amounts are written), led by what is wrong when ``example`` carries a
    currency sign or code: a leading ``$`` is the one sign an import reads.

    >>> amount_hint("24.000,00 €", "amounts are written 24.000,00").split(";")[0]
    "'€' is a currency sign: an amount is a number alone (a leading $ is the one sign read)"
    >>> amount_hint("1,5x", "amounts are written 1,5")
    'amounts are written 1,5'
    """
    value = str(example).strip()
    sign = _currency(re.sub(r"^([-+]?)\s*\$\s*", r"\1", value))
    if sign is None:
        return base
    bare = value.replace(sign, "").strip()
    return (
        f"'{sign}' is a currency sign: an amount is a number alone (a leading $ is the one "
        f"sign read); remove '{sign}' from the column (Excel: Find & Replace, or format the "
        f"cells as Number before exporting): {value!r} is then {bare!r}; {base}"
    )
