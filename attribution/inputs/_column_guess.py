"""Which of the user's columns a missing column of ours most likely is, for the
did-you-mean of a missing-column error
(:func:`attribution.inputs._read_errors.missing_column_hint`).

Names close to ours are suggested, but an id column is never suggested for an answer
column: a survey export's ``Response ID`` is close to ``response`` by its letters, and
mapping it would benchmark the models against respondent ids (``R_00001``) instead of the
answers. For the survey's ``response`` a header written as the question (``How did you
hear about us?``) is the answer column. (A ``Campaign ID`` for ``campaign`` is still
suggested: an id is a fair campaign key.)

Headers written in another language are suggested too: a German Excel export's ``Datum``
for ``timestamp``, ``Kanal`` for ``channel``, ``Kosten`` / ``Betrag`` for ``amount``,
``value`` or ``cost`` (:data:`OTHER_NAMES`; compared without case, spaces, ``-`` or ``_``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from difflib import get_close_matches

__all__ = ["OTHER_NAMES", "guess_column", "id_like", "value_column_guess", "value_note"]

#: Our column -> headers other languages' exports give it (German, French, Spanish, Italian,
#: Dutch, Portuguese), folded as :func:`_bare` folds them. Suggested only, never mapped.
OTHER_NAMES: dict[str, tuple[str, ...]] = {
    "timestamp": ("datum", "zeitstempel", "zeitpunkt", "date", "fecha", "data", "horodatage",
                  "datetime"),
    "channel": ("kanal", "canal", "canale", "kanaal", "marketingkanal", "quelle"),
    "campaign": ("kampagne", "campagne", "campana", "campagna", "kampagnenname"),
    "amount": ("kosten", "betrag", "ausgaben", "budget", "spend", "cost", "montant", "importe",
               "importo", "bedrag", "custo", "gasto"),
    "value": ("betrag", "wert", "umsatz", "auftragswert", "amount", "montant", "valeur",
              "importe", "valor", "importo", "bedrag", "waarde", "dealvalue", "dealamount",
              "opportunityamount", "revenue"),
    "cost": ("kosten", "cout", "coste", "costo", "custo", "kost"),
    "month": ("monat", "mois", "mes", "mese", "maand", "date", "datum"),
    "stage": ("phase", "stufe", "etape", "fase", "etapa"),
    "contact_id": ("kontaktid", "kontakt", "contactid", "idcontact", "idcontacto"),
    "account_id": ("firmenid", "kontoid", "unternehmensid", "firmaid", "accountid",
                   "idcompte", "idcuenta"),
    "segment": ("segmento", "kundensegment"),
    "response": ("antwort", "reponse", "respuesta", "risposta", "antwoord"),
}  # fmt: skip


def _bare(name: str) -> str:
    """``name`` lower case without spaces, ``-``, ``_`` or accents (``Kontakt-ID``:
    ``kontaktid``; ``Coût``: ``cout``)."""
    import unicodedata

    text = unicodedata.normalize("NFKD", name.casefold())
    return re.sub(r"[\s_\-]+", "", "".join(c for c in text if not unicodedata.combining(c)))

#: our columns whose values are answers to a question
_ANSWERS = frozenset({"response"})
_QUESTION = re.compile(r"\?\s*$|(?i:\bhear(d)?\b.*\babout\b|\bhow did you\b)")


def id_like(name: str) -> bool:
    """Whether a header names an id: ``Id``, ``Response ID``, ``response_id``,
    ``ResponseId``.

    >>> [id_like(n) for n in ("Response ID", "ResponseId", "id", "Paid", "response")]
    [True, True, True, False, False]
    """
    text = name.strip()
    return bool(re.search(r"(?i)(?:^|[\s_\-.])id$", text) or re.search(r"[a-z]Id$", text))


def guess_column(ours: str, folded: Mapping[str, str]) -> str | None:
    """The folded name (a key of ``folded``: folded -> the user's header) of the user's
    column most likely ours: the same name but for case and spaces, else the closest name
    (never an id column for an answer column), else for an answer column a header written
    as the question. None when none is likely.

    >>> cols = {"response_id": "Response ID",
    ...         "how_did_you_hear_about_us?": "How did you hear about us?"}
    >>> guess_column("response", cols)
    'how_did_you_hear_about_us?'
    >>> guess_column("response", {"response_id": "Response ID"}) is None
    True
    """
    if ours in folded:
        return ours
    names = [f for f, theirs in folded.items() if ours not in _ANSWERS or not id_like(theirs)]
    close = get_close_matches(ours, names, n=1, cutoff=0.75)
    if close:
        return close[0]
    others = OTHER_NAMES.get(ours, ())
    if other := next((f for f in names if _bare(folded[f]) in others), None):
        return other  # 'Datum' for timestamp, 'Kanal' for channel
    if ours in _ANSWERS:
        return next((f for f in names if _QUESTION.search(folded[f])), None)
    return None


def value_column_guess(table: str, available: list[str], ours: Mapping[str, str]
                       ) -> str | None:
    """A stages table's column that looks like the deals' amounts when no ``value`` column
    is read (``Amount``, ``VALUE``, ``deal_value``; ``ours``: the columns the table already
    reads, ours -> the user's), else None. Without ``value`` every conversion is worth 0,
    and every revenue figure with it (new-user report 22b, S2: nothing said)."""
    if table != "stages" or "value" in available:
        return None
    used = set(ours) | set(ours.values())
    folded = {c.strip().lower().replace(" ", "_"): c for c in reversed(available)
              if c not in used and not id_like(c)}
    theirs = guess_column("value", folded)
    return folded.get(theirs) if theirs is not None else None


def value_note(table: str, source: str, column: str) -> str:
    """The note of :func:`value_column_guess`'s column, with the mapping to write."""
    return (
        f"NOTE: {table} '{source}': no 'value' column was read, and '{column}' looks like the "
        "deals' amounts: every conversion is worth 0 (revenue, ARPA and LTV too); map it: "
        f"[columns.{table}] value = \"{column}\" (Python: columns={{'{table}': {{'value': "
        f"'{column}'}}}})"
    )
