"""The Spark job's command line (``python -m attribution.spark``, ``spark-submit -m
attribution.spark``): Parquet inputs in, run files out, with the B2B stage
(:func:`attribution.analyse`, on the driver: :mod:`attribution.engine._spark_b2b`) when a
B2B input is given."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from attribution.engine._empty import require_conversions
from attribution.engine._spark import NOT_ON_SPARK, attribute_spark
from attribution.exceptions import AttributionError, EmptyResultError
from attribution.options import RunOptions, option_flags, read_flags

__all__ = ["B2B_TABLES", "job_parser", "main"]

#: The B2B tables the job takes (Parquet, read by Spark and gathered on the driver) and
#: what each adds: the B2B stage runs when one of them, ``--plan`` or ``--sla`` is given.
B2B_TABLES = {
    "spend": "spend (channel, month, amount): unit economics, the funnel, the plan check",
    "subscriptions": "subscriptions (account_id, month, mrr or arr): retention and NRR",
    "surveys": "survey answers: the survey benchmark and the decision model",
    "experiments": "lift tests: credit calibrated with them",
}


def job_parser() -> argparse.ArgumentParser:
    """The job's command line: its inputs and a flag for every run option with an
    :class:`~attribution.options.OptionFlag` but those in :data:`NOT_ON_SPARK`."""
    parser = argparse.ArgumentParser(
        prog="python -m attribution.spark",
        description="Attribution on Spark: Parquet touches and stages in, run files out.",
    )
    parser.add_argument("--touches", required=True, help="Parquet path or URI of the touches")
    parser.add_argument("--stages", required=True, help="Parquet path or URI of the stages")
    parser.add_argument("--contacts", help="Parquet path or URI of the contacts")
    parser.add_argument(
        "--accounts",
        help="Parquet path or URI of the accounts (a lookback per segment; economics by "
        "segment, metro and region)",
    )
    for name, what in B2B_TABLES.items():
        parser.add_argument(f"--{name}", help=f"Parquet path or URI of the {what}")
    parser.add_argument("--plan", help="plan TOML (a local file): the plan check")
    parser.add_argument("--sla", action="store_true", help="measure the sales and marketing SLAs")
    parser.add_argument("--out", required=True, help="output directory or URI")
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--master", default=None, help="Spark master (spark-submit sets it)")
    for name, flag in option_flags():  # the run options: RunOptions field metadata
        if name not in NOT_ON_SPARK:
            action = {"switch": "store_true", "repeat": "append"}.get(flag.kind, "store")
            # argparse formats help text with %: "90% intervals" must reach it as "90%%"
            help_text = flag.help.replace("%", "%%") if flag.help else flag.help
            parser.add_argument(*flag.flags, dest=name, action=action, help=help_text)
    return parser


def _b2b_inputs(args: argparse.Namespace, spark: Any, touches: Any, stages: Any) -> Any:
    """The B2B inputs of the job (None without any): its tables gathered on the driver, the
    touch log and the stage events among them (the funnel, the segment exposure, the plan's
    tests and the SLAs read them)."""
    from attribution.b2b._analysis_inputs import B2BInputs
    from attribution.engine._spark import _to_polars

    given = {name: getattr(args, name) for name in B2B_TABLES if getattr(args, name)}
    if not given and args.plan is None and not args.sla:
        return None

    def read(path: str | None) -> Any:
        return _to_polars(spark.read.parquet(path)) if path else None

    return B2BInputs(
        touches=_to_polars(touches),
        stages=_to_polars(stages),
        contacts=read(args.contacts),
        accounts=read(args.accounts),
        **{name: read(path) for name, path in given.items()},
        plan=args.plan,
        sla=args.sla,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m attribution.spark --touches URI --stages URI --out URI --model NAME ...``"""
    args = job_parser().parse_args(argv)

    try:  # the options are checked before Spark starts; an error names the flag
        options = RunOptions.written(read_flags(vars(args)))
        b2b_wanted = any(getattr(args, n) for n in B2B_TABLES) or args.plan or args.sla
        if b2b_wanted:
            from attribution.engine._spark_b2b import local_directory

            local_directory(args.out)  # the driver writes the B2B outputs there
    except AttributionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from pyspark.sql import SparkSession

    # executors must run this interpreter (a job entry point, like the CLI, may read it)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("attribution").config(
        "spark.sql.session.timeZone", "UTC"
    )
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    touches, stages = spark.read.parquet(args.touches), spark.read.parquet(args.stages)
    try:
        result = attribute_spark(
            touches,
            stages,
            options=options,
            partitions=args.partitions,
            contacts=spark.read.parquet(args.contacts) if args.contacts else None,
            accounts=spark.read.parquet(args.accounts) if args.accounts else None,
            b2b=_b2b_inputs(args, spark, touches, stages),
        )
    except EmptyResultError as exc:  # as the CLI: no conversion is no answer (exit 3, why)
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except AttributionError as exc:  # one line naming the input, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:  # as the CLI: an empty result is no answer unless --allow-empty (exit 3, why)
        require_conversions(result.manifest)
    except EmptyResultError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    result.write(args.out)
    if result.analysis is not None:
        for summary in result.analysis.summaries():
            print(summary)
    print(json.dumps(result.manifest["reconciliation"], default=str))
    return 0
