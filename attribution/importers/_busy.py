"""Records with an extreme number of events or touches (a bot, a scanner, a QA login): one
threshold and one grouping for every import that names them, GA4's pseudo ids
(:mod:`attribution.importers._ga4`) and the CRM imports' contacts (new-user report 22, M13:
a contact with 30,000 form submissions passed without a word, and on a customer's company
moved the segment CAC 3.7x)."""

from __future__ import annotations

import polars as pl

from attribution.importers._result import ImportReport

#: a key with this many events (GA4) or touches (a CRM contact) or more is named in a note
BUSY = 1_000


def busy(frame: pl.DataFrame, key: str, *aggs: pl.Expr) -> pl.DataFrame:
    """The values of ``key`` with :data:`BUSY` rows or more in ``frame``: ``key``, ``n``
    (their rows) and ``aggs``, the busiest first."""
    return (
        frame.drop_nulls(key)
        .group_by(key)
        .agg(pl.len().alias("n"), *aggs)
        .filter(pl.col("n") >= BUSY)
        .sort(["n", key], descending=[True, False])
    )


def note_busy_contacts(
    report: ImportReport, touches: pl.DataFrame, contacts: pl.DataFrame
) -> None:
    """Count (``counts.busy_contacts``) and name the contacts with :data:`BUSY` touches or
    more: the busiest with its e-mail, account, touch count and commonest channel. They are
    kept (a run drops nothing for it)."""
    if touches.height < BUSY or "contact_id" not in touches.columns:
        return
    top = busy(
        touches, "contact_id",
        pl.col("account_id").drop_nulls().first().alias("account"),
        pl.col("channel").drop_nulls().mode().sort().first().alias("channel"),
        (pl.col("channel") == pl.col("channel").drop_nulls().mode().sort().first())
        .sum().alias("on_channel"),
    )  # fmt: skip
    report.counts["busy_contacts"] = top.height
    if top.height == 0:
        return
    row = top.row(0, named=True)
    email = (
        contacts.filter(pl.col("contact_id") == row["contact_id"]).get_column("email").drop_nulls()
        if "email" in contacts.columns
        else pl.Series([], dtype=pl.String)
    )
    who = ", ".join(
        [*(repr(e) for e in email.head(1)),
         f"account {row['account']!r}" if row["account"] is not None else "no account"]
    )  # fmt: skip
    where = (
        "at --level account its touches are in its account's journey (beyond the journey "
        "length counted as journey_too_long) and count in the segments' spend split by touches"
        if row["account"] is not None
        else "without an account a run at --level account drops its touches (counted)"
    )
    report.notes.append(
        f"touches: {top.height:,} contact(s) have {BUSY:,} touches or more (the most: contact "
        f"{row['contact_id']!r} ({who}), {row['n']:,} touches, {row['on_channel']:,} of them "
        f"{row['channel']}): a bot or a scanner? They are kept; {where}: drop the contact's "
        "rows from the export to leave them out"
    )
