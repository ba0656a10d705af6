"""``attribution import hubspot`` / ``attribution import salesforce``: CRM exports -> the
canonical tables and an import report, in one directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from attribution.cli._app import EXIT_EMPTY, STOPS, OnceGroup, app, console, fail, interrupted
from attribution.exceptions import AttributionError, ConfigError, EmptyResultError, InputError
from attribution.importers import (
    ImportFiles,
    ImportResult,
    SpendImport,
    import_ads,
    import_ga4,
    import_hubspot,
    import_pipedrive,
    import_salesforce,
)
from attribution.importers._ads import SPEND_FILE
from attribution.importers._result import nothing_kept
from attribution.inputs._formats import check_timezone
from attribution.inputs._reading import naive_zone

group = typer.Typer(
    cls=OnceGroup,
    no_args_is_help=True,
    help="Import CRM exports (HubSpot, Salesforce, Pipedrive), GA4 events and ad-platform "
    "reports into touches, stages, contacts and spend.",
)
app.add_typer(group, name="import")

ImportOut = Annotated[
    Path, typer.Option("--out", "-o", help="New directory for the import (must not exist)")
]
SelfReported = Annotated[
    str | None,
    typer.Option(
        "--self-reported",
        help="Column holding 'How did you hear about us?': writes surveys.parquet",
    ),
]
Formats = Annotated[
    list[str] | None,
    typer.Option(
        "--timestamp-format",
        help="strftime pattern for dates, tried before ISO 8601 (repeat for several, tried in "
        "order; default: US %m/%d/%Y %I:%M %p and its variants)",
    ),
]
Timezone = Annotated[
    str | None,
    typer.Option(
        "--timezone",
        help="IANA time zone of dates written without an offset, e.g. America/New_York for "
        "a HubSpot UI export in the portal's zone (default: UTC); converted to UTC",
    ),
]
DecimalComma = Annotated[
    bool,
    typer.Option(
        "--decimal-comma",
        help="Amounts are written with a decimal comma (24.000,00 / 1,5), as European exports "
        "write them; default: a decimal point (24,000.00)",
    ),
]

CurrencyRates = Annotated[
    Path | None,
    typer.Option(
        "--currency-rates",
        help="CSV of currency,rate converting deal amounts in several currencies to your "
        "reporting currency (the one at rate 1); without it several currencies are an error",
    ),
]


def _say(text: str) -> None:
    """One line as it is (no Rich markup or highlighting; a long line wraps, never cut)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _print(result: ImportResult | SpendImport, out: Path) -> None:
    report = result.report
    if isinstance(result, SpendImport):
        _print_spend(report, out)
        return
    for label, info in report["files"].items():
        _say(f"{label}: {info['rows_read']:,} rows read, {info['rows_kept']:,} kept")
    for drop in report["drops"]:
        _say(f"  dropped {drop['count']:,} {drop['file']} row(s): {drop['reason']}")
    for note in report["notes"]:
        _say(f"  note: {note}")
    if currency := report.get("currency", {}).get("currency"):
        _say(f"deal amounts in {currency} ('{report['currency']['column']}')")
    if mapped := report["value_mappings"].get("deal_stage"):  # how each stage was read
        _say("deal stages: " + ", ".join(f"'{k}' -> {v}" for k, v in mapped.items()))
    outputs = ", ".join(f"{name} {rows:,}" for name, rows in report["outputs"].items())
    _say(f"wrote {out}: {outputs}")
    if report["crm"] in ("pipedrive", "ga4"):  # one side of a run: the other is named
        _say(next_of_one_side(report, out))
        return
    accounts = report["accounts"]
    touches, lacking = accounts["touches"], accounts["touches_without_account"]
    from_deals = accounts.get("contacts_account_from_deals", 0)
    if from_deals:
        _say(f"  accounts: {from_deals:,} contact(s) take their account from their deals")
    if from_members := accounts.get("contacts_account_from_campaign_members", 0):
        _say(
            f"  accounts: {from_members:,} contact(s) take their account from the campaign "
            "members' own account column"
        )
    # account level needs the touches' accounts: offered only when some touch has one
    by_account = touches > lacking
    mapping = (
        "a Contact export with AccountId (--contacts), or an Account ID column in the "
        "campaign members export,"
        if report["crm"] == "salesforce"
        else "the contacts' associated company (Associated Company ID) in the contacts export"
    )
    if lacking and by_account:
        _say(
            f"  note: {lacking:,} of {touches:,} touch(es) have no account: a run at "
            f"--level account drops them (counted); {mapping} maps them"
        )
    elif lacking:
        _say(
            "  note: no touch has an account (none in the exports, and no deal names one for "
            "these contacts), so the next run is at contact level, where a deal shared by "
            f"several contacts is counted once per contact (the run warns); {mapping} "
            "allows --level account"
        )
    stage = report.get("conversion_stage", "closed_won")
    count = (  # a portal without deals converts on its lifecycle customers
        f"closed-won deals: {report['conversions_closed_won']:,}"
        if stage == "closed_won"
        else f"{stage} conversions (lifecycle dates, no deals): {report['conversions']:,}"
    )
    _say(
        f"{count}; next: attribution run "
        f"--touches {out / ImportFiles.TOUCHES} --stages {out / ImportFiles.STAGES} "
        f"--contacts {out / ImportFiles.CONTACTS}"
        + (" --level account" if by_account else "")
        + (f" --conversion-stage {stage}" if stage != "closed_won" else "")
        + (
            f" --surveys {out / ImportFiles.SURVEYS}"
            if ImportFiles.SURVEYS in report["outputs"]
            else ""
        )
    )


#: --won-stage / --lost-stage / --open-stage: deal stages whose names do not say it
WonStages = Annotated[
    list[str] | None,
    typer.Option(
        "--won-stage",
        help="A deal stage that is closed won whatever its name says (repeatable), e.g. "
        "'Contract Signed'",
    ),
]
LostStages = Annotated[
    list[str] | None,
    typer.Option("--lost-stage", help="A deal stage that is closed lost (repeatable)"),
]
OpenStages = Annotated[
    list[str] | None,
    typer.Option(
        "--open-stage", help="A deal stage that is open though its name says won or lost "
        "(repeatable), e.g. 'Won/Lost Review'"
    ),
]


def _import(
    importer: Callable[..., ImportResult],
    files: tuple[Path | None, ...],
    out: Path,
    self_reported: str | None,
    timestamp_format: list[str] | None,
    decimal_comma: bool,
    stages: tuple[list[str] | None, list[str] | None, list[str] | None] = (None, None, None),
    timezone: str | None = None,
    **options: Any,
) -> None:
    """Run ``importer`` on ``files`` with the options every CRM import command has, writing
    into ``out``, and print its summary; an error is the one-line CLI failure.
    ``timezone``: the zone naive dates are read in (``--timezone``)."""
    _run_import(
        importer,
        files,
        out,
        timezone,
        self_reported_column=self_reported,
        timestamp_formats=timestamp_format,
        decimal_comma=decimal_comma,
        won_stages=stages[0] or (),
        lost_stages=stages[1] or (),
        open_stages=stages[2] or (),
        **options,
    )


def _run_import(
    importer: Callable[..., ImportResult | SpendImport],
    files: tuple[Path | None, ...],
    out: Path,
    timezone: str | None,
    **options: Any,
) -> None:
    """:func:`_import` with the importer's own keyword arguments (``options``)."""
    existed = Path(out).exists()  # the importer refuses it: nothing of ours there
    try:
        try:
            zone = check_timezone(timezone)
        except InputError as exc:
            raise ConfigError(f"--timezone: {exc}") from None
        with naive_zone(zone):
            result = importer(*files, **options)
        # an import that kept nothing is no answer: exit 3 saying why, nothing written
        if empty := nothing_kept(result.report):
            fail(EmptyResultError(f"{empty}; nothing was written to {out}"), EXIT_EMPTY)
        result.write(out)
    except (AttributionError, OSError) as exc:
        fail(exc)
    except STOPS as stop:  # Ctrl-C while reading or writing: the directory is atomic
        _interrupted(out, existed, stop)
    try:
        _print(result, out)
    except STOPS as stop:  # Ctrl-C while the summary prints: the import is written
        _interrupted(out, existed, stop)


def _interrupted(out: Path, existed: bool, stop: BaseException) -> NoReturn:
    """Ctrl-C during an import: one line saying what was written, exit 130. The import
    directory is built under a temporary name and renamed when whole, so it is either
    there complete or not at all (the temporary one is removed)."""
    if not existed and Path(out).is_dir():
        interrupted(
            f"the import directory {out} was written (complete); its summary was not printed: "
            f"see {out / ImportFiles.REPORT}",
            stop,
        )
    interrupted(f"nothing was written ({out} is made whole or not at all)", stop)


@group.command("hubspot")
def hubspot_cmd(
    contacts: Annotated[Path, typer.Option(help="Contacts export (CSV)")],
    out: ImportOut,
    deals: Annotated[
        Path | None,
        typer.Option(
            help="Deals export (CSV); a portal without deals: leave it out (or a header-only "
            "export), the customers are the contacts' Became a Customer Date"
        ),
    ] = None,
    engagements: Annotated[
        Path | None, typer.Option(help="Activities / form submissions with UTM fields (CSV)")
    ] = None,
    companies: Annotated[
        Path | None, typer.Option(help="Companies export: maps company names to ids")
    ] = None,
    self_reported: SelfReported = None,
    channel_rules: Annotated[
        Path | None, typer.Option(help="Channel taxonomy rules for the UTM fields")
    ] = None,
    timestamp_format: Formats = None,
    decimal_comma: DecimalComma = False,
    timezone: Timezone = None,
    currency_rates: CurrencyRates = None,
    won_stage: WonStages = None,
    lost_stage: LostStages = None,
    open_stage: OpenStages = None,
) -> None:
    """HubSpot contacts + deals (+ engagements, companies) -> touches, stages, contacts."""
    _import(
        import_hubspot,
        (contacts, deals),
        out,
        self_reported,
        timestamp_format,
        decimal_comma,
        (won_stage, lost_stage, open_stage),
        timezone,
        engagements=engagements,
        companies=companies,
        currency_rates=currency_rates,
        channel_rules=channel_rules,
    )


@group.command("salesforce")
def salesforce_cmd(
    campaign_members: Annotated[Path, typer.Option(help="CampaignMember export (CSV)")],
    opportunities: Annotated[Path, typer.Option(help="Opportunity export (CSV)")],
    out: ImportOut,
    contact_roles: Annotated[
        Path | None, typer.Option(help="OpportunityContactRole export: deal contacts, roles")
    ] = None,
    contacts: Annotated[
        Path | None, typer.Option(help="Contact export: contact -> account")
    ] = None,
    campaigns: Annotated[
        Path | None, typer.Option(help="Campaign export: Type, when members lack Campaign.Type")
    ] = None,
    opportunity_history: Annotated[
        Path | None, typer.Option(help="OpportunityHistory export: every stage change")
    ] = None,
    leads: Annotated[
        Path | None, typer.Option(help="Lead export: lead -> converted contact")
    ] = None,
    include_non_responders: Annotated[
        bool,
        typer.Option(
            "--include-non-responders",
            help="Campaign members who did not respond are touches at CreatedDate",
        ),
    ] = False,
    self_reported: SelfReported = None,
    timestamp_format: Formats = None,
    decimal_comma: DecimalComma = False,
    timezone: Timezone = None,
    currency_rates: CurrencyRates = None,
    won_stage: WonStages = None,
    lost_stage: LostStages = None,
    open_stage: OpenStages = None,
) -> None:
    """Salesforce CampaignMember + Opportunity (+ roles, contacts, campaigns, history,
    leads) -> touches, stages, contacts."""
    _import(
        import_salesforce,
        (campaign_members, opportunities),
        out,
        self_reported,
        timestamp_format,
        decimal_comma,
        (won_stage, lost_stage, open_stage),
        timezone,
        contact_roles=contact_roles,
        currency_rates=currency_rates,
        contacts=contacts,
        campaigns=campaigns,
        opportunity_history=opportunity_history,
        leads=leads,
        include_non_responders=include_non_responders,
    )


def next_of_one_side(report: dict[str, Any], out: Path) -> str:
    """The next command of an import that is one side of a run: Pipedrive's deals (the
    stages and contacts; the touches from a web-analytics import) or GA4's touches (the
    stages and contacts from a CRM import)."""
    if report["crm"] == "ga4":
        return (
            f"touches (sessions): {report['outputs'][ImportFiles.TOUCHES]:,}; next, with the "
            f"deals of a CRM import in CRM (attribution import pipedrive|hubspot|salesforce ... "
            f"--out CRM): attribution run --touches {out / ImportFiles.TOUCHES} --stages "
            f"CRM/{ImportFiles.STAGES} --contacts CRM/{ImportFiles.CONTACTS}"
        )
    accounts = report["accounts"]
    by_account = accounts["contacts"] > accounts["contacts_without_account"]
    return (
        f"closed-won deals: {report['conversions_closed_won']:,}; next, with the web touches "
        f"in WEB (attribution import ga4 --events events.csv --out WEB): attribution run "
        f"--touches WEB/{ImportFiles.TOUCHES} --stages {out / ImportFiles.STAGES} --contacts "
        f"{out / ImportFiles.CONTACTS}"
        + (" --level account (or --level contact: each person's own journey)"
           if by_account else "")
        + (f" --surveys {out / ImportFiles.SURVEYS}"
           if ImportFiles.SURVEYS in report["outputs"] else "")
    )  # fmt: skip


@group.command("pipedrive")
def pipedrive_cmd(
    deals: Annotated[Path, typer.Option(help="Deals export (CSV): one row per deal")],
    out: ImportOut,
    persons: Annotated[
        Path | None,
        typer.Option(help="Persons export: every person a contact; e-mails of deals naming "
                     "their person only"),
    ] = None,
    organizations: Annotated[
        Path | None,
        typer.Option(help="Organizations export: names the organizations given by id only"),
    ] = None,
    self_reported: SelfReported = None,
    timestamp_format: Formats = None,
    decimal_comma: DecimalComma = False,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="IANA time zone Pipedrive wrote the times in (the exporting user's, "
            "Settings > Personal preferences), e.g. America/New_York (default: UTC); "
            "converted to UTC",
        ),
    ] = None,
    currency_rates: CurrencyRates = None,
) -> None:
    """Pipedrive deals (+ persons, organizations) -> stages, contacts (touches: import ga4)."""
    _run_import(
        import_pipedrive,
        (deals,),
        out,
        timezone,
        persons=persons,
        organizations=organizations,
        self_reported_column=self_reported,
        timestamp_formats=timestamp_format,
        decimal_comma=decimal_comma,
        currency_rates=currency_rates,
    )  # fmt: skip


@group.command("ga4")
def ga4_cmd(
    events: Annotated[
        Path,
        typer.Option(help="GA4 events, the BigQuery export flattened to one row per event "
                     "(CSV or Parquet)"),
    ],
    out: ImportOut,
    channel_rules: Annotated[
        Path | None, typer.Option(help="Channel taxonomy rules for the session source / medium")
    ] = None,
    timestamp_format: Formats = None,
) -> None:
    """GA4 events -> touches: one per session, visitors stitched to their user id."""
    _run_import(
        import_ga4,
        (events,),
        out,
        None,
        channel_rules=channel_rules,
        timestamp_formats=timestamp_format,
    )  # fmt: skip


def _print_spend(report: dict[str, Any], out: Path) -> None:
    """The summary of ``import ads``: rows, drops, notes, spend per channel, the next step."""
    for label, info in report["files"].items():
        _say(f"{label}: {info['rows_read']:,} rows read, {info['rows_kept']:,} kept")
    for drop in report["drops"]:
        _say(f"  dropped {drop['count']:,} {drop['file']} row(s): {drop['reason']}")
    for note in report["notes"]:
        _say(f"  note: {note}")
    spend = ", ".join(f"{channel} {amount:,.2f}" for channel, amount in report["spend"].items())
    _say(f"wrote {out}: {SPEND_FILE} {report['outputs'][SPEND_FILE]:,} rows ({spend})")
    _say(
        f"next: attribution run ... --spend {out / SPEND_FILE} (or [inputs] spend = "
        f"\"{out / SPEND_FILE}\" in a config)"
    )


@group.command("ads")
def ads_cmd(
    out: ImportOut,
    google_ads: Annotated[
        Path | None,
        typer.Option(help="Google Ads campaign report by day (CSV, as downloaded): channel "
                     "google_ads"),
    ] = None,
    linkedin_ads: Annotated[
        Path | None,
        typer.Option(help="LinkedIn Campaign Manager campaign performance report by day (CSV, "
                     "as exported): channel linkedin"),
    ] = None,
    timestamp_format: Formats = None,
    decimal_comma: DecimalComma = False,
    currency_rates: Annotated[
        Path | None,
        typer.Option("--currency-rates", help="CSV of currency,rate converting reports in "
                     "several currencies to your reporting currency (the one at rate 1)"),
    ] = None,
) -> None:
    """Google Ads / LinkedIn campaign reports -> a spend table, the channel set per file."""
    _run_import(
        import_ads,
        (),
        out,
        None,
        google_ads=google_ads,
        linkedin_ads=linkedin_ads,
        timestamp_formats=timestamp_format,
        decimal_comma=decimal_comma,
        currency_rates=currency_rates,
    )  # fmt: skip
