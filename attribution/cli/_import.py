"""``attribution import hubspot|salesforce|pipedrive|ga4|ads``: CRM exports, GA4 events and
ad-platform reports -> the canonical tables (or the spend table) and an import report, in one
directory. The options the commands share are one alias each (:data:`SHARED`, given to a
command by :func:`shared_options`), run and printed by one :func:`_run_import` /
:func:`_print`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

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
    """The summary of an import: per file the rows read and kept, the drops and notes
    (every import alike), then what it wrote and the next command (its own)."""
    report = result.report
    for label, info in report["files"].items():
        # rows repeating an id are merged into one record: say how many the kept rows make
        merged = (
            f" ({info['ids_kept']:,} {label}: {info['rows_merged']:,} row(s) repeating an id "
            "merged)"
            if info.get("rows_merged")
            else ""
        )
        _say(f"{label}: {info['rows_read']:,} rows read, {info['rows_kept']:,} kept{merged}")
    for drop in report["drops"]:
        _say(f"  dropped {drop['count']:,} {drop['file']} row(s): {drop['reason']}")
    for note in report["notes"]:
        _say(f"  note: {note}")
    if isinstance(result, SpendImport):
        _print_spend(report, out)
        return
    if currency := report.get("currency", {}).get("currency"):
        _say(f"deal amounts in {currency} ('{report['currency']['column']}')")
    if mapped := report["value_mappings"].get("deal_stage"):  # how each stage was read
        _say("deal stages: " + ", ".join(f"'{k}' -> {v}" for k, v in mapped.items()))
    pipelines = report.get("pipelines", {}).get("deals", {})
    if len(pipelines) > 1:  # renewals beside new business: the user decides (--pipeline)
        _say("deals by pipeline: " + ", ".join(
            f"'{p}' {c['deals']:,} ({c['won']:,} won)" for p, c in pipelines.items()))  # fmt: skip
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
    if touches == 0:  # a run on it fails ("no data rows"): say why, print no command
        where = (
            "campaign members who responded (or --include-non-responders)"
            if report["crm"] == "salesforce"
            else "--engagements, or a contacts export with Original Source and Create Date"
        )
        _say(
            f"{count}; no touch was written (see the notes above), so a run has nothing to "
            f"attribute: import again with {where}, or run with touches from another import "
            "(import ga4)"
        )
        return
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


#: The options the import commands share: parameter -> (its alias, its default). A command
#: takes those it has with :func:`shared_options`.
SHARED: dict[str, tuple[Any, Any]] = {
    "timestamp_format": (Formats, None),
    "decimal_comma": (DecimalComma, False),
    "timezone": (Timezone, None),
    "currency_rates": (CurrencyRates, None),
    "won_stage": (WonStages, None),
    "lost_stage": (LostStages, None),
    "open_stage": (OpenStages, None),
}
#: a shared option -> the importer's keyword for it (``--timezone`` is read around the call)
_KEYWORDS = {
    "self_reported": "self_reported_column",
    "timestamp_format": "timestamp_formats",
    "won_stage": "won_stages",
    "lost_stage": "lost_stages",
    "open_stage": "open_stages",
}
_Command = TypeVar("_Command", bound=Callable[..., None])


def shared_options(*names: str, **aliases: Any) -> Callable[[_Command], _Command]:
    """Give an import command the shared options ``names`` (:data:`SHARED`), listed after
    its own parameters in this order; the command takes them as ``**shared``. ``aliases``:
    an option's own alias where its help differs (Pipedrive's ``--timezone``)."""

    def decorate(command: _Command) -> _Command:
        signature = inspect.signature(command, eval_str=True)
        params = [
            param.replace(kind=param.KEYWORD_ONLY)
            for param in signature.parameters.values()
            if param.kind is not param.VAR_KEYWORD
        ]
        for name in names:
            alias, default = SHARED[name]
            params.append(
                inspect.Parameter(
                    name, inspect.Parameter.KEYWORD_ONLY, default=default,
                    annotation=aliases.get(name, alias),
                )
            )  # fmt: skip
        command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        return command

    return decorate


def _run_import(
    importer: Callable[..., ImportResult | SpendImport],
    files: tuple[Path | None, ...],
    out: Path,
    timezone: str | None = None,
    **options: Any,
) -> None:
    """Run ``importer`` on ``files`` with ``options`` (the importer's keywords, or a shared
    option's name: :data:`_KEYWORDS`; a stage option not given is none), naive dates read in
    ``timezone`` (``--timezone``); write the import into ``out`` and print its summary (an
    import that kept nothing: exit 3, nothing written); an error is the one-line CLI
    failure."""
    options = {_KEYWORDS.get(k, k): v for k, v in options.items()}
    for stage in ("won_stages", "lost_stages", "open_stages"):
        if stage in options:
            options[stage] = options[stage] or ()
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
@shared_options(*SHARED)
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
    pipeline: Annotated[
        list[str] | None,
        typer.Option(
            "--pipeline",
            help="Keep only the deals of this pipeline (repeatable), e.g. 'Sales Pipeline' "
            "without 'Renewals': a won renewal is not a new customer",
        ),
    ] = None,
    **shared: Any,
) -> None:
    """HubSpot contacts + deals (+ engagements, companies) -> touches, stages, contacts."""
    _run_import(
        import_hubspot,
        (contacts, deals),
        out,
        self_reported=self_reported,
        engagements=engagements,
        companies=companies,
        channel_rules=channel_rules,
        pipelines=tuple(pipeline or ()),
        **shared,
    )


@group.command("salesforce")
@shared_options(*SHARED)
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
    **shared: Any,
) -> None:
    """Salesforce CampaignMember + Opportunity (+ roles, contacts, campaigns, history,
    leads) -> touches, stages, contacts."""
    _run_import(
        import_salesforce,
        (campaign_members, opportunities),
        out,
        self_reported=self_reported,
        contact_roles=contact_roles,
        contacts=contacts,
        campaigns=campaigns,
        opportunity_history=opportunity_history,
        leads=leads,
        include_non_responders=include_non_responders,
        **shared,
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


#: Pipedrive's --timezone: its help says whose zone the times are in
PipedriveTimezone = Annotated[
    str | None,
    typer.Option(
        "--timezone",
        help="IANA time zone Pipedrive wrote the times in (the exporting user's, "
        "Settings > Personal preferences), e.g. America/New_York (default: UTC); "
        "converted to UTC",
    ),
]


@group.command("pipedrive")
@shared_options(
    "timestamp_format", "decimal_comma", "timezone", "currency_rates", timezone=PipedriveTimezone
)
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
    **shared: Any,
) -> None:
    """Pipedrive deals (+ persons, organizations) -> stages, contacts (touches: import ga4)."""
    _run_import(
        import_pipedrive, (deals,), out, self_reported=self_reported, persons=persons,
        organizations=organizations, **shared,
    )  # fmt: skip


@group.command("ga4")
@shared_options("timestamp_format")
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
    **shared: Any,
) -> None:
    """GA4 events -> touches: one per session, visitors stitched to their user id."""
    _run_import(import_ga4, (events,), out, channel_rules=channel_rules, **shared)


def _print_spend(report: dict[str, Any], out: Path) -> None:
    """The end of ``import ads``'s summary: the spend per channel, the next step."""
    spend = ", ".join(f"{channel} {amount:,.2f}" for channel, amount in report["spend"].items())
    _say(f"wrote {out}: {SPEND_FILE} {report['outputs'][SPEND_FILE]:,} rows ({spend})")
    _say(
        f"next: attribution run ... --spend {out / SPEND_FILE} (or [inputs] spend = "
        f"\"{out / SPEND_FILE}\" in a config)"
    )


#: ``import ads``'s --currency-rates: its help says what the rates convert
AdsCurrencyRates = Annotated[
    Path | None,
    typer.Option("--currency-rates", help="CSV of currency,rate converting reports in "
                 "several currencies to your reporting currency (the one at rate 1)"),
]


@group.command("ads")
@shared_options(
    "timestamp_format", "decimal_comma", "currency_rates", currency_rates=AdsCurrencyRates
)
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
    **shared: Any,
) -> None:
    """Google Ads / LinkedIn campaign reports -> a spend table, the channel set per file."""
    _run_import(import_ads, (), out, google_ads=google_ads, linkedin_ads=linkedin_ads, **shared)
