"""Salesforce contacts' accounts from their deals, for the contacts whose account the Contact
and Lead exports do not give."""

from __future__ import annotations

import polars as pl

from attribution.importers._result import ImportReport


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
