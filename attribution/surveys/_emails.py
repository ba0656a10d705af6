"""Survey answers keyed by e-mail: joined to the contact that carries the e-mail.

A survey tool exports who answered by e-mail more often than by CRM id. Where the run's
contacts table (else its touch log) has an ``email`` column beside ``contact_id``, each
answer with an ``email`` and no ``contact_id`` gets the contact of that e-mail, compared
trimmed and case-insensitively (``" Ana@Example.COM"`` is ``ana@example.com``), and then
joins as an answer keyed by that contact. Counted (``survey_benchmark.json`` counts):

- ``answers_contact_from_email``: answers given their contact by e-mail;
- ``answers_email_unknown``: answers whose e-mail no contact carries (they stay without a
  contact; joined by another id they carry, if any);
- ``answers_email_ambiguous_dropped``: answers whose e-mail two or more contacts carry (a
  shared inbox, a duplicate contact): dropped, since the answer cannot say whose it is;
- ``email_source``: the table the e-mails were read from (``contacts`` or ``touches``).

Answers keyed by e-mail alone with no table carrying one are an error saying so; when they
carry another id too, they are counted as ``answers_email_without_table``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from attribution.exceptions import InputError
from attribution.importers._emails import email_key
from attribution.inputs._schema import STRING, SURVEYS, TableSpec, load
from attribution.inputs._sources import TableLike, read_source

__all__ = ["SURVEYS_WITH_EMAIL", "contacts_from_emails", "email_contacts", "normalise_email"]

#: The surveys table with ``email`` as one more key an answer may carry.
SURVEYS_WITH_EMAIL = TableSpec(
    SURVEYS.name,
    {**SURVEYS.columns, "email": STRING},
    required=SURVEYS.required,
    one_of=(SURVEYS.one_of[0], (*SURVEYS.one_of[1], "email")),
    not_null=SURVEYS.not_null,
    hints=SURVEYS.hints,
)
_OTHER_KEYS = ("opportunity_id", "contact_id", "account_id")


def normalise_email(expr: pl.Expr) -> pl.Expr:
    """An e-mail as compared: the importers' contact key (trimmed, lower case, blank as
    null; a cell listing several addresses, its first)."""
    return email_key(expr)


def email_contacts(
    tables: Mapping[str, TableLike | None],
    columns: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[pl.DataFrame, str] | None:
    """``email`` (normalised) -> ``contact_id`` pairs (unique) of the first of ``tables``
    (name -> table, in order of preference) with both columns, and its name; None when none
    has them. ``columns``: the run's mappings by table (our column -> theirs)."""
    for name, data in tables.items():
        if data is None:
            continue
        mapping = {k: v for k, v in ((columns or {}).get(name) or {}).items()
                   if k in ("contact_id", "email")}  # fmt: skip
        if isinstance(data, pl.DataFrame):
            names = data.columns
        else:
            names = read_source(data, table=name).frame.collect_schema().names()
        theirs = {c: mapping.get(c, c) for c in ("contact_id", "email")}
        if not set(theirs.values()) <= set(names):
            continue
        if theirs["contact_id"] == theirs["email"]:
            # the contact ids are the e-mails (touches keyed by their ``email`` column,
            # mapped as contact_id): one column read as both
            spec = TableSpec(name, {"contact_id": STRING})
            frame = load(data, spec, columns={"contact_id": theirs["contact_id"]}).frame
            frame = frame.with_columns(pl.col("contact_id").alias("email"))
        else:
            spec = TableSpec(name, {"contact_id": STRING, "email": STRING})
            frame = load(data, spec, columns=mapping or None).frame
        pairs = (
            frame.select(normalise_email(pl.col("email")).alias("email"), "contact_id")
            .drop_nulls()
            .unique()
        )
        if pairs.height:  # an e-mail column left blank (an import without one): the next
            return pairs, name
    return None


def contacts_from_emails(
    coded: pl.DataFrame, pairs: tuple[pl.DataFrame, str] | None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The answers with the contact of their e-mail (see the module), the ambiguous ones
    dropped, and the counts; the answers unchanged and no counts when they have no
    ``email`` column."""
    if "email" not in coded.columns:
        return coded, {}
    frame = coded.with_columns(normalise_email(pl.col("email")).alias("_email"))
    has_contact = (
        pl.col("contact_id").is_not_null() if "contact_id" in frame.columns else pl.lit(False)
    )
    needs = pl.col("_email").is_not_null() & ~has_contact
    if pairs is None:
        others = [k for k in _OTHER_KEYS if k in frame.columns]
        if not others:
            raise InputError(
                "the survey answers are keyed by e-mail alone, and neither the contacts table "
                "nor the touches carry an 'email' column beside 'contact_id' to join them to "
                "contacts",
                table="surveys",
                column="email",
                hint="give the contacts table with contact_id and email (--contacts), or add "
                "the answers' contact_id; if your contact ids are the e-mails themselves, map "
                "the survey's e-mail column as contact_id ([columns.surveys] contact_id = "
                "\"<your e-mail column>\"): compared exactly, so the case must match",
            )
        without = int(frame.select(needs.sum()).item())
        return frame.drop("_email"), {"answers_email_without_table": without}
    table, source = pairs
    per_email = table.group_by("email").agg(
        pl.col("contact_id").first().alias("_contact"), pl.len().alias("_contacts")
    )
    frame = frame.join(per_email, left_on="_email", right_on="email", how="left")
    ambiguous = needs & (pl.col("_contacts") > 1)
    placed = needs & (pl.col("_contacts") == 1)
    counts = frame.select(
        placed.sum().alias("placed"),
        (needs & pl.col("_contacts").is_null()).sum().alias("unknown"),
        ambiguous.sum().alias("ambiguous"),
    ).row(0)
    contact = pl.when(placed).then(pl.col("_contact"))
    frame = (
        frame.with_columns(ambiguous.fill_null(False).alias("_ambiguous"))
        .with_columns(
            (pl.coalesce(pl.col("contact_id"), contact) if "contact_id" in frame.columns
             else contact).alias("contact_id")
        )
        .filter(~pl.col("_ambiguous"))
    )  # fmt: skip
    return frame.drop("_email", "_contact", "_contacts", "_ambiguous"), {
        "answers_contact_from_email": int(counts[0]),
        "answers_email_unknown": int(counts[1]),
        "answers_email_ambiguous_dropped": int(counts[2]),
        "email_source": source,
    }
