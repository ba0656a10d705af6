"""A nightly incremental run against the full run it replaces.

    python benchmarks/incremental.py --touches 1m          # or 10m; --data DIR to reuse a log
    python benchmarks/incremental.py --touches 10m --new 0.01 --repeats 3

The seeded synthetic log (``attribution synth``, cached in ``benchmarks/data/<size>/``) is
split at the time before which 99% of its touches lie (``--new``: the share after it): the
history is the rows before, the night adds the rest (touches and stage events), appended.
Three cases, each in its own process (wall time of the call and the process's peak RSS):

- ``full``: ``attribution.attribute`` on all the rows (what a nightly job costs without state);
- ``seed``: ``attribute_incremental`` on the history with an empty state (the first night);
- ``nightly``: ``attribute_incremental`` on all the rows from a copy of that state.

Models: every rule-based model, Markov order 1 and Shapley (the engine case of ``run.py``),
whose lazy imports (scipy, about 0.2 s) are done before the clock in every case, as
``run.py`` does (``imports_s``: what a cold process pays once).
Timed: the library call (``timed_s``: what a nightly job costs when it reads the channel
credit, or writes it back), and then writing the run directory without the report
(``write_s``: touch credit, conversions, campaign credit and influence -- an incremental
run builds these from its state only then); each also in CPU seconds of the process, every
thread (``cpu_s``, ``write_cpu_s``: steadier than wall time on a shared machine). The
nightly result is checked against the full one (channel credit to 1e-9). Median of
``--repeats``; the load average before and after is recorded. Writes
``benchmarks/results/<stamp>-<size>-incremental.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from run import RESULTS, RUNS, _import_models, ensure_data, parse_size, size_label  # noqa: E402


def models() -> list[str]:
    import attribution

    rules = [
        n for n, s in attribution.available_models().items() if s.family == "rule" and n != "custom"
    ]
    return [*rules, "markov", "shapley"]


def child(case: str, work: Path, result: Path) -> None:
    import attribution

    chosen = models()
    data = work / ("history" if case == "seed" else "all")
    i0 = time.perf_counter()
    _import_models()  # scipy for Markov (about 0.2 s): before the clock, as run.py does
    imports = time.perf_counter() - i0
    c0 = _cpu()
    t0 = time.perf_counter()
    if case == "full":
        out = attribution.attribute(
            data / "touches.parquet", data / "stages.parquet", models=chosen
        )
    else:
        out = attribution.attribute_incremental(
            data / "touches.parquet", data / "stages.parquet", models=chosen,
            state=work / "state",
        )  # fmt: skip
    elapsed = time.perf_counter() - t0
    cpu = _cpu() - c0
    c0 = _cpu()
    t0 = time.perf_counter()
    out.write(work / "runs", run_id=case, report=False)
    written = time.perf_counter() - t0
    written_cpu = _cpu() - c0
    shutil.copy(work / "runs" / case / "channel_credit.parquet",
                work / f"{case}-channel_credit.parquet")
    shutil.rmtree(work / "runs" / case)
    info = out.manifest["parameters"].get("incremental")
    result.write_text(json.dumps({"timed_s": elapsed, "write_s": written, "incremental": info,
                                  "cpu_s": cpu, "write_cpu_s": written_cpu,
                                  "imports_s": imports,
                                  "stages_s": out.manifest["timings_seconds"]}))


def _cpu() -> float:
    """CPU seconds of this process so far, every thread (user + system): on a shared
    machine a steadier figure than wall time."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(case: str, work: Path) -> dict[str, float]:
    result = work / f"{case}.json"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", case, str(work), str(result)])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{case} failed (exit {os.waitstatus_to_exitcode(status)})")
    measured = json.loads(result.read_text())
    return {
        "timed_s": round(measured["timed_s"], 3),
        "write_s": round(measured["write_s"], 3),
        "cpu_s": round(measured["cpu_s"], 3),
        "write_cpu_s": round(measured["write_cpu_s"], 3),
        "imports_s": round(measured["imports_s"], 3),
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "incremental": measured["incremental"],
        "stages_s": measured["stages_s"],
    }


def split(data: Path, work: Path, new_share: float) -> dict[str, int]:
    """history/ = rows before the cut; all/ = history rows, then the rest (appended)."""
    import polars as pl

    touches = pl.read_parquet(data / "touches.parquet")
    stages = pl.read_parquet(data / "stages.parquet")
    cut = touches.get_column("timestamp").quantile(1 - new_share, "nearest")
    counts = {}
    for name, frame in (("touches", touches), ("stages", stages)):
        early = pl.col("timestamp") < cut
        (work / "history").mkdir(parents=True, exist_ok=True)
        (work / "all").mkdir(parents=True, exist_ok=True)
        frame.filter(early).write_parquet(work / "history" / f"{name}.parquet")
        pl.concat([frame.filter(early), frame.filter(~early)]).write_parquet(
            work / "all" / f"{name}.parquet"
        )
        counts[f"{name}_history"] = frame.filter(early).height
        counts[f"{name}_new"] = frame.height - counts[f"{name}_history"]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--touches", default="1m")
    parser.add_argument("--data", type=Path, help="a directory with touches/stages.parquet")
    parser.add_argument("--new", type=float, default=0.01, help="share of new touches")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, work, result = args.child
        if case == "split":  # in a child: the parent stays small, so the children's peak
            counts = split(Path(result), Path(work), args.new)  # RSS is their own
            (Path(work) / "split.json").write_text(json.dumps(counts))
        else:
            child(case, Path(work), Path(result))
        return

    n = parse_size(args.touches)
    label = size_label(n)
    data = args.data or ensure_data(n)
    work = RUNS / f"{label}-incremental"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    load_start = os.getloadavg()
    subprocess.run(
        [sys.executable, __file__, "--new", str(args.new), "--child", "split", str(work),
         str(data)],
        check=True,
    )  # fmt: skip
    counts = json.loads((work / "split.json").read_text())
    seed = measure("seed", work)
    shutil.copytree(work / "state", work / "seeded")
    runs: dict[str, list[dict[str, float]]] = {"full": [], "nightly": []}
    for _ in range(args.repeats):
        runs["full"].append(measure("full", work))
        shutil.rmtree(work / "state")
        shutil.copytree(work / "seeded", work / "state")
        runs["nightly"].append(measure("nightly", work))
    import polars as pl  # only now: children forked before carry the parent's RSS

    got = pl.read_parquet(work / "nightly-channel_credit.parquet").sort("model", "channel")
    full = pl.read_parquet(work / "full-channel_credit.parquet").sort("model", "channel")
    from polars.testing import assert_frame_equal

    assert_frame_equal(got, full, abs_tol=1e-9, rel_tol=1e-9)
    assert runs["nightly"][-1]["incremental"]["mode"] == "incremental"
    median = {k: statistics.median(r["timed_s"] for r in v) for k, v in runs.items()}
    written = {
        k: statistics.median(r["timed_s"] + r["write_s"] for r in v) for k, v in runs.items()
    }
    cpu = {k: statistics.median(r["cpu_s"] for r in v) for k, v in runs.items()}
    cpu_written = {
        k: statistics.median(r["cpu_s"] + r["write_cpu_s"] for r in v) for k, v in runs.items()
    }
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    record = {
        "what": f"nightly incremental run adding {args.new:.0%} of the touches to a {label} "
        "history vs the full run on all rows; every rule-based model + markov o1 + shapley; "
        "library call timed, then the run directory written (no report)",
        "command": f"python benchmarks/incremental.py --touches {label} --new {args.new} "
        f"--repeats {args.repeats}",
        "data": str(data),
        "engine_commit": commit,
        "rows": counts,
        "median_timed_s": median,
        "nightly_over_full": round(median["nightly"] / median["full"], 3),
        "median_with_run_directory_s": written,
        "nightly_over_full_with_run_directory": round(written["nightly"] / written["full"], 3),
        "median_cpu_s": cpu,
        "nightly_over_full_cpu": round(cpu["nightly"] / cpu["full"], 3),
        "median_cpu_with_run_directory_s": cpu_written,
        "nightly_over_full_cpu_with_run_directory": round(
            cpu_written["nightly"] / cpu_written["full"], 3
        ),
        "seed": seed,
        "runs": runs,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "machine": f"{os.cpu_count()} CPUs",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{label}-incremental.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(json.dumps({"median_timed_s": median, "nightly_over_full": record["nightly_over_full"],
                      "with_run_directory": record["nightly_over_full_with_run_directory"],
                      "cpu": record["nightly_over_full_cpu"],
                      "cpu_with_run_directory": record["nightly_over_full_cpu_with_run_directory"],
                      "loadavg": [load_start, record["loadavg_end"]]}))
    print(f"wrote {path}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
