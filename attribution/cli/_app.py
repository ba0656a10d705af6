"""The shared face of the command line: the Typer ``app`` every command module registers on,
the consoles, the option types several commands share, and the steps they share (progress,
errors, economics extras, writing and printing a run)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar, cast

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from attribution.cli._output import console as console  # the consoles, re-exported
from attribution.cli._output import err as err
from attribution.cli._output import print_summary
from attribution.engine._files import atomic_directory
from attribution.engine._manifest import new_run_id
from attribution.engine._result import AttributionResult
from attribution.exceptions import AttributionError, ConfigError, InputError
from attribution.inputs._benchmarks import Benchmarks, load_benchmarks
from attribution.inputs._config import RunConfig
from attribution.options import option_flags
from attribution.typing import TableLike

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Multi-touch attribution for B2B marketing.",
    pretty_exceptions_enable=False,
    # help text is plain: "[inputs] spend" must show its brackets, not be read as markup
    rich_markup_mode=None,
)
_FLAGS = dict(option_flags())
ModelOpt = Annotated[
    list[str] | None, typer.Option(*_FLAGS["models"].flags, help=_FLAGS["models"].help)
]
_TOUCHES = typer.Option(help="Touch log file")
_STAGES = typer.Option(help="CRM stage events file")
TouchesOpt = Annotated[Path, _TOUCHES]
StagesOpt = Annotated[Path, _STAGES]
#: ``--touches`` / ``--stages`` where a config file (or ``--events``) may give them instead.
MaybeTouchesOpt = Annotated[Path | None, _TOUCHES]
MaybeStagesOpt = Annotated[Path | None, _STAGES]
ContactsOpt = Annotated[Path | None, typer.Option(help="Contacts file (contact -> account)")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Directory that receives run folders")]
SurveysOpt = Annotated[
    Path | None, typer.Option("--surveys", help="Survey answers: adds the survey benchmark")
]
TruthOpt = Annotated[
    Path | None, typer.Option("--truth", help="truth.json of synthetic data: score models")
]
SpendOpt = Annotated[
    Path | None,
    typer.Option(help="Spend table (channel, month, amount): adds unit economics and funnel"),
]
AccountsOpt = Annotated[
    Path | None,
    typer.Option(
        "--accounts",
        help="Accounts table (account_id; segment, metro, region, industry, employees): "
        "economics by segment, metro and region",
    ),
]
SubscriptionsOpt = Annotated[
    Path | None,
    typer.Option(
        "--subscriptions",
        help="Subscriptions table (account_id, month, mrr or arr): retention, NRR and the "
        "observed churn in LTV",
    ),
]
ExperimentsOpt = Annotated[
    Path | None,
    typer.Option(
        "--experiments",
        help="Lift tests (channel, start, end, incremental_conversions or incremental_pipeline, "
        "standard_error, test_type): calibrated credit beside the models'",
    ),
]
BenchmarksOpt = Annotated[
    Path | None,
    typer.Option(
        "--benchmarks",
        help="Your benchmark table (CSV, the shape of the shipped one), over the shipped "
        "ranges; config: [benchmarks] file",
    ),
]
PlanOpt = Annotated[
    Path | None, typer.Option("--plan", help="Plan TOML (budget by channel, targets): plan check")
]
TimestampFormatOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--timestamp-format",
        help="strftime pattern for dates written as text, tried before ISO 8601 (repeat for "
        "several, tried in order), e.g. '%m/%d/%Y %I:%M %p' for '2/21/2025 1:19 PM'; "
        "per column: [formats] in the config",
    ),
]
LabelsOpt = Annotated[
    Path | None,
    typer.Option("--survey-labels", help="Labelled answers (response, channel) for a classifier"),
]


Command = TypeVar("Command", bound=Callable[..., Any])
#: The Python type a flag's text arrives as, by :attr:`OptionFlag.kind`.
_KINDS: dict[str, Any] = {
    "text": str | None,
    "path": Path | None,
    "switch": bool,
    "repeat": list[str] | None,
}


def takes_run_options(after: str) -> Callable[[Command], Command]:
    """Give a command a flag for every run option with an
    :class:`~attribution.options.OptionFlag` (``RunOptions`` field metadata), listed after its
    parameter ``after``; the command takes them as ``**flags`` (option name -> the flag's
    value, ``None`` or ``False`` when not given) and reads them with
    :func:`attribution.options.read_flags`."""

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        params = []
        for param in signature.parameters.values():
            if param.kind is param.VAR_KEYWORD:
                continue
            params.append(param.replace(kind=param.KEYWORD_ONLY))
            if param.name == after:
                params += [
                    inspect.Parameter(
                        name,
                        inspect.Parameter.KEYWORD_ONLY,
                        default=False if flag.kind == "switch" else None,
                        annotation=cast(Any, Annotated)[
                            _KINDS[flag.kind], typer.Option(*flag.flags, help=flag.help)
                        ],
                    )
                    for name, flag in option_flags()
                ]
        command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        return command

    return decorate


#: Exit codes of the command line (README, "Exit codes").
EXIT_ERROR, EXIT_EMPTY = 2, 3


def fail(exc: Exception, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``exc`` as the one-line error a user sees and exit ``code`` (2: bad input,
    config or option; 3: the run attributed no conversion), never with a traceback."""
    # the message is the user's text: escaped, so "[inputs]" stays "[inputs]"; one line
    err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
    raise typer.Exit(code)


def timestamp_formats(
    given: list[str] | None, cfg: RunConfig | None
) -> dict[str, tuple[str, ...]] | None:
    """``--timestamp-format`` patterns (every timestamp and date column) with the config's
    [formats] (per column, more specific: they win for their columns)."""
    formats = dict(cfg.formats) if cfg else {}
    if given:
        formats.setdefault("*", tuple(given))
    return formats or None


def with_progress(total_models: int, fn: Any, **kwargs: Any) -> AttributionResult:
    """``fn(progress=..., **kwargs)`` with a progress bar on stderr (one line a stage when
    stderr is not a terminal)."""
    with Progress(
        TextColumn("[bold]{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("starting", total=6 + total_models)

        def step(name: str) -> None:
            progress.update(task, description=name, advance=1)
            if not err.is_terminal:  # logs and CI: one line per stage instead of a bar
                err.print(f"[{name}]", highlight=False, markup=False)

        result: AttributionResult = fn(progress=step, **kwargs)
        progress.update(task, description="done", completed=6 + total_models)
    return result


def load_benchmarks_of(cfg: RunConfig | None, path: Path | None) -> Benchmarks:
    """The benchmark table of a command: the shipped ranges, ``--benchmarks`` (else the
    config's [benchmarks] file) over them, and the config's [targets] over both."""
    if cfg is None:
        return load_benchmarks(path)
    return load_benchmarks(
        path or cfg.benchmarks_file, targets=cfg.targets, where=f"config '{cfg.path}': [targets]"
    )


def write_extra(extra: Any, out: Path, kind: str) -> Path:
    """Write ``extra`` (anything with ``.write(directory)``) into a new directory
    ``out/<kind>-<run id>``, atomically; return its path."""
    final = out / f"{kind}-{new_run_id()}"
    with atomic_directory(final) as tmp:
        extra.write(tmp)
    return final


def decide(
    result: AttributionResult,
    *,
    given: str | None = None,
    surveys: TableLike | None = None,
    truth: Path | None = None,
    survey_labels: Path | None = None,
) -> Any:
    """Choose the run's decision model (:mod:`attribution.b2b._decision`): ``given``
    (``--decision-model`` / ``[run] decision_model``), else the survey benchmark's rank 1
    (computed here when surveys are given, and returned for :func:`finish`), else the best truth
    MAE, else the default. Written to the manifest (``decision_model``, its source)."""
    from attribution.b2b._decision import choose_decision_model

    bench = truth_scores = None
    if given is None and surveys is not None:
        from attribution.surveys._benchmark import compare_surveys

        bench = compare_surveys(result, surveys, truth=truth, classifier=survey_labels)
    elif given is None and truth is not None:
        from attribution.surveys._truth import score_against_truth

        truth_scores = score_against_truth(result, truth)
    models = result.channel_credit.get_column("model").unique(maintain_order=True).to_list()
    if not models and given is None:  # an empty run (--allow-empty): nothing to decide with
        return bench
    model, source = choose_decision_model(
        models,
        given=given,
        given_by="--decision-model / [run] decision_model",
        leaderboard=bench.leaderboard if bench is not None else None,
        truth=truth_scores,
    )
    result.manifest["decision_model"] = model
    result.manifest["decision_model_source"] = source
    return bench


def _injected_anomalies(truth: Path | None) -> list[dict[str, Any]] | None:
    """The ``anomalies`` a synthetic truth file lists (``synth --anomalies``), if any."""
    if truth is None:
        return None
    try:
        data = json.loads(Path(truth).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read truth '{truth}': {exc}") from exc
    listed = data.get("anomalies") if isinstance(data, dict) else None
    if not isinstance(listed, list) or not listed:
        return None
    need = {"family", "metric", "channel", "week", "size"}
    for i, entry in enumerate(listed, start=1):
        if not isinstance(entry, dict) or not need <= set(entry):
            raise ConfigError(
                f"truth '{truth}': anomalies entry {i} needs {sorted(need)} (as synth "
                "--anomalies writes them)"
            )
    return listed


def economics_extras(
    result: AttributionResult,
    *,
    spend: TableLike | None,
    stages: TableLike | None,
    touches: TableLike | None,
    plan: Path | None = None,
    accounts: TableLike | None = None,
    subscriptions: TableLike | None = None,
    contacts: TableLike | None = None,
    economics: dict[str, Any] | None = None,
    columns: dict[str, dict[str, str]] | None = None,
    stage_names: dict[str, Any] | None = None,
    timestamp_formats: dict[str, tuple[str, ...]] | None = None,
    benchmarks: Benchmarks | None = None,
    alerts: dict[str, Any] | None = None,
    influence_csv: bool = False,
    truth: Path | None = None,
) -> list[Any]:
    """Campaign credit (touches with campaigns; CAC and ROI with campaign spend, and the
    influence export as CSV with ``influence_csv``), unit economics (needs spend; by segment,
    metro and region with ``accounts``, with observed churn from ``subscriptions``),
    retention and NRR (``subscriptions``, with or without spend), the funnel (needs a stages
    table) and the plan check."""
    from attribution.b2b._campaigns import InfluenceCsv, campaign_economics
    from attribution.b2b._economics import unit_economics
    from attribution.b2b._economics_slices import touch_exposure
    from attribution.b2b._funnel import funnel
    from attribution.b2b._plan import check_plan, read_plan
    from attribution.b2b._plan_tests import channel_tests
    from attribution.b2b._retention import close_months, retention
    from attribution.inputs._account_inputs import load_accounts, load_subscriptions
    from attribution.inputs._formats import formats_for

    channel_aliases = (result.manifest.get("parameters") or {}).get("channel_aliases")
    extras: list[Any] = []
    # the account-side tables are read (and checked) whenever given: other steps slice by
    # them too, and a bad file is an error even in a run without spend
    account_table = (
        load_accounts(
            accounts,
            columns=(columns or {}).get("accounts"),
            formats=formats_for("accounts", timestamp_formats or {}),
        )
        if accounts is not None
        else None
    )
    subscription_table = (
        load_subscriptions(
            subscriptions,
            columns=(columns or {}).get("subscriptions"),
            formats=formats_for("subscriptions", timestamp_formats or {}),
        )
        if subscriptions is not None
        else None
    )
    kept = (
        retention(
            subscription_table,
            account_table,
            close_months=close_months(result.touch_credit, result.conversions),
        )
        if subscription_table
        else None
    )
    decision = decision_of(result)
    if result.campaign_credit.width:
        by_campaign = campaign_economics(
            result,
            spend,
            columns=(columns or {}).get("spend"),
            timestamp_formats=timestamp_formats,
        )
        by_campaign.parameters["decision_model"] = decision[0]
        extras.append(by_campaign)
        if influence_csv:
            extras.append(InfluenceCsv(result.campaign_influence))
    if spend is None:  # economics and the funnel come with spend (a plan needs it too)
        if plan is not None:
            raise ConfigError("the plan check needs a spend table (--spend or [inputs] spend)")
        return [*extras, kept] if kept is not None else extras
    flow = None
    if stages is not None:
        flow = funnel(
            stages,
            touches,
            spend,
            columns=columns,
            stage_names=stage_names,
            timestamp_formats=timestamp_formats,
            channel_aliases=channel_aliases,
            alerts=alerts,
            benchmarks=benchmarks,
            accounts=account_table,
            nrr=kept,
        )
        injected = _injected_anomalies(truth)
        if injected is not None:
            flow.score_injected(injected)
    exposure = None  # the spend split by segment weighs every touch of the log
    if account_table is not None and touches is not None and (economics or {}).get(
        "segment_spend", "touches"
    ) == "touches":
        exposure = touch_exposure(
            touches,
            contacts,
            columns=columns,
            formats=timestamp_formats,
            channel_aliases=channel_aliases,
        )
    econ = unit_economics(
        result,
        spend,
        exposure=exposure,
        columns=(columns or {}).get("spend"),
        timestamp_formats=timestamp_formats,
        accounts=account_table,
        subscriptions=kept,
        benchmarks=benchmarks,
        pipeline=flow.pipeline if flow is not None else None,
        **(economics or {}),
    )
    econ.parameters.update(decision_model=decision[0], decision_model_source=decision[1])
    extras.append(econ)
    if kept is not None:
        extras.append(kept)
    if flow is not None:
        extras.append(flow)
    if plan is not None:
        if flow is None:
            raise ConfigError("the plan check needs a stages table (--stages), not only --events")
        extras.append(
            check_plan(
                plan,
                result,
                spend,
                flow,
                model=decision[0],
                decision_source=decision[1],
                columns=columns,
                stage_names=stage_names,
                timestamp_formats=timestamp_formats,
                benchmarks=benchmarks,
            )
        )
        if read_plan(plan).tests:  # go / no-go readouts of the channels the plan tests
            if touches is None:
                raise ConfigError(
                    f"plan '{plan}': its [tests] need the touch log (--touches) for the "
                    "channel that sourced each MQL"
                )
            extras.append(
                channel_tests(
                    plan,
                    stages,
                    touches,
                    spend,
                    columns=columns,
                    stage_names=stage_names,
                    timestamp_formats=timestamp_formats,
                    channel_aliases=channel_aliases,
                    steps=flow.parameters["steps"],
                    lost_stage=flow.parameters["lost_stage"],
                )
            )
    return extras


def calibration_extras(
    result: AttributionResult,
    *,
    experiments: TableLike | None,
    extras: list[Any],
    truth: Path | None = None,
    columns: dict[str, dict[str, str]] | None = None,
    timestamp_formats: dict[str, tuple[str, ...]] | None = None,
) -> list[Any]:
    """Calibrated credit (with ``experiments``; scored against ``truth`` when given) and what
    to test next (with the unit economics among ``extras``: its spend), as one extra."""
    from attribution.b2b._calibration import calibrate
    from attribution.b2b._economics import UnitEconomics

    econ = next((e for e in extras if isinstance(e, UnitEconomics)), None)
    if experiments is None and econ is None:
        return []
    decision_of(result)
    return [
        calibrate(
            result,
            experiments,
            economics=econ,
            truth=truth if experiments is not None else None,
            columns=columns,
            timestamp_formats=timestamp_formats,
        )
    ]


def decision_of(result: AttributionResult) -> tuple[str | None, str | None]:
    """The run's decision model and its source: the manifest's (:func:`decide`), else the
    default (recorded in the manifest); ``None`` for a run without any credit."""
    if not isinstance(result.manifest.get("decision_model"), str):
        decide(result)
    return result.manifest.get("decision_model"), result.manifest.get("decision_model_source")


SlaOpt = Annotated[
    bool,
    typer.Option(
        "--sla",
        help="Measure the sales and marketing SLAs (speed to lead, follow-up, SQL acceptance, "
        "hand-off times) from the stages and the sales touches; on with an [sla] config section",
    ),
]


def sla_extras(
    *,
    stages: TableLike | None,
    touches: TableLike | None,
    settings: dict[str, Any] | None,
    columns: dict[str, dict[str, str]] | None = None,
    stage_names: dict[str, Any] | None = None,
    timestamp_formats: dict[str, tuple[str, ...]] | None = None,
    events: TableLike | None = None,
) -> list[Any]:
    """The SLAs of a run (``[sla]`` settings), as an extra to write and summarise, from the
    stages and the touch log, or from the unified event log (``events``) split into both."""
    from attribution.b2b._sla import sla

    if (stages is None or touches is None) and events is not None:
        from attribution.inputs._formats import formats_for
        from attribution.inputs._schema import EVENTS, load, split_events

        log = load(
            events,
            EVENTS,
            columns=(columns or {}).get("events") or (columns or {}).get("touches"),
            formats=formats_for("events", timestamp_formats or {}),
        )
        try:
            touches, stages = split_events(log.frame, log.source)
        except InputError as exc:
            raise log.error(exc) from None
        columns, timestamp_formats = None, None  # the split tables have our names and types
    if stages is None or touches is None:
        raise ConfigError("the SLAs need the stages and the touch log (or the event log)")
    return [
        sla(
            stages,
            touches,
            settings=settings,
            columns=columns,
            stage_names=stage_names,
            timestamp_formats=timestamp_formats,
        )
    ]


def finish(
    result: AttributionResult,
    out: Path,
    *,
    surveys: TableLike | None = None,
    truth: Path | None = None,
    survey_labels: Path | None = None,
    extras: list[Any] | tuple[Any, ...] = (),
    summary: bool = True,
    write_to: str | None = None,
    bench: Any = None,
) -> None:
    """Survey benchmark (when surveys are given), write the run atomically with ``extras``
    (economics, funnel, plan check: anything with ``.write`` and ``.summary``), print
    summaries (the credit's too unless ``summary`` is false); ``write_to``: then append the
    credit and economics to that database in one transaction (exit 2 when it fails: the run
    directory stays, the database is unchanged); ``bench``: the survey benchmark already
    computed (by :func:`decide`)."""
    if bench is None and surveys is not None:
        from attribution.surveys._benchmark import compare_surveys

        try:
            bench = compare_surveys(result, surveys, truth=truth, classifier=survey_labels)
        except AttributionError as exc:
            fail(exc)
    also = [*([bench] if bench is not None else []), *extras]
    path = result.write(out, also=also)
    if summary:
        print_summary(result)
    if isinstance(decided := result.manifest.get("decision_model"), str):
        from attribution.b2b._decision import decision_note

        note = decision_note(decided, result.manifest.get("decision_model_source"))
        console.print(
            f"Decision model: {note} (manifest.json: decision_model; the economics, the plan "
            "check and the report use it; --decision-model to choose another)",
            highlight=False,
            markup=False,
        )
    if bench is not None:
        console.print(bench.summary(), highlight=False, markup=False)
    for extra in extras:
        console.print(extra.summary(), highlight=False, markup=False)
    console.print(f"run written to [bold]{escape(str(path))}[/bold]")
    console.print(f"report: [bold]{escape(str(path / 'report.html'))}[/bold]")
    if write_to is not None:
        from attribution.engine._writeback import write_back
        from attribution.inputs._database import redacted

        try:
            written = write_back(result, write_to, run_id=path.name, extras=extras)
        except AttributionError as exc:
            fail(exc)
        rows = ", ".join(f"{table} {n:,}" for table, n in written.items())
        console.print(
            f"written to {escape(redacted(write_to))} (run_id {path.name}): {escape(rows)}",
            highlight=False,
        )
