"""100M touches on one machine: ``attribution.run_partitioned`` with bounded memory.

    python benchmarks/run_100m.py                      # 100M touches, 64 partitions
    python benchmarks/run_100m.py --touches 10m --partitions 8   # a smaller check

Generates (once, cached in ``benchmarks/data/<size>/``) the seeded shuffled log with the
project's generator, then runs ``run_partitioned`` with every rule-based model, Markov order
1 and Shapley (the engine case of ``run.py``) in a child process, recording its wall time
and peak RSS (``os.wait4``: the whole process). One run: at this size a run takes minutes.
Then, in the same call and on the same commit, the in-memory run (``attribution.attribute``
and the run directory written, report included) on the ``--compare`` log (default 10m),
also in a child process: the target is the partitioned run's time per million touches
within 1.3x the in-memory one's (``partitioned_over_memory_per_million``), peak RSS under
8 GB. The load average before and after is recorded (the machine may be shared).
Writes ``benchmarks/results/<timestamp>-<size>-partitioned.json``. Use the engine's own
environment (``.venv/bin/python``); nothing here needs the peers.

Memory per stage (``stage_peaks_gb``): the child follows the engine's stages through the
``progress`` callback (the manifest's timer stages; what follows ``done`` is writing the run
directory and the report) and, at each boundary, reads the process's high-water mark
(``VmHWM`` of ``/proc/self/status``: the peak since the last reset) as the finished stage's
peak, then resets it (``/proc/self/clear_refs`` ``5``). The whole run's peak is the largest of
them (the reset also lowers what ``wait4`` reports, so ``peak_rss_gb`` is this maximum). A
thread samples ``VmRSS`` every 50 ms as well: ``rss_timeline`` holds the largest sample of
each second with its stage, to see what grows within a stage. ``stage_cpu_s``: the process's
CPU seconds (user + system, ``getrusage``) per stage, the figure to compare on a shared
machine.
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from run import RESULTS, RUNS, SEED, ensure_data, parse_size, size_label  # noqa: E402


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class StageMemory:
    """Peak RSS per engine stage (``progress`` callback) and a sampled RSS timeline."""

    AFTER = "write: run directory and report"

    def __init__(self, interval: float = 0.05) -> None:
        self.stage = "imports and setup"
        self.peaks_kb: dict[str, int] = {}
        self.cpu_s: dict[str, float] = {}
        self._cpu = self._cpu_now()
        self.samples: list[tuple[float, int, str]] = []
        self.resettable = self._reset()
        self.t0 = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
            return True
        except OSError:
            return False

    def _sample(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.samples.append((time.perf_counter() - self.t0, _status_kb("VmRSS"), self.stage))

    def __call__(self, stage: str) -> None:
        self._close(self.AFTER if stage == "done" else stage)

    @staticmethod
    def _cpu_now() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def _close(self, following: str) -> None:
        hwm = _status_kb("VmHWM")
        self.peaks_kb[self.stage] = max(self.peaks_kb.get(self.stage, 0), hwm)
        cpu = self._cpu_now()
        self.cpu_s[self.stage] = round(self.cpu_s.get(self.stage, 0.0) + cpu - self._cpu, 2)
        self._cpu = cpu
        self._reset()
        self.stage = following

    def finish(self) -> dict[str, object]:
        self._close("")
        self._stop.set()
        self._thread.join()
        by_second: dict[int, tuple[int, str]] = {}
        for t, kb, stage in self.samples:
            second = int(t)
            if kb >= by_second.get(second, (0, ""))[0]:
                by_second[second] = (kb, stage)
        gb = 1024 * 1024
        return {
            "stage_peaks_gb": {k: round(v / gb, 2) for k, v in self.peaks_kb.items()},
            "peak_gb": round(max(self.peaks_kb.values()) / gb, 2),
            "stage_cpu_s": self.cpu_s,
            "hwm_reset": self.resettable,
            "rss_timeline": [[s, round(kb / gb, 2), stage]
                             for s, (kb, stage) in sorted(by_second.items())],
        }


def child(data: Path, out: Path, partitions: int, result: Path) -> None:
    import attribution

    memory = StageMemory()

    models = [
        n for n, s in attribution.available_models().items() if s.family == "rule" and n != "custom"
    ] + ["markov", "shapley"]
    t0 = time.perf_counter()
    run_dir = attribution.run_partitioned(
        data / "touches.parquet",
        data / "stages.parquet",
        runs_dir=out,
        models=models,
        partitions=partitions,
        workdir=out / "work",
        progress=memory,
    )
    elapsed = time.perf_counter() - t0
    stage_memory = memory.finish()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    result.write_text(
        json.dumps(
            {
                "timed_s": elapsed,
                "models": models,
                "reconciliation": manifest["reconciliation"],
                "stages_s": manifest["timings_seconds"],
                "files": sorted(p.name for p in run_dir.iterdir()),
                "memory": stage_memory,
            }
        )
    )


def memory_child(data: Path, out: Path, result: Path) -> None:
    import attribution

    memory = StageMemory()

    models = [
        n for n, s in attribution.available_models().items() if s.family == "rule" and n != "custom"
    ] + ["markov", "shapley"]
    t0 = time.perf_counter()
    res = attribution.attribute(data / "touches.parquet", data / "stages.parquet", models=models,
                                progress=memory)  # its "done" opens the write stage
    run_dir = res.write(out)
    elapsed = time.perf_counter() - t0
    result.write_text(json.dumps({"timed_s": elapsed, "stages_s": res.manifest["timings_seconds"],
                                  "files": sorted(p.name for p in run_dir.iterdir()),
                                  "memory": memory.finish()}))


def in_child(args: list[str]) -> tuple[dict, float, float]:
    """Run this script with ``args`` in a child: its result, wall time and peak RSS (GB)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{args} failed (exit {os.waitstatus_to_exitcode(status)})")
    result = json.loads(Path(args[-1]).read_text())
    peak = usage.ru_maxrss / 1024 / 1024
    if result.get("memory", {}).get("hwm_reset"):  # wait4 saw only the last stage's peak
        peak = max(peak, result["memory"]["peak_gb"])
    return result, wall, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--touches", default="100m")
    parser.add_argument("--partitions", type=int, default=64)
    parser.add_argument("--compare", default="10m",
                        help="the in-memory run's log size, measured in the same call "
                        "('none': skip it, for an investigation)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        data, out, result = map(Path, args.child)
        child(data, out, args.partitions, result)
        return
    if args.memory_child:
        data, out, result = map(Path, args.memory_child)
        memory_child(data, out, result)
        return

    n = parse_size(args.touches)
    label = size_label(n)
    t0 = time.perf_counter()
    data = ensure_data(n)
    synth_s = time.perf_counter() - t0
    out = RUNS / f"{label}-partitioned"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    result = out / "result.json"
    load_start = os.getloadavg()
    measured, wall, peak = in_child(["--partitions", str(args.partitions),
                                     "--child", str(data), str(out), str(result)])
    load_mid = os.getloadavg()
    if args.compare == "none":
        print(json.dumps({"elapsed_s": round(measured["timed_s"], 1), "peak_rss_gb": round(peak, 2),
                          "stages_s": measured["stages_s"],
                          "stage_peaks_gb": measured["memory"]["stage_peaks_gb"],
                          "stage_cpu_s": measured["memory"]["stage_cpu_s"]}, indent=1))
        shutil.rmtree(out, ignore_errors=True)
        return
    m = parse_size(args.compare)
    memory_data = ensure_data(m)
    memory_out = RUNS / f"{size_label(m)}-memory"
    shutil.rmtree(memory_out, ignore_errors=True)
    memory_out.mkdir(parents=True)
    memory, memory_wall, memory_peak = in_child(
        ["--memory-child", str(memory_data), str(memory_out), str(memory_out / "result.json")]
    )
    shutil.rmtree(memory_out, ignore_errors=True)
    per_m = measured["timed_s"] / (n / 1e6)
    memory_per_m = memory["timed_s"] / (m / 1e6)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    record = {
        "what": f"run_partitioned at {label} touches, {args.partitions} partitions, all "
        "rule-based models + markov o1 + shapley, run dir written (touch credit streamed, "
        "report included)",
        "command": f"python benchmarks/run_100m.py --touches {label} "
        f"--partitions {args.partitions}",
        "data": f"attribution synth --touches {n} --seed {SEED} --shuffle "
        f"(generated in this call: {synth_s:.0f} s)" if synth_s > 5 else "cached",
        "engine_commit": commit,
        "elapsed_s": round(measured["timed_s"], 1),
        "wall_s_with_imports": round(wall, 1),
        "peak_rss_gb": round(peak, 2),
        "seconds_per_million_touches": round(per_m, 3),
        "memory_run": {
            "touches": m,
            "elapsed_s": round(memory["timed_s"], 1),
            "wall_s_with_imports": round(memory_wall, 1),
            "peak_rss_gb": round(memory_peak, 2),
            "seconds_per_million_touches": round(memory_per_m, 3),
            "stages_s": memory["stages_s"],
            "stage_peaks_gb": memory["memory"]["stage_peaks_gb"],
            "stage_cpu_s": memory["memory"]["stage_cpu_s"],
        },
        "partitioned_over_memory_per_million": round(per_m / memory_per_m, 3),
        "loadavg": {"start": load_start, "after_partitioned": load_mid,
                    "end": os.getloadavg()},
        "reconciliation": measured["reconciliation"],
        "stages_s": measured["stages_s"],
        "stage_peaks_gb": measured["memory"]["stage_peaks_gb"],
        "stage_cpu_s": measured["memory"]["stage_cpu_s"],
        "rss_timeline": measured["memory"]["rss_timeline"],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "runs": 1,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{label}-partitioned.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: record[k] for k in ("elapsed_s", "peak_rss_gb",
                                             "seconds_per_million_touches",
                                             "partitioned_over_memory_per_million", "loadavg",
                                             "stages_s", "stage_peaks_gb", "stage_cpu_s")},
                     indent=1))
    print(f"wrote {path}")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
