"""The names of a total row, in the languages spreadsheets and BI tools write them.

An export often ends with the sum of the rows above it: a BI tool's ``Total`` / ``Grand
total``, Google Ads' ``Total: Account``, Excel's pivot table ``Gesamtergebnis`` (German),
``Total général`` (French), ``Totale complessivo`` (Italian), a finance sheet's ``Summe``.
Read as one more row it counts them twice. One list (:data:`TOTAL_NAMES`) serves the spend
check (:mod:`attribution.inputs._spend_rows`: such a channel is an error) and the hint of a
value that does not read (:func:`is_total`: ``Total: Account`` under a date column).

Names are compared folded: trimmed, runs of whitespace one space, lower case, accents
removed (``Total général`` is ``total general``), a trailing ``:`` dropped.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["TOTAL_NAMES", "fold_total", "is_total"]

#: Total-row names, folded (see the module). English; German; French; Spanish; Italian;
#: Portuguese; Dutch; the Nordic languages; Polish; Czech; Turkish; Russian; Japanese and
#: Chinese (Excel's pivot tables' grand total and subtotal labels among them).
TOTAL_NAMES: tuple[str, ...] = (
    # English
    "total", "totals", "grand total", "subtotal", "sub total", "sub-total", "sum", "overall",
    "overall total", "total sum",
    # German
    "summe", "summen", "gesamt", "gesamtsumme", "zwischensumme", "gesamtergebnis",
    "insgesamt", "summe gesamt", "gesamt summe", "endsumme", "total gesamt",
    # French
    "total general", "totaux", "sous-total", "sous total", "somme", "total global",
    # Spanish
    "suma", "total general", "suma total", "totales", "suma general",
    # Italian
    "totale", "totale complessivo", "subtotale", "somma", "totale generale",
    # Portuguese
    "soma", "total geral", "soma total",
    # Dutch
    "totaal", "subtotaal", "eindtotaal", "totaal generaal",
    # Swedish, Danish, Norwegian, Finnish
    "totalt", "summa", "totalsumma", "hovedtotal", "i alt", "totalsum", "yhteensa",
    "kokonaissumma",
    # Polish, Czech, Turkish, Russian
    "razem", "suma koncowa", "celkem", "celkovy soucet", "toplam", "genel toplam", "итого",
    "общий итог", "всего",
    # Japanese, Chinese
    "合計", "総計", "小計", "总计", "合计", "小计", "總計",
)  # fmt: skip


def fold_total(name: str) -> str:
    """``name`` as :data:`TOTAL_NAMES` holds names: trimmed, whitespace runs one space, lower
    case, accents removed, a trailing ``:`` dropped.

    >>> fold_total("  Total  Général: ")
    'total general'
    """
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = " ".join(text.split())
    return text.removesuffix(":").rstrip()


_NAMES = frozenset(fold_total(n) for n in TOTAL_NAMES)  # 'общий' folds to 'общии'
#: a total row's cell with more after it: ``Total: Account``, ``Summe: Kampagnen``
_LEADING = re.compile(
    r"^(" + "|".join(re.escape(n) for n in sorted(_NAMES, key=len, reverse=True)) + r")\s*:"
)


def is_total(value: object) -> bool:
    """Whether a cell names a total row: one of :data:`TOTAL_NAMES`, alone or before a
    ``:`` (``Total: Account``, Google Ads' last rows).

    >>> [is_total(v) for v in ("Summe", "Total: Campaigns", "Gesamtergebnis", "LinkedIn")]
    [True, True, True, False]
    """
    folded = fold_total(str(value))
    return folded in _NAMES or _LEADING.match(folded) is not None
