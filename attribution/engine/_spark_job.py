"""The Spark job's command line (``python -m attribution.spark``; for ``spark-submit``
the file ``python -m attribution.spark --submit-file`` prints): Parquet inputs in, run
files out, with the B2B stage (:func:`attribution.analyse`, on the driver:
:mod:`attribution.engine._spark_b2b`) when a B2B input is given."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attribution.engine._empty import require_conversions
from attribution.engine._spark import NOT_ON_SPARK, attribute_spark
from attribution.engine._spark_failure import job_failure
from attribution.engine._spark_options import refuse_on_spark
from attribution.engine._spark_start import (
    check_out_uri,
    check_spark_start,
    first_line,
    local_path,
    parquet_directory_problem,
    start_spark,
)
from attribution.exceptions import AttributionError, ConfigError, EmptyResultError
from attribution.options import RunOptions, option_flags, read_flags

__all__ = ["B2B_TABLES", "PARQUET_INPUTS", "check_inputs", "job_parser", "main", "submit_file"]

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
        epilog="python -m attribution.spark --submit-file prints the path of the job's file "
        "for spark-submit (spark-submit [options] FILE --touches ...).",
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


#: The job's Parquet inputs, by flag.
PARQUET_INPUTS = ("touches", "stages", "contacts", "accounts", *B2B_TABLES)
_PARQUET_MAGIC = b"PAR1"


def check_inputs(args: argparse.Namespace) -> None:
    """Each local Parquet input (a path or a ``file:`` URI) exists and is Parquet (a file
    that starts with ``PAR1``, or a directory of part files), else a ConfigError naming
    its flag: checked before the JVM starts, instead of Spark's stack traces. Other URIs
    are Spark's to read (a read that fails is one line too, see :func:`main`)."""
    for name in PARQUET_INPUTS:
        given = getattr(args, name, None)
        if not given:
            continue
        path = local_path(given)
        if path is None:
            continue
        if not path.exists():
            raise ConfigError(f"--{name} {given!r}: no such file or directory")
        if path.is_dir():
            problem = parquet_directory_problem(path)
            if problem is not None:
                raise ConfigError(f"--{name} {given!r}: {problem}")
            continue
        try:
            with path.open("rb") as handle:
                magic = handle.read(4)
        except OSError as exc:
            raise ConfigError(f"--{name} {given!r}: cannot be read ({exc.strerror})") from None
        if magic != _PARQUET_MAGIC:
            raise ConfigError(
                f"--{name} {given!r} is not a Parquet file: the Spark job reads Parquet "
                "(convert it first, e.g. polars.read_csv(path).write_parquet(...), or run "
                "`attribution run`, which reads CSV)")


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


def submit_file() -> Path:
    """The job's entry script for ``spark-submit`` (which takes a Python file, not ``-m``):
    alone in its package directory, so the directory Python puts first on ``sys.path``
    shadows no standard module."""
    from attribution import _spark_submit

    return Path(_spark_submit.__file__).parent / "attribution_spark_job.py"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m attribution.spark --touches URI --stages URI --out URI --model NAME ...``"""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--submit-file"]:  # the file to give spark-submit
        print(submit_file())
        return 0
    args = job_parser().parse_args(argv)

    try:  # the options and local inputs are checked before Spark starts; errors name flags
        given = read_flags(vars(args))
        options = RunOptions.written(given)
        check_inputs(args)
        b2b_wanted = any(getattr(args, n) for n in B2B_TABLES) or args.plan or args.sla
        # an option Spark cannot honour: refused before Spark starts, never left out
        refuse_on_spark(options, given=given, b2b=bool(b2b_wanted), sla=bool(args.sla))
        if b2b_wanted:
            from attribution.engine._spark_b2b import local_directory

            local_directory(args.out)  # the driver writes the B2B outputs there
        check_out_uri(args.out)  # a local --out: writable, before the whole job runs
        check_spark_start(args.master)
    except AttributionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    spark = start_spark(args.master)
    if isinstance(spark, str):
        print(f"error: Spark could not start: {spark}", file=sys.stderr)
        return 2
    from pyspark.errors import AnalysisException

    try:
        touches, stages = spark.read.parquet(args.touches), spark.read.parquet(args.stages)
        contacts = spark.read.parquet(args.contacts) if args.contacts else None
        accounts = spark.read.parquet(args.accounts) if args.accounts else None
        b2b = _b2b_inputs(args, spark, touches, stages)
    except AnalysisException as exc:  # a path Spark cannot find or read: one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: Spark cannot read the inputs: {first}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 -- a failure in Spark (gathering the B2B tables)
        line, code = job_failure(exc)
        print(f"error: {line}", file=sys.stderr)
        return code
    try:
        result = attribute_spark(
            touches,
            stages,
            options=options,
            partitions=args.partitions,
            contacts=contacts,
            accounts=accounts,
            b2b=b2b,
        )
    except EmptyResultError as exc:  # as the CLI: no conversion is no answer (exit 3, why)
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except AttributionError as exc:  # one line naming the input, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 -- a failure in Spark: a task's error, a read
        line, code = job_failure(exc)
        print(f"error: {line}", file=sys.stderr)
        return code
    try:  # as the CLI: an empty result is no answer unless --allow-empty (exit 3, why)
        require_conversions(result.manifest)
    except EmptyResultError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    try:
        result.write(args.out)
    except AttributionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 -- Spark's or the OS's: one line, never a trace
        print(f"error: cannot write the run into --out {args.out!r}: {first_line(exc)}",
              file=sys.stderr)
        return 2
    if result.analysis is not None:
        for summary in result.analysis.summaries():
            print(summary)
    local = local_path(args.out)  # a local run directory has its report
    print(f"run written to {args.out}" + (f"; report: {local / 'report.html'}" if local else ""))
    print(json.dumps(result.manifest["reconciliation"], default=str))
    return 0
