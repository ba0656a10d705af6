"""Salesforce record ids in their two forms.

Salesforce reports write 15-character record ids and the API, Data Loader and most survey
tools the 18-character ones: the same id plus a 3-character checksum of its letters' case.
``attribution import salesforce`` keeps the 15-character form. :func:`salesforce_15` gives
the 15-character form of an id shaped like an 18-character one: what lets a survey's
answers (:mod:`attribution.surveys._ids`) and a Data Loader accounts table
(:meth:`attribution.inputs._account_inputs.Accounts.lookup`) meet an import's ids.
"""

from __future__ import annotations

import polars as pl

__all__ = ["salesforce_15"]


def salesforce_15(ids: pl.Expr) -> pl.Expr:
    """The first 15 characters of each id shaped like an 18-character Salesforce id (15
    letters or digits, then 3 checksum characters, each ``A-Z`` or ``0-5``); null for
    anything else. The checksum itself is not recomputed: its callers cut an id only when
    the 15-character form is an id of the other side and the whole id none.

    >>> pl.select(salesforce_15(pl.lit("0065g00000AbCdEAAV"))).item()
    '0065g00000AbCdE'
    >>> pl.select(salesforce_15(pl.lit("0065g00000AbCdEaav"))).item() is None
    True
    """
    text = ids.cast(pl.String)
    shaped = text.str.contains(r"^[A-Za-z0-9]{15}[A-Z0-5]{3}$")
    return pl.when(shaped).then(text.str.slice(0, 15)).otherwise(pl.lit(None, pl.String))
