"""Salesforce contacts' accounts from the campaign members' own ``Account ID`` (a Campaign
Member report carries it) and from their deals, for the contacts whose account the Contact and
Lead exports do not give; and the person a row stands for (contact, else converted lead)."""

from __future__ import annotations

import polars as pl

from attribution.importers._read import Export
from attribution.importers._result import ImportReport

_NULL = pl.lit(None, pl.String)
#: A campaign member's own account column (Campaign Member reports: ``Account ID``)
MEMBER_ACCOUNT = ["AccountId", "Account ID", "Account.Id", "Contact.AccountId"]


def person(lead_map: pl.DataFrame, contact: pl.Expr, lead_id: pl.Expr) -> pl.Expr:
    """The contact of a row: its contact id, else its lead's converted contact, else the lead
    (``lead_map``: ``_from`` lead id -> ``_to`` contact id)."""
    converted = lead_id.replace_strict(
        lead_map.get_column("_from"), lead_map.get_column("_to"), default=None
    )
    return pl.coalesce(contact, converted.cast(pl.String), lead_id)


def member_accounts(
    members: Export,
    lead_map: pl.DataFrame,
    contacts: pl.DataFrame,
    leads: pl.DataFrame,
    report: ImportReport,
) -> pl.DataFrame:
    """(``contact_id``, ``account_id``) from the campaign members' own account column (a
    Campaign Member report's ``Account ID``), for the import's contact -> account table
    after the Contact and Lead files' accounts (which win where both give one) and before
    the deals'. A contact whose rows name several accounts takes the first (file order).
    Counted in the report's ``accounts``: ``contacts_account_from_campaign_members`` (the
    contacts whose account only the members give)."""
    empty = pl.DataFrame(schema={"contact_id": pl.String, "account_id": pl.String})
    account = members.column(MEMBER_ACCOUNT, required=False)
    if account is None:
        return empty
    contact = members.column(["ContactId", "Contact ID"], required=False)
    lead_id = members.column(["LeadId", "Lead ID"], required=False)
    pairs = (
        members.frame.select(
            person(
                lead_map,
                pl.col(contact) if contact else _NULL,
                pl.col(lead_id) if lead_id else _NULL,
            ).alias("contact_id"),
            pl.col(account).alias("account_id"),
        )
        .drop_nulls()
        .unique("contact_id", keep="first", maintain_order=True)
    )
    known = pl.concat([contacts.select("contact_id", "account_id"), leads]).drop_nulls()
    only_here = pairs.join(known, on="contact_id", how="anti").height
    report.accounts["contacts_account_from_campaign_members"] = only_here
    return pairs


def deal_accounts(
    opps: pl.DataFrame, roles: pl.DataFrame, known: pl.DataFrame, report: ImportReport
) -> pl.DataFrame:
    """(``contact_id``, ``account_id``) for the contacts whose account neither the Contact
    nor the Lead file gives, from their deals: the ``AccountId`` of the opportunities they
    hold a role on (OpportunityContactRole) or are the ``ContactId`` of. A contact on deals
    of several accounts takes the first in the Opportunity file's order (noted).
    Counted in the report's ``accounts``: ``contacts_account_from_deals``."""
    deal_account = opps.select("opportunity_id", pl.col("_opp_account").alias("account_id"))
    pairs = pl.concat(
        [
            deal_account.join(
                roles.select("opportunity_id", "contact_id"),
                on="opportunity_id",
                how="inner",
                maintain_order="left",
            ).select("contact_id", "account_id"),
            opps.select(
                pl.col("_opp_contact").alias("contact_id"),
                pl.col("_opp_account").alias("account_id"),
            ),
        ]
    ).drop_nulls()
    has_account = known.drop_nulls().get_column("contact_id").unique().implode()
    pairs = pairs.filter(~pl.col("contact_id").is_in(has_account)).unique(maintain_order=True)
    several = pairs.get_column("contact_id").is_duplicated()
    if several.any():
        report.notes.append(
            f"{pairs.filter(several).get_column('contact_id').n_unique()} contact(s) without a "
            "Contact-file account hold roles on deals of several accounts: each takes the "
            "first deal's account (Opportunity file order)"
        )
    derived = pairs.unique("contact_id", keep="first", maintain_order=True)
    report.accounts["contacts_account_from_deals"] = derived.height
    return derived
