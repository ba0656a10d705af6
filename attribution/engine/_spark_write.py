"""Writing a Spark run (:meth:`attribution.engine._spark.SparkAttribution.write`).

``touch_credit.parquet`` (one row per journey touch and model) is written by Spark: a
directory of part files (read it as ``touch_credit.parquet/*.parquet``). The rest is small
and on the driver: into a local directory (a path or a ``file:`` URI) the driver writes
``channel_credit.parquet``, ``paths.parquet``, with campaigns ``campaign_credit.parquet``,
and ``manifest.json`` as single files, as a run directory holds them (so ``attribution
publish`` reads a Spark run), with a B2B stage its outputs (``economics.parquet``,
``funnel.parquet``, ``plan.json``, ...), and last ``report.html``. Any other URI
(``s3://``, ``hdfs://``) gets them from Spark, each a directory of part files
(``manifest.json`` a text directory of one JSON line), and no report; a B2B stage needs a
local directory.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from attribution.engine._files import RunFiles, write_json_atomic, write_parquet_atomic
from attribution.exceptions import ConfigError
from attribution.inputs._separator import STORED_SEPARATOR

if TYPE_CHECKING:
    from attribution.engine._spark import SparkAttribution

__all__ = ["write_spark_run"]


def write_spark_run(run: SparkAttribution, out: str) -> None:
    """Write ``run`` into ``out`` (see the module)."""
    from attribution.engine._spark import _to_polars, _to_spark
    from attribution.engine._spark_b2b import local_directory

    spark = run.channel_credit.sparkSession
    base = out.rstrip("/")
    try:
        local: Path | None = local_directory(out)
    except ConfigError:
        if run.analysis is not None:
            raise  # the driver writes the B2B outputs: checked before anything is written
        local = None
    run.touch_credit.write.mode("overwrite").parquet(f"{base}/touch_credit.parquet")
    # with a B2B stage, its campaign economics are campaign_credit.parquet (the credit
    # and the campaign's spend, CAC and ROI), as in a run directory
    campaigns = run.campaign_credit() if run.analysis is None else None
    paths = run.paths.with_columns(pl.col("path").list.join(STORED_SEPARATOR))
    if local is None:
        run.channel_credit.coalesce(1).write.mode("overwrite").parquet(
            f"{base}/channel_credit.parquet")
        if campaigns is not None:
            _to_spark(spark, campaigns).coalesce(1).write.mode("overwrite").parquet(
                f"{base}/campaign_credit.parquet")
        _to_spark(spark, paths).coalesce(1).write.mode("overwrite").parquet(
            f"{base}/paths.parquet")
        text = json.dumps(run.manifest, default=str)
        spark.createDataFrame([(text,)], "value string").coalesce(1).write.mode(
            "overwrite").text(f"{base}/manifest.json")
    else:
        tables = {RunFiles.CHANNEL_CREDIT: _to_polars(run.channel_credit),
                  RunFiles.PATHS: paths}
        if campaigns is not None:
            tables[RunFiles.CAMPAIGN_CREDIT] = campaigns
        for name, frame in tables.items():
            _replace_directory(local / name)  # what an earlier Spark write left there
            write_parquet_atomic(local / name, frame)
        _replace_directory(local / RunFiles.MANIFEST)
        write_json_atomic(local / RunFiles.MANIFEST, run.manifest)
    if run.analysis is not None:
        from attribution.engine._spark_b2b import write_analysis

        write_analysis(run.analysis, out)
    if local is not None:  # last: it reads every other file of the run
        from attribution.report._page import write_report

        write_report(local, manifest=run.manifest)
    run.unpersist()


def _replace_directory(path: Path) -> None:
    """Remove ``path`` when it is a directory (a Spark output of an earlier run into the
    same ``--out``), so that a file can take its name."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)


