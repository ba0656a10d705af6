"""Single machine vs partitioned vs Spark local[2]: same results, time and peak memory.

    .venv/bin/python benchmarks/spark_bench.py --size 1m
    .venv/bin/python benchmarks/spark_bench.py --size 10m --partitions 16 --spark-partitions 16

Needs the ``spark`` extra (``pip install -e '.[spark]'``) and Java 17+. Data comes from
``benchmarks/data/<size>/`` (made with ``attribution synth`` when missing, seeded as
``benchmarks/run.py`` makes it). Each case runs once, in its own process: ``memory`` is
``attribution.attribute`` then ``AttributionResult.write``; ``partitioned`` is
``attribution.run_partitioned``; ``spark`` is ``attribution.spark.attribute_spark``
on ``local[2]`` then ``SparkAttribution.write`` (Parquet directories). Peak RSS is of the
whole process tree (the Spark case's JVM and Python workers included), sampled every 0.1 s
from /proc, and ``ru_maxrss`` of the case's own process. Results are checked against the
in-memory run (channel credit to 1e-9 relative, touch-credit row count and credit sums per
model), written to ``benchmarks/results/spark-<time>-<size>.json`` and printed as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
RUNS = HERE / "runs"
SEED = 7
DEFAULT_MODELS = "first_touch,linear,w_shaped,time_decay,markov,shapley"


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def ensure_data(size: str) -> Path:
    out = DATA / size
    if not (out / "touches.parquet").exists():
        cmd = [sys.executable, "-m", "attribution.cli", "synth", "--touches"]
        cmd += [str(parse_size(size)), "--seed", str(SEED), "--out", str(out)]
        subprocess.run(cmd, check=True)
    return out


# --- workers (one process per case) ------------------------------------------------------


def worker(case: str, data: Path, out: Path, models: list[str], args: argparse.Namespace) -> None:
    import attribution

    touches, stages = data / "touches.parquet", data / "stages.parquet"
    start = time.perf_counter()
    if case == "memory":
        attribution.attribute(touches, stages, models=models).write(out, run_id="run")
    elif case == "partitioned":
        from attribution import run_partitioned

        run_partitioned(
            touches,
            stages,
            runs_dir=out,
            run_id="run",
            models=models,
            partitions=args.partitions,
            workdir=out / "work",
        )
    elif case == "spark":
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        from attribution.spark import attribute_spark

        spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", str(args.spark_partitions))
            .config("spark.driver.memory", args.driver_memory)
            .config("spark.local.dir", str(out / "spark-local"))
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        started = time.perf_counter()
        result = attribute_spark(
            spark.read.parquet(str(touches)),
            spark.read.parquet(str(stages)),
            models=models,
            partitions=args.spark_partitions,
        )
        result.write(str(out / "run"))
        seconds_after_session = time.perf_counter() - started
        spark.stop()
        print(json.dumps({"seconds_without_session_start": seconds_after_session}))
    else:
        raise SystemExit(f"unknown case {case}")
    seconds = time.perf_counter() - start
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "self_peak_rss_mb": self_rss}))


# --- the harness ---------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def _tree_rss_mb(pid: int) -> float:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except OSError:
            continue
    return total / 2**20


def run_case(case: str, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    out = RUNS / f"spark-bench-{args.size}" / case
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = [sys.executable, __file__, "--worker", case, "--data", str(data), "--out", str(out)]
    cmd += ["--models", args.models, "--partitions", str(args.partitions)]
    cmd += ["--spark-partitions", str(args.spark_partitions)]
    cmd += ["--driver-memory", args.driver_memory]
    peak = 0.0
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_mb(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{stderr[-4000:]}")
    report: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            report.update(json.loads(line))
    return {"case": case, "wall_seconds": wall, "tree_peak_rss_mb": peak, **report, "out": out}


def _read(path: Path) -> Any:
    import polars as pl

    return pl.read_parquet(path / "*.parquet") if path.is_dir() else pl.read_parquet(path)


def compare(reference: Path, other: Path) -> dict[str, Any]:
    """Channel credit and per-model touch-credit sums of two run directories."""
    import polars as pl
    from polars.testing import assert_frame_equal

    by = ["model", "channel"]
    a = _read(reference / "channel_credit.parquet").sort(by)
    b = _read(other / "channel_credit.parquet").sort(by)
    assert_frame_equal(a, b, rel_tol=1e-9)

    def sums(path: Path) -> Any:
        return (
            pl.scan_parquet(path / "*.parquet" if path.is_dir() else path)
            .group_by("model")
            .agg(pl.len().alias("rows"), pl.col("credit").sum())
            .sort("model")
            .collect()
        )

    ta, tb = sums(reference / "touch_credit.parquet"), sums(other / "touch_credit.parquet")
    assert_frame_equal(ta.select("model", "rows"), tb.select("model", "rows"))
    assert_frame_equal(ta, tb, rel_tol=1e-9)
    return {"channel_credit_equal": True, "touch_credit_rows": int(ta["rows"].sum())}


def markdown(record: dict[str, Any]) -> str:
    lines = [
        f"### {record['size']} touches, models {record['models']} "
        f"({record['started']}, one run each)",
        "",
        "| case | wall s | timed s | peak RSS tree MB | same results |",
        "|---|---|---|---|---|",
    ]
    for c in record["cases"]:
        timed = c.get("seconds")
        same = c.get("same_results", "reference")
        lines.append(
            f"| {c['label']} | {c['wall_seconds']:.1f} | "
            f"{timed:.1f} | {c['tree_peak_rss_mb']:.0f} | {same} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1m")
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--partitions", type=int, default=16, help="partitioned case")
    parser.add_argument("--spark-partitions", type=int, default=16)
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--cases", default="memory,partitioned,spark")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    if args.worker:
        worker(args.worker, args.data, args.out, models, args)
        return
    data = ensure_data(args.size)
    labels = {
        "memory": "single machine, in memory",
        "partitioned": f"single machine, {args.partitions} partitions",
        "spark": f"Spark local[2], {args.spark_partitions} partitions",
    }
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    cases = []
    reference: Path | None = None
    for case in args.cases.split(","):
        result = run_case(case, data, args)
        run_dir = result.pop("out") / "run"
        if reference is None:
            reference = run_dir
        else:
            result.update(compare(reference, run_dir))
            result["same_results"] = "yes"
        result["label"] = labels[case]
        cases.append(result)
        print(f"{case}: {result['wall_seconds']:.1f} s, {result['tree_peak_rss_mb']:.0f} MB")
    record = {
        "size": args.size,
        "models": args.models,
        "started": started,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "python": sys.version.split()[0],
        "cases": cases,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"spark-{started}-{args.size}.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    print(markdown(record))
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
