"""Salesforce record ids in their two forms, for joining survey answers to conversions.

Salesforce reports write 15-character record ids and the API, Data Loader and most survey
tools the 18-character ones: the same id plus a 3-character checksum of its letters' case.
``attribution import salesforce`` keeps the 15-character form; a survey tool's export of the
same opportunities carries the 18-character one, so the ids would not meet.
:func:`salesforce_15` (:mod:`attribution.inputs._salesforce_ids`) gives the 15-character
form of an id shaped like an 18-character one, and :func:`match_salesforce_ids` lets an
answer's id meet its conversion's in either form (only where the id as it is meets
nothing).
"""

from __future__ import annotations

import polars as pl

from attribution.inputs._salesforce_ids import salesforce_15

__all__ = ["match_salesforce_ids", "salesforce_15"]


def match_salesforce_ids(
    answers: pl.DataFrame, conversions: pl.DataFrame, key: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``answers`` and ``conversions`` (both with ``key``) ready to join on ``key`` when one
    side has 18-character Salesforce ids and the other 15-character ones: an answer's
    18-character id that no conversion has, but whose 15-character form one has, is cut to
    it; a conversion's 18-character id is also listed under its 15-character form (when no
    conversion has that id itself). An id found as it is always wins. Both frames get
    ``_id15``: True where the match is by the 15-character form."""
    exact = conversions.get_column(key).implode()
    conv15 = salesforce_15(pl.col(key))
    alias = (
        conversions.with_columns(conv15.alias("_15"))
        .filter(pl.col("_15").is_not_null() & ~pl.col("_15").is_in(exact))
        .with_columns(pl.col("_15").alias(key))
        .drop("_15")
    )
    both = pl.concat(
        [conversions.with_columns(pl.lit(False).alias("_id15")),
         alias.with_columns(pl.lit(True).alias("_id15"))]
    )  # fmt: skip
    known = both.get_column(key).implode()
    short = salesforce_15(pl.col(key))
    cut = ~pl.col(key).is_in(known) & short.is_in(known)
    answers = answers.with_columns(
        pl.when(cut).then(short).otherwise(pl.col(key)).alias(key),
        cut.fill_null(False).alias("_id15"),
    )
    return answers, both
