"""``attribution plan``: check a plan's budget and targets against the measured CAC."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.markup import escape

from attribution._reporting_currency import money_in
from attribution.b2b._analysis import B2BInputs, analyse
from attribution.b2b._plan_touch_types import given_touch_types, sales_touch_types_of
from attribution.b2b._plan_touch_types import plan_touch_types as default_touch_types
from attribution.cli._app import (
    EXIT_EMPTY,
    AccountsOpt,
    BenchmarksOpt,
    ContactsOpt,
    MaybeOutOpt,
    MaybeStagesOpt,
    MaybeTouchesOpt,
    SubscriptionsOpt,
    TimestampFormatOpt,
    app,
    console,
    err,
    fail,
    finish,
    load_benchmarks_of,
    timestamp_formats,
    with_progress,
    write_extra,
)
from attribution.cli._run import one_run, run_options, runs_dir_of
from attribution.engine._empty import IN_PYTHON
from attribution.engine._memory import attribute
from attribution.exceptions import AttributionError, ConfigError, EmptyResultError
from attribution.inputs._config import RunConfig, load_config
from attribution.inputs._formats import config_formats_hint
from attribution.inputs._sources import check_readable
from attribution.options import RunOptions


def plan_touch_types(given: str | None, touches: Path, cfg: RunConfig | None) -> tuple[str, ...]:
    """The touch types the plan's CAC leaves out: ``--exclude-touch-types`` as given
    (``none``: none), else the plan's default, the sales follow-ups the touches have
    (:mod:`attribution.b2b._plan_touch_types`, the default of ``run --plan`` too)."""
    if given is not None:
        return given_touch_types(given.split(","))
    column = (cfg.columns.get("touches") or {}).get("touch_type") if cfg else None
    return default_touch_types(
        touches,
        column=column or "touch_type",
        sales=sales_touch_types_of(cfg.sla if cfg else None),
    )


def plan_hint(message: str) -> str:
    """The run's "no conversion" message with what ``attribution plan`` takes: it has no
    --conversion-stage or --allow-empty (a plan measured on no customer is no answer); the
    stage names are mapped in the config given with -c (new-user report 5, defect 23)."""
    message = message.replace(" (--allow-empty accepts an empty run)", "")
    message = message.split(f". {IN_PYTHON}")[0]  # the library's spelling: not plan's
    message = message.replace(
        " or give it with --conversion-stage",
        " in a config given with -c CONFIG (attribution plan has no --conversion-stage)",
    )
    return re.sub(
        r"Give it with --conversion-stage (\S+)",
        r"attribution plan measures the stage 'closed_won': map \1 to it in a config given "
        r'with -c CONFIG ([stage_names] closed_won = ["\1"])',
        message,
    )


def _plan_options(
    plan: Path,
    cfg: RunConfig | None,
    touches: Path,
    model: str | None,
    timestamp_format: list[str] | None,
    exclude_touch_types: str | None,
    flags: dict[str, tuple[Any, str]],
) -> RunOptions:
    """The plan's run options, read as ``run`` reads them (cli/_run.py ``run_options``): the
    flags (``flags``: option -> (value or None, flag)) over the config's ``[run]`` and its
    sections. A model named (``--model``; else, when the config's ``[run]`` chooses no
    ``models`` or ``decision_model``, the plan's ``model``) measures alone and decides; else
    the config's, else every default model (the default decision model measures, the
    levers compare them all). The touch types left out:
    ``--exclude-touch-types``, else the config's, else the plan's default (the sales
    follow-ups the touches have)."""
    from attribution.b2b._plan import read_plan
    from attribution.models._registry import default_models

    given = {name: pair for name, pair in flags.items() if pair[0] is not None}
    # the config's own choice of models wins over the plan's model, as the run's decision
    # model does in `run --plan` (the plan summary says so when the plan named another)
    chosen = cfg is not None and bool({"models", "decision_model"} & set(cfg.run))
    named = model or (None if chosen else read_plan(plan).model)
    if named:
        where = "--model" if model else f"plan '{plan}': model"
        given["models"] = ([named], where)
        given["decision_model"] = (named, where)
    if timestamp_format:  # shared with `run`; merged with [formats] by column
        formats = timestamp_formats(timestamp_format, cfg)
        given["timestamp_formats"] = (formats, "--timestamp-format")
    options = one_run(run_options(cfg, given), "plan")
    if options.models is None:
        options = options.replace(models=default_models())
    if options.allow_empty:  # a plan measured on no customer is no answer (exit 3)
        options = options.replace(allow_empty=False)
    if exclude_touch_types is None and cfg is not None and "exclude_touch_types" in cfg.run:
        return options.replace(exclude_touch_types=given_touch_types(options.exclude_touch_types))
    return options.replace(
        exclude_touch_types=plan_touch_types(exclude_touch_types, touches, cfg)
    )


@app.command("plan")
def plan_cmd(
    plan: Annotated[Path, typer.Argument(help="Plan TOML: [budget] by channel, [targets]")],
    touches: MaybeTouchesOpt = None,
    stages: MaybeStagesOpt = None,
    spend: Annotated[Path | None, typer.Option(help="Spend table (channel, month, amount)")] = None,
    contacts: ContactsOpt = None,
    accounts: AccountsOpt = None,
    subscriptions: SubscriptionsOpt = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model measuring CAC, run alone (default: the plan's; else every model "
            "runs, linear measures and the plan's levers compare them all)",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML config, read as `attribution run` reads it (a flag wins over its key): "
            "[inputs] (the data), [run] (models, bootstrap, exclude_touch_types, out...), "
            "[columns], [stage_names] (the data's stage names, e.g. "
            'closed_won = ["Closed Won"]), [channels], [formats], [economics], [benchmarks]',
        ),
    ] = None,
    timestamp_format: TimestampFormatOpt = None,
    decimal_comma: Annotated[
        bool,
        typer.Option(
            "--decimal-comma",
            help="Numbers written with a decimal comma (1.414,27 = 1414.27; 4.744 = 4744); "
            "config: [formats] decimal_comma",
        ),
    ] = False,
    benchmarks: BenchmarksOpt = None,
    bootstrap: Annotated[
        int | None,
        typer.Option(
            "--bootstrap",
            help="Bootstrap draws: the plan risk draws each channel's CAC from them (and the "
            "economics get 90% intervals); 0 (default, or the config's [run] bootstrap): from "
            "the credited customers as counts",
            min=0,
        ),
    ] = None,
    bootstrap_seed: Annotated[
        int | None,
        typer.Option(
            "--bootstrap-seed", help="Seed of the bootstrap draws (default 0)", min=0
        ),
    ] = None,
    exclude_touch_types: Annotated[
        str | None,
        typer.Option(
            "--exclude-touch-types",
            help="touch_type values left out of the credit that measures CAC, comma-separated "
            "(default: the config's [run] exclude_touch_types, else the sales follow-ups "
            "sales_call,sales_email,meeting, or [sla] sales_touch_types, when the touches "
            "have a touch_type column, as the demo; 'none': credit every touch)",
        ),
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            help="contact or account: what one customer is (account: one per account deal, "
            "the contacts table maps contacts to accounts; a buying committee is one "
            "customer); default contact, or the config's [run] level",
        ),
    ] = None,
    out: MaybeOutOpt = None,
    currency: Annotated[
        str | None,
        typer.Option(
            "--currency",
            help="The ISO 4217 code the plan's budget and your amounts are written in (EUR): "
            "the money sign of the check, no conversion (default: the config's [run] "
            "currency, else the rates' or the data's currency, else USD)",
        ),
    ] = None,
) -> None:
    """Check a plan: can this budget buy the target customers at the target CAC?

    With --touches, --stages and --spend: projects the budget with the measured CAC per
    channel and the funnel's stage rates, flags assumptions far from the data and shows the
    reallocation that would narrow the gap; then checks the plan's own arithmetic and its
    rates against the published ranges. With none of them: only the latter (no data needed).
    """
    from attribution.b2b._plan import check_plan, read_plan

    try:
        check_readable({"plan": plan, "benchmarks": benchmarks})
        cfg = load_config(config) if config else None
        out = runs_dir_of(out, cfg)  # --out, else the config's [run] out, as run's
        # the config's [inputs] (its import folder too), as `run` reads them; a flag wins
        given_inputs = {
            name: cfg.inputs.get(name) if cfg and value is None else value
            for name, value in (
                ("touches", touches),
                ("stages", stages),
                ("spend", spend),
                ("contacts", contacts),
                ("accounts", accounts),
                ("subscriptions", subscriptions),
            )
        }
        queried = [n for n, v in given_inputs.items() if v is not None and not isinstance(v, Path)]
        if queried:
            raise ConfigError(
                f"attribution plan reads files: the config's [inputs] {', '.join(queried)} "
                "is a query; run `attribution run --plan` with that config instead"
            )
        touches, stages, spend, contacts, accounts, subscriptions = (
            cast(Path | None, given_inputs[n])
            for n in ("touches", "stages", "spend", "contacts", "accounts", "subscriptions")
        )
        data = {"--touches": touches, "--stages": stages, "--spend": spend}
        bench = load_benchmarks_of(cfg, benchmarks)
        if all(v is None for v in data.values()):
            code = _currency_without_data(cfg, currency)  # the budget's currency
            with money_in(code):
                check = check_plan(plan, benchmarks=bench)
            if check.flags.height == 0:  # nothing checked is no answer: exit 3 saying why
                fail(
                    EmptyResultError(
                        f"plan '{plan}': nothing to check without data; give a target in "
                        "[targets] (customers, cac or mqls: each is judged against the "
                        "published ranges) or a rate in [assumptions] (mql_to_customer, step "
                        "rates), or the data (--touches, --stages, --spend)"
                    ),
                    EXIT_EMPTY,
                )
            with money_in(code):
                path = write_extra(check, out, "plan")
                console.print(check.summary(), highlight=False, markup=False)
            if tests := read_plan(plan).tests:
                console.print(
                    f"The plan's {len(tests)} channel test(s) ({', '.join(tests)}) and its risk "
                    "need the data (--touches, --stages, --spend): no readout.",
                    highlight=False,
                    markup=False,
                )
            console.print(f"plan check written to [bold]{escape(str(path))}[/bold]")
            return
        missing = [k for k, v in data.items() if v is None]
        if missing:
            raise ConfigError(
                f"the plan check against data needs {', '.join(missing)} too (or none of "
                "--touches, --stages, --spend for the check without data)"
            )
        assert touches is not None
        assert stages is not None
        assert spend is not None
        check_readable(
            {
                "plan": plan,
                "touches": touches,
                "stages": stages,
                "spend": spend,
                "contacts": contacts,
                "accounts": accounts,
                "subscriptions": subscriptions,
            }
        )
        # a model named (--model or the plan's) measures alone; else every default model
        # runs, the default decision model measures and the levers compare them all
        options = _plan_options(
            plan, cfg, touches, model, timestamp_format, exclude_touch_types,
            {"level": (level, "--level"), "bootstrap": (bootstrap, "--bootstrap"),
             "bootstrap_seed": (bootstrap_seed, "--bootstrap-seed"),
             "currency": (currency, "--currency"),
             "decimal_comma": (decimal_comma or None, "--decimal-comma")},
        )  # fmt: skip
        # the B2B inputs (spend, plan, accounts...) read and checked before the attribution
        b2b = B2BInputs(
            touches=touches,
            stages=stages,
            contacts=contacts,
            spend=spend,
            accounts=accounts,
            subscriptions=subscriptions,
            plan=plan,
            economics=cfg.economics if cfg else {},
            alerts=cfg.alerts if cfg else None,
            benchmarks=bench,
            experiments_next=False,  # the plan's own tests are read out instead
        ).read(options)
        for note in b2b.notes:  # amounts written as money ('$7,880.74'), read: said once
            err.print(note, markup=False, highlight=False, soft_wrap=True)
        result = with_progress(
            len(options.runs),
            attribute,
            touches=touches,
            stages=stages,
            contacts=contacts,
            # the draws' segments, a lookback per segment ([run] lookback = {smb = ...})
            accounts=accounts if options.bootstrap or options.segment_windows else None,
            options=options,
        )
        result.require_conversions()  # a plan measured on no customer is no answer (below)
        analysis = analyse(
            result,
            b2b,
            options=options,
        )
    except EmptyResultError as exc:  # no customer measured (attribute() refuses an empty
        # run): exit 3 saying why, with the options plan takes (no --conversion-stage)
        fail(EmptyResultError(plan_hint(str(exc))), EXIT_EMPTY)
    except AttributionError as exc:
        fail(config_formats_hint(exc) if config else exc)  # [formats.spend] month = ...
    finish(result, out, analysis=analysis, summary=False, choose="-m")
    if shared := result.manifest.get("shared_opportunities"):
        # the plan counts customers as the run does: a deal closed by three contacts is
        # three customers at contact level (new-user report 4, defect 15)
        err.print(
            f"warning: {shared['warning']}; the plan above counts each of them as a customer "
            "(attribution plan ... --level account --contacts FILE counts each deal once)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _currency_without_data(cfg: RunConfig | None, currency: str | None) -> str:
    """The currency a plan checked without data is written in: ``--currency``, else the
    config's ``[run] currency``, else its rates' currency at rate 1, else USD
    (:mod:`attribution._reporting_currency`); a bad code or a contradiction is an error."""
    from attribution._reporting_currency import check_currency_code, decide_currency

    run = cfg.run if cfg is not None else {}
    given = currency if currency is not None else run.get("currency")
    code = check_currency_code(given) if given is not None else None
    return decide_currency(option=code, rates_file=run.get("currency_rates"), found={})["code"]
