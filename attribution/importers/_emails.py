"""The e-mail contact key: one reading of an e-mail cell for every place that compares
e-mails (the Pipedrive import's contacts, GA4 user ids that are e-mails, HubSpot form
submissions looked up by e-mail, survey answers joined by e-mail: ``surveys._emails``), so
an address written ``' Ann@Acme.com '`` in one file and ``ann@acme.com`` in another is one
contact everywhere.

*Decision* (README, "From your CRM"): a cell listing several addresses (``a@x.com,
b@y.com`` or ``;``-separated, as Pipedrive exports a person's e-mails) is its **first**
address; the others are no key (:func:`other_addresses` counts them for a note).
"""

from __future__ import annotations

import polars as pl

__all__ = ["email_key", "first_address", "other_addresses"]

#: one address of a cell: a run of characters other than the separators, starting with
#: neither a separator nor a space
_ADDRESS = r"[^,;\s][^,;]*"


def first_address(expr: pl.Expr) -> pl.Expr:
    """The first address of an e-mail cell, trimmed, as written (null: none)."""
    return expr.cast(pl.String).str.extract(f"({_ADDRESS})", 1).str.strip_chars()


def email_key(expr: pl.Expr) -> pl.Expr:
    """An e-mail cell as a contact key: its first address, trimmed and lower-cased
    (``' Ann@Acme.com, ann@home.org'`` -> ``ann@acme.com``); blank: null."""
    key = first_address(expr).str.to_lowercase()
    return pl.when(key != "").then(key)


def other_addresses(expr: pl.Expr) -> pl.Expr:
    """How many addresses an e-mail cell lists after its first (0: one or none)."""
    count = expr.cast(pl.String).str.count_matches(_ADDRESS).fill_null(0).cast(pl.Int64)
    return (count - 1).clip(lower_bound=0)
