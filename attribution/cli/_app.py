"""The ``attribution`` command line: run, plan, paths, demo, synth, models."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from attribution.b2b._accounts import DEFAULT_REQUIRED_ROLES
from attribution.engine._memory import attribute, attribute_paths
from attribution.engine._result import AttributionResult
from attribution.exceptions import AttributionError, ConfigError
from attribution.inputs._config import load_config
from attribution.models._registry import available_models, default_models
from attribution.models._rules import DEFAULT_ROLE_MULTIPLIERS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Multi-touch attribution for B2B marketing.",
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"

ModelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="Model, e.g. linear or time_decay:half_life=3d "
        "(repeat for several; default: every registered model that fits the input)",
    ),
]
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
PlanOpt = Annotated[
    Path | None, typer.Option("--plan", help="Plan TOML (budget by channel, targets): plan check")
]
#: Non-media costs the demo assumes (the sample data has none); printed and written with the
#: economics so every loaded-CAC figure can be traced to them.
DEMO_COSTS = {"sales_compensation": 400_000.0, "tooling": 50_000.0, "onboarding": 60_000.0}
LabelsOpt = Annotated[
    Path | None,
    typer.Option("--survey-labels", help="Labelled answers (response, channel) for a classifier"),
]


def _with_progress(total_models: int, fn: Any, **kwargs: Any) -> AttributionResult:
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

        result = fn(progress=step, **kwargs)
        progress.update(task, description="done", completed=6 + total_models)
    return result


def print_summary(result: AttributionResult, *, top: int = 3) -> None:
    """Per model: the top channels and their share; then the spread of each channel's share
    across models (where the models disagree). The full table is in channel_credit.parquet."""
    cc = result.channel_credit
    if cc.height == 0:
        console.print("[yellow]No attributed conversions.[/yellow]")
        return
    by_model = Table(title="Top channels by model (share of credited conversions)")
    by_model.add_column("model", style="bold", no_wrap=True)
    by_model.add_column("conversions", justify="right")
    by_model.add_column("top channels")
    for model in dict.fromkeys(cc.get_column("model").to_list()):
        rows = cc.filter(pl.col("model") == model).sort("share", descending=True)
        best = " · ".join(
            f"{r['channel']} {r['share']:.0%}" for r in rows.head(top).iter_rows(named=True)
        )
        by_model.add_row(model, f"{rows.get_column('conversions').sum():,.1f}", best)
    console.print(by_model)
    spread = (
        cc.group_by("channel")
        .agg(
            pl.col("share").min().alias("lo"),
            pl.col("share").median().alias("mid"),
            pl.col("share").max().alias("hi"),
        )
        .sort("mid", descending=True)
    )
    by_channel = Table(title="Channel share across models")
    for col in ("channel", "min", "median", "max"):
        by_channel.add_column(col, justify="left" if col == "channel" else "right")
    for r in spread.iter_rows(named=True):
        by_channel.add_row(r["channel"], f"{r['lo']:.1%}", f"{r['mid']:.1%}", f"{r['hi']:.1%}")
    console.print(by_channel)
    if "markov_order_selection" in result.extras:
        order_table = Table(title="Markov order selection (held-out ROC AUC)")
        for col in ("order", "auc", "n_states"):
            order_table.add_column(col, justify="right")
        for r in result.extras["markov_order_selection"].iter_rows(named=True):
            order_table.add_row(str(r["order"]), f"{r['auc']:.4f}", f"{r['n_states']:,}")
        console.print(order_table)
    if result.accounts.width:
        _print_accounts(result)
    rec = result.manifest.get("reconciliation", {})
    if "touches_in" in rec:
        dropped = rec["touches_dropped"]
        console.print(
            f"touches in {rec['touches_in']:,} = in journeys {rec['touches_in_journeys']:,} + "
            f"in null paths {rec['touches_in_null_paths']:,} + dropped "
            f"{sum(dropped.values()):,}" + (f" {dropped}" if dropped else "")
        )
        console.print(
            f"conversions {rec['conversions']:,}: attributed {rec['conversions_attributed']:,}, "
            f"without touches {rec['conversions_unattributed']:,}"
        )


def _print_accounts(result: AttributionResult) -> None:
    accounts = result.accounts
    tiers = accounts.group_by("tier").len().sort("tier").rows()
    console.print(
        f"accounts: {accounts.height:,} (tiers " + " · ".join(f"{t} {n:,}" for t, n in tiers) + ")"
    )
    cols: list[str] = [
        c
        for c in ("account_id", "coverage", "engagement_score", "tier", "conversions")
        if c in accounts.columns
    ]
    top = Table(title="Most engaged accounts")
    for name in cols:
        top.add_column(
            name, justify="left" if name in ("account_id", "coverage", "tier") else "right"
        )
    sort_col = "engagement_score" if "engagement_score" in cols else cols[0]
    for r in accounts.sort(sort_col, descending=True).head(10).iter_rows(named=True):
        top.add_row(*(f"{r[k]:,.1f}" if isinstance(r[k], float) else str(r[k]) for k in cols))
    console.print(top)
    pipe = result.pipeline
    if pipe.height:
        table = Table(title="Sourced vs influenced pipeline (influenced does NOT sum to 100%)")
        pipe_cols: list[str] = [
            c
            for c in ("measure", "channel", "deals", "pipeline", "pipeline_share")
            if c in pipe.columns
        ]
        for name in pipe_cols:
            table.add_column(name, justify="left" if name in ("measure", "channel") else "right")
        for r in pipe.iter_rows(named=True):
            cells = []
            for name in pipe_cols:
                v = r[name]
                if name == "pipeline_share":
                    cells.append(f"{v:.1%}")
                elif isinstance(v, float):
                    cells.append(f"{v:,.0f}")
                else:
                    cells.append(str(v))
            table.add_row(*cells)
        console.print(table)


def _fail(exc: Exception) -> NoReturn:
    err.print(f"[bold red]error:[/bold red] {exc}")
    raise typer.Exit(2)


@app.command()
def run(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML run config")] = None,
    touches: Annotated[Path | None, typer.Option(help="Touch log file")] = None,
    stages: Annotated[Path | None, typer.Option(help="CRM stage events file")] = None,
    contacts: Annotated[
        Path | None, typer.Option(help="Contacts file (contact -> account)")
    ] = None,
    events: Annotated[
        Path | None, typer.Option(help="Unified event log (touches + stages)")
    ] = None,
    model: ModelOpt = None,
    level: Annotated[str | None, typer.Option(help="contact or account")] = None,
    conversion_stage: Annotated[
        str | None, typer.Option(help="Stage counted as conversion")
    ] = None,
    lookback: Annotated[str | None, typer.Option(help="Journey window, e.g. 90d")] = None,
    channel_rules: Annotated[Path | None, typer.Option(help="Channel taxonomy rules")] = None,
    select_order: Annotated[
        bool, typer.Option("--select-order", help="Compare Markov orders 1-4 by held-out ROC AUC")
    ] = False,
    contact_scope: Annotated[
        str | None, typer.Option(help="Account level: account, opportunity_roles or primary")
    ] = None,
    role_multipliers: Annotated[
        str | None,
        typer.Option(
            help="Account level: role=multiplier|... or 'default' "
            "(decision_maker 2, champion 1.5, user 0.5)"
        ),
    ] = None,
    required_roles: Annotated[
        str | None, typer.Option(help="Account level: roles a deal needs, '|'-separated")
    ] = None,
    surveys: SurveysOpt = None,
    truth: TruthOpt = None,
    survey_labels: LabelsOpt = None,
    spend: SpendOpt = None,
    plan: PlanOpt = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Bounded memory: split the log by a hash of the journey key into N partitions "
            "processed in turn (same results; aim for 1-1.5M touches per partition)",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Runs directory")] = None,
) -> None:
    """Run a batch attribution job from files or a config file; writes a run directory.

    With --surveys, the self-reported survey benchmark is computed and written into the run.
    With --spend (or [inputs] spend), unit economics (CAC, LTV, guardrail; [economics] of the
    config) and the funnel are too, and with --plan (or [inputs] plan) the plan check.
    """
    try:
        cfg = load_config(config) if config else None
        inputs = dict(cfg.inputs) if cfg else {}
        for key, value in (
            ("touches", touches),
            ("stages", stages),
            ("contacts", contacts),
            ("events", events),
            ("surveys", surveys),
            ("spend", spend),
            ("plan", plan),
        ):
            if value is not None:
                inputs[key] = value
        opts = dict(cfg.run) if cfg else {}
        models = model or opts.get("models") or default_models()
        if "events" in inputs:
            main_input, stage_input = inputs["events"], None
        elif "touches" in inputs and "stages" in inputs:
            main_input, stage_input = inputs["touches"], inputs["stages"]
        else:
            raise typer.BadParameter("give --touches and --stages, --events, or --config")
        engine: Any = attribute
        if partitions:
            from attribution.engine._partitioned import attribute_partitioned

            engine = functools.partial(attribute_partitioned, partitions=partitions)
        result = _with_progress(
            len(models),
            engine,
            touches=main_input,
            stages=stage_input,
            contacts=inputs.get("contacts"),
            models=models,
            level=level or opts.get("level", "contact"),
            conversion_stage=conversion_stage or opts.get("conversion_stage", "closed_won"),
            lookback=lookback or opts.get("lookback"),
            columns=cfg.columns if cfg else None,
            stage_names=cfg.stage_names if cfg else None,
            milestones=(cfg.milestones or None) if cfg else None,
            channel_rules=channel_rules or (cfg.channel_rules if cfg else None),
            select_markov_order=select_order,
            contact_scope=contact_scope or opts.get("contact_scope", "account"),
            role_multipliers=_multipliers(role_multipliers) or opts.get("role_multipliers"),
            required_roles=required_roles.split("|")
            if required_roles
            else opts.get("required_roles", DEFAULT_REQUIRED_ROLES),
        )
        extras = _economics_extras(
            result,
            spend=inputs.get("spend"),
            stages=stage_input,
            touches=main_input if stage_input is not None else None,
            plan=inputs.get("plan"),
            economics=cfg.economics if cfg else {},
            columns=cfg.columns if cfg else None,
            stage_names=cfg.stage_names if cfg else None,
        )
    except AttributionError as exc:
        _fail(exc)
    _finish(
        result,
        out or Path(opts.get("out", "runs")),
        surveys=inputs.get("surveys"),
        truth=truth,
        survey_labels=survey_labels,
        extras=extras,
    )


def _economics_extras(
    result: AttributionResult,
    *,
    spend: Path | None,
    stages: Path | None,
    touches: Path | None,
    plan: Path | None = None,
    economics: dict[str, Any] | None = None,
    columns: dict[str, dict[str, str]] | None = None,
    stage_names: dict[str, Any] | None = None,
    plan_model: str | None = None,
) -> list[Any]:
    """Unit economics (needs spend), the funnel (needs a stages table) and the plan check."""
    from attribution.b2b._economics import unit_economics
    from attribution.b2b._funnel import funnel
    from attribution.b2b._plan import check_plan

    extras: list[Any] = []
    if spend is None:  # economics and the funnel come with spend (a plan needs it too)
        if plan is not None:
            raise ConfigError("the plan check needs a spend table (--spend or [inputs] spend)")
        return extras
    flow = None
    if stages is not None:
        flow = funnel(stages, touches, spend, columns=columns, stage_names=stage_names)
    extras.append(
        unit_economics(result, spend, columns=(columns or {}).get("spend"), **(economics or {}))
    )
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
                model=plan_model,
                columns=columns,
                stage_names=stage_names,
            )
        )
    return extras


@app.command("surveys")
def surveys_cmd(
    surveys: Annotated[Path, typer.Option(help="Survey answers file")],
    touches: Annotated[Path, typer.Option(help="Touch log file")],
    stages: Annotated[Path, typer.Option(help="CRM stage events file")],
    model: ModelOpt = None,
    truth: TruthOpt = None,
    survey_labels: LabelsOpt = None,
    out: OutOpt = Path("runs"),
) -> None:
    """Benchmark models against self-reported surveys ("How did you hear about us?")."""
    models = model or default_models()
    try:
        result = _with_progress(
            len(models), attribute, touches=touches, stages=stages, models=models
        )
    except AttributionError as exc:
        _fail(exc)
    _finish(result, out, surveys=surveys, truth=truth, survey_labels=survey_labels)


def _multipliers(text: str | None) -> dict[str, float] | None:
    """``"default"`` or ``"decision_maker=2|user=0.5"`` -> a role multiplier map."""
    if not text:
        return None
    if text == "default":
        return dict(DEFAULT_ROLE_MULTIPLIERS)
    try:
        return {k: float(v) for k, v in (i.split("=", 1) for i in text.split("|") if i)}
    except ValueError:
        _fail(ConfigError(f"--role-multipliers takes role=number|...; got {text!r}"))


def _finish(
    result: AttributionResult,
    out: Path,
    *,
    surveys: Path | None = None,
    truth: Path | None = None,
    survey_labels: Path | None = None,
    extras: list[Any] | tuple[Any, ...] = (),
) -> None:
    """Survey benchmark (when surveys are given), write the run atomically with ``extras``
    (economics, funnel, plan check: anything with ``.write`` and ``.summary``), print
    summaries."""
    bench = None
    if surveys is not None:
        from attribution.surveys._benchmark import compare_surveys

        try:
            bench = compare_surveys(result, surveys, truth=truth, classifier=survey_labels)
        except AttributionError as exc:
            _fail(exc)
    also = [*([bench] if bench is not None else []), *extras]
    path = result.write(out, also=also)
    print_summary(result)
    if bench is not None:
        console.print(bench.summary(), highlight=False, markup=False)
    for extra in extras:
        console.print(extra.summary(), highlight=False, markup=False)
    console.print(f"run written to [bold]{path}[/bold]")
    console.print(f"report: [bold]{path / 'report.html'}[/bold]")


@app.command("plan")
def plan_cmd(
    plan: Annotated[Path, typer.Argument(help="Plan TOML: [budget] by channel, [targets]")],
    touches: Annotated[Path, typer.Option(help="Touch log file")],
    stages: Annotated[Path, typer.Option(help="CRM stage events file")],
    spend: Annotated[Path, typer.Option(help="Spend table (channel, month, amount)")],
    contacts: Annotated[
        Path | None, typer.Option(help="Contacts file (contact -> account)")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model measuring CAC (default: the plan's, or linear)"),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config: columns, [economics]")
    ] = None,
    out: OutOpt = Path("runs"),
) -> None:
    """Check a plan: can this budget buy the target customers at the target CAC?

    Projects the budget with the measured CAC per channel and the funnel's stage rates,
    flags assumptions far from the data and shows the reallocation that would narrow the gap.
    """
    from attribution.b2b._plan import read_plan

    try:
        cfg = load_config(config) if config else None
        chosen = model or read_plan(plan).model or "linear"
        result = _with_progress(
            1,
            attribute,
            touches=touches,
            stages=stages,
            contacts=contacts,
            models=[chosen],
            columns=cfg.columns if cfg else None,
            stage_names=cfg.stage_names if cfg else None,
        )
        extras = _economics_extras(
            result,
            spend=spend,
            stages=stages,
            touches=touches,
            plan=plan,
            economics=cfg.economics if cfg else {},
            columns=cfg.columns if cfg else None,
            stage_names=cfg.stage_names if cfg else None,
            plan_model=chosen,
        )
    except AttributionError as exc:
        _fail(exc)
    path = result.write(out, also=extras)
    for extra in extras:
        console.print(extra.summary(), highlight=False, markup=False)
    console.print(f"run written to [bold]{path}[/bold]")
    console.print(f"report: [bold]{path / 'report.html'}[/bold]")


@app.command()
def paths(
    file: Annotated[Path, typer.Argument(help="Path table: path, conversions[, nulls, value]")],
    model: ModelOpt = None,
    sep: Annotated[str, typer.Option(help="Separator between channels in a path")] = " > ",
    out: OutOpt = Path("runs"),
) -> None:
    """Attribute a pre-aggregated path table (as other tools take)."""
    try:
        result = attribute_paths(file, models=model or default_models(paths_only=True), sep=sep)
    except AttributionError as exc:
        _fail(exc)
    _finish(result, out)


@app.command()
def demo(
    data: Annotated[Path, typer.Option(help="Sample data directory")] = SAMPLE_DATA,
    out: OutOpt = Path("runs"),
) -> None:
    """Run the sample data through every model, write the run and print a summary."""
    if not (data / "touches.parquet").exists():
        _fail(
            FileNotFoundError(
                f"no sample data in {data}; generate it with "
                f"`attribution synth --touches 90000 --no-shuffle --out {data}`"
            )
        )
    models = default_models()
    try:
        result = _with_progress(
            len(models),
            attribute,
            touches=data / "touches.parquet",
            stages=data / "stages.parquet",
            contacts=data / "contacts.parquet" if (data / "contacts.parquet").exists() else None,
            models=models,
            select_markov_order=True,
        )
    except AttributionError as exc:
        _fail(exc)

    def optional(name: str) -> Path | None:
        return data / name if (data / name).exists() else None

    spend = optional("spend.parquet")
    try:
        extras = _economics_extras(
            result,
            spend=spend,
            stages=data / "stages.parquet",
            touches=data / "touches.parquet",
            plan=optional("plan.toml") if spend is not None else None,
            economics={"costs": DEMO_COSTS},
        )
    except AttributionError as exc:
        _fail(exc)
    if spend is not None:
        console.print(
            "Demo assumption: non-media costs "
            + ", ".join(f"{k} ${v:,.0f}" for k, v in DEMO_COSTS.items())
            + " for the year (the sample data has none; give yours in [economics.costs]).",
            highlight=False,
            markup=False,
        )
    _finish(
        result,
        out,
        surveys=optional("surveys.parquet"),
        truth=optional("truth.json"),
        survey_labels=optional("survey_labels.csv"),
        extras=extras,
    )
    if optional("contacts.parquet") is None:
        return
    console.rule("Account level: buying committees, engagement, sourced vs influenced")
    account_models = [m for m in models if m in ("linear", "w_shaped", "markov")]
    try:
        accounts = _with_progress(
            len(account_models),
            attribute,
            touches=data / "touches.parquet",
            stages=data / "stages.parquet",
            contacts=data / "contacts.parquet",
            models=account_models,
            level="account",
            role_multipliers=DEFAULT_ROLE_MULTIPLIERS,
        )
    except AttributionError as exc:
        _fail(exc)
    _finish(accounts, out)


@app.command()
def synth(
    touches: Annotated[int, typer.Option("--touches", "-n", help="Number of touches", min=1)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory")],
    seed: Annotated[int, typer.Option(help="Random seed")] = 7,
    conversion_rate: Annotated[float, typer.Option(help="Share of journeys closing won")] = 0.04,
    shuffle: Annotated[bool, typer.Option(help="Shuffle touch rows, as exports are")] = True,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
) -> None:
    """Generate a seeded synthetic B2B dataset of any size."""
    from attribution.datasets._synth import write_synthetic

    files = write_synthetic(
        out,
        touches,
        seed=seed,
        shuffle=shuffle,
        fmt=fmt,  # type: ignore[arg-type]
        conversion_rate=conversion_rate,
    )
    for name, path in files.items():
        console.print(f"{name:<10} {path}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Start without API keys (local development only)")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Start the HTTP API (settings from ATTRIBUTION_* variables); docs at /docs."""
    from pydantic import ValidationError

    from service import serve as run_service

    try:
        run_service(host, port, allow_insecure=True if insecure else None, log_level=log_level)
    except (AttributionError, ValidationError) as exc:  # no keys without --insecure, bad env
        _fail(exc)


@app.command("models")
def models_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """List every registered model with its parameters."""
    specs = [s.describe() for s in available_models().values()]
    if as_json:
        sys.stdout.write(json.dumps(specs, indent=2, default=str) + "\n")
        return
    table = Table(title="Registered models")
    for col in ("name", "family", "summary", "parameters (default)"):
        table.add_column(col)
    for s in specs:
        params = ", ".join(f"{p['name']}={p['default']}" for p in s["params"]) or "-"
        table.add_row(s["name"], s["family"], s["summary"], params)
    console.print(table)


def main() -> None:
    app()

