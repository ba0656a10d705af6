"""The manifest of a run: run id, inputs, parameters, models, timings, reconciliation, notes.

One assembly for every executor; an executor adds what is its own (``partitions``) to the
parameters and a note saying how it split the data.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from attribution._version import __version__
from attribution.b2b._accounts import COLD_Z, ENGAGEMENT_HALF_LIFE, HOT_Z
from attribution.b2b._deals import deal_scope
from attribution.b2b._engagement import EngagementClock
from attribution.engine._empty import empty_reason
from attribution.inputs._column_guess import value_note
from attribution.inputs._referrers import referrer_note
from attribution.journeys._cap import cut_journey_note
from attribution.journeys._long import long_journey_note
from attribution.journeys._milestone_stages import check_found_names
from attribution.models._channel_params import check_model_channels
from attribution.models._registry import ModelRun
from attribution.options import RunOptions
from attribution.report._format import duration
from attribution.typing import Progress

__all__ = [
    "B2B_TABLES",
    "WATERMARK_HELD",
    "MODEL_CHANNELS",
    "Timer",
    "account_options",
    "account_parameters",
    "add_b2b_inputs",
    "add_coded_notes",
    "add_totals",
    "coded_notes",
    "conversion_totals",
    "make_manifest",
    "new_run_id",
    "note_shared_opportunities",
    "run_parameters",
    "shared_opportunities",
]


#: The code of an incremental run's note that an input's watermark stays where it was
#: (rows read that night are dated after the run's time): ``manifest["note_codes"]``.
WATERMARK_HELD = "incremental_watermark_held"
#: The code of the notes that a model parameter names no channel of the data (a default
#: ``direct_channels`` on data without a ``direct`` channel: last_non_direct is last_touch),
#: which the command line's summary and the report show.
MODEL_CHANNELS = "model_channels"


#: the B2B stage's tables the manifest's ``inputs`` describes beside the run's own (touches,
#: stages, contacts): the spend and accounts decide every CAC and segment, so an audit must
#: tell which were read
B2B_TABLES = (
    "contacts",
    "spend",
    "accounts",
    "subscriptions",
    "surveys",
    "survey_labels",
    "experiments",
)

_DESCRIBED = ("source", "query", "rows", "sha256")


def add_b2b_inputs(manifest: dict[str, Any], inputs: Any) -> None:
    """Each table of :data:`B2B_TABLES` that ``inputs`` (a :class:`~attribution.B2BInputs`)
    read from a file or a query, described in the manifest's ``inputs`` as the touches are:
    a query's redacted URI, its full text, the rows and a sha256 of the result; a file's
    path, rows and sha256. A table the run already describes is left as it is; a frame
    given in memory has nothing to point at and is not listed."""
    from attribution.exceptions import AttributionError
    from attribution.inputs._database import SqlTable
    from attribution.inputs._sources import Source, read_source

    described = manifest.setdefault("inputs", {})
    for name in B2B_TABLES:
        data = getattr(inputs, name, None)
        if name in described or not isinstance(data, Source | SqlTable | str | os.PathLike):
            continue
        try:
            source = read_source(data, table=name)
            if source.path is None and source.sql is None:
                continue
            rows = int(source.frame.select(pl.len()).collect().item())
            entry = source.describe(rows)  # what it is; its notes were said on reading
            described[name] = {k: v for k, v in entry.items() if k in _DESCRIBED}
        except (AttributionError, OSError, pl.exceptions.PolarsError):  # read by the steps
            continue  # that use it, which said what is wrong with it


def add_coded_notes(manifest: dict[str, Any], code: str, notes: Sequence[str]) -> None:
    """Append ``notes`` to the manifest's ``notes`` and list them under ``code`` in its
    ``note_codes`` (code -> its notes): a program selects a note by its code
    (:func:`coded_notes`), never by its wording."""
    if not notes:
        return
    manifest["notes"] = [*manifest.get("notes", []), *notes]
    codes = manifest.setdefault("note_codes", {})
    codes[code] = [*codes.get(code, []), *notes]


def coded_notes(manifest: Mapping[str, Any], code: str) -> list[str]:
    """The notes of ``manifest`` marked ``code`` (:func:`add_coded_notes`), in order."""
    return list((manifest.get("note_codes") or {}).get(code, []))


def new_run_id(now: datetime | None = None) -> str:
    """A run id sortable by start time (``now``, default the current time):
    ``20250131T120000Z-1a2b3c4d``.

    Examples
    --------
    >>> from attribution import new_run_id
    >>> len(new_run_id()), new_run_id()[8]
    (25, 'T')
    """
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


class Timer:
    """Seconds per stage, for the manifest; tells ``progress`` each stage as it starts."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress
        self._started = time.perf_counter()
        self._stage: str | None = None

    def stage(self, name: str) -> None:
        now = time.perf_counter()
        if self._stage is not None:
            self.timings[self._stage] = round(now - self._started, 4)
        self._stage, self._started = name, now
        if self.progress is not None:
            self.progress(name)

    def done(self) -> dict[str, float]:
        self.stage("done")
        self.timings.pop("done", None)
        return self.timings


def account_options(options: RunOptions) -> dict[str, Any]:
    """The account-level run options of the manifest's ``parameters`` (every executor's:
    Spark, which has no account outputs, records them too)."""
    return {
        "contact_scope": options.contact_scope,
        "parallel_deals": options.parallel_deals,
        "role_multipliers": options.multipliers,
        "required_roles": list(options.required),
        "pipeline_deals": deal_scope(options.conversion_stage, options.all_milestones),
    }


def account_parameters(
    options: RunOptions, clock: EngagementClock, accounts: pl.DataFrame, notes: list[str]
) -> dict[str, Any]:
    """The account-level part of the manifest's ``parameters``; the clock's notes on the
    run's ``accounts`` are added to the run's ``notes`` too."""
    clock_notes = clock.notes(accounts)
    notes += clock_notes
    return {
        **account_options(options),
        "engagement": {
            **clock.describe(clock_notes),
            "half_life_days": ENGAGEMENT_HALF_LIFE.total_seconds() / 86400,
            "tiers": f"hot: z >= {HOT_Z}; cold: z <= {COLD_Z} or score 0; warm otherwise "
            "(z of log1p(90-day score) within the run)",
        },
    }


def run_parameters(options: RunOptions, account: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest's ``parameters`` of a touch-log run (``account``: its account part)."""
    window = options.window
    return {
        "level": options.level,
        "conversion_stage": options.conversion_stage,
        "lookback": _readable(window),  # "180 days" (lookback_seconds: exact)
        "lookback_seconds": window.total_seconds(),
        **_segment_lookback(options),
        "milestones": {
            k: [v] if isinstance(v, str) else list(v) for k, v in options.all_milestones.items()
        },
        "stage_names": dict(options.stage_names or {}),
        "max_touches_per_journey": options.max_touches_per_journey,
        "exclude_touch_types": list(options.exclude_touch_types),
        "timezone": options.timezone or "UTC",
        # the currency option as given (the run's reporting currency: the top-level currency)
        **({"currency": options.currency} if options.currency is not None else {}),
        "decimal_comma": options.decimal_comma,
        "allow_empty": options.allow_empty,
        "key": options.key,
        "touch_credit_layout": options.touch_credit_layout,
        "influence_layout": options.influence_layout,
        "bootstrap": options.bootstrap,
        "bootstrap_seed": options.bootstrap_seed,
        "channel_aliases": {
            ours: theirs if isinstance(theirs, str) else list(theirs)
            for ours, theirs in (options.channel_aliases or {}).items()
        },
        # published segment -> the user's names (the lookback's; lookback_by_segment has them)
        **({"segment_aliases": options.segment_aliases} if options.segment_aliases else {}),
        **(account or {}),
    }


def _segment_lookback(options: RunOptions) -> dict[str, Any]:
    """With a lookback per segment: each segment's window (``lookback`` is then the window
    of an entity without a listed segment)."""
    windows = options.segment_windows
    if windows is None:
        return {}
    return {
        "lookback_by_segment": {k: _readable(v) for k, v in windows.items()},
        "lookback_by_segment_seconds": {k: v.total_seconds() for k, v in windows.items()},
    }


def _readable(window: timedelta) -> str:
    """A window as the report writes it: ``180 days``, ``12 hours``, ``90 seconds``."""
    return duration(window.total_seconds()) or f"{window.total_seconds():g} seconds"


def conversion_totals(conversions: pl.DataFrame) -> dict[str, float]:
    """The manifest's ``totals``: value of every conversion and of the attributed ones."""
    return {
        "conversions_value": float(conversions.get_column("value").sum() or 0.0),
        "attributed_value": float(
            conversions.filter(pl.col("n_touches") > 0).get_column("value").sum() or 0.0
        ),
    }


def shared_opportunities(conversions: pl.DataFrame, level: str) -> dict[str, Any] | None:
    """Conversions that share an ``opportunity_id`` (one deal, several contacts at contact
    level: each carries the deal's full value), or None when no two do.

    ``opportunities`` with more than one conversion, the ``conversions`` on them, and the
    value counted more than once: per such opportunity, its conversions' values beyond the
    largest one, over every conversion (``value_counted_more_than_once``, as
    ``totals.conversions_value`` counts) and over the attributed ones
    (``value_credited_more_than_once``, as the channel credit's value counts). With
    ``warning``, the sentence the run's notes and the command line's summary say.
    """
    if "opportunity_id" not in conversions.columns or not conversions.height:
        return None
    attributed = pl.col("n_touches") > 0
    per = (
        conversions.filter(pl.col("opportunity_id").is_not_null())
        .group_by("opportunity_id")
        .agg(
            pl.len().alias("n"),
            (pl.col("value").sum() - pl.col("value").max()).alias("extra"),
            (
                pl.col("value").filter(attributed).sum()
                - pl.col("value").filter(attributed).max().fill_null(0.0)
            ).alias("extra_credited"),
        )
        .filter(pl.col("n") > 1)
    )
    if not per.height:
        return None
    n_conv = int(per.get_column("n").sum())
    extra = float(per.get_column("extra").sum())
    credited = float(per.get_column("extra_credited").sum())
    advice = (
        "run with --level account (level='account': one conversion per account deal) to "
        "count each deal once"
        if level == "contact"
        else "check the stage events of these opportunities (one deal on several accounts, "
        "or closed at several times)"
    )
    return {
        "opportunities": per.height,
        "conversions": n_conv,
        "value_counted_more_than_once": extra,
        "value_credited_more_than_once": credited,
        "warning": (
            f"{n_conv:,} conversions share {per.height:,} opportunity id(s): each counts its "
            f"deal's value, so {extra:,.2f} of value is counted more than once "
            f"({credited:,.2f} of it in the channel credit); {advice}"
        ),
    }


def add_totals(manifest: dict[str, Any], conversions: pl.DataFrame, level: str) -> None:
    """Put the conversion ``totals`` into ``manifest`` and, when conversions share an
    opportunity id, ``shared_opportunities`` with its warning among the notes (every
    executor holding the conversions calls this one function)."""
    manifest["totals"] = conversion_totals(conversions)
    note_shared_opportunities(manifest, conversions, level)


def note_shared_opportunities(
    manifest: dict[str, Any], conversions: pl.DataFrame, level: str
) -> None:
    """``shared_opportunities`` in ``manifest`` and its warning among the notes, when
    conversions share an opportunity id (:func:`shared_opportunities`)."""
    shared = shared_opportunities(conversions, level)
    if shared is not None:
        manifest["shared_opportunities"] = shared
        manifest["notes"] = [*manifest.get("notes", []), shared["warning"]]


def make_manifest(
    runs: Sequence[ModelRun],
    *,
    inputs: dict[str, Any],
    parameters: dict[str, Any],
    counts: dict[str, Any],
    timings: dict[str, float],
    notes: list[str],
) -> dict[str, Any]:
    """The manifest of a run (its ``run_id`` new; :meth:`AttributionResult.write` may name
    the run otherwise)."""
    now = datetime.now(UTC)
    notes = [*notes, *(value_note(table, entry.get("source", "<memory>"), column)
                       for table, entry in inputs.items() if isinstance(entry, dict)
                       and (column := entry.get("value_column_not_read")))]
    if cut := cut_journey_note(counts, parameters.get("max_touches_per_journey")):
        notes = [*notes, cut]  # said where a reader of the run looks first, not only counted
    if long := long_journey_note(counts):  # far longer than the others, under the cap
        notes = [*notes, long]
    if referred := referrer_note(counts):  # channels taken from the referrers' hosts
        notes = [*notes, referred]
    counts, found = check_found_names(counts, parameters, runs)  # milestones, touch types
    notes = [*notes, *found]
    channels = counts.get("touch_channels")
    channel_notes: list[str] = []
    if channels is not None and parameters.get("key", "channel") == "channel":
        # every executor's channels (partitions united): a model parameter naming none of
        # them is an error (the in-memory run checks before its models), a default a note
        channel_notes = check_model_channels(runs, channels)
        notes = [*notes, *channel_notes]
    reason = empty_reason(parameters, counts)
    if reason is not None:  # said where a reader of the run looks first
        notes = [*notes, reason]
    return {
        "run_id": new_run_id(now),
        "created_at": now.isoformat(),
        "package": {"name": "attribution-engine", "version": __version__},
        "inputs": inputs,
        "parameters": parameters,
        "models": [
            {
                "label": r.label,
                "name": r.spec.name,
                "family": r.spec.family,
                "params": {k: _jsonable(v) for k, v in r.params.items()},
            }
            for r in runs
        ],
        "reconciliation": counts,
        "timings_seconds": timings,
        "notes": notes,
        **({"note_codes": {MODEL_CHANNELS: channel_notes}} if channel_notes else {}),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, timedelta):
        return f"{value.total_seconds()}s"
    if isinstance(value, tuple):
        return list(value)
    return value
