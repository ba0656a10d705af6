"""``attribution run``: a batch attribution job from files or a config file."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

import typer

from attribution.b2b._accounts import DEFAULT_REQUIRED_ROLES
from attribution.cli._app import (
    LabelsOpt,
    ModelOpt,
    PlanOpt,
    SpendOpt,
    SurveysOpt,
    TimestampFormatOpt,
    TruthOpt,
    app,
    economics_extras,
    fail,
    finish,
    timestamp_formats,
    with_progress,
)
from attribution.engine._memory import attribute
from attribution.exceptions import AttributionError, ConfigError
from attribution.inputs._config import load_config
from attribution.models._registry import default_models
from attribution.models._rules import DEFAULT_ROLE_MULTIPLIERS


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
    timestamp_format: TimestampFormatOpt = None,
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
        formats = timestamp_formats(timestamp_format, cfg)
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
        result = with_progress(
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
            timestamp_formats=formats,
        )
        extras = economics_extras(
            result,
            spend=inputs.get("spend"),
            stages=stage_input,
            touches=main_input if stage_input is not None else None,
            plan=inputs.get("plan"),
            economics=cfg.economics if cfg else {},
            columns=cfg.columns if cfg else None,
            stage_names=cfg.stage_names if cfg else None,
            timestamp_formats=formats,
        )
    except AttributionError as exc:
        fail(exc)
    finish(
        result,
        out or Path(opts.get("out", "runs")),
        surveys=inputs.get("surveys"),
        truth=truth,
        survey_labels=survey_labels,
        extras=extras,
    )


def _multipliers(text: str | None) -> dict[str, float] | None:
    """``"default"`` or ``"decision_maker=2|user=0.5"`` -> a role multiplier map."""
    if not text:
        return None
    if text == "default":
        return dict(DEFAULT_ROLE_MULTIPLIERS)
    try:
        return {k: float(v) for k, v in (i.split("=", 1) for i in text.split("|") if i)}
    except ValueError:
        fail(ConfigError(f"--role-multipliers takes role=number|...; got {text!r}"))
