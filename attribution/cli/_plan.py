"""``attribution plan``: check a plan's budget and targets against the measured CAC."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from attribution.cli._app import (
    EXIT_EMPTY,
    AccountsOpt,
    ContactsOpt,
    OutOpt,
    StagesOpt,
    SubscriptionsOpt,
    TimestampFormatOpt,
    TouchesOpt,
    app,
    economics_extras,
    fail,
    finish,
    timestamp_formats,
    with_progress,
)
from attribution.engine._memory import attribute
from attribution.exceptions import AttributionError, EmptyResultError
from attribution.inputs._config import load_config
from attribution.inputs._sources import check_readable


@app.command("plan")
def plan_cmd(
    plan: Annotated[Path, typer.Argument(help="Plan TOML: [budget] by channel, [targets]")],
    touches: TouchesOpt,
    stages: StagesOpt,
    spend: Annotated[Path, typer.Option(help="Spend table (channel, month, amount)")],
    contacts: ContactsOpt = None,
    accounts: AccountsOpt = None,
    subscriptions: SubscriptionsOpt = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model measuring CAC (default: the plan's, or linear)"),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config: columns, [economics]")
    ] = None,
    timestamp_format: TimestampFormatOpt = None,
    out: OutOpt = Path("runs"),
) -> None:
    """Check a plan: can this budget buy the target customers at the target CAC?

    Projects the budget with the measured CAC per channel and the funnel's stage rates,
    flags assumptions far from the data and shows the reallocation that would narrow the gap.
    """
    from attribution.b2b._plan import read_plan

    try:
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
        cfg = load_config(config) if config else None
        chosen = model or read_plan(plan).model or "linear"
        formats = timestamp_formats(timestamp_format, cfg)
        result = with_progress(
            1,
            attribute,
            touches=touches,
            stages=stages,
            contacts=contacts,
            models=[chosen],
            columns=cfg.columns if cfg else None,
            stage_names=cfg.stage_names if cfg else None,
            timestamp_formats=formats,
            channel_aliases=(cfg.channels or None) if cfg else None,
        )
        try:  # a plan measured on no customer is no answer: exit 3 saying why
            result.require_conversions()
        except EmptyResultError as exc:
            fail(exc, EXIT_EMPTY)
        extras = economics_extras(
            result,
            spend=spend,
            stages=stages,
            touches=touches,
            plan=plan,
            accounts=accounts,
            subscriptions=subscriptions,
            economics=cfg.economics if cfg else {},
            columns=cfg.columns if cfg else None,
            stage_names=cfg.stage_names if cfg else None,
            plan_model=chosen,
            timestamp_formats=formats,
        )
    except AttributionError as exc:
        fail(exc)
    finish(result, out, extras=extras, summary=False)
