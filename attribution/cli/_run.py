"""``attribution run``: a batch attribution job from files or a config file."""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from attribution.b2b._analysis import B2BInputs, analyse
from attribution.cli._app import (
    EXIT_EMPTY,
    STOPS,
    AccountsOpt,
    BenchmarksOpt,
    ContactsOpt,
    ExperimentsOpt,
    LabelsOpt,
    MaybeStagesOpt,
    MaybeTouchesOpt,
    PlanOpt,
    SlaOpt,
    SpendOpt,
    SubscriptionsOpt,
    SurveysOpt,
    TimestampFormatOpt,
    TruthOpt,
    app,
    check_out,
    fail,
    finish,
    interrupted,
    load_benchmarks_of,
    takes_run_options,
    timestamp_formats,
    unused_channel_rules,
    with_progress,
)
from attribution.cli._quiet import takes_quiet
from attribution.engine._manifest import WATERMARK_HELD, coded_notes
from attribution.engine._memory import attribute
from attribution.engine._state_lock import state_lock
from attribution.exceptions import AttributionError, ConfigError, EmptyResultError
from attribution.inputs._config import RunConfig, load_config
from attribution.inputs._database import SqlTable, check_write_target, unused_env_note
from attribution.inputs._formats import config_formats_hint
from attribution.inputs._sources import check_readable
from attribution.options import RunOptions, read_flags

#: --database URI: the tables a query can give (``--touches-sql`` ...), as [inputs.database]
SQL_TABLES = (
    "touches",
    "stages",
    "contacts",
    "events",
    "spend",
    "surveys",
    "accounts",
    "subscriptions",
)


_TouchesSql = Annotated[str | None, typer.Option(help="SQL query giving the touches (--database)")]
_StagesSql = Annotated[str | None, typer.Option(help="SQL query giving the stages (--database)")]
_ContactsSql = Annotated[str | None, typer.Option(help="SQL query giving the contacts")]
_EventsSql = Annotated[str | None, typer.Option(help="SQL query giving the unified event log")]
_SpendSql = Annotated[str | None, typer.Option(help="SQL query giving the spend table")]
_SurveysSql = Annotated[str | None, typer.Option(help="SQL query giving the survey answers")]
_AccountsSql = Annotated[str | None, typer.Option(help="SQL query giving the accounts")]
_SubscriptionsSql = Annotated[str | None, typer.Option(help="SQL query giving subscriptions")]


def sql_inputs(
    database: str | None,
    queries: dict[str, str | None],
    cfg: RunConfig | None = None,
    inputs: dict[str, Any] | None = None,
) -> dict[str, SqlTable]:
    """The tables the run reads with a query, to update its ``inputs`` (the config's, with
    the file flags over them) with: one database for every query of the run.

    ``--database`` (``database``: the command line's) replaces the config's
    ``[inputs.database] uri`` for every query, the config's included (a flag wins over the
    file's key; with the config's URI kept for them, one ``--touches-sql`` would mix two
    databases in one run); a ``--TABLE-sql`` query without it reads the config's URI, else
    ``ATTRIBUTION_DATABASE_URI``. A ``--database`` that no query reads is an error, not
    ignored in silence."""
    given = {table: query for table, query in queries.items() if query}
    ours = {k: v for k, v in (inputs or {}).items() if isinstance(v, SqlTable)}
    configured = next(
        (v.uri for v in (cfg.inputs if cfg else {}).values() if isinstance(v, SqlTable)), None
    )
    uri = database or configured or os.environ.get("ATTRIBUTION_DATABASE_URI") or None
    if given and not uri:
        flags = ", ".join(f"--{t}-sql" for t in given)
        raise typer.BadParameter(
            f"{flags} need --database URI (or [inputs.database] uri in the config, or "
            "ATTRIBUTION_DATABASE_URI)"
        )
    if database and not given and not ours:
        raise typer.BadParameter(
            "--database gives no table: add the queries (--touches-sql \"SELECT ...\", "
            "--stages-sql ...) or [inputs.database] queries in the config"
        )
    if (given or ours) and (note := unused_env_note(database or configured)):
        typer.echo(note, err=True)  # the variable loses to the flag or the config: said
    tables = {t: SqlTable(database, q.query) for t, q in ours.items()} if database else {}
    tables.update({table: SqlTable(str(uri), query) for table, query in given.items()})
    return tables


def run_config(
    config: Path | None, files: dict[str, Any]
) -> tuple[RunConfig | None, dict[str, Any]]:
    """A run's config (None without --config) and its inputs: the config's ``[inputs]`` (an
    import folder's tables included), each file flag given (not None) over its key. One
    description of a run for every command that runs one (``run``, ``surveys``)."""
    cfg = load_config(config) if config else None
    inputs = dict(cfg.inputs) if cfg else {}
    inputs.update({key: value for key, value in files.items() if value is not None})
    return cfg, inputs


def run_options(cfg: RunConfig | None, given: dict[str, tuple[Any, str]]) -> RunOptions:
    """The run's options: the flags ``given`` (value, flag) over the config's keys."""
    return cfg.options(given) if cfg else RunOptions.written(given)


def runs_dir_of(out: Path | None, cfg: RunConfig | None) -> Path:
    """Where a command writes its run directory: ``--out``, else the config's ``[run] out``
    (relative to the config file), else ``runs``; checked before any work starts, an error
    naming what gave it. One rule for ``run``, ``surveys`` and ``plan``."""
    runs_dir = out or Path(cfg.run.get("out", "runs") if cfg else "runs")
    check_out(runs_dir, "[run] out" if out is None and cfg and "out" in cfg.run else "--out")
    return runs_dir


def one_run(options: RunOptions, command: str) -> RunOptions:
    """``options`` of a command that writes one run directory and keeps no state
    (``surveys``, ``plan``): a config's ``[run] state`` / ``write_to`` (a nightly run's) is
    not theirs and is left out, said in a note."""
    kept = [name for name in ("state", "write_to") if getattr(options, name) is not None]
    if not kept:
        return options
    typer.echo(
        f"note: attribution {command} keeps no state and writes no table: the config's "
        f"[run] {' / '.join(kept)} is for `attribution run` (left out here)",
        err=True,
    )
    return options.replace(state=None, write_to=None)


def plan_file(given: object) -> Path | None:
    """[inputs] plan or --plan: a file (a plan is no table a query can give)."""
    return given if isinstance(given, Path) else None


def _nightly(engine: Any, **kwargs: Any) -> Any:
    """``engine`` (an incremental run) with a state it cannot read (a truncated file, a
    partial restore, a full disk) as one line naming the state directory and the remedy."""
    import polars as pl
    import pyarrow as pa

    try:
        result = engine(**kwargs)
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError) as exc:
        state = kwargs["options"].state
        text = str(exc).strip().splitlines()
        raise ConfigError(
            f"state '{state}': cannot read or write its files ({type(exc).__name__}: "
            f"{text[0] if text else exc}). A run that fails leaves the state as it was: "
            "when the cause was the disk or a permission, fix it and run again; when the "
            "state's files are damaged, delete it or pass a new --state, and the next run "
            "reads everything and rebuilds it"
        ) from None
    for note in coded_notes(result.manifest, WATERMARK_HELD):  # by its code, not its words
        typer.echo(note, err=True)
    return result


def commit_state(result: Any, path: Path) -> None:
    """A night's state, committed once everything it wrote is written (one atomic replace:
    an interrupt before it leaves the state as it was; after it, the night is whole), then
    what the night did in one line (stderr): said once it is so (a night that then finds
    no conversion, or whose write-back fails, commits nothing and says that instead)."""
    if result.state_commit is None:
        return
    try:
        result.commit_state()
    except OSError as exc:
        fail(
            ConfigError(
                f"state '{result.options.state}': cannot write state.json ({exc}); the run "
                f"directory {path} is complete and the state is as it was: run the same "
                "command again (it reads this night's rows again)"
            )
        )
    except STOPS as stop:
        interrupted(
            f"the run directory {path} was written; the state took this night or is as it "
            "was (state.json is replaced in one step)",
            stop,
        )
    night = result.manifest["parameters"].get("incremental")
    if night:
        typer.echo(night_line(night), err=True)


def night_line(night: dict[str, Any]) -> str:
    """What an incremental run did, in one line for a job's log (stderr): a night that
    built on the state (rows read, entities re-opened), the first one, or a full recompute
    and why."""
    rows = night.get("rows_read") or {}
    read = ", ".join(f"{n:,} {name}" for name, n in rows.items())
    if night.get("mode") == "incremental":
        reopened = night.get("entities_reopened") or 0
        return f"incremental run: new rows read: {read or 'none'}; {reopened:,} entities re-opened"
    if night.get("reason") == "no state yet":
        counts = f" ({read})" if read else ""
        return f"incremental run: first run, every row read{counts}; the state is built"
    # a state that could not be built on (old rows changed, other options...): said
    return f"incremental run: full recompute ({night.get('reason')})"


@app.command()
@takes_quiet
@takes_run_options(after="events")
def run(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML run config")] = None,
    touches: MaybeTouchesOpt = None,
    stages: MaybeStagesOpt = None,
    contacts: ContactsOpt = None,
    events: Annotated[
        Path | None, typer.Option(help="Unified event log (touches + stages)")
    ] = None,
    surveys: SurveysOpt = None,
    truth: TruthOpt = None,
    survey_labels: LabelsOpt = None,
    spend: SpendOpt = None,
    accounts: AccountsOpt = None,
    subscriptions: SubscriptionsOpt = None,
    plan: PlanOpt = None,
    experiments: ExperimentsOpt = None,
    sla: SlaOpt = False,
    timestamp_format: TimestampFormatOpt = None,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Database every query of the run reads (the --TABLE-sql queries and the "
            "config's, over its [inputs.database] uri; else that uri, else "
            "ATTRIBUTION_DATABASE_URI): duckdb:///file.duckdb or postgresql://user@host/db "
            "(password: PGPASSWORD or the URI; never logged)",
        ),
    ] = None,
    touches_sql: _TouchesSql = None,
    stages_sql: _StagesSql = None,
    contacts_sql: _ContactsSql = None,
    events_sql: _EventsSql = None,
    spend_sql: _SpendSql = None,
    surveys_sql: _SurveysSql = None,
    accounts_sql: _AccountsSql = None,
    subscriptions_sql: _SubscriptionsSql = None,
    benchmarks: BenchmarksOpt = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Bounded memory: split the log by a hash of the journey key into N partitions "
            "processed in turn (same results; aim for 1-1.5M touches per partition)",
        ),
    ] = None,
    influence_csv: Annotated[
        bool,
        typer.Option(
            "--influence-csv",
            help="Also write campaign_influence.csv (the CRM campaign-influence rows; touches "
            "with a campaign column)",
        ),
    ] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Runs directory")] = None,
    keep_runs: Annotated[
        int | None,
        typer.Option(
            "--keep-runs",
            min=1,
            help="After a successful run, keep the newest N run directories of --out and "
            "remove the older ones (only run directories this package wrote, never the new "
            "one); says what it removed",
        ),
    ] = None,
    **flags: Any,
) -> Path:
    """Run a batch attribution job from files or a config file; writes a run directory.

    With --surveys, the self-reported survey benchmark is computed and written into the run.
    With --spend (or [inputs] spend), unit economics (CAC, LTV, guardrail; [economics] of the
    config) and the funnel are too, by segment, metro and region with --accounts, with
    retention and NRR from --subscriptions; with --plan (or [inputs] plan) the plan check.
    With --experiments (or [inputs] experiments) the credit calibrated with lift tests; with
    --spend, the channels ranked by the value of a test.
    With --sla (or an [sla] section) the sales and marketing SLAs are measured.
    """
    # --state: the state is held from reading it to writing the run directory and the
    # write-back (the result reads state files until then), so two runs never overlap on it
    hold = contextlib.ExitStack()
    try:
        cfg, inputs = run_config(
            config,
            {
                "touches": touches,
                "stages": stages,
                "contacts": contacts,
                "events": events,
                "surveys": surveys,
                "spend": spend,
                "accounts": accounts,
                "subscriptions": subscriptions,
                "plan": plan,
                "experiments": experiments,
            },
        )
        queries = (
            touches_sql,
            stages_sql,
            contacts_sql,
            events_sql,
            spend_sql,
            surveys_sql,
            accounts_sql,
            subscriptions_sql,
        )
        by_table = dict(zip(SQL_TABLES, queries, strict=True))
        inputs.update(sql_inputs(database, by_table, cfg, inputs))
        formats = timestamp_formats(timestamp_format, cfg)
        if "events" in inputs:
            main_input, stage_input = inputs["events"], None
        elif "touches" in inputs and "stages" in inputs:
            main_input, stage_input = inputs["touches"], inputs["stages"]
        else:
            raise typer.BadParameter("give --touches and --stages, --events, or --config")
        # flags before the config's keys; a bad value is an error naming the flag or the key
        given = read_flags(flags)
        if timestamp_format:  # shared with `plan`; merged with [formats] by column
            given["timestamp_formats"] = (formats, "--timestamp-format")
        options = run_options(cfg, given)
        if options.segment_windows is not None and "accounts" not in inputs:
            written = {**(cfg.written() if cfg else {}), **given}
            raise ConfigError(
                f"{written['lookback'][1]}: the lookback is given per segment, which needs the "
                "accounts table (each account's segment): give --accounts or [inputs] accounts"
            )
        # where the run goes and every file it will read, checked before any work starts
        runs_dir = runs_dir_of(out, cfg)
        if options.write_to is not None:  # a held DuckDB file or a refused login: now
            try:
                check_write_target(options.write_to)
            except ConfigError as exc:
                raise ConfigError(f"--write-to: {exc}; nothing was run") from None
        check_readable(
            {
                **inputs,
                "truth": truth,
                "survey_labels": survey_labels,
                "benchmarks": benchmarks,
                "channel_rules": options.channel_rules,
            }
        )
        sla_setting = cfg.sla if cfg is not None and cfg.sla is not None else sla
        if sla_setting is not False and stage_input is not None:
            # what the SLAs need of the stages, before the run computes (not after it)
            from attribution.b2b._sla import check_sla_stages

            check_sla_stages(
                stage_input,
                stage_names=options.stage_names,
                columns=options.columns,
                timestamp_formats=options.timestamp_formats,
            )
        written = {**(cfg.written() if cfg else {}), **given}
        unused_channel_rules(
            options,
            main_input,
            written.get("channel_rules", (None, "--channel-rules"))[1],
            "touches" if stage_input is not None else "events",
        )
        if options.state is None and "late_window" in written:  # only a --state run reads it
            typer.echo(
                f"note: {written['late_window'][1]} has no effect without --state: a run "
                "without a state reads every row, late ones included",
                err=True,
            )
        options = _plan_touch_types(
            options, written, plan_file(inputs.get("plan")), main_input, sla_setting
        )
        # the B2B inputs (spend, plan, accounts...) read and checked now, not after the
        # attribution: a typo in the spend sheet costs seconds, not a run (report 8, #13)
        b2b = B2BInputs(
            touches=main_input if stage_input is not None else None,
            stages=stage_input,
            events=main_input if stage_input is None else None,
            contacts=inputs.get("contacts"),
            spend=inputs.get("spend"),
            accounts=inputs.get("accounts"),
            subscriptions=inputs.get("subscriptions"),
            surveys=inputs.get("surveys"),
            survey_labels=survey_labels,
            truth=truth,
            experiments=inputs.get("experiments"),
            plan=plan_file(inputs.get("plan")),
            economics=cfg.economics if cfg else {},
            alerts=cfg.alerts if cfg else None,
            sla=sla_setting,
            benchmarks=load_benchmarks_of(cfg, benchmarks),
            influence_csv=influence_csv,
        ).read(options)
        for note in b2b.notes:  # amounts written as money ('$7,880.74'), read: said once
            typer.echo(note, err=True)
        engine: Any = attribute
        if options.state is not None:
            from attribution.engine._incremental import attribute_incremental

            if partitions or stage_input is None:
                raise typer.BadParameter(
                    "--state takes --touches and --stages (files or queries), without "
                    "--partitions or --events"
                )
            check_out(Path(options.state), "--state")
            hold.enter_context(state_lock(options.state))
            # committed once the run directory and the write-back are written (below)
            engine = functools.partial(_nightly, attribute_incremental, commit=False)
        elif partitions:
            from attribution.engine._partitioned import attribute_partitioned

            engine = functools.partial(attribute_partitioned, partitions=partitions)
        result = with_progress(
            len(options.runs),
            engine,
            touches=main_input,
            stages=stage_input,
            contacts=inputs.get("contacts"),
            accounts=inputs.get("accounts"),
            options=options,
        )
        try:  # an empty result is no answer: exit 3 saying why, unless --allow-empty
            result.require_conversions()
        except EmptyResultError as exc:
            fail(exc, EXIT_EMPTY)
        # the path table and campaign outputs the run directory holds are built in threads
        # while the B2B stage runs (it reads the campaign credit)
        result.build_in_background()
        analysis = analyse(
            result,
            b2b,
            options=options,
        )
    except EmptyResultError as exc:  # attribute() itself refuses an empty run: exit 3
        hold.close()
        fail(exc, EXIT_EMPTY)
    except AttributionError as exc:
        hold.close()
        fail(config_formats_hint(exc) if config else exc)  # [formats.spend] month = ...
    except STOPS as stop:  # Ctrl-C while the run computes: its directory is not made
        hold.close()
        interrupted("nothing was written", stop)
    with hold:
        path = finish(result, runs_dir, analysis=analysis, write_to=options.write_to)
        commit_state(result, path)
    _stale(runs_dir)
    if keep_runs is not None:
        _keep(runs_dir, keep_runs, path)
    return path


def _plan_touch_types(
    options: RunOptions, written: dict[str, Any], plan: Path | None, touches: Any, sla: Any
) -> RunOptions:
    """``--exclude-touch-types none`` credits every touch; without the option, a run with a
    plan leaves out the sales follow-ups the touches have, as ``attribution plan`` does (one
    default in one place, :mod:`attribution.b2b._plan_touch_types`: one plan, one CAC),
    said in a note."""
    from attribution.b2b._plan_touch_types import (
        given_touch_types,
        plan_touch_types,
        sales_touch_types_of,
    )

    if "exclude_touch_types" in written:
        return options.replace(exclude_touch_types=given_touch_types(options.exclude_touch_types))
    if plan is None:
        return options
    column = (options.columns or {}).get("touches", {}).get("touch_type", "touch_type")
    types = plan_touch_types(touches, column=column, sales=sales_touch_types_of(sla))
    if types:
        typer.echo(
            f"note: the plan's CAC is measured without the sales touch types "
            f"{', '.join(types)}, as `attribution plan` measures it (the whole run's credit "
            "leaves them out); --exclude-touch-types none credits every touch",
            err=True,
        )
    return options.replace(exclude_touch_types=types) if types else options


def _stale(runs_dir: Path) -> None:
    """The temporary run directories a killed run left (an hour unchanged): removed, said."""
    from attribution.cli._keep_runs import STALE_SECONDS, remove_stale_temporaries

    gone = remove_stale_temporaries(runs_dir)
    if gone:
        typer.echo(
            f"removed {len(gone):,} temporary run director{'y' if len(gone) == 1 else 'ies'} "
            f"left in {runs_dir} by a run stopped while writing (unchanged for "
            f"{STALE_SECONDS / 3600:g} hour): {', '.join(gone)}",
            err=True,
        )


def _keep(runs_dir: Path, keep: int, written: Path) -> None:
    """``--keep-runs``: the older run directories removed, said in one line (stderr)."""
    from attribution.cli._keep_runs import keep_runs

    try:
        kept = keep_runs(runs_dir, keep, written)
    except ConfigError as exc:
        fail(exc)
    except STOPS as stop:  # each directory is hidden, then deleted: none is half there
        interrupted(
            f"the run directory {written} was written; --keep-runs {keep} was interrupted "
            "(each older run directory is removed whole or left)",
            stop,
        )
    typer.echo(kept.line(runs_dir, keep), err=True)
