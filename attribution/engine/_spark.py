"""Scale-out on Apache Spark: the library's own journeys and models inside ``mapInArrow``.

Needs the ``spark`` extra (``pip install 'attribution-engine[spark]'``); importing
:mod:`attribution` does not import PySpark. The mechanism is that of
:func:`attribution.engine._partitioned.attribute_partitioned`:

1. touches and stage events are unioned into the unified event log (``event_type``) and
   repartitioned by the journey key (``contact_id``, or ``account_id`` filled from the contacts
   table at account level), so every journey lives in one Spark partition; each row keeps a
   row id (``monotonically_increasing_id``) for the tie-breaks of the journeys;
2. **pass 1** (``mapInArrow``): each task concatenates its Arrow batches (journeys cross batch
   boundaries), turns them into Polars with ``pl.from_arrow`` and runs the library's
   validation and journey building; it emits additive partials only: path-table rows
   (``path``, ``conversions``, ``nulls``, ``value``), per-channel sums of the rule-based credit
   and the reconciliation counts. Spark reduces them with ``groupBy().sum()``; the integer
   counts are exact. The float ``value`` per path is reduced as a sorted list and summed on
   the driver in Polars, in one fixed order, so it does not depend on the shuffle;
3. the driver fits each data-driven model once on the merged path table with the library's
   estimator (bit-identical to the single-machine fit on the integer counts);
4. **pass 2** (``mapInArrow``): each task rebuilds its journeys and writes the touch credit
   of every model, the data-driven ones allocated by the fitted estimators shipped from the
   driver. Nothing per touch is collected on the driver.

Journeys are built twice (once per pass): persisting the journey touches of a large log
costs more than rebuilding them. Account-level extras (``accounts``, ``pipeline``,
``account_credit``), Markov order selection and the bootstrap are not computed here.

Run as a job::

    spark-submit --conf spark.sql.session.timeZone=UTC -m attribution.spark \\
        --touches s3a://bucket/touches --stages s3a://bucket/stages --out s3a://bucket/run \\
        --model linear --model markov --partitions 400

or ``python -m attribution.spark ...`` with a local master.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from attribution.b2b._committee import check_run_roles
from attribution.engine._campaign_credit import reduce_campaign_sums, spark_campaign_sums
from attribution.engine._manifest import (
    account_options,
    add_totals,
    make_manifest,
    run_parameters,
)
from attribution.engine._memory import refuse_bootstrap
from attribution.engine._merge import (
    GLOBAL_ROW,
    channel_sums,
    check_partitions,
    contact_accounts,
    load_with_rows,
    merge_channel_sums,
    merge_counts,
)
from attribution.engine._result import (
    CHANNEL_CREDIT_SCHEMA,
    PATH_TABLE_SCHEMA,
    SUMS_SCHEMA,
)
from attribution.engine._segments import load_segments, segments_of
from attribution.engine._spark_failure import TASK_SOURCE, marked, task_input_error
from attribution.engine._spark_options import refuse_on_spark
from attribution.engine._stages import (
    Fitted,
    Part,
    build_part,
    concat,
    fit_models,
    path_table,
    rule_credit,
)
from attribution.exceptions import (
    DuplicateKeyError,
    InputError,
    ModelParameterError,
)
from attribution.inputs._schema import CONTACTS, EVENTS, load
from attribution.inputs._sources import Source
from attribution.options import RunOptions
from attribution.typing import Level

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from attribution.b2b._analysis_inputs import B2BInputs

__all__ = ["SparkAttribution", "attribute_spark"]

KEY = "__key"
#: Run options :func:`attribute_spark` refuses (so the job has no flag for them).
NOT_ON_SPARK = ("columns", "select_markov_order", "write_to", "state", "late_window")
_SOURCE = Source(pl.LazyFrame(), TASK_SOURCE)

#: Arrow schema of the touch credit that pass 2 hands back to Spark (``string``, not
#: Polars' ``large_string``; timestamps in UTC, as the session time zone must be).
TOUCH_CREDIT_ARROW = pa.schema(
    [
        ("conversion_id", pa.string()),
        ("touch_id", pa.string()),
        ("contact_id", pa.string()),
        ("account_id", pa.string()),
        ("channel", pa.string()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("model", pa.string()),
        ("credit", pa.float64()),
        ("value", pa.float64()),
    ]
)
#: Pass 1 output: one row per partial (``kind`` = ``path``, ``channel`` or ``counts``).
PARTIALS_ARROW = pa.schema(
    [
        ("kind", pa.string()),
        ("path", pa.list_(pa.string())),
        ("conversions", pa.float64()),
        ("nulls", pa.float64()),
        ("value", pa.float64()),
        ("model", pa.string()),
        ("channel", pa.string()),
        ("payload", pa.string()),
        ("blob", pa.binary()),  # kind "conversions": the task's conversions as Arrow IPC
    ]
)


@dataclass
class SparkAttribution:
    """What :func:`attribute_spark` returns.

    Attributes
    ----------
    channel_credit : pyspark.sql.DataFrame
        ``model``, ``channel``, ``conversions``, ``value``, ``share`` (small; built on the
        driver), as :attr:`attribution.AttributionResult.channel_credit`.
    touch_credit : pyspark.sql.DataFrame
        The touch credit of every model (computed when written or collected).
    paths : pl.DataFrame
        The merged path table the data-driven models were fitted on.
    manifest : dict
        Parameters, models, reconciliation counts and notes.
    extras : dict of str to pl.DataFrame
        Model extras (removal effects, transition matrix, Shapley values).
    campaign_sums : pyspark.sql.DataFrame or None
        With campaigns: the campaign pass's partials (see :meth:`campaign_credit`).
    conversions : pl.DataFrame
        One row per conversion (as :attr:`attribution.AttributionResult.conversions` at
        contact level), gathered from the tasks: the manifest's ``totals`` and the B2B stage
        read it.
    analysis : Analysis or None
        With B2B inputs (``attribute_spark(..., b2b=...)``): the B2B stage's outputs, the
        same :func:`attribution.analyse` as every executor's (:meth:`write` writes them).
    """

    channel_credit: DataFrame
    touch_credit: DataFrame
    paths: pl.DataFrame
    manifest: dict[str, Any]
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)
    cached: list[DataFrame] = field(default_factory=list, repr=False)
    campaign_sums: DataFrame | None = None
    conversions: pl.DataFrame = field(default_factory=pl.DataFrame)
    analysis: Any = None

    def campaign_credit(self) -> pl.DataFrame | None:
        """As :attr:`attribution.AttributionResult.campaign_credit`; None without campaigns."""
        labels = [m["label"] for m in self.manifest["models"]]
        return reduce_campaign_sums(self.campaign_sums, labels) if self.campaign_sums else None

    def unpersist(self) -> None:
        """Free the partitioned input that Spark keeps for ``touch_credit`` (done by
        :meth:`write`; ``touch_credit`` can still be computed afterwards, from the inputs)."""
        for frame in self.cached:
            frame.unpersist()
        self.cached = []

    def write(self, out: str) -> None:
        """Write the run into ``out``: ``touch_credit.parquet`` by Spark (a directory of
        part files), the rest as a run directory holds it when ``out`` is local, with the
        B2B outputs and ``report.html`` (see
        :func:`attribution.engine._spark_write.write_spark_run`)."""
        from attribution.engine._spark_write import write_spark_run

        write_spark_run(self, out)


# --- the tasks (they run on the executors: they must live in the installed package) ---------


def _task_part(
    batches: Iterable[pa.RecordBatch], contacts: Any, options: RunOptions, segments: Any = None
) -> tuple[Part, dict[int, pl.DataFrame]] | None:
    """A task's journeys (its whole Spark partition as one frame: journeys cross batch
    boundaries) and their rule-based touch credit; None for an empty partition.
    ``contacts`` and ``segments`` are broadcasts (or None)."""
    listed = list(batches)
    if not listed:  # a partition no journey key hashed to: no batch at all
        return None
    table = pa.Table.from_batches(listed)
    if table.num_rows == 0:
        return None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    def load(rows: pl.DataFrame) -> Any:
        return load_with_rows(rows.drop(KEY), EVENTS, None, _SOURCE,
                              options.table_formats("events"))  # fmt: skip

    try:
        part = build_part(load(frame), None, contacts.value if contacts is not None else None,
                          options, segments=segments.value if segments is not None else None)
    except InputError as exc:  # to the driver, which names the input's own rows
        raise marked(exc, frame, GLOBAL_ROW, "event_type", load) from None
    return part, rule_credit(part.journeys.touches, options)


def _batches(frame: pl.DataFrame, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    yield from frame.to_arrow().cast(schema).to_batches()


def _task(
    batches: Iterable[pa.RecordBatch],
    *,
    step: Callable[..., Iterator[pa.RecordBatch]],
    options: RunOptions,
    contacts: Any,
    segments: Any = None,
    **more: Any,
) -> Iterator[pa.RecordBatch]:
    """One task of a pass (``mapInArrow``): ``step(part, credit, options, **more)`` on the
    task's journeys and their rule-based credit; nothing for an empty partition."""
    task = _task_part(batches, contacts, options, segments)
    if task is not None:
        yield from step(*task, options, **more)


def _pass1(
    part: Part, credit: dict[int, pl.DataFrame], options: RunOptions
) -> Iterator[pa.RecordBatch]:
    """Pass 1: the additive partials (path rows, rule-based channel sums, counts)."""
    paths = path_table(part.journeys).select(
        pl.lit("path").alias("kind"), pl.all(), *_nulls("model", "channel", "payload"), _blob()
    )
    sums = concat([channel_sums(c) for c in credit.values()], SUMS_SCHEMA)
    channels = sums.select(
        pl.lit("channel").alias("kind"),
        pl.lit(None, pl.List(pl.String)).alias("path"),
        pl.col("credit").alias("conversions"),
        pl.lit(None, pl.Float64).alias("nulls"),
        "value",
        "model",
        "channel",
        pl.lit(None, pl.String).alias("payload"),
        _blob(),
    )
    counts = pl.DataFrame({"kind": ["counts"], "payload": [json.dumps(part.counts)]}).select(
        "kind",
        pl.lit(None, pl.List(pl.String)).alias("path"),
        *(pl.lit(None, pl.Float64).alias(c) for c in ("conversions", "nulls", "value")),
        *_nulls("model", "channel"),
        "payload",
        _blob(),
    )
    conversions = counts.with_columns(
        pl.lit("conversions").alias("kind"),
        pl.lit(None, pl.String).alias("payload"),
        pl.lit(ipc_bytes(part.journeys.conversions), pl.Binary).alias("blob"),
    )
    out = pl.concat([paths, channels, counts, conversions], how="vertical_relaxed")
    yield from _batches(out, PARTIALS_ARROW)


def _pass2(
    part: Part, credit: dict[int, pl.DataFrame], options: RunOptions, *, estimators: Any
) -> Iterator[pa.RecordBatch]:
    """Pass 2: the touch credit of every model (data-driven ones by the driver's fits)."""
    fitted = Fitted(options.runs, estimators=estimators.value)
    credit.update(fitted.allocate(part.journeys.touches))
    for i in range(len(options.models or ())):
        one = credit.pop(i)
        if one.height:
            yield from _batches(one, TOUCH_CREDIT_ARROW)


def _nulls(*names: str) -> list[pl.Expr]:
    return [pl.lit(None, pl.String).alias(n) for n in names]


def _blob() -> pl.Expr:
    return pl.lit(None, pl.Binary).alias("blob")


def ipc_bytes(frame: pl.DataFrame) -> bytes:
    """``frame`` as Arrow IPC bytes (a task's conversions, read back on the driver)."""
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return buffer.getvalue()


# --- the driver -----------------------------------------------------------------------------


def _to_spark(spark: SparkSession, frame: pl.DataFrame) -> DataFrame:
    table = frame.to_arrow()
    schema = pa.schema(
        [
            pa.field(f.name, pa.string())
            if pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type)
            else f
            for f in table.schema
        ]
    )
    return spark.createDataFrame(table.cast(schema))


def _to_polars(frame: DataFrame) -> pl.DataFrame:
    out = pl.from_arrow(frame.toArrow())
    assert isinstance(out, pl.DataFrame)
    return out


def _events(
    touches: DataFrame,
    stages: DataFrame,
    *,
    level: Level,
    contact_map: pl.DataFrame | None,
    partitions: int,
) -> DataFrame:
    """The unified event log, keyed by journey and repartitioned by that key."""
    from pyspark.sql import functions as F

    spark = touches.sparkSession
    parts = []
    for frame, kind in ((touches, "touch"), (stages, "stage")):
        parts.append(
            frame.withColumn("event_type", F.lit(kind)).withColumn(
                GLOBAL_ROW, F.monotonically_increasing_id()
            )
        )
    events = parts[0].unionByName(parts[1], allowMissingColumns=True)
    names = events.columns

    def text(name: str) -> Any:
        return F.col(name).cast("string") if name in names else F.lit(None).cast("string")

    if level == "contact":
        key = text("contact_id")
    else:
        key = text("account_id")
        if contact_map is not None and "contact_id" in names:
            events = events.withColumn("__contact", text("contact_id")).join(
                F.broadcast(_to_spark(spark, contact_map)), on="__contact", how="left"
            )
            key = F.coalesce(key, F.col("__account"))
    events = events.withColumn(KEY, key).drop("__contact", "__account")
    return events.repartition(partitions, KEY)


def _check_touch_ids(events: DataFrame) -> None:
    """A touch_id on rows with different journey keys (so in different partitions)."""
    from pyspark.sql import functions as F

    if "touch_id" not in events.columns:
        return
    touches = events.filter((F.col("event_type") == "touch") & F.col("touch_id").isNotNull())
    key = F.coalesce(F.col(KEY), F.lit("\x00null"))
    shared = (
        touches.groupBy(F.col("touch_id").cast("string").alias("touch_id"))
        .agg(F.countDistinct(key).alias("keys"))
        .filter(F.col("keys") > 1)
        .orderBy("touch_id")
        .limit(5)
        .collect()
    )
    if shared:
        raise DuplicateKeyError(
            f"touch_ids {[r['touch_id'] for r in shared]} are shared by rows that differ in "
            "their journey key",
            table="touches",
            source="<spark>",
            column="touch_id",
            hint="touch_id must identify one touch; exact duplicate rows are removed for you",
        )


def attribute_spark(
    touches: DataFrame,
    stages: DataFrame,
    *,
    partitions: int | None = None,
    contacts: DataFrame | pl.DataFrame | None = None,
    accounts: DataFrame | pl.DataFrame | None = None,
    options: RunOptions | None = None,
    b2b: B2BInputs | None = None,
    **keywords: Any,
) -> SparkAttribution:
    """:func:`attribution.attribute` on Spark DataFrames, journeys partitioned by key.

    ``touches`` and ``stages`` have the canonical columns of the input contract (rename in
    Spark first: ``columns`` is refused); the options (``options`` and ``**keywords``) are
    those of :func:`attribution.attribute`, but for ``select_markov_order``, which is not
    additive. ``partitions`` (default: twice the default parallelism) sets how many tasks
    share the journeys: each task holds its partition in memory, so at 100M touches use a
    few hundred. ``contacts`` (a Spark or Polars frame) is collected on the driver and
    broadcast: it maps contacts to accounts and roles. ``accounts`` (read for a lookback
    per segment) is collected and broadcast the same way. The session time zone must be UTC.

    Channel credit equals the single-machine run: the data-driven models are fitted on the
    same merged path table; rule-based sums agree to float rounding. Touch credit rows are
    the single machine's (their order is not).

    ``b2b`` (:class:`attribution.B2BInputs`): the B2B stage, :func:`attribution.analyse`,
    runs on the driver on the run gathered there (:func:`~attribution.engine._spark_b2b.
    driver_result`: channel credit, the touch credit collected, conversions, paths) and is
    kept as ``analysis``; its tables (spend, the stage events, the touch log for the funnel
    and the SLAs...) are read on the driver as the library reads them.
    """
    from pyspark import StorageLevel
    from pyspark.sql.pandas.types import from_arrow_schema  # one schema, not a DDL twin

    spark = touches.sparkSession
    zone = spark.conf.get("spark.sql.session.timeZone")
    if zone not in ("UTC", "Etc/UTC", "GMT", "Z", "+00:00"):
        raise InputError(
            f"the Spark session time zone must be UTC, got {zone!r}",
            hint="set spark.sql.session.timeZone=UTC",
        )
    options = RunOptions.of(options, **keywords)
    if options.columns:
        raise InputError(
            "columns mappings are not applied on Spark; rename the columns in Spark first "
            "(withColumnRenamed) to the canonical names"
        )
    refuse_bootstrap(options, "on Spark")
    refuse_on_spark(
        options,
        given=keywords,
        b2b=b2b is not None,
        sla=b2b is not None and b2b.sla is not False,
    )
    if options.select_markov_order:
        raise ModelParameterError("select_markov_order is not available on Spark: its held-"
            "out split of journeys is not an additive partial result; run attribute() on a "
            "sample for it")  # fmt: skip
    runs = options.runs
    n = check_partitions(partitions or 2 * spark.sparkContext.defaultParallelism)
    contact_frame = None
    if contacts is not None:
        raw = contacts if isinstance(contacts, pl.DataFrame) else _to_polars(contacts)
        contact_frame = load(raw, CONTACTS).frame
    check_run_roles(contact_frame, options)
    contact_map = contact_accounts(contact_frame, options, accounts=accounts is not None)
    if options.segment_windows is not None and accounts is not None:
        accounts = accounts if isinstance(accounts, pl.DataFrame) else _to_polars(accounts)
    segments = segments_of(load_segments(accounts, options), options)
    # read and shuffled once, read by three jobs (the touch_id check and both passes)
    events = _events(
        touches, stages, level=options.level, contact_map=contact_map, partitions=n
    ).persist(StorageLevel.MEMORY_AND_DISK)
    _check_touch_ids(events)
    sc = spark.sparkContext
    contacts_b = sc.broadcast(contact_frame) if contact_frame is not None else None
    segments_b = sc.broadcast(segments) if segments is not None else None

    # pass 1: additive partials, reduced by Spark
    partials = events.mapInArrow(
        partial(_task, step=_pass1, options=options, contacts=contacts_b, segments=segments_b),
        from_arrow_schema(PARTIALS_ARROW),
    ).persist()
    try:
        paths, sums, counts, conversions = _reduce(partials)
    except Exception as exc:
        found = task_input_error(exc, touches, stages)  # a task's: the input's own rows
        if found is None:
            raise
        raise found from None
    finally:
        partials.unpersist()

    fitted = fit_models(options, paths)
    notes = [f"spark run: {n} partitions by the journey key", *fitted.notes]
    channel_credit = concat(
        [
            fitted.channel_credit[i] if i in fitted.channel_credit
            else merge_channel_sums([sums.filter(pl.col("model") == run.label)])
            for i, run in enumerate(runs)
        ],
        CHANNEL_CREDIT_SCHEMA,
    )

    # pass 2: touch credit, written by Spark
    estimators_b = sc.broadcast(fitted.estimators)
    touch_credit = events.mapInArrow(
        partial(
            _task,
            step=_pass2,
            options=options,
            contacts=contacts_b,
            segments=segments_b,
            estimators=estimators_b,
        ),
        from_arrow_schema(TOUCH_CREDIT_ARROW),
    )
    # the campaign pass rebuilds the journeys as passes 1 and 2 do: the same broadcasts
    shared = {"contacts": contacts_b, "segments": segments_b, "estimators": estimators_b}
    campaigns = spark_campaign_sums(events, _task, options, **shared)
    account = account_options(options) if options.level == "account" else {}
    parameters = run_parameters(options, account)
    parameters["partitions"] = n
    parameters["touch_credit_layout"] = "long"  # what Spark writes, whatever the default
    manifest = make_manifest(
        runs,
        inputs={
            "touches": "<spark>",
            "stages": "<spark>",
            **({"accounts": "<spark>"} if segments is not None else {}),
        },
        parameters=parameters,
        counts=counts,
        timings={},
        notes=notes,
    )
    if conversions.width:
        add_totals(manifest, conversions, options.level)
    out = SparkAttribution(
        _to_spark(spark, channel_credit)
        if channel_credit.height
        else spark.createDataFrame([], _ddl(CHANNEL_CREDIT_SCHEMA)),
        touch_credit,
        paths,
        manifest,
        fitted.extras,
        cached=[events],
        campaign_sums=campaigns,
        conversions=conversions,
    )
    if b2b is not None:  # the one B2B stage of every executor, on the driver
        from attribution.engine._spark_b2b import analyse_spark

        out.analysis = analyse_spark(out, b2b, options)
    return out


def _ddl(schema: pl.Schema) -> str:
    kinds = {pl.String(): "string", pl.Float64(): "double"}
    return ", ".join(f"{name} {kinds[dtype]}" for name, dtype in schema.items())


def _reduce(
    partials: DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any], pl.DataFrame]:
    """Spark sums the partials; the float ``value`` per path comes back as a sorted list and
    is summed here in that order, so the result does not depend on the shuffle."""
    from pyspark.sql import functions as F

    paths = _to_polars(
        partials.filter(F.col("kind") == "path")
        .groupBy("path")
        .agg(
            F.sum("conversions").alias("conversions"),
            F.sum("nulls").alias("nulls"),
            F.sort_array(F.collect_list("value")).alias("values"),
        )
    )
    paths = (
        paths.select("path", "conversions", "nulls", pl.col("values").list.sum().alias("value"))
        .cast(PATH_TABLE_SCHEMA)
        .sort(["conversions", "nulls", "path"], descending=[True, True, False])
    )
    sums = _to_polars(
        partials.filter(F.col("kind") == "channel")
        .groupBy("model", "channel")
        .agg(F.sum("conversions").alias("credit"), F.sum("value").alias("value"))
    ).cast(SUMS_SCHEMA)
    counts = merge_counts(
        json.loads(r["payload"])
        for r in partials.filter(F.col("kind") == "counts").select("payload").collect()
    )
    blobs = [
        pl.read_ipc(io.BytesIO(r["blob"]))
        for r in partials.filter(F.col("kind") == "conversions").select("blob").collect()
    ]
    conversions = pl.concat(blobs, how="vertical_relaxed") if blobs else pl.DataFrame()
    if "conversion_id" in conversions.columns:
        conversions = conversions.sort("conversion_id")
    return paths, sums, counts, conversions
