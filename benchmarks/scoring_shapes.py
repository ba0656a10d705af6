"""CPU time of scoring one CRM-shaped request, by request shape and engine, in one process.

A CRM scores one deal at a time against a published run (new-user report 18, M3): its
StageName mapped by the run's ``stage_names``, the deal's whole history (touches older than
the run's lookback, more than its cap), each touch's buying-committee ``role`` under an
account-level run. This measures, for one journey of ``--touches`` touches under five
models (linear, w_shaped, time_decay, markov, shapley) fitted on the sample data's paths,
the CPU time of ``JourneyScorer.score`` per request with the default engine (``auto``: the
small NumPy engine where it takes the request) and with the Polars engine (``fast``), and
their ratio, shape by shape:

- ``plain``: no run options, stage omitted (the everyday request);
- ``stage``: the run's ``stage_names`` map the ``Closed Won`` sent;
- ``lookback``: a third of the touches before the run's lookback (dropped, counted);
- ``cap``: more touches than the run's cap (the oldest dropped, counted);
- ``account``: an account-level run's role multipliers, each touch with a ``role``.

Best of ``--rounds`` rounds of ``--repeat`` calls each (``time.process_time``), after a
warm-up. In-process, no HTTP: the service's own time adds about 0.3-0.4 ms (the README's
load benchmark). Results: ``benchmarks/results/scoring_shapes-<stamp>.md``.

    python benchmarks/scoring_shapes.py                 # ~20 s
    python benchmarks/scoring_shapes.py --touches 100
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

import attribution
from attribution import JourneyScorer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODELS = ["linear", "w_shaped", "time_decay:half_life=7d", "markov", "shapley"]
CHANNELS = ["linkedin", "Email", "Webinar", "google_ads", "organic_search", "events"]
ROLES = ["Decision Maker", "Champion", "User", None]
END = datetime(2025, 6, 30, 18, tzinfo=UTC)
RUN_OPTIONS: dict[str, Any] = {"stage_names": {"closed_won": ["Closed Won"]},
                               "lookback": "60d", "max_touches_per_journey": 5_000}


def journey(touches: int, *, days: float, stage: bool, roles: bool) -> dict[str, Any]:
    step = days / touches
    sent = []
    for i in range(touches):
        touch: dict[str, Any] = {
            "touch_id": f"00v5g00000Mem{i:04d}", "channel": CHANNELS[i % len(CHANNELS)],
            "timestamp": (END - timedelta(days=step * (touches - i))).isoformat()}
        if roles and ROLES[i % len(ROLES)] is not None:
            touch["role"] = ROLES[i % len(ROLES)]
        sent.append(touch)
    conversion: dict[str, Any] = {"id": "0065g00000XyZ12AAA", "timestamp": END.isoformat(),
                                  "value": 24_000.0}
    if stage:
        conversion["stage"] = "Closed Won"
    return {"conversion": conversion, "touches": sent}


def paths() -> pl.DataFrame:
    """The sample data's path table (a run of the five models, in memory)."""
    data = ROOT / "sample_data"
    result = attribution.attribute(pl.read_parquet(data / "touches.parquet"),
                                   pl.read_parquet(data / "stages.parquet"), models=["linear"])
    return result.paths


def cpu_ms(scorer: JourneyScorer, body: list[dict[str, Any]], engine: str, repeat: int,
           rounds: int) -> float:
    scorer.score(body, engine=engine)  # type: ignore[arg-type]  # warm-up: caches, imports
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeat):
            scorer.score(body, engine=engine)  # type: ignore[arg-type]
        best = min(best, (time.process_time() - start) / repeat * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--touches", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    table = paths()
    n = args.touches
    shapes = {
        "plain": ({}, journey(n, days=40, stage=False, roles=False)),
        "stage": (RUN_OPTIONS, journey(n, days=40, stage=True, roles=False)),
        "lookback": (RUN_OPTIONS, journey(n, days=90, stage=True, roles=False)),
        "cap": ({**RUN_OPTIONS, "max_touches_per_journey": n // 2},
                journey(n, days=40, stage=True, roles=False)),
        "account": ({**RUN_OPTIONS, "level": "account", "role_multipliers": {
            "decision_maker": 2.0, "champion": 1.5, "user": 0.5}},
            journey(n, days=40, stage=True, roles=True)),
    }
    rows = []
    for name, (options, body) in shapes.items():
        scorer = JourneyScorer(models=MODELS, **options).fit(table)
        scores = scorer.score([body])
        auto = cpu_ms(scorer, [body], "auto", args.repeat, args.rounds)
        fast = cpu_ms(scorer, [body], "fast", args.repeat, args.rounds)
        rows.append((name, scorer.small_engine, scores.touches_dropped, auto, fast))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [f"# Scoring one CRM-shaped request: CPU ms per request ({stamp})", "",
             f"attribution {attribution.__version__}, Python {platform.python_version()}, "
             f"{os.cpu_count()} CPUs, load average before: {os.getloadavg()[0]:.1f}; one "
             f"journey of {n} touches, models {', '.join(MODELS)}; best of {args.rounds} "
             f"rounds of {args.repeat} calls (`python benchmarks/scoring_shapes.py "
             f"--touches {n}`).", "",
             "| shape | touches dropped | auto (ms) | fast: Polars (ms) | fast / auto |",
             "|---|---|---:|---:|---:|"]
    for name, _, dropped, auto, fast in rows:
        lines.append(f"| {name} | {dropped or '-'} | {auto:.3f} | {fast:.3f} | "
                     f"{fast / auto:.1f}x |")
    text = "\n".join(lines) + "\n"
    out = HERE / "results" / f"scoring_shapes-{stamp}.md"
    out.write_text(text)
    print(text, end="")
    print(f"written: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
