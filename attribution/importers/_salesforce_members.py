"""Repeated campaign members in a Salesforce export.

Salesforce keeps one CampaignMember per campaign and person (contact or lead): a row with
the campaign, the ContactId / LeadId and the dates (FirstRespondedDate, CreatedDate) of an
earlier row is that member again, an export artefact (a report row repeated, two exports
appended, a report type that joins a child object), not a second response.
:func:`one_member_per_person` keeps the first such row and counts the others as a drop
naming an example's lines; without a campaign id only rows equal in every column are
repeats (campaign names are not unique). Rows of one campaign and person with other dates
stay separate touches: what they are is not known (a member removed and added again, a
touch log built by hand), and dropping them would lose responses.
"""

from __future__ import annotations

import polars as pl

from attribution.importers._read import LINE
from attribution.importers._result import ImportReport

__all__ = ["one_member_per_person"]


def one_member_per_person(
    frame: pl.DataFrame,
    campaign_id: str | None,
    people: list[str | None],
    dates: list[str | None],
    report: ImportReport,
) -> pl.DataFrame:
    """``frame`` (the members export, with ``_line``) without the rows repeating an earlier
    row's campaign, person (``people``: the ContactId / LeadId columns found) and ``dates``
    (the date columns found), counted (``report.drops``, file ``campaign_members``) with the
    first repeat's lines.

    >>> from attribution.importers._result import ImportReport
    >>> members = pl.DataFrame({"CampaignId": ["701a", "701a", "701a"],
    ...     "ContactId": ["003a", "003b", "003a"], "_line": [2, 3, 4]})
    >>> report = ImportReport(crm="salesforce")
    >>> one_member_per_person(members, "CampaignId", ["ContactId"], [], report).height
    2
    >>> report.drops[0]["count"], report.drops[0]["reason"].endswith("line 4 repeats line 2)")
    (1, True)
    """
    who = [c for c in people if c is not None]
    if campaign_id is not None and who:
        keys = [campaign_id, *who, *(c for c in dates if c is not None)]
        known = pl.col(campaign_id).is_not_null() & pl.any_horizontal(pl.col(who).is_not_null())
    else:
        keys = [c for c in frame.columns if c != LINE]
        known = pl.lit(True)
    key = pl.struct(keys)
    marked = frame.with_columns((known & ~key.is_first_distinct()).alias("_repeat"))
    repeats = marked.filter(pl.col("_repeat"))
    if not repeats.height:
        return frame
    first = repeats.row(0, named=True)
    match = pl.all_horizontal(
        pl.col(c).eq_missing(pl.lit(first[c], dtype=frame.schema[c])) for c in keys
    )
    original = marked.filter(match).get_column(LINE)[0]
    what = "campaign, ContactId / LeadId and dates" if campaign_id is not None and who else "cells"
    report.drop(
        "campaign_members",
        f"a repeated member: the {what} of an earlier row (Salesforce keeps one member per "
        f"campaign and person, so the export repeated it: first row kept; e.g. line "
        f"{first[LINE]} repeats line {original})",
        repeats.height,
    )
    return marked.filter(~pl.col("_repeat")).drop("_repeat")
