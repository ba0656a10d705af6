"""Calibration with lift tests scored against the truth of synthetic worlds (issue 19).

For each scenario and seed: a world of the sample's size with simulated account-holdout tests
(``synthesize(..., holdout=...)``), every default model run on it (the sales follow-up
touches left out, as in the demo), the credit calibrated with the tests
(``attribution.calibrate``), and each model's mean absolute error of the channel shares
against the true incremental share of conversions, uncalibrated and calibrated. Prints per
scenario: the share of (seed, model) pairs that got closer, the seeds where every model got
closer, the mean errors, and the tests' own error (measured minus true, in standard errors).

    python benchmarks/calibration.py --seeds 10             # ~2 s a seed and scenario
    python benchmarks/calibration.py --seeds 10 --json benchmarks/results/calibration.json

Scenarios: ``sample`` (the sample data's tests: linkedin and partner_referral, a quarter of
the accounts each, read out only as the sample ships them), ``sample_applied`` (the same tests
applied to the tables), ``powered`` (partner_referral, half the accounts) and ``underpowered``
(linkedin, half the accounts), both applied.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

import attribution
from attribution.datasets import synthesize

SALES = ("sales_call", "sales_email", "meeting")
#: name -> (tests, share of the accounts each holds out, the test applied to the tables)
SCENARIOS: dict[str, tuple[tuple[str, ...], float, bool]] = {
    "sample": (("linkedin", "partner_referral"), 0.25, False),
    "sample_applied": (("linkedin", "partner_referral"), 0.25, True),
    "powered": (("partner_referral",), 0.5, True),
    "underpowered": (("linkedin",), 0.5, True),
}


def one(
    seed: int, channels: tuple[str, ...], share: float, applied: bool, touches: int
) -> dict[str, Any]:
    data = synthesize(touches, seed=seed, conversion_rate=0.035, holdout=channels,
                      holdout_share=share, holdout_applied=applied)  # fmt: skip
    result = attribution.attribute(data.touches, data.stages, exclude_touch_types=SALES)
    cal = attribution.calibrate(result, data.experiments, truth=data.truth)
    assert cal.truth is not None
    return {
        "seed": seed,
        "scores": cal.truth.to_dicts(),
        "tests": [
            {k: e[k] for k in ("channel", "incremental_conversions", "standard_error",
                               "true_incremental_conversions")}  # fmt: skip
            for e in data.truth["experiments"]
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--touches", type=int, default=90_000)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out: dict[str, Any] = {"touches": args.touches, "seeds": args.seeds, "scenarios": {}}
    for name in args.scenario or list(SCENARIOS):
        channels, share, applied = SCENARIOS[name]
        started = time.perf_counter()
        runs = [one(seed, channels, share, applied, args.touches) for seed in range(args.seeds)]
        scores = pl.DataFrame(
            [{"seed": r["seed"], **s} for r in runs for s in r["scores"]]
        )
        tests = pl.DataFrame([{"seed": r["seed"], **t} for r in runs for t in r["tests"]])
        all_closer = scores.group_by("seed").agg(pl.col("improved").all()).get_column("improved")
        z = (
            (pl.col("incremental_conversions") - pl.col("true_incremental_conversions"))
            / pl.col("standard_error")
        )
        summary = {
            "tests": list(channels),
            "holdout_share": share,
            "applied": applied,
            "pairs_closer": float(scores.get_column("improved").mean() or 0.0),
            "seeds_all_models_closer": int(all_closer.sum()),
            "mae_uncalibrated": float(scores.get_column("mae_uncalibrated").mean() or 0.0),
            "mae_calibrated": float(scores.get_column("mae_calibrated").mean() or 0.0),
            "test_error_in_se": tests.group_by("channel")
            .agg(z.mean().alias("mean"), z.std().alias("sd"))
            .sort("channel")
            .to_dicts(),
            "seconds": round(time.perf_counter() - started, 1),
        }
        out["scenarios"][name] = summary
        print(
            f"{name:<15} tests {', '.join(channels)} ({share:.0%} of accounts each, "
            f"{'applied' if applied else 'read out only'}): closer in "
            f"{summary['pairs_closer']:.1%} of seed x model pairs, every model closer in "
            f"{summary['seeds_all_models_closer']} of {args.seeds} seeds; mean MAE "
            f"{summary['mae_uncalibrated']:.4f} -> {summary['mae_calibrated']:.4f}; test error "
            + ", ".join(
                f"{t['channel']} {t['mean']:+.2f} +/- {t['sd']:.2f} se"
                for t in summary["test_error_in_se"]
            )
            + f" ({summary['seconds']} s)"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
