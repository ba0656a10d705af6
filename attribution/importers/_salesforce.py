"""Salesforce exports (Data Loader or report CSVs) -> canonical tables.

Semantics (README, "From your CRM"):

* a CampaignMember that responded (``HasResponded`` true) is a touch at its
  ``FirstRespondedDate`` (a responder without one: at ``CreatedDate``, counted); its channel is
  the campaign's type (``Campaign.Type`` on the member, else ``Type`` of the Campaign file); a
  non-responder is dropped and counted, or, with ``include_non_responders``, a touch at its
  ``CreatedDate``;
* an Opportunity gives an ``opportunity`` event at ``CreatedDate`` and, once closed,
  ``closed_won`` / ``closed_lost`` (``IsWon`` / ``IsClosed``, else ``StageName``) at
  ``CloseDate``, with ``Amount`` as ``value``, for each of its contacts (OpportunityContactRole,
  else the Opportunity's ``ContactId``, else its account alone);
* OpportunityContactRole roles become our roles (``_shared.ROLE_MAP``);
* OpportunityHistory, when given, adds every open stage change (``StageName`` in snake case at
  ``CreatedDate``); its closed stages are left to the Opportunity's ``CloseDate``;
* Lead: ``ConvertedContactId`` maps a lead id to its contact (campaign members and answers
  keyed by lead follow it), and each lead is a ``lead`` event at its ``CreatedDate``;
* a contact without an account in the Contact or Lead file takes its deals' ``AccountId``
  (``_salesforce_accounts``); a report export's footer is left out (``_salesforce_read``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from attribution.exceptions import ColumnNotFoundError
from attribution.importers._currency import deal_amounts
from attribution.importers._read import (
    LINE,
    Export,
    count_close_dates,
    parse_booleans,
    parse_close_dates,
    parse_timestamps,
)
from attribution.importers._result import ImportReport, ImportResult, begin, finish
from attribution.importers._salesforce_accounts import (
    MEMBER_ACCOUNT,
    deal_accounts,
    member_accounts,
    person,
)
from attribution.importers._salesforce_history import history_events
from attribution.importers._salesforce_members import one_member_per_person
from attribution.importers._salesforce_read import read_salesforce
from attribution.importers._shared import (
    EMAIL_COLUMNS,
    best_role,
    campaign_channel_expr,
    closed_by_stage,
    closed_without_date,
    note_open_with_close_date,
    note_unknown_roles,
    one_account,
    record_mapping,
    repeated_deals,
    repeated_ids,
    role_expr,
    role_rank,
    row_ids,
    self_reported,
    uncreated,
)

_NULL = pl.lit(None, pl.String)
_EMPTY_MAP = pl.DataFrame(schema={"_from": pl.String, "_to": pl.String})


def _col(column: str | None) -> pl.Expr:
    return pl.col(column) if column is not None else _NULL


def import_salesforce(
    campaign_members: str | Path,
    opportunities: str | Path,
    *,
    contact_roles: str | Path | None = None,
    contacts: str | Path | None = None,
    campaigns: str | Path | None = None,
    opportunity_history: str | Path | None = None,
    leads: str | Path | None = None,
    include_non_responders: bool = False,
    self_reported_column: str | None = None,
    timestamp_formats: Sequence[str] | None = None,
    decimal_comma: bool = False,
    currency_rates: str | Path | None = None,
    won_stages: Sequence[str] = (),
    lost_stages: Sequence[str] = (),
    open_stages: Sequence[str] = (),
    out: str | Path | None = None,
) -> ImportResult:
    """Import Salesforce CSV exports into canonical touches, stages and contacts.

    Parameters
    ----------
    campaign_members, opportunities
        CampaignMember and Opportunity exports (API names such as ``FirstRespondedDate`` or
        report labels such as "First Responded Date").
    contact_roles, contacts, campaigns, opportunity_history, leads
        OpportunityContactRole (a deal's contacts and roles), Contact (contact -> account,
        ``LeadSource``), Campaign (``Type`` when the members do not carry
        ``Campaign.Type``), OpportunityHistory (every stage change) and Lead (lead ->
        converted contact, lead events).
    include_non_responders
        Campaign members who did not respond are touches at their ``CreatedDate`` instead of
        being dropped (and counted).
    self_reported_column
        An Opportunity, Contact or Lead field holding "How did you hear about us?":
        ``surveys``.
    timestamp_formats
        strftime patterns tried in order, then ISO 8601 (default: US ``2/21/2025 1:19 PM`` and its
        variants).
    decimal_comma
        Amounts are written with a decimal comma (``24.000,00``, ``1,5``); by default a
        decimal point (``24,000.00``). Either way a value of the other form is an error.
    currency_rates
        A CSV of ``currency,rate`` converting deal amounts in several currencies to the
        reporting currency (the one at rate 1); without it, amounts in several currencies
        are an error unless the export has the CRM's converted amount in one currency.
    won_stages, lost_stages, open_stages
        ``StageName`` values that are won, lost or open whatever their names say (read
        when the export has no ``IsWon``); as :func:`attribution.import_hubspot`.
    out
        When given, the import is also written there (see :meth:`ImportResult.write`).
    """
    report, formats = begin(
        "salesforce",
        timestamp_formats,
        decimal_comma=decimal_comma,
        free_text=self_reported_column,
        currency_rates=currency_rates,
    )
    members = read_salesforce(campaign_members, "campaign_members", report)
    opps = read_salesforce(opportunities, "opportunities", report)
    lead = read_salesforce(leads, "leads", report) if leads is not None else None
    con = read_salesforce(contacts, "contacts", report) if contacts is not None else None

    lead_map, lead_stages, lead_contacts = _leads(lead, report, formats)
    contact_rows = _contacts(con, report)
    given = (tuple(won_stages), tuple(lost_stages), tuple(open_stages))
    opp_frame, opp_stages = _opportunities(opps, report, formats, given)
    role_rows = pl.DataFrame(
        schema={"contact_id": pl.String, "opportunity_id": pl.String, "role": pl.String}
    )
    if contact_roles is not None:
        role_rows = _contact_roles(
            read_salesforce(contact_roles, "contact_roles", report), lead_map, report
        )
    from_members = member_accounts(members, lead_map, contact_rows, lead_contacts, report)
    known = pl.concat(
        [contact_rows.select("contact_id", "account_id"), lead_contacts, from_members]
    )
    from_deals = deal_accounts(opp_frame, role_rows, known, report)
    accounts = one_account(pl.concat([known, from_deals]))
    touches = _members(
        members, campaigns, lead_map, accounts, report, formats, include_non_responders
    )
    stages = _deal_events(opp_frame, opp_stages, role_rows, accounts, report)
    if opportunity_history is not None:
        history = history_events(
            read_salesforce(opportunity_history, "opportunity_history", report),
            report,
            formats,
            given,
        )
        # a change of an opportunity the Opportunity export does not hold gives no event
        orphan = ~pl.col("opportunity_id").is_in(opp_frame.get_column("opportunity_id").implode())
        orphans = history.select(orphan.sum()).item()
        report.drop("opportunity_history", "opportunity not in the Opportunity export", orphans)
        report.kept("opportunity_history", history.height - orphans)
        history = history.filter(~orphan)
        stages = pl.concat(
            [stages, _deal_events(opp_frame, history, role_rows, accounts, report, count=False)]
        )
    stages = pl.concat([stages, lead_stages], how="diagonal_relaxed")

    people = pl.concat(
        [
            contact_rows,
            lead_contacts.with_columns(role=_NULL, lead_source=_NULL),
            from_members.with_columns(role=_NULL, lead_source=_NULL),
            from_deals.with_columns(role=_NULL, lead_source=_NULL),
            role_rows.select("contact_id", account_id=_NULL, role=_NULL, lead_source=_NULL),
        ],
        how="diagonal_relaxed",
    )
    contacts_out = one_account(people.drop("role")).join(
        best_role(role_rows), on="contact_id", how="left"
    )

    surveys = None
    if self_reported_column:
        sources: list[tuple[Export, dict[str, pl.Expr]]] = [
            (opps, {"opportunity_id": pl.col(opps.require(["Id", "Opportunity ID"]))}),
        ]
        if con is not None:
            sources.append((con, {"contact_id": pl.col(con.require(["Id", "Contact ID"]))}))
        if lead is not None:
            lid = lead.require(["Id", "Lead ID"])
            sources.append(
                (
                    lead,
                    {"contact_id": person(lead_map, _NULL, pl.col(lid))},
                )
            )
        surveys = self_reported(report, self_reported_column, sources)
    return finish(report, touches, stages, contacts_out, surveys, out)


def _leads(
    lead: Export | None, report: ImportReport, formats: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Lead id -> converted contact id (``_from``, ``_to``), ``lead`` events and the leads'
    (contact, account) rows."""
    empty_people = pl.DataFrame(schema={"contact_id": pl.String, "account_id": pl.String})
    if lead is None:
        return _EMPTY_MAP, pl.DataFrame(), empty_people
    lid = lead.require(["Id", "Lead ID"])
    converted = lead.column(
        ["ConvertedContactId", "Converted Contact ID", "Converted Contact"], required=False
    )
    account = lead.column(["ConvertedAccountId", "Converted Account ID"], required=False)
    created = lead.column(["CreatedDate", "Created Date", "Create Date"], required=False)
    report.read(
        lead, {"lead_id": lid, "contact_id": converted, "account_id": account, "timestamp": created}
    )
    report.drop("leads", f"no lead id in '{lid}'", lead.frame.get_column(lid).null_count())
    frame = lead.frame.filter(pl.col(lid).is_not_null()).select(
        pl.col(lid).alias("_from"),
        _col(converted).alias("_to"),
        pl.coalesce(_col(converted), pl.col(lid)).alias("contact_id"),
        _col(account).alias("account_id"),
        (
            parse_timestamps(lead, created, formats, "timestamp")
            if created
            else pl.lit(None, pl.Datetime("us", "UTC"))
        ).alias("timestamp"),
    )
    report.kept("leads", frame.height)
    mapping = frame.select("_from", "_to").drop_nulls().unique("_from", keep="first")
    events = frame.drop_nulls("timestamp").select(
        "timestamp", pl.lit("lead").alias("stage"), "contact_id", "account_id"
    )
    if created is None:
        report.notes.append("leads: no CreatedDate column: no lead events")
    return mapping, events, frame.select("contact_id", "account_id")


def _contacts(con: Export | None, report: ImportReport) -> pl.DataFrame:
    if con is None:
        return pl.DataFrame(
            schema={
                "contact_id": pl.String,
                "account_id": pl.String,
                "role": pl.String,
                "lead_source": pl.String,
                "email": pl.String,
            }
        )
    cid = con.require(["Id", "Contact ID"])
    account = con.column(["AccountId", "Account ID"], required=False)
    source = con.column(["LeadSource", "Lead Source"], required=False)
    email = con.column(EMAIL_COLUMNS, required=False)
    report.read(
        con, {"contact_id": cid, "account_id": account, "lead_source": source, "email": email}
    )
    report.drop("contacts", f"no contact id in '{cid}'", con.frame.get_column(cid).null_count())
    rows = con.frame.filter(pl.col(cid).is_not_null())
    report.kept("contacts", rows.height)
    repeated_ids(report, "contacts", rows, cid)
    return rows.select(
        pl.col(cid).alias("contact_id"),
        _col(account).alias("account_id"),
        _NULL.alias("role"),
        _col(source).alias("lead_source"),
        _col(email).alias("email"),
    )


def _members(
    members: Export,
    campaigns: str | Path | None,
    lead_map: pl.DataFrame,
    accounts: pl.DataFrame,
    report: ImportReport,
    formats: Sequence[str],
    include_non_responders: bool,
) -> pl.DataFrame:
    """Campaign members -> touches."""
    mid = members.column(["Id", "Campaign Member ID"], required=False)
    contact = members.column(["ContactId", "Contact ID"], required=False)
    lead_id = members.column(["LeadId", "Lead ID"], required=False)
    campaign_id = members.column(["CampaignId", "Campaign ID"], required=False)
    responded = members.column(["HasResponded", "Responded", "Has Responded"], required=False)
    first = members.require(["FirstRespondedDate", "First Responded Date", "First Responded"])
    created = members.column(
        ["CreatedDate", "Created Date", "Member First Associated"], required=False
    )
    status = members.column(["Status", "Member Status"], required=False)
    kind = members.column(["Campaign.Type", "Campaign Type"], required=False)
    name = members.column(["Campaign.Name", "Campaign Name"], required=False)
    members.require_either(
        {"ContactId": contact, "LeadId": lead_id},
        hint="export the members' ContactId and LeadId fields",
    )
    frame = members.frame
    if kind is None:
        if campaigns is None or campaign_id is None:
            raise ColumnNotFoundError(
                "the campaign type is needed for the channel: no 'Campaign.Type' / "
                "'Campaign Type' column",
                table="campaign_members",
                source=members.name,
                column="Campaign.Type",
                hint="export Campaign.Type with the members, or give the Campaign file "
                "(--campaigns Campaign.csv) and the members' CampaignId",
            )
        camp = read_salesforce(campaigns, "campaigns", report)
        camp_id = camp.require(["Id", "Campaign ID"])
        camp_type = camp.require(["Type", "Campaign Type"])
        camp_name = camp.column(["Name", "Campaign Name"], required=False)
        report.read(camp, {"campaign_id": camp_id, "channel": camp_type, "campaign": camp_name})
        lookup = camp.frame.select(
            pl.col(camp_id).alias(campaign_id),
            pl.col(camp_type).alias("_campaign_type"),
            _col(camp_name).alias("_campaign_name"),
        ).unique(campaign_id, keep="first")
        frame = frame.join(lookup, on=campaign_id, how="left")
        kind = "_campaign_type"
        name_label = name or f"Campaign file: {camp_name}"
        name = name or "_campaign_name"
        unknown = frame.filter(
            pl.col(campaign_id).is_not_null()
            & ~pl.col(campaign_id).is_in(lookup.get_column(campaign_id).implode())
        ).height
        if unknown:
            report.notes.append(
                f"campaign_members: {unknown} member(s) of campaigns not in the Campaign file "
                "(channel 'other')"
            )
    report.read(
        members,
        {
            "touch_id": mid,
            "contact_id": contact,
            "lead_id": lead_id,
            "account_id": members.column(MEMBER_ACCOUNT, required=False),
            "campaign_id": campaign_id,
            "has_responded": responded,
            "timestamp": first,
            "timestamp:non_responders": created,
            "touch_type": status,
            "channel": kind if kind != "_campaign_type" else "Campaign file: Type",
            "campaign": name if kind != "_campaign_type" else name_label,
        },
    )
    frame = one_member_per_person(frame, campaign_id, [contact, lead_id], [first, created], report)
    checked = Export(members.label, members.path, frame)
    did_respond = parse_booleans(checked, responded) if responded else pl.col(first).is_not_null()
    first_at = parse_timestamps(checked, first, formats, "timestamp")
    created_at = (
        parse_timestamps(checked, created, formats, "timestamp")
        if created
        else pl.lit(None, pl.Datetime("us", "UTC"))
    )
    touches = frame.select(
        row_ids(mid, "campaign-member").alias("touch_id"),
        person(lead_map, _col(contact), _col(lead_id)).alias("contact_id"),
        did_respond.fill_null(False).alias("_responded"),
        first_at.alias("_first"),
        created_at.alias("_created"),
        _col(status).alias("touch_type"),
        _col(name).alias("campaign"),
        pl.col(kind).alias("_type"),
        campaign_channel_expr(kind),
    )
    no_person = touches.get_column("contact_id").null_count()
    report.drop("campaign_members", "no ContactId and no LeadId", no_person)
    touches = touches.filter(pl.col("contact_id").is_not_null())
    silent = touches.filter(~pl.col("_responded")).height
    if include_non_responders:
        report.notes.append(f"campaign_members: {silent} non-responder(s) included at CreatedDate")
    else:
        reason = (
            f"did not respond ({responded} false)"
            if responded
            else f"did not respond (no HasResponded column, and no {first})"
        )
        report.drop("campaign_members", reason, silent)
        touches = touches.filter(pl.col("_responded"))
    late = touches.filter(
        pl.col("_responded") & pl.col("_first").is_null() & pl.col("_created").is_not_null()
    ).height
    if late:
        report.notes.append(
            f"campaign_members: {late} responder(s) without FirstRespondedDate, placed at "
            "CreatedDate"
        )
    touches = touches.with_columns(
        pl.when(pl.col("_responded"))
        .then(pl.coalesce("_first", "_created"))
        .otherwise("_created")
        .alias("timestamp")
    )
    report.drop(
        "campaign_members",
        "no date (FirstRespondedDate / CreatedDate)",
        touches.get_column("timestamp").null_count(),
    )
    touches = touches.filter(pl.col("timestamp").is_not_null())
    report.kept("campaign_members", touches.height)
    no_type = touches.get_column("_type").null_count()
    if no_type:
        report.notes.append(
            f"campaign_members: {no_type} touch(es) without a campaign type (channel 'other')"
        )
    record_mapping(report, "channel (campaign type)", touches, "_type", "channel")
    return touches.join(accounts, on="contact_id", how="left").drop(
        "_responded", "_first", "_created", "_type"
    )


def _opportunities(
    opps: Export,
    report: ImportReport,
    formats: Sequence[str],
    stages: tuple[Sequence[str], Sequence[str], Sequence[str]] = ((), (), ()),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The opportunities (id, account, contact, amount) and their own events."""
    oid = opps.require(["Id", "Opportunity ID"])
    created = opps.require(["CreatedDate", "Created Date"])
    close = opps.require(["CloseDate", "Close Date"])
    stage = opps.column(["StageName", "Stage"], required=False)
    won = opps.column(["IsWon", "Won"], required=False)
    closed = opps.column(["IsClosed", "Closed"], required=False)
    amount = opps.column(["Amount"], required=False)
    if amount is None:
        report.notes.append(
            "opportunities: no 'Amount' column, so no deal has a value: revenue, ROI, LTV and "
            "the pipeline figures cannot be measured (export the Amount field)"
        )
    account = opps.column(["AccountId", "Account ID"], required=False)
    contact = opps.column(["ContactId", "Contact ID"], required=False)
    source = opps.column(["LeadSource", "Lead Source"], required=False)
    opps.require_either({"IsWon": won, "StageName": stage}, " to tell won from lost")
    report.read(
        opps,
        {
            "opportunity_id": oid,
            "timestamp:opportunity": created,
            "timestamp:closed": close,
            "stage": stage,
            "is_won": won,
            "is_closed": closed,
            "value": amount,
            "account_id": account,
            "contact_id": contact,
            "lead_source": source,
        },
    )
    outcome: pl.Expr
    by_name = closed_by_stage(opps, stage, *stages) if stage else pl.lit(None, pl.String)
    if won is not None:
        is_won = parse_booleans(opps, won)
        is_closed = parse_booleans(opps, closed) if closed else by_name.is_not_null() | is_won
        outcome = (
            pl.when(is_won).then(pl.lit("closed_won")).when(is_closed).then(pl.lit("closed_lost"))
        )
    else:
        outcome = by_name
    frame = opps.frame.select(
        pl.col(oid).alias("opportunity_id"),
        LINE,
        _col(account).alias("_opp_account"),
        _col(contact).alias("_opp_contact"),
        _col(source).alias("lead_source"),
        deal_amounts(opps, amount, report).alias("value"),
        parse_timestamps(opps, created, formats, "timestamp").alias("_created"),
        parse_close_dates(opps, close, formats, "timestamp").alias("_close"),
        outcome.alias("_outcome"),
        _col(stage).alias("_stage_raw"),
    )
    if stage:  # the key the CLI prints ('deal stages: ...'), as HubSpot's
        record_mapping(
            report,
            "deal_stage",
            frame.with_columns(pl.col("_outcome").fill_null("open")),
            "_stage_raw",
            "_outcome",
        )
        note_open_with_close_date(report, frame.rename({"_close": "_closed"}), "opportunities")
    report.drop(
        "opportunities",
        f"no opportunity id in '{oid}'",
        frame.get_column("opportunity_id").null_count(),
    )
    frame = frame.filter(pl.col("opportunity_id").is_not_null())
    report.kept("opportunities", frame.height)
    repeated_deals(
        report, "opportunities", frame, oid, ["_stage_raw", "_created", "_close", "value"]
    )
    uncreated(report, "opportunities", created, frame.get_column("_created").null_count())
    count_close_dates(report, opps, close, frame, "_close", "_created", "_outcome")
    closed_without_date(report, "opportunities", frame, "_close", close)
    events = pl.concat(
        [
            frame.filter(pl.col("_created").is_not_null()).select(
                "opportunity_id",
                pl.col("_created").alias("timestamp"),
                pl.lit("opportunity").alias("stage"),
            ),
            frame.filter(pl.col("_outcome").is_not_null() & pl.col("_close").is_not_null()).select(
                "opportunity_id",
                pl.col("_close").alias("timestamp"),
                pl.col("_outcome").alias("stage"),
            ),
        ]
    )
    kept = frame.select("opportunity_id", "_opp_account", "_opp_contact", "value", "lead_source")
    return kept, events


def _contact_roles(roles: Export, lead_map: pl.DataFrame, report: ImportReport) -> pl.DataFrame:
    oid = roles.require(["OpportunityId", "Opportunity ID"])
    cid = roles.require(["ContactId", "Contact ID"])
    role = roles.column(["Role", "Contact Role"], required=False)
    report.read(roles, {"opportunity_id": oid, "contact_id": cid, "role": role})
    frame = roles.frame.select(
        pl.col(oid).alias("opportunity_id"),
        person(lead_map, pl.col(cid), _NULL).alias("contact_id"),
        (role_expr(role) if role else _NULL).alias("role"),
        _col(role).alias("_role_raw"),
    )
    incomplete = frame.select(
        pl.any_horizontal(pl.col("opportunity_id", "contact_id").is_null()).sum()
    ).item()
    report.drop("contact_roles", "no OpportunityId or no ContactId", incomplete)
    frame = frame.drop_nulls(["opportunity_id", "contact_id"])
    if role:
        record_mapping(report, "role", frame, "_role_raw", "role")
        note_unknown_roles(report, "contact_roles", frame, "_role_raw", role)
    # a contact with two roles on one opportunity is one row: its higher role (as a contact
    # on several deals keeps its highest), the other counted
    one = frame.drop("_role_raw").sort(role_rank(), maintain_order=True).unique(
        ["opportunity_id", "contact_id"], keep="first", maintain_order=True
    )
    report.drop(
        "contact_roles",
        "a second role of one contact on one opportunity (merged: the higher role kept)",
        frame.height - one.height,
    )
    report.kept("contact_roles", one.height)
    return one


def _deal_events(
    opps: pl.DataFrame,
    events: pl.DataFrame,
    roles: pl.DataFrame,
    accounts: pl.DataFrame,
    report: ImportReport,
    *,
    count: bool = True,
) -> pl.DataFrame:
    """An opportunity's events for each of its contacts (roles, else its ``ContactId``, else
    its account alone); the account is the opportunity's, else the contact's."""
    with_roles = opps.join(
        roles.select("opportunity_id", "contact_id"), on="opportunity_id", how="left"
    )
    people = with_roles.with_columns(pl.coalesce("contact_id", "_opp_contact").alias("contact_id"))
    people = people.join(
        accounts.rename({"account_id": "_contact_account"}), on="contact_id", how="left"
    )
    people = people.with_columns(
        pl.coalesce("_opp_account", "_contact_account").alias("account_id")
    )
    nobody = pl.col("contact_id").is_null() & pl.col("account_id").is_null()
    if count:
        orphans = people.filter(nobody).select("opportunity_id").unique().height
        report.drop("opportunities", "no contact (roles, ContactId) and no AccountId", orphans)
        report.kept("opportunities", opps.height - orphans)
        if roles.height:
            unknown = roles.join(opps, on="opportunity_id", how="anti").height
            report.drop("contact_roles", "opportunity not in the Opportunity file", unknown)
            report.kept("contact_roles", roles.height - unknown)
    return events.join(people.filter(~nobody), on="opportunity_id", how="inner").select(
        "timestamp", "stage", "contact_id", "account_id", "opportunity_id", "value", "lead_source"
    )
