"""One-shot API: :func:`attribute` (touch logs) and :func:`attribute_paths` (path tables)."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import networkx as nx
import polars as pl

from attribution._runs import run_start
from attribution._version import __version__
from attribution.b2b._accounts import (
    ACCOUNT_CREDIT_SCHEMA,
    ACCOUNTS_SCHEMA,
    COLD_Z,
    DEFAULT_REQUIRED_ROLES,
    ENGAGEMENT_HALF_LIFE,
    HOT_Z,
    PIPELINE_SCHEMA,
    account_outputs,
    check_required_roles,
)
from attribution.engine._files import atomic_directory, write_json_atomic
from attribution.exceptions import AttributionError, InputError, ModelParameterError
from attribution.inputs._schema import (
    CONTACTS,
    EVENTS,
    PATHS,
    ROW,
    STAGES,
    TOUCHES,
    Table,
    deduplicate_touches,
    load,
    split_events,
)
from attribution.inputs._sources import TableLike
from attribution.inputs._taxonomy import derive_channels, load_rules
from attribution.journeys._journeys import (
    DEFAULT_MILESTONES,
    ContactScope,
    Journeys,
    Level,
    build_journeys,
    parse_duration,
)
from attribution.models._allocation import PathSequences
from attribution.models._registry import ModelRun, resolve_all
from attribution.models._rules import check_role_multipliers, role_multiplier_expr, with_credit

ModelRequest = str | tuple[str, Mapping[str, Any]] | Mapping[str, Any]
Progress = Callable[[str], None]

CHANNEL_CREDIT_SCHEMA = pl.Schema(
    {
        "model": pl.String(),
        "channel": pl.String(),
        "conversions": pl.Float64(),
        "value": pl.Float64(),
        "share": pl.Float64(),
    }
)
TOUCH_CREDIT_SCHEMA = pl.Schema(
    {
        "conversion_id": pl.String(),
        "touch_id": pl.String(),
        "contact_id": pl.String(),
        "account_id": pl.String(),
        "channel": pl.String(),
        "timestamp": pl.Datetime("us", "UTC"),
        "model": pl.String(),
        "credit": pl.Float64(),
        "value": pl.Float64(),
    }
)
PATH_TABLE_SCHEMA = pl.Schema(
    {
        "path": pl.List(pl.String()),
        "conversions": pl.Float64(),
        "nulls": pl.Float64(),
        "value": pl.Float64(),
    }
)
DEFAULT_LOOKBACK = {"contact": "90d", "account": "180d"}


@dataclass
class AttributionResult:
    """What :func:`attribute` and :func:`attribute_paths` return.

    Attributes
    ----------
    channel_credit : pl.DataFrame
        ``model``, ``channel``, ``conversions``, ``value``, ``share`` (share of the model's
        attributed conversions).
    touch_credit : pl.DataFrame
        ``conversion_id``, ``touch_id``, ``contact_id``, ``account_id``, ``channel``,
        ``timestamp``, ``model``, ``credit``, ``value`` (credit x conversion value). Empty for
        path tables.
    manifest : dict
        Run id, inputs, parameters, models, timings and reconciliation counts.
    conversions : pl.DataFrame
        One row per conversion, with ``n_touches`` (0 = unattributed) and milestone times.
    paths : pl.DataFrame
        The path table (``path`` as a list of channels, ``conversions``, ``nulls``, ``value``):
        the journeys the data-driven models are fitted on, identical paths summed. From
        :func:`attribute` it is built on first access (the models fit on the same journeys,
        coded as integers); until then the result holds the journeys.
    extras : dict of str to pl.DataFrame
        Model extras (e.g. removal effects), written to the run directory as Parquet.
    graphs : dict of str to networkx.DiGraph
        Fitted transition graphs (Markov), written as GraphML and node-link JSON.
    accounts : pl.DataFrame
        Account level only (else empty): one row per account with contacts engaged,
        buying-committee coverage, engagement score and hot / warm / cold tier, and its
        conversions. See :mod:`attribution.b2b._accounts` for every column.
    account_credit : pl.DataFrame
        Account level only: per account, conversion (opportunity) and model, credit and value
        by ``dimension`` (``channel``, ``contact``, ``role``) and ``key``, in long form.
    pipeline : pl.DataFrame
        Account level only: sourced vs influenced deals, pipeline and revenue by channel
        (``measure`` = ``sourced`` sums to 100%; ``influenced`` does not, and says so).
    """

    channel_credit: pl.DataFrame
    touch_credit: pl.DataFrame
    manifest: dict[str, Any]
    conversions: pl.DataFrame = field(default_factory=pl.DataFrame)
    # the path table; may be given as a function that builds it (see _get_paths below)
    paths: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=PATH_TABLE_SCHEMA), repr=False
    )
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)
    graphs: dict[str, Any] = field(default_factory=dict)
    accounts: pl.DataFrame = field(default_factory=pl.DataFrame)
    account_credit: pl.DataFrame = field(default_factory=pl.DataFrame)
    pipeline: pl.DataFrame = field(default_factory=pl.DataFrame)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_paths"] = self.paths  # a pending builder does not pickle: build it first
        return state

    def write(
        self,
        runs_dir: str | Path,
        *,
        run_id: str | None = None,
        also: Sequence[Any] = (),
        report: bool = True,
    ) -> Path:
        """Write the run directory ``runs_dir/<run_id>`` atomically and return its path.

        Files: ``manifest.json``, ``channel_credit.parquet``, ``touch_credit.parquet``,
        ``conversions.parquet``, ``paths.parquet``, one Parquet file per extra, at account
        level ``accounts.parquet``, ``account_credit.parquet`` and ``pipeline.parquet``, and
        whatever the objects in ``also`` write (each has ``.write(directory)``, e.g. a survey
        benchmark), and last ``report.html``, the self-contained report of everything written
        (``report=False`` skips it: about 0.6 s and 5 MB, mostly the inlined plotly.js).
        """
        run_id = run_id or self.manifest["run_id"]
        final = Path(runs_dir) / run_id
        with atomic_directory(final) as tmp:
            self.channel_credit.write_parquet(tmp / "channel_credit.parquet")
            # the largest file (8.9M rows at 10M touches, 13 models): zstd level 1 writes it
            # in 1.14 s instead of 1.30 s (level 3) for a file 3% larger
            self.touch_credit.write_parquet(
                tmp / "touch_credit.parquet", compression="zstd", compression_level=1
            )
            if self.conversions.width:
                self.conversions.write_parquet(tmp / "conversions.parquet")
            self.paths.with_columns(pl.col("path").list.join(" > ")).write_parquet(
                tmp / "paths.parquet"
            )
            for name, frame in (
                ("accounts", self.accounts),
                ("account_credit", self.account_credit),
                ("pipeline", self.pipeline),
            ):
                if frame.width:
                    frame.write_parquet(tmp / f"{name}.parquet")
            for name, frame in self.extras.items():
                frame.write_parquet(tmp / f"{name}.parquet")
            for extra in also:  # e.g. a SurveyBenchmark: anything with .write(directory)
                extra.write(tmp)
            for name, graph in self.graphs.items():
                nx.write_graphml(graph, tmp / f"{name}.graphml")
                (tmp / f"{name}.json").write_text(
                    json.dumps(nx.node_link_data(graph, edges="links"), default=str)
                )
            written = [p.name for p in tmp.iterdir()] + ["manifest.json"]
            manifest = dict(
                self.manifest,
                run_id=run_id,
                files=sorted(written + ["report.html"] if report else written),
            )
            if report:  # last: it reads every other file of the run
                from attribution.report._page import (
                    write_report,  # plotly loads only when a report is written
                )

                write_report(tmp, manifest=manifest)
            write_json_atomic(tmp / "manifest.json", manifest)
        return final


def _get_paths(self: AttributionResult) -> pl.DataFrame:
    """The path table (see the class docstring). :func:`attribute` gives a function and the
    table is built on first use (0.5 s at 10M touches; the data-driven models fit on coded
    journeys), which keeps the journeys in memory until then."""
    value = self.__dict__["_paths"]
    if callable(value):
        value = self.__dict__["_paths"] = value()
    return cast(pl.DataFrame, value)


def _set_paths(self: AttributionResult, value: pl.DataFrame | Callable[[], pl.DataFrame]) -> None:
    self.__dict__["_paths"] = value


# After the dataclass is made, so that ``__init__`` and ``dataclasses.replace`` keep the
# ``paths`` keyword and pass through the setter.
AttributionResult.paths = property(_get_paths, _set_paths)  # type: ignore[assignment,method-assign]


class _Timer:
    def __init__(self, progress: Progress | None) -> None:
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


def _stage_renames(stage_names: Mapping[str, str | Sequence[str]] | None) -> dict[str, str]:
    """Config ``{ours: theirs or [theirs...]}`` -> ``{theirs: ours}``."""
    out: dict[str, str] = {}
    for ours, theirs in (stage_names or {}).items():
        for name in [theirs] if isinstance(theirs, str) else theirs:
            out[name] = ours
    return out


def attribute(
    touches: TableLike,
    stages: TableLike | None = None,
    *,
    models: Iterable[ModelRequest],
    level: Level = "contact",
    conversion_stage: str = "closed_won",
    lookback: str | int | float | timedelta | None = None,
    contacts: TableLike | None = None,
    milestones: Mapping[str, Sequence[str]] | None = None,
    stage_names: Mapping[str, str | Sequence[str]] | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    channel_rules: str | Path | None = None,
    select_markov_order: bool = False,
    contact_scope: ContactScope = "account",
    role_multipliers: Mapping[str, float] | None = None,
    required_roles: Sequence[str] = DEFAULT_REQUIRED_ROLES,
    progress: Progress | None = None,
) -> AttributionResult:
    """Credit conversions to touches and channels under each requested model.

    Parameters
    ----------
    touches
        Touch log (Parquet / CSV / NDJSON path, Polars DataFrame or LazyFrame, Arrow table).
        With ``stages=None`` it may be the unified event log (``event_type`` = ``touch`` /
        ``stage``).
    stages
        CRM lifecycle events (``timestamp``, ``stage``, ``contact_id`` / ``account_id``,
        optional ``opportunity_id``, ``value``).
    models
        Registry names or ``(name, params)`` pairs, e.g.
        ``["linear", ("time_decay", {"half_life": "1d"})]``. See :func:`available_models`.
    level
        ``"contact"`` or ``"account"`` (journeys of all the account's contacts).
    conversion_stage
        The stage that counts as a conversion (after ``stage_names`` mapping).
    lookback
        Journey window, e.g. ``"90d"``. Default 90 days (contact), 180 days (account).
    contacts
        Contacts table (``contact_id``, ``account_id``, ``role``): maps contacts to accounts.
    milestones
        Milestone role -> stage names; default lead = lead/mql, opportunity, closed_won.
    stage_names
        Our stage name -> the name(s) used in the data, e.g. ``{"closed_won": "Closed Won"}``.
    columns
        Per table, our column name -> the data's, e.g. ``{"touches": {"timestamp": "ts"}}``.
    channel_rules
        Rules file used to derive ``channel`` from UTM columns when it is absent.
    select_markov_order
        Also compare Markov orders 1-4 by held-out ROC AUC of predicting conversion (seeded
        70/30 split of journeys); the table is ``extras["markov_order_selection"]`` and the
        suggested order is in the manifest.
    contact_scope
        Account level: whose touches make an account's journey. ``"account"`` (default) every
        contact of the account; ``"opportunity_roles"`` only contacts on the conversion's
        opportunity (contacts on any stage event with its ``opportunity_id``);
        ``"primary"`` only the contact on the conversion's own stage event. A conversion with
        no such contact falls back to account scope (counted as
        ``conversions_scope_fallback``); touches left out are counted as
        ``touches_dropped.outside_contact_scope``.
    role_multipliers
        Account level: buying-committee weighting, role -> multiplier (e.g.
        ``attribution.DEFAULT_ROLE_MULTIPLIERS``: decision_maker 2, champion 1.5, user 0.5).
        Each touch's rule-based weight is multiplied by its contact's role multiplier (role
        from ``contacts``; missing or unlisted roles take ``"unknown"``, default 1) and the
        journey renormalised. The data-driven models (Markov, Shapley, counterfactual) credit
        channels from path statistics and do not use it (noted in the manifest).
    required_roles
        Account level: the roles a deal's buying committee needs; coverage ("3 of 4") in
        ``accounts`` and ``conversions`` is counted against them.
    progress
        Called with the name of each pipeline stage as it starts.

    Examples
    --------
    >>> import polars as pl, attribution
    >>> touches = pl.DataFrame({"contact_id": ["c1", "c1"], "channel": ["linkedin", "email"],
    ...     "timestamp": ["2025-01-01", "2025-01-05"]})
    >>> stages = pl.DataFrame({"contact_id": ["c1"], "stage": ["closed_won"],
    ...     "timestamp": ["2025-01-10"], "value": [1000.0]})
    >>> res = attribution.attribute(touches, stages, models=["linear"])
    >>> res.channel_credit.sort("channel").get_column("conversions").to_list()
    [0.5, 0.5]
    """
    timer = _Timer(progress)
    runs = resolve_all(models)
    if level not in DEFAULT_LOOKBACK:
        raise InputError(f"level must be 'contact' or 'account'; got {level!r}")
    if level != "account" and role_multipliers is not None:
        raise InputError(
            "role_multipliers need level='account' (a contact's journey has one contact, so "
            "they would change nothing)"
        )
    multipliers = check_role_multipliers(role_multipliers) if role_multipliers else None
    required = check_required_roles(required_roles)
    window = parse_duration(lookback if lookback is not None else DEFAULT_LOOKBACK[level])
    columns = columns or {}

    timer.stage("load")
    if stages is None:
        events = load(
            touches,
            EVENTS,
            columns=columns.get("events") or columns.get("touches"),
            prehash=True,
        )
        touch_frame, stage_frame = split_events(events.frame, events.source)
        touch_table = Table(touch_frame, events.source, events.rows_in)
        stage_table = Table(stage_frame, events.source, events.rows_in)
        sources = {"events": (events.source, events.rows_in)}
    else:
        touch_table = load(
            touches,
            TOUCHES,
            columns=columns.get("touches"),
            keep=run_touch_columns(level),
            prehash=True,
        )
        stage_table = load(
            stages, STAGES, columns=columns.get("stages"), keep=run_stage_columns(level),
            prehash=True,
        )
        sources = {
            "touches": (touch_table.source, touch_table.rows_in),
            "stages": (stage_table.source, stage_table.rows_in),
        }
    contact_frame = None
    if contacts is not None:
        contact_table = load(contacts, CONTACTS, columns=columns.get("contacts"))
        contact_frame = contact_table.frame
        sources["contacts"] = (contact_table.source, contact_table.rows_in)

    timer.stage("validate")
    touch_frame, duplicates, other_channel = prepare_touches(touch_table, channel_rules)
    stage_frame = rename_stages(stage_table.frame, stage_names)

    timer.stage("journeys")
    journeys = build_journeys(
        touch_frame,
        stage_frame,
        level=level,
        conversion_stage=conversion_stage,
        lookback=window,
        milestones=milestones,
        contacts=contact_frame,
        contact_scope=contact_scope,
    )
    journey_touches = journeys.touches
    if multipliers is not None:
        journey_touches = journey_touches.with_columns(role_multiplier_expr(multipliers))
    counts = reconciliation(journeys.counts, duplicates, other_channel)

    # built on first use: the Markov and Shapley models fit on the coded journeys instead
    paths = functools.cache(functools.partial(path_table, journeys))
    sequences = functools.cache(functools.partial(journey_sequences, journeys))

    touch_parts: list[pl.DataFrame] = []
    channel_parts: list[pl.DataFrame] = []
    extras: dict[str, pl.DataFrame] = {}
    graphs: dict[str, Any] = {}
    notes: list[str] = []
    rules = {_rule_column(i): r.build() for i, r in enumerate(runs) if r.spec.family == "rule"}
    if rules:
        # every rule-based model in one pass: Polars computes the columns in parallel
        timer.stage("models:rule-based")
        multiplier = "role_multiplier" if multipliers is not None else None
        rule_credit = with_credit(journey_touches, rules, multiplier=multiplier)
    for i, run in enumerate(runs):
        timer.stage(f"model:{run.label}")
        if run.spec.family == "rule":
            credited = rule_credit.rename({_rule_column(i): "credit"}).drop(
                [c for c in rules if c != _rule_column(i)]
            )
        else:
            if multipliers is not None:
                notes.append(
                    f"{run.label}: role_multipliers not applied (data-driven models credit "
                    "channels from path statistics, not per-touch weights)"
                )
            estimator = _fit(run, paths, sequences)
            credited = estimator.allocate(journeys.touches)
            channel_parts.append(_channel_credit_from_estimator(run.label, estimator))
            extras.update(_estimator_extras(run.label, estimator))
            graphs.update(_estimator_graphs(run.label, estimator))
            notes.extend(_estimator_notes(run.label, estimator))
        touch_credit = touch_credit_columns(credited, run.label)
        touch_parts.append(touch_credit)
        if run.spec.family == "rule":
            channel_parts.append(channel_credit_from_touches(touch_credit))

    if select_markov_order:
        timer.stage("markov order selection")
        table, best = _order_selection(journeys)
        extras["markov_order_selection"] = table
        notes.append(f"markov order selection: suggested order {best} (held-out ROC AUC)")

    timer.stage("collect")
    touch_credit_all = _concat(touch_parts, TOUCH_CREDIT_SCHEMA)
    channel_credit = _concat(channel_parts, CHANNEL_CREDIT_SCHEMA)
    conversions = journeys.conversions
    accounts = pl.DataFrame()
    account_credit = pl.DataFrame()
    pipeline = pl.DataFrame()
    account_parameters: dict[str, Any] = {}
    if level == "account":
        timer.stage("accounts")
        outputs = account_outputs(
            touches=touch_frame,
            stages=stage_frame,
            contacts=contact_frame,
            journey_touches=journeys.touches,
            conversions=journeys.conversions,
            touch_credit=touch_credit_all,
            milestones={**DEFAULT_MILESTONES, **(milestones or {})},
            conversion_stage=conversion_stage,
            required_roles=required,
        )
        conversions = conversions.join(
            outputs.deals, on="conversion_id", how="left", maintain_order="left"
        )
        accounts = outputs.accounts.cast(ACCOUNTS_SCHEMA)
        account_credit = outputs.account_credit.cast(ACCOUNT_CREDIT_SCHEMA)
        pipeline = outputs.pipeline.cast(PIPELINE_SCHEMA)
        account_parameters = _account_parameters(
            contact_scope, multipliers, required, outputs.reference_time
        )
    manifest = _manifest(
        runs,
        # described last: the input files' hashes run in the background until here
        inputs={name: source.describe(rows) for name, (source, rows) in sources.items()},
        parameters=run_parameters(
            level=level,
            conversion_stage=conversion_stage,
            window=window,
            milestones=milestones,
            stage_names=stage_names,
            account_parameters=account_parameters,
        ),
        counts=counts,
        timings=timer.done(),
        notes=notes,
    )
    manifest["totals"] = conversion_totals(journeys.conversions)
    return AttributionResult(
        channel_credit,
        touch_credit_all,
        manifest,
        conversions,
        cast(pl.DataFrame, paths),  # a builder: the paths property calls it on first use
        extras,
        graphs,
        accounts=accounts,
        account_credit=account_credit,
        pipeline=pipeline,
    )


def _rule_column(i: int) -> str:
    return f"\x00credit:{i}"


def run_touch_columns(level: Level) -> Callable[[Sequence[str]], set[str]]:
    """Which touch columns a run reads (``keep`` of :func:`load`): ids, time and channel;
    ``touch_type`` at account level (engagement weights); ``utm_source`` / ``utm_medium``
    when channels are derived. ``campaign``, ``cost`` and the UTM fields beside a channel
    are type-checked, and read only for rows that may be duplicates."""

    def keep(present: Sequence[str]) -> set[str]:
        wanted = {"touch_id", "timestamp", "channel", "contact_id", "account_id"}
        if level == "account":
            wanted.add("touch_type")
        if "channel" not in present:
            wanted |= {"utm_source", "utm_medium"}
        return wanted

    return keep


def run_stage_columns(level: Level) -> Callable[[Sequence[str]], set[str]]:
    """Which stage columns a run reads (``keep`` of :func:`load`): all but ``account_id`` at
    contact level, where journeys and conversions are keyed by contact."""

    def keep(present: Sequence[str]) -> set[str]:
        return {c for c in present if level == "account" or c != "account_id"}

    return keep


def prepare_touches(
    touch_table: Table, channel_rules: str | Path | None
) -> tuple[pl.DataFrame, int, int]:
    """The validate stage of :func:`attribute` for a loaded touch table: exact duplicates
    removed, channels derived or checked. Returns the frame, the duplicates removed and the
    touches whose derived channel is ``other``."""
    touch_frame, duplicates = deduplicate_touches(touch_table)
    other_channel = 0
    if "channel" not in touch_frame.columns:
        touch_frame, other_channel = derive_channels(touch_frame, load_rules(channel_rules))
    elif touch_frame.get_column("channel").null_count():
        raise InputError(
            f"{touch_frame.get_column('channel').null_count()} touches have no channel",
            table="touches",
            source=touch_table.source.name,
            column="channel",
            rows=touch_frame.filter(pl.col("channel").is_null()).get_column(ROW).head(5).to_list(),
            hint="fill the channel, or drop the column to derive channels from utm_source / "
            "utm_medium",
        )
    return touch_frame, duplicates, other_channel


def rename_stages(
    stage_frame: pl.DataFrame, stage_names: Mapping[str, str | Sequence[str]] | None
) -> pl.DataFrame:
    """Map the data's stage names to ours (``stage_names`` as :func:`attribute` takes it)."""
    renames = _stage_renames(stage_names)
    if renames:
        stage_frame = stage_frame.with_columns(pl.col("stage").replace(renames))
    return stage_frame


def reconciliation(
    journey_counts: Mapping[str, int | dict[str, int]], duplicates: int, other_channel: int
) -> dict[str, Any]:
    """The manifest's reconciliation counts: the journeys' counts plus the validate stage's."""
    counts: dict[str, Any] = dict(journey_counts)
    touches_in = counts["touches_in"]
    assert isinstance(touches_in, int)
    counts["touches_in"] = touches_in + duplicates
    dropped = dict(counts["touches_dropped"])
    if duplicates:
        dropped["exact_duplicate"] = duplicates
    counts["touches_dropped"] = dropped
    counts["touches_channel_other"] = other_channel
    return counts


def touch_credit_columns(credited: pl.DataFrame, label: str) -> pl.DataFrame:
    """Journey touches with ``credit`` -> the columns of ``touch_credit`` for one model."""
    return credited.select(
        "conversion_id",
        "touch_id",
        "contact_id",
        "account_id",
        "channel",
        "timestamp",
        pl.lit(label).alias("model"),
        "credit",
        (pl.col("credit") * pl.col("conversion_value")).alias("value"),
    )


def _account_parameters(
    contact_scope: str,
    multipliers: Mapping[str, float] | None,
    required: Sequence[str],
    reference: datetime | None,
) -> dict[str, Any]:
    return {
        "contact_scope": contact_scope,
        "role_multipliers": multipliers,
        "required_roles": list(required),
        "engagement": {
            "reference_time": reference.isoformat() if reference is not None else None,
            "half_life_days": ENGAGEMENT_HALF_LIFE.total_seconds() / 86400,
            "tiers": f"hot: z >= {HOT_Z}; cold: z <= {COLD_Z} or score 0; warm otherwise "
            "(z of log1p(90-day score) within the run)",
        },
    }


def run_parameters(
    *,
    level: str,
    conversion_stage: str,
    window: timedelta,
    milestones: Mapping[str, Sequence[str]] | None,
    stage_names: Mapping[str, str | Sequence[str]] | None,
    account_parameters: Mapping[str, Any],
) -> dict[str, Any]:
    """The manifest's ``parameters`` of a touch-log run."""
    return {
        "level": level,
        "conversion_stage": conversion_stage,
        "lookback": str(window),
        "lookback_seconds": window.total_seconds(),
        "milestones": {
            k: [v] if isinstance(v, str) else list(v)
            for k, v in {**DEFAULT_MILESTONES, **(milestones or {})}.items()
        },
        "stage_names": dict(stage_names or {}),
        **account_parameters,
    }


def conversion_totals(conversions: pl.DataFrame) -> dict[str, float]:
    """The manifest's ``totals``: value of every conversion and of the attributed ones."""
    return {
        "conversions_value": float(conversions.get_column("value").sum() or 0.0),
        "attributed_value": float(
            conversions.filter(pl.col("n_touches") > 0).get_column("value").sum() or 0.0
        ),
    }


def channel_credit_from_touches(touch_credit: pl.DataFrame) -> pl.DataFrame:
    """Sum per-touch credit by model and channel; ``share`` is within the model."""
    return (
        touch_credit.group_by("model", "channel")
        .agg(pl.col("credit").sum().alias("conversions"), pl.col("value").sum())
        .with_columns(
            (pl.col("conversions") / pl.col("conversions").sum().over("model"))
            .fill_nan(0.0)
            .alias("share")
        )
        .sort("model", "conversions", "channel", descending=[False, True, False])
        .select(list(CHANNEL_CREDIT_SCHEMA))
    )


def _channel_credit_from_estimator(label: str, estimator: Any) -> pl.DataFrame:
    credit = estimator.channel_credit_
    total = float(credit.get_column("conversions").sum() or 0.0)
    if total <= 0:  # nothing converted: no credit to report, as for the rule-based models
        return pl.DataFrame(schema=CHANNEL_CREDIT_SCHEMA)
    return credit.select(
        pl.lit(label).alias("model"),
        pl.col("channel").cast(pl.String),
        pl.col("conversions").cast(pl.Float64),
        pl.col("value").cast(pl.Float64),
        (pl.col("conversions") / total if total > 0 else pl.lit(0.0)).alias("share"),
    ).sort("conversions", "channel", descending=[True, False])


def _order_selection(journeys: Journeys) -> tuple[pl.DataFrame, int]:
    from attribution.models._markov import select_order

    per_journey = pl.concat(
        [
            journeys.touches.group_by("conversion_id", maintain_order=True)
            .agg(pl.col("channel").alias("path"))
            .select("path", pl.lit(True).alias("converted")),
            journeys.null_touches.group_by("path_id", maintain_order=True)
            .agg(pl.col("channel").cast(pl.String).alias("path"))
            .select("path", pl.lit(False).alias("converted")),
        ]
    )
    try:
        return select_order(per_journey, seed=0)
    except ValueError as exc:
        raise ModelParameterError(f"markov order selection: {exc}") from exc


def _fit(
    run: ModelRun,
    paths: pl.DataFrame | Callable[[], pl.DataFrame],
    sequences: Callable[[], PathSequences] | None = None,
) -> Any:
    """Fit a data-driven model on the path table, or on coded journeys (``sequences``) when
    the model takes them (``fits_sequences``); its own ValueErrors become the library's
    error type. ``paths`` may be a function building the table."""
    try:
        estimator = run.build()
        if sequences is not None and getattr(estimator, "fits_sequences", False):
            return estimator.fit(sequences())
        return estimator.fit(paths() if callable(paths) else paths)
    except AttributionError:
        raise
    except ValueError as exc:
        raise ModelParameterError(f"{run.label}: {exc}") from exc


def _estimator_notes(label: str, estimator: Any) -> list[str]:
    notes = [f"{label}: {n}" for n in getattr(estimator, "notes_", [])]
    if getattr(estimator, "solver_", None):  # which exact solver the Markov chain used
        notes.append(f"{label}: solved with {estimator.solver_}")
    return notes


def _estimator_graphs(label: str, estimator: Any) -> dict[str, Any]:
    if not hasattr(estimator, "to_networkx"):
        return {}
    return {f"{_safe(label)}_transition_graph": estimator.to_networkx()}


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-=" else "_" for ch in label)


def _estimator_extras(label: str, estimator: Any) -> dict[str, pl.DataFrame]:
    out: dict[str, pl.DataFrame] = {}
    for attr in ("removal_effects_", "transition_matrix_", "shapley_values_"):
        frame = getattr(estimator, attr, None)
        if isinstance(frame, pl.DataFrame):
            out[f"{_safe(label)}_{attr.rstrip('_')}"] = frame
    return out


def _concat(parts: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    parts = [p for p in parts if p.height]
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat([p.cast(schema) for p in parts], how="vertical")


def path_table(journeys: Journeys) -> pl.DataFrame:
    """Aggregate converting and non-converting journeys into a path table.

    Paths are grouped on channel codes (the ``Enum`` of the null touches) and turned into
    strings once per distinct path: 0.4 s instead of 0.9 s for 10M touches.
    """
    codes = journeys.null_touches.schema["channel"]
    converting = (
        journeys.touches.group_by("conversion_id", maintain_order=True)
        .agg(
            pl.col("channel").cast(codes).alias("path"),
            pl.col("conversion_value").first().alias("value"),
        )
        .select("path", pl.lit(1.0).alias("conversions"), pl.lit(0.0).alias("nulls"), "value")
    )
    nulls = (
        journeys.null_touches.group_by("path_id", maintain_order=True)
        .agg(pl.col("channel").alias("path"))
        .select(
            "path",
            pl.lit(0.0).alias("conversions"),
            pl.lit(1.0).alias("nulls"),
            pl.lit(0.0).alias("value"),
        )
    )
    return (
        pl.concat([converting, nulls])
        .group_by("path")
        .agg(pl.col("conversions").sum(), pl.col("nulls").sum(), pl.col("value").sum())
        .with_columns(pl.col("path").cast(pl.List(pl.String)))
        .cast(PATH_TABLE_SCHEMA)
        .sort(["conversions", "nulls"], descending=True)
        .select(list(PATH_TABLE_SCHEMA))
    )


def journey_sequences(journeys: Journeys) -> PathSequences:
    """The journeys as coded paths (one per conversion and per null path, weight 1), for
    the models that fit on :class:`PathSequences`: the path table without its lists and
    strings (it takes ~0.1 s at 10M touches where :func:`path_table` takes 0.5 s)."""
    codes = journeys.null_touches.schema["channel"]
    assert isinstance(codes, pl.Enum)
    index = pl.get_index_type()
    converting = journeys.touches.select(
        pl.col("conversion_id").rle_id().cast(index).alias("pid"),
        pl.col("channel").cast(codes).to_physical().cast(pl.UInt32).alias("ch"),
    )
    firsts = journeys.touches.filter(run_start(pl.col("conversion_id")))
    bad = ~pl.col("conversion_value").is_finite() | (pl.col("conversion_value") < 0)
    if firsts.select(bad.any()).item():
        shown = firsts.filter(bad).get_column("conversion_id").head(5).to_list()
        raise ValueError(
            f"conversions {shown} have a negative or non-finite stage 'value' (deal amount); "
            "the data-driven models need finite amounts >= 0"
        )
    n_conv = firsts.height
    per_conversion = firsts.select(
        pl.lit(1.0).alias("conversions"),
        pl.lit(0.0).alias("nulls"),
        pl.col("conversion_value").alias("value"),
    )
    null_rows = journeys.null_touches.select(
        (pl.col("path_id").cast(index) + n_conv).alias("pid"),
        pl.col("channel").to_physical().cast(pl.UInt32).alias("ch"),
    )
    path_ids = journeys.null_touches.get_column("path_id")  # 0..n-1, in order (rle ids)
    n_null = int(path_ids.max()) + 1 if path_ids.len() else 0  # type: ignore[arg-type]
    per_null = pl.select(
        pl.repeat(0.0, n_null, dtype=pl.Float64).alias("conversions"),
        pl.repeat(1.0, n_null, dtype=pl.Float64).alias("nulls"),
        pl.repeat(0.0, n_null, dtype=pl.Float64).alias("value"),
    )
    return PathSequences.from_codes(
        pl.concat([converting, null_rows]),
        pl.concat([per_conversion, per_null]),
        codes.categories.to_list(),
        where="of the conversions (their stage 'value')",
    )


def attribute_paths(
    paths: TableLike,
    *,
    models: Iterable[ModelRequest],
    sep: str = " > ",
    columns: Mapping[str, str] | None = None,
) -> AttributionResult:
    """Credit channels from a pre-aggregated path table (``path``, ``conversions``, optional
    ``nulls`` and ``value``), for every model that needs no timestamps or milestones.

    Examples
    --------
    >>> import polars as pl, attribution
    >>> paths = pl.DataFrame({"path": ["a > b", "b"], "conversions": [2, 1]})
    >>> res = attribution.attribute_paths(paths, models=["first_touch"])
    >>> dict(res.channel_credit.select("channel", "conversions").iter_rows())
    {'a': 2.0, 'b': 1.0}
    """
    timer = _Timer(None)
    runs = resolve_all(models)
    for run in runs:
        if run.needs_timestamps or run.needs_milestones:
            what = "timestamps" if run.needs_timestamps else "lead/opportunity milestones"
            raise ModelParameterError(
                f"model '{run.label}' needs {what}, which a path table does not have; use "
                "attribute() with the touch log instead"
            )
    timer.stage("load")
    table = load(paths, PATHS, columns=columns)
    frame = table.frame
    for col in ("nulls", "value"):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(0.0).alias(col))
    frame = frame.with_columns(pl.col("nulls", "value").fill_null(0.0))
    negative = (pl.col("conversions") < 0) | (pl.col("nulls") < 0)
    if frame.select(negative.any()).item():
        raise InputError(
            "conversions and nulls must be non-negative",
            table="paths",
            source=table.source.name,
            column="conversions",
            rows=frame.filter(negative).get_column(ROW).head(5).to_list(),
        )
    split = frame.with_columns(
        pl.col("path")
        .str.split(sep)
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != ""))
        .alias("path")
    )
    empty = pl.col("path").list.len() == 0
    if split.select(empty.any()).item():
        raise InputError(
            "empty path",
            table="paths",
            source=table.source.name,
            column="path",
            rows=split.filter(empty).get_column(ROW).head(5).to_list(),
            hint=f"paths are channels joined by {sep!r}",
        )
    path_frame = split.select(list(PATH_TABLE_SCHEMA)).cast(PATH_TABLE_SCHEMA)

    # each converting row becomes one pseudo-journey, weighted by its conversions
    journeys = (
        split.filter(pl.col("conversions") > 0)
        .select(pl.col(ROW).cast(pl.String).alias("conversion_id"), "path", "conversions", "value")
        .explode("path")
        .rename({"path": "channel"})
        .with_columns(
            pl.int_range(pl.len()).over("conversion_id").alias("position"),
            pl.len().over("conversion_id").alias("n_touches"),
        )
        .with_columns(
            (pl.col("position") == 0).alias("is_first"),
            (pl.col("position") == pl.col("n_touches") - 1).alias("is_last"),
        )
    )
    channel_parts = []
    extras: dict[str, pl.DataFrame] = {}
    graphs: dict[str, Any] = {}
    notes: list[str] = []
    for run in runs:
        timer.stage(f"model:{run.label}")
        if run.spec.family == "rule":
            credited = with_credit(journeys, {"credit": run.build()})
            channel_parts.append(
                channel_credit_from_touches(
                    credited.select(
                        pl.lit(run.label).alias("model"),
                        "channel",
                        (pl.col("credit") * pl.col("conversions")).alias("credit"),
                        (pl.col("credit") * pl.col("value")).alias("value"),
                    )
                )
            )
        else:
            estimator = _fit(run, path_frame)
            channel_parts.append(_channel_credit_from_estimator(run.label, estimator))
            extras.update(_estimator_extras(run.label, estimator))
            graphs.update(_estimator_graphs(run.label, estimator))
            notes.extend(_estimator_notes(run.label, estimator))
    total_conv = float(frame.get_column("conversions").sum() or 0.0)
    manifest = _manifest(
        runs,
        inputs={"paths": table.source.describe(table.rows_in)},
        parameters={"sep": sep},
        counts={
            "paths": frame.height,
            "conversions": total_conv,
            "nulls": float(frame.get_column("nulls").sum() or 0.0),
            "value": float(frame.get_column("value").sum() or 0.0),
        },
        timings=timer.done(),
        notes=notes,
    )
    return AttributionResult(
        _concat(channel_parts, CHANNEL_CREDIT_SCHEMA),
        pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA),
        manifest,
        paths=path_frame,
        extras=extras,
        graphs=graphs,
    )


def _manifest(
    runs: list[ModelRun],
    *,
    inputs: dict[str, Any],
    parameters: dict[str, Any],
    counts: dict[str, Any],
    timings: dict[str, float],
    notes: list[str],
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "run_id": now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8],
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
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, timedelta):
        return f"{value.total_seconds()}s"
    if isinstance(value, tuple):
        return list(value)
    return value
