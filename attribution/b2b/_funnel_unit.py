"""The funnel's unit: what one funnel entity is, so that a deal counts once.

- **Account level** (the run's ``level = "account"``): one entity per account. A stage
  event's account is its own ``account_id``, else its contact's account in the run's
  contacts table (as the run's journeys take it); the touches' sourced channel is keyed
  the same way. A deal whose events the CRM writes once per associated contact is then one
  account's deal, not one per contact.
- **Contact level**: one entity per ``contact_id`` (``account_id`` when the stages have no
  contact column): the step rates count contacts, as a CRM's lifecycle report does.
- **Deals** (the deal KPIs: win rate, average deal, time to close, pipeline velocity,
  customer concentration, marketing-sourced and -influenced pipeline, created pipeline):
  one per ``opportunity_id``, whatever the level. A CRM export writes a deal's opportunity,
  won and lost events once per associated contact (HubSpot's deal associations,
  Salesforce's opportunity contact roles): counted per contact, 47 won of 118 closed deals
  read as 82 of 207, and velocity and pipeline were weighted by committee size. A deal's
  opportunity / won / lost events are grouped by their ``opportunity_id``; an entity's
  events of those stages without one are one deal of that entity, unless it has events
  with one (HubSpot's lifecycle "Became an Opportunity Date" echoes its deals). A deal's
  segment and account are its **primary entity**'s: the one whose first stage event is
  earliest (ties: the smallest id); its sourced channel is that of the first touch of any
  of its entities (the buying committee's first), and it is marketing-influenced when any
  of them had a marketing touch before the opportunity. Deals on several entities are counted
  (``deals_on_several_entities``) and said in the summary. The weekly alerts' series stay
  per entity.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from attribution.b2b._funnel_stages import entities
from attribution.exceptions import ConfigError

__all__ = ["LEVELS", "account_keyed", "deal_table", "funnel_key", "unit_lines"]

#: the funnel's levels: ``None`` keeps the stages table's own key
LEVELS: Final = ("contact", "account")


def account_keyed(frame: pl.DataFrame, contacts: pl.DataFrame | None, what: str) -> pl.DataFrame:
    """``frame`` with ``account_id``: each row's own, else its contact's account in
    ``contacts`` (``contact_id``, ``account_id``). ``what``: the table, for the error when
    neither gives an account."""
    has_own = "account_id" in frame.columns
    own = pl.col("account_id").cast(pl.String) if has_own else pl.lit(None, pl.String)
    if contacts is None or "contact_id" not in frame.columns:
        if not has_own:
            raise ConfigError(
                f"an account-level funnel needs each {what} row's account: the {what} have no "
                "account_id column and no contacts table maps their contact_id to an account "
                "(give [inputs] contacts, or an account_id column)"
            )
        return frame.with_columns(own.alias("account_id"))
    mapping = (
        contacts.filter(pl.col("account_id").is_not_null())
        .select(
            pl.col("contact_id").cast(pl.String),
            pl.col("account_id").cast(pl.String).alias("_of_contact"),
        )
        .unique("contact_id", keep="first", maintain_order=True)
    )
    return (
        frame.with_columns(pl.col("contact_id").cast(pl.String))
        .join(mapping, on="contact_id", how="left", maintain_order="left")
        .with_columns(pl.coalesce(own, pl.col("_of_contact")).alias("account_id"))
        .drop("_of_contact")
    )


def funnel_key(
    frame: pl.DataFrame, key: str, level: str | None, contacts: pl.DataFrame | None
) -> tuple[pl.DataFrame, str]:
    """The stage events keyed for the funnel's level, and the key."""
    if level is not None and level not in LEVELS:
        raise ConfigError(f"the funnel's level must be one of {list(LEVELS)}; got {level!r}")
    if level == "account":
        return account_keyed(frame, contacts, "stage events"), "account_id"
    if level == "contact" and key != "contact_id":
        raise ConfigError(
            "a contact-level funnel needs the stage events' contact_id; the stages have "
            "account_id only (run at level account, or add the contact column)"
        )
    return frame, key


#: a deal's touches, from its entities' rows of the funnel's entities: the first touch of
#: any of them (its channel, when, whether marketing's) and the first marketing touch
_TOUCH_COLUMNS = ("channel", "_first_touch_at", "_first_is_marketing", "_first_marketing_at")


def deal_table(
    frame: pl.DataFrame, wide: pl.DataFrame, key: str, steps: list[str], lost: str
) -> tuple[pl.DataFrame, int]:
    """One row per deal, the columns of :func:`entities` (``_deal`` its id, ``_primary`` its
    primary entity, whose segment and account it takes; its touches: its entities' first),
    and the number of deals on several entities (the rules are in this module's
    docstring)."""
    rows = frame.filter(pl.col("stage").is_in([*steps[-2:], lost]) & pl.col(key).is_not_null())
    own_id = pl.lit("\x00") + pl.col(key).cast(pl.String)
    if "opportunity_id" in rows.columns:
        has_id = pl.col("opportunity_id").is_not_null()
        with_id = rows.filter(has_id).get_column(key).unique().implode()
        rows = rows.filter(has_id | ~pl.col(key).is_in(with_id))
        own_id = pl.coalesce(pl.col("opportunity_id").cast(pl.String), own_id)
    rows = rows.with_columns(own_id.alias("_deal"))
    pairs = rows.select("_deal", key).unique().join(wide, on=key, how="left")
    entity_of = (
        pairs.sort("_first_at", key, nulls_last=True)
        .group_by("_deal", maintain_order=True)
        .agg(
            pl.col(key).first().alias("_primary"),
            pl.len().alias("_entities"),
            *([pl.col("segment").first()] if "segment" in wide.columns else []),
            pl.col("_account").first().alias("_entity_account"),
        )
    )
    touched = [c for c in _TOUCH_COLUMNS if c in wide.columns]
    if touched:
        first_touch = (
            pairs.sort("_first_touch_at", key, nulls_last=True)
            .group_by("_deal")
            .agg(
                *[
                    pl.col(c).min() if c == "_first_marketing_at" else pl.col(c).first()
                    for c in touched
                ],
            )
        )
        entity_of = entity_of.join(first_touch, on="_deal", how="left", maintain_order="left")
    several = int((entity_of.get_column("_entities") > 1).sum())
    own_account = "account_id" in rows.columns
    deals = (
        entities(rows, "_deal", steps, lost)
        .join(entity_of.drop("_entities"), on="_deal", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce(
                pl.col("_account") if own_account else pl.lit(None, pl.String),
                pl.col("_entity_account"),
            ).alias("_account")
        )
        .drop("_entity_account")
    )
    return deals, several


def unit_lines(counts: dict[str, int], key: str) -> list[str]:
    """The summary's lines on the funnel's unit: stage events without the key (left out)
    and deals whose events are on several entities (counted once)."""
    unit = {"account_id": "accounts", "contact_id": "contacts"}.get(key, "entities")
    lines = []
    if without := counts.get("rows_without_key") or 0:
        lines.append(
            f"  Left out: {without:,} stage event(s) without "
            f"{'an' if key[0] in 'aeiou' else 'a'} {key}"
            + (" (no account of their own or of their contact)" if key == "account_id" else "")
            + ", as the run leaves them out of its journeys."
        )
    if several := counts.get("deals_on_several_entities") or 0:
        lines.append(
            f"  Deals counted once: {several:,} of {counts.get('deals', 0):,} deals have events "
            f"on several {unit}; the step rates above count {unit}, the deal KPIs below count "
            "each deal once (its sourced channel: the first touch of any of its entities)."
        )
    return lines
