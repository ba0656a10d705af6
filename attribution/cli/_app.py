"""The shared face of the command line: the Typer ``app`` every command module registers on,
the consoles, the option types several commands share, and the steps they share (progress,
errors, writing and printing a run; the B2B steps are the library's
:func:`attribution.analyse`)."""

from __future__ import annotations

import inspect
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar, cast

import typer
from polars.exceptions import PanicException
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from attribution._reporting_currency import money_in
from attribution.b2b._analysis import Analysis
from attribution.cli._output import console as console  # the consoles, re-exported
from attribution.cli._output import err as err
from attribution.cli._output import print_summary
from attribution.cli._quiet import is_quiet
from attribution.engine._files import atomic_directory
from attribution.engine._manifest import new_run_id
from attribution.engine._result import AttributionResult
from attribution.exceptions import AttributionError, ConfigError
from attribution.inputs._benchmarks import Benchmarks, load_benchmarks
from attribution.inputs._config import RunConfig
from attribution.options import RunOptions, option_flags


class OnceGroup(TyperGroup):
    """A command group whose commands refuse a one-value option given twice: the parser
    keeps the last value, so ``--spend a.csv --spend b.csv`` read b.csv alone with exit 0
    (new-user report 15, S1: a blended CAC of $120 for $997). Options that take several
    values (``--model``), flags and counts are left alone."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None and not isinstance(command, TyperGroup):
            refuse_repeated_options(command, rest)
        return name, command, rest


def refuse_repeated_options(command: Any, args: list[str]) -> None:
    """``typer.BadParameter`` naming an option of ``command`` that takes one value and is
    given more than once in ``args`` (``--spend x``, ``--spend=x``, ``-c x``, ``-cx``,
    ``-c=x``), with the values given; arguments after ``--`` are not options."""
    tokens = args[: args.index("--")] if "--" in args else args
    for param in getattr(command, "params", ()):
        names = [*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())]
        if not names or getattr(param, "multiple", False) or getattr(param, "is_flag", False):
            continue
        if getattr(param, "count", False) or not str(names[0]).startswith("-"):
            continue
        given: list[str] = []
        for i, token in enumerate(tokens):
            for flag in names:
                if token == flag:
                    given.append(tokens[i + 1] if i + 1 < len(tokens) else "")
                elif flag.startswith("--") and token.startswith(flag + "="):
                    given.append(token[len(flag) + 1 :])
                elif not flag.startswith("--") and token.startswith(flag) and len(token) > 2:
                    given.append(token[2:].removeprefix("="))  # '-cb.toml', '-o=r9'
        if len(given) > 1:
            shown = ", ".join(repr(v) for v in given)
            raise typer.BadParameter(
                f"given {len(given)} times ({shown}); it takes one value, and a second would "
                "replace the first without a word: give it once (several files of one "
                "table: concatenate them into one first)",
                param_hint=f"'{names[0]}'",
            )


app = typer.Typer(
    cls=OnceGroup,
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
#: a command that also reads a config: ``--out``, else the config's ``[run] out``, else runs
MaybeOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Directory that receives run folders (default: the config's [run] out, else runs)",
    ),
]
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


_INPUT = re.compile(r"\(input '([a-z_]+)'\)")


def for_cli(message: str) -> str:
    """A library message as the command line says it: an input named as every interface
    knows it, ``(input 'spend')``, becomes its flag and config key, ``(--spend or [inputs]
    spend)`` (the service names the request's field, ``'spend'``, instead)."""
    return _INPUT.sub(lambda m: f"(--{m[1].replace('_', '-')} or [inputs] {m[1]})", message)


def fail(exc: Exception, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``exc`` as the one-line error a user sees and exit ``code`` (2: bad input,
    config or option; 3: the run attributed no conversion), never with a traceback."""
    # the message is the user's text: escaped, so "[inputs]" stays "[inputs]"; one line
    err.print(f"[bold red]error:[/bold red] {escape(for_cli(str(exc)))}", soft_wrap=True)
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
        disable=not err.is_terminal or is_quiet(),
    ) as progress:
        task = progress.add_task("starting", total=6 + total_models)

        def step(name: str) -> None:
            progress.update(task, description=name, advance=1)
            if not err.is_terminal and not is_quiet():  # logs and CI: a line a stage
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
    try:
        with atomic_directory(final) as tmp:
            extra.write(tmp)
    except OSError as exc:
        fail(unwritable(out, exc))
    return final


def check_out(out: Path, flag: str = "--out") -> None:
    """The directory a command writes its run into, checked before any work starts (a long
    run is not lost to a typo): it is a directory, or can be made in its nearest existing
    parent, which is a directory this process may write; else a ConfigError naming the flag
    and the path."""
    path = Path(out)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        where = "" if probe == path else f" ('{probe}' is a file)"
        raise ConfigError(
            f"{flag} '{out}' is not a directory{where}: give a directory for the runs"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} '{out}': '{probe}' is not writable by this user")


_TERMINATED: list[bool] = []
_INTERRUPTED: list[bool] = []
#: set once :func:`interrupted` has said what was written (``main`` says it otherwise)
_SAID: list[bool] = []

#: What stops a command as Ctrl-C does: ``KeyboardInterrupt``, and PyO3's ``PanicException``
#: when a signal's ``KeyboardInterrupt`` was raised inside a Python call that Polars' Rust
#: code made (the panic then carries it out): a panic counts as the stop only after a signal
#: was received (:func:`interrupted` re-raises it otherwise).
STOPS: tuple[type[BaseException], ...] = (KeyboardInterrupt, PanicException)


def on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM: stop where Ctrl-C would (:func:`interrupted` then says so, exit 143)."""
    _TERMINATED.append(True)
    raise KeyboardInterrupt


def on_sigint(signum: int, frame: Any) -> None:
    """SIGINT (Ctrl-C): Python's own ``KeyboardInterrupt``, the signal recorded."""
    _INTERRUPTED.append(True)
    raise KeyboardInterrupt


def signalled() -> bool:
    """Whether SIGTERM or SIGINT was received (by :func:`on_sigterm`, :func:`on_sigint`)."""
    return bool(_TERMINATED or _INTERRUPTED)


def interrupted(what: str, stop: BaseException | None = None) -> NoReturn:
    """Ctrl-C: one line saying what was written (``what``), exit 130 (128 + SIGINT), no
    traceback; SIGTERM the same line, ``terminated`` and exit 143 (128 + SIGTERM). ``stop``:
    the exception caught (one of :data:`STOPS`); a panic without a signal received is no
    stop, re-raised."""
    if stop is not None and not isinstance(stop, KeyboardInterrupt) and not signalled():
        raise stop
    word, code = ("terminated", 143) if _TERMINATED else ("interrupted", 130)
    _SAID.append(True)
    err.print(f"{word}: {what}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def exit_now(code: int) -> NoReturn:
    """Leave at once with ``code`` (stdout and stderr flushed; ``os._exit``): the exit of a
    command stopped by a signal. A ``KeyboardInterrupt`` raised inside a call Polars made
    into Python can leave CPython's "unhandled KeyboardInterrupt" mark set, and the
    interpreter then kills itself with SIGINT after the exit code was chosen (exit -2 after
    a correct 'terminated: ...' line: 6 of 45 trials of SIGTERM 0.6-2.2 s into a run)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def stopped_elsewhere(code: object) -> int | None:
    """The exit code for ``main`` when a command ended with Typer's exit 130 (a
    ``KeyboardInterrupt`` outside the steps that say what they wrote: Typer building the
    command line, reading options) without :func:`interrupted` having said anything: 143
    after SIGTERM, 130 otherwise, with one line saying so; None for any other exit."""
    if code != 130 or _SAID:
        return None
    word, new = ("terminated", 143) if _TERMINATED else ("interrupted", 130)
    err.print(
        f"{word}: stopped before the command's work was written (a run or import directory "
        "is made whole or not at all)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    return new


def unused_channel_rules(
    options: RunOptions, touches: object, where: str, table: str = "touches"
) -> None:
    """``channel_rules`` given (``where``: the flag or the config key that gave them) are read
    and checked even when the run will not use them, and a touch table (a file or a frame)
    that has a channel column of its own, so that the rules derive nothing, is said in one
    line on stderr: an option is never ignored in silence. A query's columns are not known
    before it runs; its rules are only checked."""
    if options.channel_rules is None:
        return
    from attribution.inputs._database import SqlTable
    from attribution.inputs._sources import read_source
    from attribution.inputs._taxonomy import load_rules

    load_rules(options.channel_rules)
    if touches is None or isinstance(touches, SqlTable):
        return
    theirs = (options.table_columns(table) or {}).get("channel", "channel")
    names = read_source(cast(Any, touches), table=table).frame.collect_schema().names()
    if theirs in names:
        err.print(
            f"note: {where} '{options.channel_rules}' is not used: the touches have a channel "
            f"column ('{theirs}'); the rules derive a channel from utm_source / utm_medium only "
            "for touches without one (drop or unmap that column to use them)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def unwritable(out: Path, exc: OSError) -> ConfigError:
    """The one-line error of a run that could not be written into ``out``."""
    return ConfigError(
        f"cannot write the run into --out '{out}': {exc.strerror or exc} (the run was "
        "computed; nothing was written)"
    )


SlaOpt = Annotated[
    bool,
    typer.Option(
        "--sla",
        help="Measure the sales and marketing SLAs (speed to lead, follow-up, SQL acceptance, "
        "hand-off times) from the stages and the sales touches; on with an [sla] config section",
    ),
]


def finish(
    result: AttributionResult,
    out: Path,
    *,
    analysis: Analysis | None = None,
    summary: bool = True,
    write_to: str | None = None,
    choose: str = "--decision-model",
) -> Path:
    """Write the run atomically with the outputs of ``analysis`` (the B2B stage,
    :func:`attribution.analyse`: survey benchmark, economics, funnel, plan check...), print
    summaries (the credit's too unless ``summary`` is false); ``write_to``: then append the
    credit and economics to that database in one transaction (exit 2 when it fails: the run
    directory stays, the database is unchanged); ``choose``: the command's option that
    chooses the decision model (``plan`` has ``-m``, not ``--decision-model``). Returns the
    run directory."""
    analysis = analysis or Analysis()
    if write_to is not None:  # the manifest names the target; the outcome once known
        from attribution.engine._writeback import mark_pending

        mark_pending(result, write_to)
    try:
        path = result.write(out, also=analysis.outputs)
    except OSError as exc:  # a path check_out could not foresee (a full disk, a read-only
        fail(unwritable(out, exc))  # mount): one line, never a traceback
    except STOPS as stop:  # the directory is made atomically: not there at all
        interrupted("nothing was written (the run directory is made whole or not at all)", stop)
    try:
        with money_in(result.manifest):  # the run's reporting currency (its money sign)
            _summarise(result, path, analysis, summary=summary, write_to=write_to, choose=choose)
    except STOPS as stop:  # what became of the write-back: committed, rolled back...
        from attribution.engine._writeback import outcome_line

        where = outcome_line(result.manifest) if write_to else ""
        interrupted(f"the run directory {path} was written{where}", stop)
    return path


def _summarise(
    result: AttributionResult,
    path: Path,
    analysis: Analysis,
    *,
    summary: bool,
    write_to: str | None,
    choose: str,
) -> None:
    """:func:`finish` after the run directory is written: the summaries, then ``write_to``."""
    from attribution.inputs._money import money_note
    from attribution.inputs._preamble import title_note
    from attribution.inputs._read_errors import semicolon_note
    from attribution.inputs._referrers import unread_note

    for table, entry in (result.manifest.get("inputs") or {}).items():
        if not isinstance(entry, dict):
            continue
        if entry.get("separator") == ";" and table != "accounts":  # B2BInputs.notes says it
            note = semicolon_note(bool(entry.get("decimal_comma")))
            err.print(f"note: {table} '{entry.get('source')}': {note}",
                      highlight=False, markup=False, soft_wrap=True)
        if isinstance(title := entry.get("title_lines_skipped"), dict):
            err.print(f"NOTE: {table} '{entry.get('source')}': {title_note(title)}",
                      highlight=False, markup=False, soft_wrap=True)
        if entry.get("encoding") == "UTF-16":  # read from UTF-16 text (inputs/_utf16.py)
            from attribution.inputs._utf16 import utf16_note

            err.print(utf16_note(table, str(entry.get("source"))),
                      highlight=False, markup=False, soft_wrap=True)
        if unread := entry.get("columns_not_read"):  # a touch table's columns not read
            err.print(unread_note(table, str(entry.get("source")), unread),
                      highlight=False, markup=False, soft_wrap=True)
        if column := entry.get("value_column_not_read"):  # 'Amount' beside no 'value'
            from attribution.inputs._column_guess import value_note

            err.print(value_note(table, str(entry.get("source")), column),
                      highlight=False, markup=False, soft_wrap=True)
        for ours, read in (entry.get("money_read") or {}).items():
            note = money_note(table, str(entry.get("source")), ours, read["column"],
                              (read["values"], read["example"]))  # a value as '$24,000.00'
            err.print(note, highlight=False, markup=False, soft_wrap=True)
        if entry.get("currency"):  # the amounts' one currency, or what was converted
            from attribution.inputs._currency_column import currency_note

            note = currency_note(table, str(entry.get("source")), entry["currency"])
            err.print(note, highlight=False, markup=False, soft_wrap=True)
    from attribution.engine._manifest import coded_notes
    from attribution.inputs._time_zones import NAIVE_TIMES

    for note in coded_notes(result.manifest, NAIVE_TIMES):  # naive times beside zoned ones
        err.print(f"NOTE: {note}", highlight=False, markup=False, soft_wrap=True)
    if summary:
        print_summary(result)
    if isinstance(decided := result.manifest.get("decision_model"), str):
        from attribution.b2b._decision import decision_note

        note = decision_note(
            decided,
            result.manifest.get("decision_model_source"),
            result.manifest.get("decision_model_reason"),
        )
        console.print(
            f"Decision model: {note} (manifest.json: decision_model; the economics, the plan "
            f"check and the report use it; {choose} to choose another)",
            highlight=False,
            markup=False,
        )
    for text in analysis.summaries():
        console.print(text, highlight=False, markup=False)
    console.print(f"run written to [bold]{escape(str(path))}[/bold]")
    console.print(f"report: [bold]{escape(str(path / 'report.html'))}[/bold]")
    if write_to is not None:
        from attribution.engine._writeback import write_back
        from attribution.inputs._database import redacted

        try:
            written = write_back(
                result, write_to, run_id=path.name, extras=analysis.extras, run_dir=path
            )
        except AttributionError as exc:
            night = result.manifest["parameters"].get("incremental")
            state = " and the --state is as it was" if night else ""
            again = " (with --state it reads this night's rows again)" if night else ""
            fail(
                ConfigError(
                    f"--write-to {redacted(write_to)}: {exc}. Nothing of this run was written "
                    f"to it; the run directory {path} is complete{state}: run the same "
                    f"command again to write it{again}"
                )
            )
        rows = ", ".join(f"{table} {n:,}" for table, n in written.items())
        console.print(
            f"written to {escape(redacted(write_to))} (run_id {path.name}): {escape(rows)}",
            highlight=False,
        )

