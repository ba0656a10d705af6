"""What a run returns: :class:`AttributionResult`, its table schemas, and the run directory
it writes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import polars as pl

from attribution._reporting_currency import money_in
from attribution.engine._empty import require_conversions
from attribution.engine._files import RunFiles, atomic_directory, write_json_atomic
from attribution.inputs._separator import STORED_SEPARATOR

if TYPE_CHECKING:
    from attribution.engine._bootstrap import Bootstrap
    from attribution.options import RunOptions

__all__ = [
    "CAMPAIGN_CREDIT_SCHEMA",
    "CAMPAIGN_SUMS_SCHEMA",
    "CHANNEL_CREDIT_SCHEMA",
    "CONVERSION_CAMPAIGNS_SCHEMA",
    "PATH_TABLE_SCHEMA",
    "SUMS_SCHEMA",
    "TOUCH_CREDIT_SCHEMA",
    "AttributionResult",
    "empty",
]

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
#: Credit per model, channel and campaign (``campaign_credit.parquet``): ``conversions`` the
#: summed touch credit, ``share`` within the model, ``channel_share`` within the channel.
CAMPAIGN_CREDIT_SCHEMA = pl.Schema(
    {
        "model": pl.String(),
        "channel": pl.String(),
        "campaign": pl.String(),
        "conversions": pl.Float64(),
        "value": pl.Float64(),
        "share": pl.Float64(),
        "channel_share": pl.Float64(),
    }
)
#: Touch credit per conversion, model, channel and campaign (what campaign credit and the
#: campaign influence export aggregate).
CONVERSION_CAMPAIGNS_SCHEMA = pl.Schema(
    {
        "conversion_id": pl.String(),
        "model": pl.String(),
        "channel": pl.String(),
        "campaign": pl.String(),
        "credit": pl.Float64(),
        "value": pl.Float64(),
    }
)
#: An additive partial of campaign credit (partitions and Spark tasks sum these).
CAMPAIGN_SUMS_SCHEMA = pl.Schema(
    {
        "model": pl.String(),
        "channel": pl.String(),
        "campaign": pl.String(),
        "credit": pl.Float64(),
        "value": pl.Float64(),
    }
)
#: An additive partial of rule-based channel credit: per model and channel, the sums of the
#: touch ``credit`` and ``value`` (partitioned and Spark runs merge these).
SUMS_SCHEMA = pl.Schema(
    {"model": pl.String(), "channel": pl.String(), "credit": pl.Float64(), "value": pl.Float64()}
)


def empty(schema: pl.Schema) -> pl.DataFrame:
    """An empty frame of ``schema``."""
    return pl.DataFrame(schema=schema)


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
        ``timestamp``, ``model``, ``credit``, ``value`` (credit x conversion value): one row
        per touch and model, model after model. Empty for path tables. From
        :func:`attribute` it is built from ``touch_credit_wide`` on first access.
    touch_credit_wide : pl.DataFrame
        The same credit, one row per journey touch: the six columns naming the touch,
        ``conversion_value``, then ``credit:<model>`` per model in the run's order (what
        ``touch_credit.parquet`` holds under ``touch_credit_layout="wide"``, the default).
        Empty (no columns) when the executor holds only the long layout; :meth:`write`
        then builds it when the wide file is asked for. From :func:`attribute` a run
        without rule-based models builds it (its data-driven models' allocation over the
        journey touches) on first access, as it does ``campaign_credit`` and
        ``campaign_influence`` in every run; :meth:`write` builds them in its threads.
        From :func:`attribute_incremental` this table, ``conversions``, ``campaign_credit``
        and ``campaign_influence`` are built from the run's state on first access (read
        them, or write the result, before the next run on that state).
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
    campaign_credit : pl.DataFrame
        When the touches carry a ``campaign`` column (else empty), under every ``key``: per
        model, channel and campaign the summed touch credit (``conversions``), credited
        ``value``, ``share`` of the model's conversions and ``channel_share`` of its
        channel's; ``(none)`` holds the touches without a campaign. Its ``conversions`` sum
        to the model's attributed conversions.
    campaign_influence : pl.DataFrame
        With campaigns (not on Spark): the CRM campaign-influence rows, one per opportunity,
        model and campaign (``credit_share`` sums to 1 per opportunity and model,
        ``revenue_share`` to the opportunity's amount); see
        :func:`attribution.b2b._campaigns.campaign_influence`. From :func:`attribute` it is
        built on first access.
    campaign_influence_wide : pl.DataFrame
        The same shares, one row per opportunity and campaign: the columns naming them,
        then ``credit_share:<model>`` per model in the run's order (what
        ``campaign_influence.parquet`` holds under ``influence_layout="wide"``, the default;
        see :mod:`attribution.b2b._influence`). Built on first access; empty (no columns)
        when the executor holds only the long layout, which :meth:`write` then turns into
        this one when the wide file is asked for.
    bootstrap : Bootstrap or None
        With ``RunOptions(bootstrap=N)`` (in memory): the draws, every model refitted on
        each (:class:`attribution.engine._bootstrap.Bootstrap`; ``credit`` per draw, model,
        segment and channel); ``channel_credit`` then has ``ci_low`` and ``ci_high``, the
        90% interval of ``share``. The unit economics read it for theirs.
    options : RunOptions or None
        The options the run was made with (``None`` for a result built by hand):
        :func:`attribution.analyse` uses them when it is given none.
    """

    channel_credit: pl.DataFrame
    touch_credit: pl.DataFrame
    manifest: dict[str, Any]
    conversions: pl.DataFrame = field(default_factory=pl.DataFrame)
    # the path table; may be given as a function that builds it (see _LAZY below)
    paths: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=PATH_TABLE_SCHEMA), repr=False
    )
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)
    graphs: dict[str, Any] = field(default_factory=dict)
    accounts: pl.DataFrame = field(default_factory=pl.DataFrame)
    account_credit: pl.DataFrame = field(default_factory=pl.DataFrame)
    pipeline: pl.DataFrame = field(default_factory=pl.DataFrame)
    campaign_credit: pl.DataFrame = field(default_factory=pl.DataFrame)
    campaign_influence: pl.DataFrame = field(default_factory=pl.DataFrame)
    touch_credit_wide: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    campaign_influence_wide: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    bootstrap: Bootstrap | None = field(default=None, repr=False)
    #: the run's options (every executor sets them): :func:`attribution.analyse` reads the
    #: run's column mappings, stage names, conversion stage and formats from them
    options: RunOptions | None = field(default=None, repr=False, compare=False)
    #: an incremental run asked not to commit its state (``commit=False``): what commits it
    #: (:meth:`commit_state`)
    state_commit: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def commit_state(self) -> None:
        """Commit the state of an incremental run made with ``commit=False`` (one atomic
        replace of ``state.json``); nothing for any other run. The command line calls it once
        the run directory (and ``--write-to``) are written, so a night that fails or is
        stopped before leaves the state as it was."""
        pending, self.state_commit = self.state_commit, None
        if pending is not None:
            pending()

    def require_conversions(self) -> AttributionResult:
        """This result, or :class:`~attribution.EmptyResultError` saying why no conversion
        was attributed (the stage names found, a did-you-mean against the conversion stage,
        the touches outside the lookback) unless the run's options allow it
        (``allow_empty``)."""
        require_conversions(self.manifest)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_stored_paths", None)  # a thread building the written form
        for name in _LAZY:  # a pending builder does not pickle: build it first
            state[f"_{name}"] = getattr(self, name)
        return state

    def build_in_background(self, *names: str) -> None:
        """Start building the tables ``names`` that are still to be built on first access
        (default: the path table and the campaign outputs), each in a thread of its own; a
        reader (e.g. :meth:`write`) then waits for the thread instead of building it. The
        command line calls it before the B2B stage, whose work then overlaps these builds
        (Polars and NumPy build them without the GIL). An error is raised to the reader.
        The campaign influence is the layout the run writes (``influence_layout``)."""
        influence = (
            "campaign_influence_wide"
            if self._layout("influence_layout", None) == "wide"
            and callable(self.__dict__["_campaign_influence_wide"])
            else "campaign_influence"
        )
        for name in names or ("paths", influence, "campaign_credit"):
            slot = f"_{name}"
            build = self.__dict__[slot]
            if name == "paths" and callable(stored := getattr(build, "stored", None)):
                # the run directory's form: built without the lists (see stored_paths)
                if "_stored_paths" not in self.__dict__:
                    self.__dict__["_stored_paths"] = _Background(stored)
            elif callable(build) and not isinstance(build, _Background):
                self.__dict__[slot] = _Background(build)

    def stored_paths(self) -> pl.DataFrame:
        """The path table as ``paths.parquet`` holds it: each ``path`` one string, its
        channels joined by ``>``. From :func:`attribute` it is built from the paths' keys
        without the lists of ``paths`` when those are not built yet."""
        if (pending := self.__dict__.get("_stored_paths")) is not None:
            return cast(pl.DataFrame, pending())
        build = self.__dict__["_paths"]
        if callable(build) and callable(stored := getattr(build, "stored", None)):
            return cast(pl.DataFrame, stored())
        return self.paths.with_columns(pl.col("path").list.join(STORED_SEPARATOR))

    def touch_credit_table(self, layout: str) -> pl.DataFrame:
        """The touch credit as ``touch_credit.parquet`` holds it under ``layout`` (``"wide"``
        or ``"long"``, see ``RunOptions.touch_credit_layout``)."""
        if layout == "long":
            return self.touch_credit
        if self.touch_credit_wide.width:
            return self.touch_credit_wide
        from attribution.engine._credit_table import wide_from_long

        return wide_from_long(self.touch_credit, self.conversions)

    def campaign_influence_table(self, layout: str) -> pl.DataFrame:
        """The campaign influence as ``campaign_influence.parquet`` holds it under ``layout``
        (``"wide"`` or ``"long"``, see ``RunOptions.influence_layout``)."""
        if layout == "long":
            return self.campaign_influence
        if self.campaign_influence_wide.width:
            return self.campaign_influence_wide
        from attribution.b2b._influence import wide_influence

        long = self.campaign_influence
        if not long.width:  # no campaigns: no file
            return long
        # the models in the rows' order (by opportunity, model as run); without rows the run's
        models = self.channel_credit.get_column("model").unique(maintain_order=True).to_list()
        return wide_influence(long, None if long.height else models)

    def _layout(self, option: str, given: str | None) -> str:
        """A file's layout: ``given``, else the run's (the manifest's parameters), else
        long (a result made by hand, or before the option was)."""
        layout = given or self.manifest.get("parameters", {}).get(option, "long")
        if layout not in ("wide", "long"):
            raise ValueError(f"{option} must be 'wide' or 'long'; got {layout!r}")
        return str(layout)

    def write(
        self,
        runs_dir: str | Path,
        *,
        run_id: str | None = None,
        also: Sequence[Any] = (),
        report: bool = True,
        touch_credit_layout: str | None = None,
        influence_layout: str | None = None,
        allow_empty: bool | None = None,
    ) -> Path:
        """Write the run directory ``runs_dir/<run_id>`` atomically and return its path.

        A run that attributed no conversion raises :class:`~attribution.EmptyResultError`
        saying why and writes nothing, unless ``allow_empty`` (default: the run's own
        option, ``RunOptions.allow_empty``), as ``attribution run`` exits 3.

        ``touch_credit_layout``: ``"wide"`` or ``"long"`` (see ``RunOptions``); default the
        run's (the manifest's ``parameters.touch_credit_layout``, else long);
        ``influence_layout`` likewise for ``campaign_influence.parquet``. The tables are
        written in parallel threads (Polars writes without the GIL), Parquet with zstd at
        level 1: at 10M touches 0.16 s of CPU more than lz4 for the three large tables,
        for 56 MB where lz4 writes 81 MB (README, "the tables are written once each").

        Files: ``manifest.json``, ``channel_credit.parquet`` (with ``ci_low`` and
        ``ci_high`` after a bootstrap), ``touch_credit.parquet``,
        ``conversions.parquet``, ``paths.parquet``, one Parquet file per extra, at account
        level ``accounts.parquet``, ``account_credit.parquet`` and ``pipeline.parquet``,
        ``campaign_credit.parquet`` and ``campaign_influence.parquet`` when the touches carry
        campaigns, ``credit_draws.parquet`` with the bootstrap, and
        whatever the objects in ``also`` write (each has ``.write(directory)``, e.g. a survey
        benchmark; one that lists a file of the run in its ``replaces``, as campaign
        economics does ``campaign_credit.parquet``, writes that file instead of the run, so it
        is written once), and last ``report.html``, the self-contained report of everything written
        (``report=False`` skips it: about 0.6 s and 1 MB, half of it the packed plotly.js).
        """
        require_conversions(self.manifest, allow_empty)
        run_id = run_id or self.manifest["run_id"]
        final = Path(runs_dir) / run_id
        layout = self._layout("touch_credit_layout", touch_credit_layout)
        influence_layout = self._layout("influence_layout", influence_layout)
        replaced = {file for extra in also for file in getattr(extra, "replaces", ())}
        with atomic_directory(final) as tmp:
            tables: list[tuple[str, Callable[[], pl.DataFrame]]] = [
                (RunFiles.CHANNEL_CREDIT, lambda: self.channel_credit),
                (RunFiles.TOUCH_CREDIT, lambda: self.touch_credit_table(layout)),
                (RunFiles.PATHS, self.stored_paths),
            ]
            if (boot := self.bootstrap) is not None:  # every draw's credit
                tables.append((RunFiles.CREDIT_DRAWS, lambda: boot.credit))
            for file, frame in (
                (RunFiles.CONVERSIONS, self.conversions),
                (RunFiles.ACCOUNTS, self.accounts),
                (RunFiles.ACCOUNT_CREDIT, self.account_credit),
                (RunFiles.PIPELINE, self.pipeline),
                *((f"{name}.parquet", frame) for name, frame in self.extras.items()),
            ):
                if frame.width:
                    tables.append((file, lambda frame=frame: frame))  # type: ignore[misc]
            # the campaign outputs, when still to be built, are built by the writer's threads
            # (beside the touch credit's encoding); an empty one writes no file
            if self._pending("campaign_credit"):
                tables.append((RunFiles.CAMPAIGN_CREDIT, lambda: self.campaign_credit))
            if self._pending("campaign_influence") or self._pending("campaign_influence_wide"):
                tables.append(
                    (
                        RunFiles.CAMPAIGN_INFLUENCE,
                        lambda: self.campaign_influence_table(influence_layout),
                    )
                )
            write_tables(tmp, [(file, build) for file, build in tables if file not in replaced])
            with money_in(self.manifest):  # its texts' money in the run's currency
                for extra in also:  # e.g. a SurveyBenchmark: anything with .write(directory)
                    extra.write(tmp)
            if self.graphs:  # networkx imported here: 0.1 s of every process's start before
                import networkx as nx
            for name, graph in self.graphs.items():
                nx.write_graphml(graph, tmp / f"{name}.graphml")
                (tmp / f"{name}.json").write_text(
                    json.dumps(nx.node_link_data(graph, edges="links"), default=str)
                )
            written = [p.name for p in tmp.iterdir()] + [RunFiles.MANIFEST]
            manifest = dict(
                self.manifest,
                run_id=run_id,
                files=sorted(written + [RunFiles.REPORT] if report else written),
            )
            if "parameters" in manifest:  # the layout the file was written in
                manifest["parameters"] = dict(
                    manifest["parameters"],
                    touch_credit_layout=layout,
                    influence_layout=influence_layout,
                )
            if report:  # last: it reads every other file of the run
                from attribution.report._page import (
                    write_report,  # plotly loads only when a report is written
                )

                write_report(tmp, manifest=manifest)
            write_json_atomic(tmp / RunFiles.MANIFEST, manifest)
        return final

    def _pending(self, name: str) -> bool:
        """Whether table ``name`` is still to be built, or built with columns."""
        return callable(self.__dict__[f"_{name}"]) or bool(getattr(self, name).width)


def write_tables(directory: Path, tables: Sequence[tuple[str, Callable[[], pl.DataFrame]]]) -> None:
    """Write each ``(file, build)`` of ``tables`` as Parquet (zstd level 1) into ``directory``,
    in parallel threads: Polars builds and writes without the GIL, so the path table's
    group-by, the touch credit's encoding and the disk overlap. A table built with no
    column writes no file. The first error is raised once every thread is done."""
    from concurrent.futures import ThreadPoolExecutor

    def write(file: str, build: Callable[[], pl.DataFrame]) -> None:
        frame = build()
        if frame.width:  # a table built here may turn out empty: no file, as before
            frame.write_parquet(directory / file, compression="zstd", compression_level=1)

    if len(tables) < 2:
        for file, build in tables:
            write(file, build)
        return
    with ThreadPoolExecutor(max_workers=min(4, len(tables))) as pool:
        futures = [pool.submit(write, file, build) for file, build in tables]
    for future in futures:
        future.result()


#: Fields that may be given as a function building the table on first access: the path
#: table of :func:`attribute` (0.5 s at 10M touches; the data-driven models fit on coded
#: journeys, which keeps the journeys in memory until then), and the per-touch outputs of an
#: incremental run (built from its state only when read or written: see
#: :mod:`attribution.engine._incremental`).
_LAZY = (
    "touch_credit",
    "conversions",
    "paths",
    "campaign_credit",
    "campaign_influence",
    "touch_credit_wide",
    "campaign_influence_wide",
)


class _Background:
    """A table built in a thread of its own; calling it waits for the table (or raises the
    build's error)."""

    def __init__(self, build: Callable[[], pl.DataFrame]) -> None:
        self._value: pl.DataFrame | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(build,), daemon=True)
        self._thread.start()

    def _run(self, build: Callable[[], pl.DataFrame]) -> None:
        try:
            self._value = build()
        except BaseException as exc:  # raised to the reader, in its thread
            self._error = exc

    def __call__(self) -> pl.DataFrame:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def _lazy(name: str) -> property:
    slot = f"_{name}"

    def get(self: AttributionResult) -> pl.DataFrame:
        value = self.__dict__[slot]
        if callable(value):
            value = self.__dict__[slot] = value()
        return cast(pl.DataFrame, value)

    def set_(self: AttributionResult, value: pl.DataFrame | Callable[[], pl.DataFrame]) -> None:
        self.__dict__[slot] = value

    return property(get, set_)


# After the dataclass is made, so that ``__init__`` and ``dataclasses.replace`` keep the
# keywords and pass through the setters.
for _name in _LAZY:
    setattr(AttributionResult, _name, _lazy(_name))
