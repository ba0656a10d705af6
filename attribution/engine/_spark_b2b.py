"""The B2B stage of a Spark run: :func:`attribution.analyse`, the one B2B stage of every
executor (``attribution run``, the partitioned and incremental runs, the service), run on
the driver on the Spark run gathered there.

What the B2B steps read of a run is small next to the log but for the touch credit (one
row per journey touch and model): the economics by segment and month, the survey benchmark
and the calibration read it per conversion. :func:`driver_result` collects it (persisted
first, so writing ``touch_credit.parquet`` afterwards does not compute it again) with the
channel credit, the conversions, the path table and the extras into an
:class:`~attribution.AttributionResult`; the B2B inputs themselves (spend, the stage events,
the touch log for the funnel, the segment exposure and the SLAs...) are read on the driver
as the library reads them. So a Spark run with B2B inputs needs a driver that holds its
touch credit and those tables: the B2B stage is as large as it is in memory, while the
journeys and the models stay on the executors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import polars as pl

from attribution.exceptions import ConfigError

if TYPE_CHECKING:
    from attribution.b2b._analysis import Analysis
    from attribution.b2b._analysis_inputs import B2BInputs
    from attribution.engine._result import AttributionResult
    from attribution.engine._spark import SparkAttribution
    from attribution.options import RunOptions

__all__ = ["analyse_spark", "driver_result", "local_directory", "write_analysis"]


def driver_result(run: SparkAttribution) -> AttributionResult:
    """The Spark run as an in-memory :class:`~attribution.AttributionResult` on the driver:
    the touch credit collected (in the in-memory run's order: by model, conversion, time),
    the channel credit, the conversions, the path table, the extras, the campaign credit and
    the run's manifest itself (what the B2B stage records there, the decision model, is in
    the Spark run's manifest too)."""
    from attribution.engine._result import (
        CHANNEL_CREDIT_SCHEMA,
        TOUCH_CREDIT_SCHEMA,
        AttributionResult,
    )
    from attribution.engine._spark import _to_polars

    labels = [m["label"] for m in run.manifest["models"]]
    order = pl.col("model").replace_strict({m: i for i, m in enumerate(labels)}, default=None)
    touch_credit = (
        _to_polars(run.touch_credit)
        .cast(TOUCH_CREDIT_SCHEMA)
        .sort(order, "conversion_id", "timestamp", "touch_id", nulls_last=True)
    )
    channel_credit = _to_polars(run.channel_credit).cast(CHANNEL_CREDIT_SCHEMA)
    campaigns = run.campaign_credit()
    return AttributionResult(
        channel_credit,
        touch_credit,
        run.manifest,
        run.conversions,
        run.paths,
        dict(run.extras),
        campaign_credit=campaigns if campaigns is not None else pl.DataFrame(),
    )


def analyse_spark(run: SparkAttribution, inputs: B2BInputs, options: RunOptions) -> Analysis:
    """:func:`attribution.analyse` on the Spark run gathered on the driver
    (:func:`driver_result`); the touch credit is persisted first, so that writing the run
    afterwards does not compute it a second time."""
    from pyspark import StorageLevel

    from attribution.b2b._analysis import analyse

    run.touch_credit = run.touch_credit.persist(StorageLevel.MEMORY_AND_DISK)
    run.cached.append(run.touch_credit)
    return analyse(driver_result(run), inputs, options=options)


def local_directory(out: str) -> Path:
    """``out`` as a local directory for the B2B outputs, which the driver writes (each
    output's ``.write(directory)``): a path or a ``file:`` URI; any other URI is a
    ConfigError (write the run to a local or mounted directory, then copy it)."""
    parsed = urlparse(out)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and out[1:3] == ":\\"):
        return Path(parsed.path if parsed.scheme == "file" else out)
    raise ConfigError(
        f"the B2B outputs (economics, funnel, plan check, ...) are written by the driver, "
        f"into a local directory: --out {out!r} is not one (use a local or mounted path)"
    )


def write_analysis(analysis: Analysis, out: str) -> None:
    """Write each B2B output into ``out`` (a local directory, see :func:`local_directory`)."""
    directory = local_directory(out)
    directory.mkdir(parents=True, exist_ok=True)
    for output in analysis.outputs:
        output.write(directory)
