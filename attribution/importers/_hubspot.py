"""HubSpot exports (contacts, deals, optional engagements and companies) -> canonical tables.

Semantics (README, "From your CRM"):

* each lifecycle date column of a contact ("Became a Lead Date", ``Date entered "Lead
  (Lifecycle Stage Pipeline)"``, ``hs_lifecyclestage_lead_date``, ``hs_v2_date_entered_lead``)
  is a stage event of that contact: lead -> ``lead``, marketing qualified lead -> ``mql``,
  sales qualified lead -> ``sql``, opportunity -> ``opportunity``, customer -> ``customer``
  (not ``closed_won``: the deals give the wins, with their amounts), others in snake case;
* every deal is an opportunity (``opportunity_id`` = the deal's id) with, for each associated
  contact (``;``-separated ids; none: the company alone), an ``opportunity`` event at its
  create date and, when closed, ``closed_won`` / ``closed_lost`` (by "Is Closed Won", else
  the deal stage) at its close date, the amount as ``value``; the account is the deal's
  company, else the contact's;
* engagements / form submissions are touches of each associated contact: the channel from
  the UTM fields by the taxonomy rules, else the activity type; without an engagements file
  each contact's original source (at its create date) and latest source (at its date) are
  its touches;
* "Original Source" is kept in ``contacts.parquet`` as ``lead_source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from attribution.exceptions import InputError
from attribution.importers._currency import deal_amounts
from attribution.importers._hubspot_companies import (
    CONTACT_IDS,
    CREATE_DATE,
    companies_expr,
    note_other_companies,
)
from attribution.importers._hubspot_engagements import engagement_touches
from attribution.importers._hubspot_lifecycle import (
    customers_without_deals,
    lifecycle_columns,
    lifecycle_events,
)
from attribution.importers._hubspot_pipelines import PIPELINE, keep_pipelines, note_pipelines
from attribution.importers._hubspot_sources import drill_down_column, source_channels
from attribution.importers._read import (
    LINE,
    Export,
    count_close_dates,
    parse_booleans,
    parse_close_dates,
    parse_timestamps,
    read_export,
    split_ids,
    timestamp_expr,
)
from attribution.importers._result import ImportReport, ImportResult, begin, finish
from attribution.importers._shared import (
    EMAIL_COLUMNS,
    closed_by_stage,
    closed_without_date,
    note_open_with_close_date,
    note_unknown_roles,
    one_account,
    record_mapping,
    repeated_deals,
    repeated_ids,
    role_expr,
    self_reported,
    uncreated,
)

CONTACT_ID = ["Record ID", "Contact ID", "hs_object_id", "vid", "id"]
DEAL_ID = ["Record ID", "Deal ID", "hs_object_id", "dealId", "id"]
SOURCE = ["Original Source", "Original Traffic Source", "hs_analytics_source"]


def import_hubspot(
    contacts: str | Path,
    deals: str | Path | None = None,
    *,
    engagements: str | Path | None = None,
    companies: str | Path | None = None,
    self_reported_column: str | None = None,
    channel_rules: str | Path | None = None,
    timestamp_formats: Sequence[str] | None = None,
    decimal_comma: bool = False,
    currency_rates: str | Path | None = None,
    won_stages: Sequence[str] = (),
    lost_stages: Sequence[str] = (),
    open_stages: Sequence[str] = (),
    pipelines: Sequence[str] = (),
    out: str | Path | None = None,
) -> ImportResult:
    """Import HubSpot CSV exports into canonical touches, stages and contacts.

    Parameters
    ----------
    contacts, deals
        The contacts and deals exports (UI labels or API property names). A portal without
        deals (no deals export, or one with a header only): the customers are the
        contacts' "Became a Customer Date" events (``customer``), and the report's
        ``conversion_stage`` says to run with ``--conversion-stage customer``.
    engagements
        Activities / form submissions with UTM fields: the touches. Without it each
        contact's original and latest source are its touches.
    companies
        Companies export: maps company names to ids when the other files carry names only.
    self_reported_column
        A contact or deal property holding "How did you hear about us?": ``surveys``.
    channel_rules
        Taxonomy rules for UTM fields (default: the shipped rules).
    timestamp_formats
        strftime patterns tried in order, then ISO 8601 (default: US month/day/year with and
        without a 12-hour clock).
    decimal_comma
        Amounts are written with a decimal comma (``24.000,00``, ``1,5``); by default a
        decimal point (``24,000.00``). Either way a value of the other form is an error.
    currency_rates
        A CSV of ``currency,rate`` converting deal amounts in several currencies to the
        reporting currency (the one at rate 1); without it, amounts in several currencies
        are an error unless the export has the CRM's converted amount in one currency.
    won_stages, lost_stages, open_stages
        Deal stages that are won, lost or open whatever their names say (a custom or
        localised stage: ``Contract Signed``, ``Abgeschlossen und gewonnen``); needed for a
        stage named with both words or a negation (``Not won``), an error otherwise.
    pipelines
        Keep only the deals of these pipelines (``Pipeline``: ``--pipeline 'Sales
        Pipeline'``), e.g. new business without renewals; the others are a counted drop.
        Without it every deal is read, the deals per pipeline are reported and accounts
        winning again are noted.
    out
        When given, the import is also written there (see :meth:`ImportResult.write`).
    """
    report, formats = begin(
        "hubspot",
        timestamp_formats,
        decimal_comma=decimal_comma,
        free_text=self_reported_column,
        currency_rates=currency_rates,
    )
    con = read_export(contacts, "contacts", free_text=report.free_text)
    deal = (
        read_export(deals, "deals", free_text=report.free_text, allow_empty=True)
        if deals is not None
        else None
    )
    others = [deal] if deal is not None else []
    comp = read_export(companies, "companies") if companies is not None else None

    # contacts: the contact -> account table and the lifecycle stage events
    _refuse_deals_as_contacts(con)
    cid = con.require(CONTACT_ID)
    company, company_col = companies_expr(con, comp, report, others)
    role_col = con.column(["Buying Role", "hs_buying_role"], required=False)
    source_col = con.column(SOURCE, required=False)
    email_col = con.column(EMAIL_COLUMNS, required=False)
    lifecycle = lifecycle_columns(con)
    report.read(
        con,
        {
            "contact_id": cid,
            "account_id": company_col,
            "role": role_col,
            "lead_source": source_col,
            "email": email_col,
        },
    )
    no_id = con.frame.get_column(cid).null_count()
    report.drop("contacts", f"no contact id in '{cid}'", no_id)
    people = con.frame.filter(pl.col(cid).is_not_null())
    report.kept("contacts", people.height)
    repeated_ids(report, "contacts", people, cid)
    contact_rows = people.select(
        pl.col(cid).alias("contact_id"),
        company.alias("account_id"),
        (role_expr(role_col) if role_col else pl.lit(None, pl.String)).alias("role"),
        (pl.col(source_col) if source_col else pl.lit(None, pl.String)).alias("lead_source"),
        (pl.col(email_col) if email_col else pl.lit(None, pl.String)).alias("email"),
        *([pl.col(role_col).alias("_role_raw")] if role_col else []),
    )
    if role_col:
        record_mapping(report, "role", contact_rows, "_role_raw", "role")
        note_unknown_roles(report, "contacts", contact_rows, "_role_raw", role_col)
    contact_stages = lifecycle_events(con, people, cid, lifecycle, report, formats)

    accounts = one_account(contact_rows.select("contact_id", "account_id", "lead_source"))
    stages = (tuple(won_stages), tuple(lost_stages), tuple(open_stages))
    if deal is not None and deal.frame.height:
        deal_stages = _deals(deal, comp, con, accounts, report, formats, stages,
                             pipelines=tuple(pipelines))  # fmt: skip
    else:
        deal_stages = customers_without_deals(deal, contact_stages, report)
        deal = None
    touches = (
        engagement_touches(
            read_export(engagements, "engagements"),
            (con, cid),
            accounts,
            report,
            formats,
            channel_rules,
        )
        if engagements is not None
        else _source_touches(con, people, cid, source_col, contact_rows, report, formats,
                             channel_rules)  # fmt: skip
    )
    contacts_out = one_account(contact_rows.drop("_role_raw", strict=False))

    surveys = None
    if self_reported_column:
        sources: list[tuple[Export, dict[str, pl.Expr]]] = [
            (con, {"contact_id": pl.col(cid), "account_id": company})
        ]
        if deal is not None:
            deal_ids = deal.require(DEAL_ID)
            deal_company, _ = companies_expr(deal, comp, ImportReport("hubspot"), [con])
            sources.append((deal, {"opportunity_id": pl.col(deal_ids), "account_id": deal_company}))
        surveys = self_reported(report, self_reported_column, sources)
    return finish(
        report,
        touches,
        pl.concat([contact_stages, deal_stages], how="diagonal_relaxed"),
        contacts_out,
        surveys,
        out,
    )


#: a contacts export has one of these (a deals export none): e-mail, name, lifecycle, source
_CONTACT_MARKS = [*EMAIL_COLUMNS, "First Name", "Last Name", "firstname", "lastname",
                  "Lifecycle Stage", "lifecyclestage", *SOURCE]  # fmt: skip


def _refuse_deals_as_contacts(con: Export) -> None:
    """A deals export given as the contacts (new-user report 22, M6: it imported with exit 0
    into contacts that were deal ids and no touch, and the printed run then failed): a file
    with a deal stage column and none of a contact's columns (e-mail, name, lifecycle
    stage or dates, source) is an error naming it and the options."""
    stage = con.column(["Deal Stage", "dealstage"], required=False)
    if stage is None or lifecycle_columns(con) or con.column(_CONTACT_MARKS, required=False):
        return
    shown = [c for c in (stage, con.column(["Amount", "amount"], required=False),
                         con.column(["Close Date", "closedate"], required=False)) if c]  # fmt: skip
    raise InputError(
        f"this looks like a deals export, not a contacts one: it has "
        f"{', '.join(map(repr, shown))} and no e-mail, name, lifecycle or source column",
        table=con.label,
        source=con.name,
        hint="give the deals export as --deals and the contacts export (Contacts > Export, "
        "with Email, Create Date, Original Source and the lifecycle dates) as --contacts",
    )


def _deals(
    deal: Export,
    comp: Export | None,
    con: Export,
    accounts: pl.DataFrame,
    report: ImportReport,
    formats: Sequence[str],
    stages: tuple[Sequence[str], Sequence[str], Sequence[str]] = ((), (), ()),
    *,
    pipelines: Sequence[str] = (),
) -> pl.DataFrame:
    """Deal stage events: opportunity, closed_won / closed_lost, for each associated contact
    (``stages``: the deal stages given as won, lost and open; ``pipelines``: the pipelines
    kept, :mod:`attribution.importers._hubspot_pipelines`)."""
    did = deal.require(DEAL_ID)
    stage_col = deal.require(["Deal Stage", "dealstage"])
    created = deal.require(CREATE_DATE)
    closed = deal.require(["Close Date", "closedate"])
    amount = deal.column(["Amount", "amount"], required=False)
    if amount is None:
        report.notes.append(
            "deals: no 'Amount' column, so no deal has a value: revenue, ROI, LTV and the "
            "pipeline figures cannot be measured (export the Amount property)"
        )
    people = deal.column(CONTACT_IDS, required=False)
    won_col = deal.column(["Is Closed Won", "hs_is_closed_won"], required=False)
    source = deal.column(SOURCE, required=False)
    pipeline = deal.column(PIPELINE, required=False)
    company, company_col = companies_expr(deal, comp, report, [con])
    report.read(
        deal,
        {
            "opportunity_id": did,
            "stage": stage_col,
            "timestamp:opportunity": created,
            "timestamp:closed": closed,
            "value": amount,
            "contact_id": people,
            "account_id": company_col,
            "is_won": won_col,
            "lead_source": source or "the first associated contact's source",
            "pipeline": pipeline,
        },
    )
    deal = keep_pipelines(deal, pipeline, pipelines, report)
    by_stage = closed_by_stage(deal, stage_col, *stages)
    outcome: pl.Expr = by_stage
    if won_col is not None:
        won = parse_booleans(deal, won_col)
        outcome = pl.when(won).then(pl.lit("closed_won")).otherwise(by_stage)
    frame = deal.frame.select(
        pl.col(did).alias("opportunity_id"),
        LINE,
        pl.col(stage_col).alias("_stage_raw"),
        outcome.alias("_outcome"),
        parse_timestamps(deal, created, formats, "timestamp").alias("_created"),
        parse_close_dates(deal, closed, formats, "timestamp").alias("_closed"),
        deal_amounts(deal, amount, report).alias("value"),
        (split_ids(people) if people else pl.lit([], pl.List(pl.String))).alias("contact_id"),
        company.alias("_company"),
        (pl.col(source) if source else pl.lit(None, pl.String)).alias("_source"),
        (pl.col(pipeline) if pipeline else pl.lit(None, pl.String)).alias("_pipeline"),
    )
    # the deal's own source, else its first associated contact's
    first = accounts.select(
        pl.col("contact_id").alias("_first"), pl.col("lead_source").alias("_first_source")
    )
    frame = (
        frame.with_columns(pl.col("contact_id").list.first().alias("_first"))
        .join(first, on="_first", how="left")
        .with_columns(pl.coalesce("_source", "_first_source").alias("lead_source"))
        .drop("_first", "_first_source", "_source")
    )
    record_mapping(
        report,
        "deal_stage",
        frame.with_columns(pl.col("_outcome").fill_null("open")),
        "_stage_raw",
        "_outcome",
    )
    note_open_with_close_date(report, frame, "deals")
    report.drop("deals", f"no deal id in '{did}'", frame.get_column("opportunity_id").null_count())
    frame = frame.filter(pl.col("opportunity_id").is_not_null())
    orphan = (pl.col("contact_id").list.len() == 0) & pl.col("_company").is_null()
    report.drop("deals", "no associated contact and no company", frame.select(orphan.sum()).item())
    frame = frame.filter(~orphan)
    report.kept("deals", frame.height)
    repeated_deals(report, "deals", frame, did, ["_stage_raw", "_created", "_closed", "value"])
    uncreated(report, "deals", created, frame.get_column("_created").null_count())
    count_close_dates(report, deal, closed, frame, "_closed", "_created", "_outcome")
    closed_without_date(report, "deals", frame, "_closed", closed)
    won_no_amount = frame.filter(
        (pl.col("_outcome") == "closed_won") & pl.col("value").is_null()
    ).height
    if won_no_amount:
        report.notes.append(f"deals: {won_no_amount} won deal(s) without an amount (value missing)")
    per_contact = (
        frame.explode("contact_id", empty_as_null=True)  # no contact: the company alone
        .join(
            accounts.select("contact_id", pl.col("account_id").alias("_contact_account")),
            on="contact_id",
            how="left",
        )
        .with_columns(pl.coalesce("_company", "_contact_account").alias("account_id"))
    )
    note_other_companies(report, per_contact)
    note_pipelines(
        report,
        per_contact.group_by("opportunity_id", maintain_order=True).agg(
            pl.col("account_id").drop_nulls().first(),
            ((pl.col("_outcome") == "closed_won") & pl.col("_closed").is_not_null()).any()
            .alias("won"),
            pl.col("_closed").first(),
            pl.col("_pipeline").first(),
        ),
        pipeline,
    )
    unknown = (
        per_contact.drop_nulls("contact_id")
        .join(accounts, on="contact_id", how="anti")
        .get_column("contact_id")
        .n_unique()
    )
    if unknown:
        report.notes.append(
            f"deals: {unknown} associated contact id(s) are not in the contacts file (their "
            "deal events keep the deal's company; they have no lifecycle events)"
        )
    # (event kept where, at, stage): opened at the create date, won / lost at the close date
    events = [
        (pl.col("_created").is_not_null(), "_created", pl.lit("opportunity")),
        (
            pl.col("_outcome").is_not_null() & pl.col("_closed").is_not_null(),
            "_closed",
            pl.col("_outcome"),
        ),
    ]
    return pl.concat(
        per_contact.filter(kept).select(
            pl.col(at).alias("timestamp"),
            stage.alias("stage"),
            "contact_id",
            "account_id",
            "opportunity_id",
            "value",
            "lead_source",
        )
        for kept, at, stage in events
    )


def _source_touches(
    con: Export,
    people: pl.DataFrame,
    cid: str,
    source_col: str | None,
    contact_rows: pl.DataFrame,
    report: ImportReport,
    formats: Sequence[str],
    channel_rules: str | Path | None = None,
) -> pl.DataFrame:
    """Without engagements: a contact's original source at its create date and its latest
    source at the latest source date are its touches (a Referrals drill-down host's channel
    by ``channel_rules``' host rules)."""
    created = con.column(CREATE_DATE, required=False)
    latest = con.column(
        ["Latest Source", "Latest Traffic Source", "hs_latest_source"], required=False
    )
    latest_at = con.column(
        ["Latest Source Date", "Latest Traffic Source Date", "hs_latest_source_timestamp"],
        required=False,
    )
    pairs = [(source_col, created, "original_source"), (latest, latest_at, "latest_source")]
    frames, drills = [], []
    for src, at, kind in pairs:
        if src is None:
            continue
        # a source value without its date is no touch: counted and said, never silent
        undated = pl.col(src).is_not_null() & (
            timestamp_expr(at, formats).is_null() if at is not None else pl.lit(True)
        )
        _undated_sources(report, kind, src, at, people.select(undated.sum()).item())
        if at is None:
            continue
        report.files["contacts"]["columns"][f"touch:{kind}"] = f"{src} @ {at}"
        drill = drill_down_column(con, kind)
        if drill is not None:
            report.files["contacts"]["columns"][f"touch:{kind}_drill_down"] = drill
            drills.append(drill)
        parse_timestamps(con, at, formats, "timestamp")
        frames.append(
            people.select(
                (pl.col(cid) + f":{kind}").alias("touch_id"),
                timestamp_expr(at, formats).alias("timestamp"),
                pl.col(src).alias("_source"),
                (pl.col(drill) if drill else pl.lit(None, pl.String)).alias("_drill"),
                pl.col(cid).alias("contact_id"),
                pl.lit(kind).alias("touch_type"),
            ).drop_nulls(["timestamp", "_source"])
        )
    if not frames:
        report.notes.append(
            "no engagements file and no source columns ('Original Source' + 'Create Date'): "
            "no touches"
        )
        return pl.DataFrame()
    report.notes.append(
        "no engagements file: each contact's original source (at its create date) and latest "
        "source (at the latest source date) are its touches"
    )
    touches = source_channels(
        pl.concat(frames).unique(
            ["contact_id", "timestamp", "_source"], keep="first", maintain_order=True
        ),
        report,
        drills,
        channel_rules,
    )
    accounts = contact_rows.select("contact_id", "account_id").unique("contact_id")
    return touches.join(accounts, on="contact_id", how="left").drop("_source")


def _undated_sources(
    report: ImportReport, kind: str, source: str, at: str | None, count: int
) -> None:
    """Count (``counts.<kind>_without_date``) and note the contacts whose ``source`` value
    has no date in ``at`` (or no date column at all): they give no touch."""
    report.counts[f"{kind}_without_date"] = int(count)
    if count:
        where = f"no date in '{at}'" if at is not None else "no date column for it"
        report.notes.append(
            f"contacts: {count:,} {kind.replace('_', ' ')} value(s) in '{source}' have {where}: "
            "no touch for them"
        )
