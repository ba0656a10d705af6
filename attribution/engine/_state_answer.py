"""The answer of an incremental run (:mod:`attribution.engine._incremental`) from its state:
what :func:`attribution.attribute` returns on every row read so far. The channel credit is
made at once (rule-based models from their additive sums, data-driven ones fitted once on
the path table); the per-touch tables -- touch credit, conversions, campaign credit and
influence -- are built from the state's journeys when first read, so a run that nobody asks
for them costs what its new rows cost."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, cast

import polars as pl

from attribution.b2b._influence import InfluenceCodes, influence_codes
from attribution.engine._campaign_credit import (
    campaign_credit_from_sums,
    conversion_campaigns,
    conversion_campaigns_wide,
)
from attribution.engine._credit_table import credit_table, long_touch_credit
from attribution.engine._deltas import coded_sequences, decoded_paths
from attribution.engine._fit_stats import STATISTICS, prefit
from attribution.engine._generations import State, ahead_notes
from attribution.engine._manifest import (
    WATERMARK_HELD,
    Timer,
    add_coded_notes,
    make_manifest,
    note_shared_opportunities,
    run_parameters,
)
from attribution.engine._merge import collect_credit
from attribution.engine._result import (
    CHANNEL_CREDIT_SCHEMA,
    TOUCH_CREDIT_SCHEMA,
    AttributionResult,
)
from attribution.engine._stages import (
    Fitted,
    channel_credit_from_touches,
    concat,
    fit_models,
    rule_credit_columns,
    touch_credit_columns,
)
from attribution.journeys._contacts import attach_accounts
from attribution.options import RunOptions

__all__ = ["answer"]


def answer(
    state: State,
    options: RunOptions,
    timer: Timer,
    incremental: dict[str, Any],
    *,
    contacts: pl.DataFrame | None = None,
) -> AttributionResult:
    """What :func:`attribute` returns, from the state: the channel credit now (rule-based
    models from their additive sums, data-driven ones fitted on the path table); the
    per-touch tables -- touch credit, conversions, campaign credit and influence -- built from
    the state's journeys when first read (:class:`_Lazy`), a touch without an account taking
    its contact's from ``contacts`` (the table as it is tonight), as the journeys of a full
    run take it."""
    runs = options.runs
    channels = list(state.meta["channels"])
    sums = state.table("rule_sums")

    def coded() -> pl.DataFrame:  # the path table, read (and its deltas added) when asked
        return state.paths()[0]

    paths = functools.cache(lambda: decoded_paths(coded(), channels))

    def stored(name: str) -> pl.DataFrame | None:
        return state.table(STATISTICS + name) if STATISTICS + name in state.meta["files"] else None

    fitted = fit_models(
        options,
        paths,
        sequences=functools.cache(lambda: coded_sequences(coded(), channels)),
        timer=timer,
        prefit=prefit(stored, state.meta["path_totals"], channels),
    )
    timer.stage("collect")
    channel_credit = concat(
        [
            _rule_channel_credit(sums, run.label)
            if run.spec.family == "rule"
            else fitted.channel_credit[i]
            for i, run in enumerate(runs)
        ],
        CHANNEL_CREDIT_SCHEMA,
    )
    key = "contact_id" if options.level == "contact" else "account_id"
    lazy = _Lazy(state, options, fitted, key, contacts)
    parameters = run_parameters(options)
    parameters["incremental"] = incremental
    notes = [*fitted.notes]
    if incremental["mode"] == "full":
        notes.append(f"incremental run: full recompute ({incremental['reason']})")
    else:
        notes.append(
            f"incremental run: {incremental['entities_reopened']:,} entities re-opened, "
            f"rows read {incremental['rows_read']}"
        )
    # where each input came from, its rows in the state, its watermark and tonight's rows
    inputs = {
        name: {
            **{k: v for k, v in (seen.get("read") or {}).items() if k in ("source", "query")},
            "rows": seen["rows"],
            "watermark": seen["watermark"],
            **{k: v for k, v in (seen.get("read") or {}).items() if k not in ("source", "query")},
        }
        for name, seen in state.meta["inputs"].items()
    }
    manifest = make_manifest(
        runs,
        inputs=inputs,
        parameters=parameters,
        counts=dict(state.meta["counts"]),
        timings=timer.done(),
        notes=notes,
    )
    add_coded_notes(manifest, WATERMARK_HELD, ahead_notes(state.meta))
    manifest["totals"] = dict(state.meta["totals"])
    # not additive over nights (a deal's contacts re-open apart): from the conversions now
    note_shared_opportunities(manifest, lazy.conversions(), options.level)
    return AttributionResult(
        channel_credit,
        cast(pl.DataFrame, lazy.touch_credit),
        manifest,
        cast(pl.DataFrame, lazy.conversions),
        cast(pl.DataFrame, paths),
        fitted.extras,
        fitted.graphs,
        campaign_credit=cast(pl.DataFrame, lazy.campaign_credit),
        campaign_influence=cast(pl.DataFrame, lazy.campaign_influence),
        campaign_influence_wide=cast(pl.DataFrame, lazy.campaign_influence_wide),
        touch_credit_wide=cast(pl.DataFrame, lazy.touch_credit_wide),
        options=options,
    )


def _rule_channel_credit(sums: pl.DataFrame, label: str) -> pl.DataFrame:
    mine = sums.filter(pl.col("model") == label)
    if not mine.height:
        return pl.DataFrame(schema=CHANNEL_CREDIT_SCHEMA)
    return channel_credit_from_touches(mine.select("model", "channel", "credit", "value"))


class _Lazy:
    """The per-touch tables of an incremental run, built from the state's journeys on first
    use, exactly as :func:`attribute` builds them (rule-based credit per touch, the fitted
    data-driven models allocated over every journey, campaign credit and influence summed
    from that touch credit). Their cost is that of the journeys, not of the new rows."""

    def __init__(
        self,
        state: State,
        options: RunOptions,
        fitted: Fitted,
        key: str,
        contacts: pl.DataFrame | None,
    ) -> None:
        self.state, self.options, self.fitted, self.key = state, options, fitted, key
        self.contacts = contacts

    @functools.cached_property
    def _journeys(self) -> pl.DataFrame:
        journeys = self.state.current("journeys", self.key)
        assert journeys is not None
        # the rule of the journeys of a full run (journeys/_journeys.py), at contact level
        journeys = attach_accounts(journeys, self.contacts, "touches", strict=False)
        # each conversion's rows stay in position order: a stable sort by conversion
        return journeys.sort("conversion_id", maintain_order=True).with_columns(
            pl.col("conversion_id").set_sorted()
        )

    @functools.cached_property
    def _credit(self) -> tuple[pl.DataFrame, pl.DataFrame | Callable[[], pl.DataFrame]]:
        """The wide touch credit (a row per journey touch, a credit column per model; empty
        when a model's credit is not row for row) and the long one (or its builder)."""
        journeys, runs = self._journeys, self.options.runs
        columns = rule_credit_columns(journeys, self.options)
        fitted = dataclasses.replace(self.fitted, touch_credit=self.fitted.allocate(journeys))
        wide = credit_table(journeys, runs, columns, fitted)
        if wide is not None:
            return wide, functools.partial(long_touch_credit, wide, [r.label for r in runs])
        rules = {
            i: touch_credit_columns(journeys.with_columns(credit), runs[i].label).cast(
                TOUCH_CREDIT_SCHEMA
            )
            for i, credit in columns.items()
        }
        return pl.DataFrame(), collect_credit(len(runs), rules, fitted)[0]

    @functools.cached_property
    def _touch_credit(self) -> pl.DataFrame:
        long = self._credit[1]
        return long() if callable(long) else long

    def touch_credit(self) -> pl.DataFrame:
        return self._touch_credit

    def touch_credit_wide(self) -> pl.DataFrame:
        return self._credit[0]

    @functools.cached_property
    def _conversions(self) -> pl.DataFrame:
        conversions = self.state.current("conversions", self.key)
        assert conversions is not None
        return conversions.sort("conversion_id")

    def conversions(self) -> pl.DataFrame:
        return self._conversions

    @functools.cached_property
    def _campaigns(self) -> tuple[pl.DataFrame, InfluenceCodes] | None:
        campaigns = self.state.current("campaigns", self.key)
        if campaigns is None:
            return None
        ordered = campaigns.sort("conversion_id", maintain_order=True).drop(self.key)
        wide = self._credit[0]
        by_conversion = (
            conversion_campaigns_wide(wide, ordered)
            if wide.width
            else conversion_campaigns(self.touch_credit(), ordered)
        )
        labels = [run.label for run in self.options.runs]
        return (
            campaign_credit_from_sums(by_conversion.sums(), labels),
            influence_codes(by_conversion, self.conversions()),
        )

    def campaign_credit(self) -> pl.DataFrame:
        return pl.DataFrame() if self._campaigns is None else self._campaigns[0]

    def campaign_influence(self) -> pl.DataFrame:
        return pl.DataFrame() if self._campaigns is None else self._campaigns[1].long()

    def campaign_influence_wide(self) -> pl.DataFrame:
        return pl.DataFrame() if self._campaigns is None else self._campaigns[1].wide()
