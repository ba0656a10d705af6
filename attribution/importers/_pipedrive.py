"""Pipedrive exports (deals; optional persons and organizations) -> canonical tables.

Semantics (README, "From your CRM", "Pipedrive"):

* Pipedrive's deals export (Deals > ... > Export: ``Deal - ID``, ``Deal - Value``, ``Deal -
  Currency``, ``Deal - Status``, ``Deal - Deal created``, ``Deal - Won time``, ``Deal - Lost
  time``, ``Person - Email``, ``Organization - Name``, ...; the headers also without their
  ``Deal - `` prefix) has one row per deal. Each deal is an ``opportunity`` event at its
  creation and, by its status, a ``closed_won`` event at its won time or a ``closed_lost``
  event at its lost time (``Deal - Deal closed on`` where that time is blank); an open deal
  gives only ``opportunity``; a deleted deal is dropped and counted;
* *decision*: the contact is the deal person's **e-mail, trimmed and lower-cased** (the key
  the survey join and a web-analytics import's user ids use: ``Ann@Acme.com`` =
  ``ann@acme.com``); the account is the organization's name as Pipedrive writes it (one
  organization record, one spelling; an export giving only its id: the organizations
  export names it);
* Pipedrive writes times without an offset, in the exporting user's time zone: read as UTC
  unless ``--timezone`` names the zone (noted either way);
* amounts go through the importers' currency rules (``Deal - Currency``,
  ``--currency-rates``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from attribution.exceptions import SchemaError
from attribution.importers._currency import deal_amounts
from attribution.importers._emails import email_key, first_address, other_addresses
from attribution.importers._read import (
    LINE,
    Export,
    _refuse,
    count_close_dates,
    parse_close_dates,
    parse_timestamps,
    read_export,
)
from attribution.importers._result import ImportReport, ImportResult, begin, finish
from attribution.importers._shared import (
    closed_without_date,
    record_mapping,
    repeated_deals,
    self_reported,
    uncreated,
)
from attribution.inputs._reading import NAIVE_ZONE

DEAL_ID = ["Deal - ID", "ID", "Deal ID", "id"]
VALUE = ["Deal - Value", "Value", "value"]
STATUS = ["Deal - Status", "Status", "status"]
STAGE = ["Deal - Stage", "Stage", "stage", "Deal - Stage (pipeline)"]
CREATED = [
    "Deal - Deal created", "Deal created", "Deal - Add time", "Add time", "add_time",
    "Deal - Created", "Created",
]  # fmt: skip
WON = ["Deal - Won time", "Won time", "won_time"]
LOST = ["Deal - Lost time", "Lost time", "lost_time"]
CLOSED = ["Deal - Deal closed on", "Deal closed on", "Deal - Closed on", "close_time"]
#: a person's e-mail, the first non-blank of these columns (Pipedrive exports the person's
#: e-mails by label: Work, Home, Other)
EMAILS = [
    "Person - Email", "Person - Email - Work", "Person - Email (Work)", "Person - Email - Home",
    "Person - Email (Home)", "Person - Email - Other", "Person - Email (Other)",
    "Contact person - Email", "Email",
]  # fmt: skip
PERSON_ID = ["Deal - Contact person ID", "Contact person ID", "Person - ID", "person_id"]
PERSON_NAME = ["Deal - Contact person", "Contact person", "Person - Name"]
ORGANIZATION = [
    "Organization - Name", "Deal - Organization", "Organization", "Person - Organization",
    "org_name",
]  # fmt: skip
ORGANIZATION_ID = ["Deal - Organization ID", "Organization ID", "Organization - ID", "org_id"]
SOURCE = ["Deal - Source channel", "Source channel", "Deal - Source origin", "Source origin"]
#: ``Deal - Status`` (any case) -> the deal's outcome; ``deleted`` deals are dropped
STATUSES = {"won": "closed_won", "lost": "closed_lost", "open": "open", "deleted": "deleted"}


def import_pipedrive(
    deals: str | Path,
    *,
    persons: str | Path | None = None,
    organizations: str | Path | None = None,
    self_reported_column: str | None = None,
    timestamp_formats: Sequence[str] | None = None,
    decimal_comma: bool = False,
    currency_rates: str | Path | None = None,
    out: str | Path | None = None,
) -> ImportResult:
    """Import Pipedrive CSV exports into canonical stages and contacts (no touches: the web
    side comes from :func:`~attribution.import_ga4` or another touch log).

    Parameters
    ----------
    deals
        The deals export (one row per deal; English headers, with or without the ``Deal -
        `` prefix).
    persons
        The persons export (``Person - ID``, ``Person - Name``, ``Person - Email``, ``Person -
        Organization``): every person a contact (with an e-mail), and the e-mail of a deal
        whose export names its person only (``Deal - Contact person ID`` / name).
    organizations
        The organizations export (``Organization - ID``, ``Organization - Name``): names the
        organizations a file gives by id only.
    self_reported_column
        A deal or person field holding "How did you hear about us?": ``surveys``.
    timestamp_formats, decimal_comma, currency_rates, out
        As :func:`~attribution.import_hubspot`.
    """
    report, formats = begin(
        "pipedrive",
        timestamp_formats,
        decimal_comma=decimal_comma,
        free_text=self_reported_column,
        currency_rates=currency_rates,
    )
    deal = read_export(deals, "deals", free_text=report.free_text)
    people = read_export(persons, "persons", free_text=report.free_text) if persons else None
    orgs = read_export(organizations, "organizations") if organizations else None
    org_names = _organization_names(orgs, report)

    person_rows = _persons(people, org_names, report) if people is not None else None
    frame = _deals(deal, person_rows, org_names, report, formats)
    frame = frame.rename({"_org": "account_id"})
    stages = _events(frame)
    contact_frames = [frame.select("contact_id", "account_id", "email", "lead_source")]
    if person_rows is not None:
        contact_frames.insert(0, person_rows.rename({"_org": "account_id"}))
    people_rows = pl.concat(contact_frames, how="diagonal_relaxed").drop_nulls("contact_id")
    contacts = people_rows.group_by("contact_id", maintain_order=True).agg(
        pl.col(c).drop_nulls().first() for c in ("account_id", "email", "lead_source")
    )
    _several_organizations(report, people_rows)
    _notes(report, frame)
    surveys = None
    if self_reported_column:
        sources: list[tuple[Export, dict[str, pl.Expr]]] = [
            (deal, {"opportunity_id": pl.col(deal.require(DEAL_ID))})
        ]
        if people is not None:
            sources.append((people, {"contact_id": email_key(_email(people))}))
        surveys = self_reported(report, self_reported_column, sources)
    return finish(report, pl.DataFrame(), stages, contacts, surveys, out)


def _email(export: Export) -> pl.Expr:
    """The first non-blank of the export's e-mail columns (null without any)."""
    found = [c for c in export.frame.columns if c in _columns(export, EMAILS)]
    return pl.coalesce(*map(pl.col, found)) if found else pl.lit(None, pl.String)


def _columns(export: Export, aliases: Sequence[str]) -> list[str]:
    """Every column of ``export`` among ``aliases`` (as :meth:`Export.column` finds one)."""
    found = (export.column([alias], required=False) for alias in aliases)
    return list(dict.fromkeys(c for c in found if c is not None))


def _organization_names(orgs: Export | None, report: ImportReport) -> pl.DataFrame | None:
    """``(org_id, org_name)`` of the organizations export."""
    if orgs is None:
        return None
    oid = orgs.require(["Organization - ID", "ID", "Organization ID", "id"])
    name = orgs.require(["Organization - Name", "Name", "name"])
    report.read(orgs, {"account_id": oid, "name": name})
    # an id listed twice with one name is one organization; with two names, which one a
    # deal's organization is would be the file's row order: an error naming the lines
    named = pl.col(name).is_not_null() & pl.col(oid).is_not_null()
    _refuse(
        orgs,
        oid,
        named & (pl.col(name).filter(pl.col(name).is_not_null()).n_unique().over(oid) > 1),
        "{n} row(s) give one organization id two names, e.g. {example}",
        "give each organization id one name (the export lists an organization once)",
        "account_id",
    )
    return (
        orgs.frame.select(pl.col(oid).alias("org_id"), pl.col(name).alias("org_name"))
        .drop_nulls()
        .unique("org_id", keep="first", maintain_order=True)
    )


def _organization(export: Export, org_names: pl.DataFrame | None) -> tuple[pl.Expr, str | None]:
    """A row's organization name: its name column, else its organization id named by the
    organizations export (an id it lacks, or no export: the id itself)."""
    name = export.column(ORGANIZATION, required=False)
    if name is not None:
        return pl.col(name), name
    oid = export.column(ORGANIZATION_ID, required=False)
    if oid is None:
        return pl.lit(None, pl.String), None
    if org_names is None:
        return pl.col(oid), oid
    return (
        pl.col(oid).replace_strict(
            org_names.get_column("org_id"), org_names.get_column("org_name"), default=pl.col(oid)
        ),
        f"{oid} -> organizations' name",
    )


def _persons(
    people: Export, org_names: pl.DataFrame | None, report: ImportReport
) -> pl.DataFrame:
    """One row per person of the persons export: ``contact_id`` (the e-mail key),
    ``email``, ``_org``, and the lookup keys ``_person_id`` / ``_person_name``."""
    emails = _columns(people, EMAILS)
    pid = people.column(["Person - ID", "ID", "id"], required=False)
    name = people.column(["Person - Name", "Name", "name"], required=False)
    org, org_col = _organization(people, org_names)
    report.read(
        people,
        {"contact_id": " / ".join(emails) or None, "account_id": org_col, "person_id": pid},
    )
    if not emails:
        people.require(EMAILS)  # the error naming the file, with a did-you-mean
    _several_addresses(people, report)
    frame = people.frame.select(
        email_key(_email(people)).alias("contact_id"),
        first_address(_email(people)).alias("email"),
        org.alias("_org"),
        (pl.col(pid) if pid else pl.lit(None, pl.String)).alias("_person_id"),
        (pl.col(name) if name else pl.lit(None, pl.String)).alias("_person_name"),
    )
    missing = frame.get_column("contact_id").null_count()
    report.drop("persons", f"no e-mail in {' / '.join(map(repr, emails))}", missing)
    report.kept("persons", frame.height - missing)
    return frame


def _deals(
    deal: Export,
    persons: pl.DataFrame | None,
    org_names: pl.DataFrame | None,
    report: ImportReport,
    formats: Sequence[str],
) -> pl.DataFrame:
    """One row per kept deal: ``opportunity_id``, ``_outcome``, ``_created``, ``_closed``,
    ``value``, ``contact_id``, ``email``, ``_org``, ``lead_source``."""
    did = deal.require(DEAL_ID)
    status = deal.column(STATUS, required=False)
    created = deal.require(CREATED)
    won, lost = deal.column(WON, required=False), deal.column(LOST, required=False)
    closed = deal.column(CLOSED, required=False)
    if status is None and won is None and lost is None:
        deal.require(STATUS)  # nothing says which deals are won: the error, named
    amount = deal.column(VALUE, required=False)
    emails = _columns(deal, EMAILS)
    org, org_col = _organization(deal, org_names)
    source = deal.column(SOURCE, required=False)
    report.read(
        deal,
        {
            "opportunity_id": did,
            "status": status,
            "timestamp:opportunity": created,
            "timestamp:closed_won": won,
            "timestamp:closed_lost": lost,
            "timestamp:closed (where the won / lost time is blank)": closed,
            "value": amount,
            "contact_id": " / ".join(emails) or None,
            "account_id": org_col,
            "lead_source": source,
        },
    )
    outcome = _outcome(deal, status, won, lost)
    _several_addresses(deal, report)
    stamp = pl.lit(None, pl.Datetime("us", "UTC"))
    won_at = parse_close_dates(deal, won, formats, "timestamp") if won else stamp
    lost_at = parse_close_dates(deal, lost, formats, "timestamp") if lost else stamp
    closed_at = parse_close_dates(deal, closed, formats, "timestamp") if closed else stamp
    frame = deal.frame.select(
        pl.col(LINE).alias("_line"),
        pl.col(did).alias("opportunity_id"),
        outcome.alias("_outcome"),
        (pl.col(status) if status else outcome).alias("_status_raw"),
        parse_timestamps(deal, created, formats, "timestamp").alias("_created"),
        pl.when(outcome == "closed_won")
        .then(pl.coalesce(won_at, closed_at))
        .when(outcome == "closed_lost")
        .then(pl.coalesce(lost_at, closed_at))
        .alias("_closed"),
        deal_amounts(deal, amount, report).alias("value"),
        email_key(_email(deal)).alias("contact_id"),
        first_address(_email(deal)).alias("email"),
        org.alias("_org"),
        (pl.col(source) if source else pl.lit(None, pl.String)).alias("lead_source"),
        *_person_keys(deal),
    )
    record_mapping(report, "deal_status", frame, "_status_raw", "_outcome")
    if persons is not None:
        frame = _from_persons(frame, persons, report)
    if status is not None:
        _status_from_times(report, frame, status)
    frame = frame.drop("_person_id", "_person_name", "_status_raw", "_line")
    report.drop("deals", f"no deal id in '{did}'", frame.get_column("opportunity_id").null_count())
    frame = frame.filter(pl.col("opportunity_id").is_not_null())
    deleted = pl.col("_outcome") == "deleted"
    report.drop("deals", f"deleted deal ('{status}' deleted)", frame.select(deleted.sum()).item())
    frame = frame.filter(~deleted)
    nobody = pl.col("contact_id").is_null() & pl.col("_org").is_null()
    report.drop("deals", "no person e-mail and no organization", frame.select(nobody.sum()).item())
    frame = frame.filter(~nobody)
    report.kept("deals", frame.height)
    repeated_deals(report, "deals", frame, did, ["_outcome", "_created", "_closed", "value"])
    uncreated(report, "deals", created, frame.get_column("_created").null_count())
    when = won or lost or closed
    if when is not None:
        count_close_dates(report, deal, when, frame, "_closed", "_created", "_outcome")
    closed_without_date(report, "deals", frame, "_closed", when or "Won time / Lost time")
    return frame


def _outcome(deal: Export, status: str | None, won: str | None, lost: str | None) -> pl.Expr:
    """The deal's outcome: its ``Deal - Status`` (won, lost, open, deleted; any case; an
    unknown status is an error naming its lines); without a status column, or where the
    status is blank, won where a won time is given, else lost where a lost time is, else
    open (*decision*: the time is the evidence; a blank status so read is counted)."""
    has = [(c, s) for c, s in ((won, "closed_won"), (lost, "closed_lost")) if c]
    by_times: pl.Expr = pl.lit("open")
    for column, outcome in reversed(has):
        by_times = pl.when(pl.col(column).is_not_null()).then(pl.lit(outcome)).otherwise(by_times)
    if status is None:
        return by_times
    low = pl.col(status).str.to_lowercase()
    unknown = pl.col(status).is_not_null() & ~low.is_in(list(STATUSES))
    if n := deal.frame.select(unknown.sum()).item():
        example = deal.frame.filter(unknown).get_column(status).item(0)
        raise SchemaError(
            f"{n} deal status(es) other than won, lost, open or deleted, e.g. {example!r}, at "
            f"file line(s) {', '.join(map(str, deal.lines(unknown)))}",
            table="deals",
            source=deal.name,
            column=status,
            hint="export Pipedrive's own 'Status' field (won / lost / open / deleted)",
        )
    known = low.replace_strict(STATUSES, default=None, return_dtype=pl.String)
    return pl.when(pl.col(status).is_null()).then(by_times).otherwise(known)


def _person_keys(deal: Export) -> list[pl.Expr]:
    pid = deal.column(PERSON_ID, required=False)
    name = deal.column(PERSON_NAME, required=False)
    text = pl.lit(None, pl.String)
    return [
        (pl.col(pid) if pid else text).alias("_person_id"),
        (pl.col(name) if name else text).alias("_person_name"),
    ]


def _from_persons(frame: pl.DataFrame, persons: pl.DataFrame, report: ImportReport) -> pl.DataFrame:
    """Deals without an e-mail of their own take their person's from the persons export: by
    the person's id, else by a name only one person has (counted:
    ``counts.deals_email_from_persons``; names on several persons are not used)."""
    by_id = persons.drop_nulls("_person_id").unique("_person_id", keep="first")
    by_name = persons.drop_nulls("_person_name").filter(pl.col("_person_name").is_unique())
    found = (
        frame.join(
            by_id.select("_person_id", pl.col("contact_id").alias("_c1"),
                         pl.col("email").alias("_e1"), pl.col("_org").alias("_o1")),
            on="_person_id", how="left",
        )
        .join(
            by_name.select("_person_name", pl.col("contact_id").alias("_c2"),
                           pl.col("email").alias("_e2"), pl.col("_org").alias("_o2")),
            on="_person_name", how="left",
        )
    )  # fmt: skip
    missing = pl.col("contact_id").is_null()
    taken = found.select((missing & pl.coalesce("_c1", "_c2").is_not_null()).sum()).item()
    report.counts["deals_email_from_persons"] = int(taken)
    return found.with_columns(
        pl.coalesce("contact_id", "_c1", "_c2").alias("contact_id"),
        pl.coalesce("email", "_e1", "_e2").alias("email"),
        pl.coalesce("_org", "_o1", "_o2").alias("_org"),
    ).drop("_c1", "_c2", "_e1", "_e2", "_o1", "_o2")


def _events(frame: pl.DataFrame) -> pl.DataFrame:
    """``opportunity`` at the creation; ``closed_won`` / ``closed_lost`` at the close."""
    columns = ["contact_id", "account_id", "opportunity_id", "value", "lead_source"]
    opened = frame.filter(pl.col("_created").is_not_null()).select(
        pl.col("_created").alias("timestamp"), pl.lit("opportunity").alias("stage"), *columns
    )
    closed = frame.filter(
        pl.col("_outcome").is_in(["closed_won", "closed_lost"]) & pl.col("_closed").is_not_null()
    ).select(pl.col("_closed").alias("timestamp"), pl.col("_outcome").alias("stage"), *columns)
    return pl.concat([opened, closed])


def _notes(report: ImportReport, frame: pl.DataFrame) -> None:
    """The contact key and the time zone, said in the report (counted)."""
    no_email = frame.get_column("contact_id").null_count()
    report.counts["deals_without_person_email"] = int(no_email)
    if no_email:
        report.notes.append(
            f"deals: {no_email:,} deal(s) have no person e-mail: their events carry only the "
            "organization (a contact-level run counts them as missing_contact_id; at --level "
            "account they are the organization's)"
        )
    written = pl.col("email").str.strip_chars()
    cased = frame.filter(written.is_not_null() & (written != written.str.to_lowercase())).height
    report.counts["emails_lower_cased"] = cased
    report.notes.append(
        "contacts are keyed by the person's e-mail, trimmed and lower-cased"
        + (f" ({cased:,} deal e-mail(s) had capitals)" if cased else "")
        + ": web-analytics user ids that are e-mails are keyed the same way (attribution "
        "import ga4)"
    )
    if NAIVE_ZONE.get() is None:
        report.notes.append(
            "Pipedrive writes times without a time zone (in the exporting user's zone, "
            "Settings > Personal preferences): they were read as UTC; web analytics (GA4) is "
            "in UTC, so if the export is in another zone import again with --timezone ZONE "
            "(e.g. --timezone America/New_York)"
        )


def _status_from_times(report: ImportReport, frame: pl.DataFrame, status: str) -> None:
    """Count (``counts.deals_status_from_times``) and say the kept deals whose ``status`` is
    blank and whose won / lost time made them won / lost (:func:`_outcome`)."""
    kept = pl.col("opportunity_id").is_not_null()
    read = kept & pl.col("_status_raw").is_null() & (pl.col("_outcome") != "open")
    found = frame.filter(read)
    report.counts["deals_status_from_times"] = found.height
    if not found.height:
        return
    by = dict(found.group_by("_outcome").len().iter_rows())
    lines = ", ".join(map(str, found.get_column("_line").head(5)))
    report.notes.append(
        f"deals: {found.height:,} deal(s) with a blank '{status}' have a won / lost time, "
        f"read as won ({by.get('closed_won', 0):,}) or lost ({by.get('closed_lost', 0):,}) by "
        f"it (file line(s) {lines}): the time is the evidence of the outcome"
    )


def _several_addresses(export: Export, report: ImportReport) -> None:
    """Count (``counts.<file>_emails_with_several_addresses``) and say the e-mail cells that
    list several addresses: the first is the contact (:func:`email_key`), the others are
    not used."""
    others = other_addresses(_email(export))
    several = others > 0
    n, extra = export.frame.select(several.sum().alias("n"), others.sum().alias("x")).row(0)
    report.counts[f"{export.label}_emails_with_several_addresses"] = int(n)
    if n:
        example = export.frame.filter(several).select(_email(export)).item(0, 0)
        lines = ", ".join(map(str, export.lines(several)))
        report.notes.append(
            f"{export.label}: {n:,} e-mail cell(s) list several addresses (e.g. {example!r}, "
            f"file line(s) {lines}): the first is the person's contact key and e-mail; the "
            f"{extra:,} other address(es) are not used (a survey answer or a web login from "
            "one of them does not reach that person)"
        )


def _several_organizations(report: ImportReport, rows: pl.DataFrame) -> None:
    """Count (``counts.persons_on_several_organizations``) and say the persons whose
    persons-export row and deals name several organizations: ``contacts`` lists each under
    one (a contact belongs to one account; a run refuses one listed under two)."""
    several = (
        rows.drop_nulls("account_id")
        .group_by("contact_id", maintain_order=True)
        .agg(pl.col("account_id").unique(maintain_order=True))
        .filter(pl.col("account_id").list.len() > 1)
    )
    report.counts["persons_on_several_organizations"] = several.height
    if not several.height:
        return
    shown = "; ".join(
        f"{contact!r}: " + ", ".join(map(repr, accounts))
        for contact, accounts in several.head(3).iter_rows()
    )
    report.notes.append(
        f"contacts: {several.height:,} person(s) are on deals of several organizations (e.g. "
        f"{shown}): a contact belongs to one account, so contacts.parquet lists each under "
        "the first (the persons export's organization, else the first deal's); each deal's "
        "events keep their own organization, but at --level account the person's web "
        "touches join only the first organization's journey"
    )
