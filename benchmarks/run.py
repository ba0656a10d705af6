"""Benchmark harness: the engine against the Polars floor and the peers, side by side.

    python benchmarks/run.py --sizes 1m,10m --repeats 3
    python benchmarks/run.py --quick            # CI smoke run: 50k touches, 1 repeat
    python benchmarks/run.py --snapshot HEAD ...  # the committed library, not the work tree

Protocol (shared/design/performance.md): every figure is measured in the same run, each case
as its own subprocess (peak RSS from ``os.wait4``), median of ``--repeats`` runs, repeats
interleaved round-robin across cases so that background load drifts over all of them alike.
Ratios (to the floor, to channelattribution's Markov) are the figures to read; absolute
seconds depend on the machine and its load.

The harness runs in its own virtual environment, ``benchmarks/.venv-bench`` (created and
filled with ``pip install -e <repo> -r benchmarks/requirements.txt`` when missing or when
the requirements change): the peers are never runtime dependencies of the engine.

Outputs: ``benchmarks/results/<timestamp>-<size>.json`` (machine, versions, every run of
every case) and ``benchmarks/results/latest.md`` (the tables). Data is cached in
``benchmarks/data/<size>/`` (seeded, shuffled, from ``attribution synth``); scratch run
directories and per-run logs go to ``benchmarks/runs/<size>/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import venv
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv-bench"
REQUIREMENTS = HERE / "requirements.txt"
DATA = HERE / "data"
RESULTS = HERE / "results"
RUNS = HERE / "runs"
SEED = 7
LOOKBACK_DAYS = 90
QUICK_SIZE = "50k"

# --------------------------------------------------------------------------------------
# environment
# --------------------------------------------------------------------------------------


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _requirements_stamp() -> str:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment(no_install: bool) -> None:
    """Re-exec under benchmarks/.venv-bench, creating / refreshing it first if needed."""
    inside = Path(sys.prefix).resolve() == VENV.resolve()
    stamp_file = VENV / ".installed"
    stamp = _requirements_stamp()
    current = stamp_file.read_text().strip() if stamp_file.exists() else ""
    if not no_install and current != stamp:
        if not _venv_python().exists():
            print(f"creating {VENV}", file=sys.stderr)
            venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
        print(f"installing the engine and {REQUIREMENTS.name} into {VENV}", file=sys.stderr)
        subprocess.run(
            [str(_venv_python()), "-m", "pip", "install", "--quiet", "-e", str(ROOT),
             "-r", str(REQUIREMENTS)],
            check=True,
        )
        stamp_file.write_text(stamp + "\n")
    if not inside:
        if not _venv_python().exists():
            sys.exit(f"{VENV} is missing; run without --no-install to create it")
        os.execv(str(_venv_python()), [str(_venv_python()), __file__, *sys.argv[1:]])


def use_snapshot(rev: str) -> str:
    """Benchmark the committed ``attribution`` package at ``rev`` instead of the working tree.

    Other people edit the library while a long benchmark runs; a snapshot (``git archive``,
    read-only for the repository) under benchmarks/runs/.snapshot/<commit>/ is put first on
    PYTHONPATH for every worker, ahead of the editable install. Returns the commit.
    """
    import io
    import tarfile

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", rev + "^{commit}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    dest = RUNS / ".snapshot" / commit[:12]  # hidden: the layout tests skip dot directories
    if not (dest / "attribution" / "__init__.py").exists():
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "attribution"],
                                 capture_output=True, check=True).stdout
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            tar.extractall(dest, filter="data")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(dest), *filter(None, [os.environ.get("PYTHONPATH")])])
    sys.path.insert(0, str(dest))
    return commit


# --------------------------------------------------------------------------------------
# sizes and data
# --------------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
    if text and text[-1] in mult:
        return int(float(text[:-1]) * mult[text[-1]])
    return int(text)


def size_label(n: int) -> str:
    for unit, div in (("m", 1_000_000), ("k", 1_000)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def ensure_data(n_touches: int) -> Path:
    """Seeded synthetic data in benchmarks/data/<size>/, generated once and reused while the
    generator's version (``attribution.datasets.GENERATOR_VERSION``, of the library measured),
    the size and the seed match the cached ``truth.json``; otherwise the directory (with the
    path table and mam log derived from it) is removed and generated again."""
    from attribution.datasets import GENERATOR_VERSION

    out = DATA / size_label(n_touches)
    truth = out / "truth.json"
    if truth.exists() and (out / "touches.parquet").exists() and (out / "stages.parquet").exists():
        cached = json.loads(truth.read_text())
        params = cached.get("parameters", {})
        if (params.get("n_touches") == n_touches and params.get("seed") == SEED
                and cached.get("generator_version") == GENERATOR_VERSION):
            return out
        print(f"{out}: cached data of generator version {cached.get('generator_version')}, "
              f"size {params.get('n_touches')}, seed {params.get('seed')}; regenerating",
              file=sys.stderr)
    if out.exists():
        shutil.rmtree(out)
    print(f"generating {n_touches:,} touches into {out} (generator version "
          f"{GENERATOR_VERSION})", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "attribution.cli", "synth", "--touches", str(n_touches),
         "--seed", str(SEED), "--shuffle", "--out", str(out)],
        check=True, stdout=subprocess.DEVNULL,
    )
    return out


# --------------------------------------------------------------------------------------
# workers: each runs in its own process and writes {"timed_s": ..., ...} to a JSON file
# --------------------------------------------------------------------------------------


def _cpu_s() -> float:
    """CPU seconds of this process so far, every thread (user + system, ``getrusage``): on
    the shared 2-core machines the time a run costs, where its wall time also measures how
    much of it ran in parallel and what else was running."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_now_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rule_models() -> list[str]:
    from attribution import available_models

    return [n for n, s in available_models().items() if s.family == "rule" and n != "custom"]


def _import_models() -> None:
    """Import what the models import lazily (scipy for Markov, 0.16 s) before the clock: every
    case's timed region starts after its imports, as channelattribution's (1.7 s) and mam's
    are outside theirs."""
    from attribution import RunOptions, available_models

    data = [n for n, s in available_models().items() if s.family != "rule"]
    for run in RunOptions(models=data).runs:
        run.build()


def _import_command() -> None:
    """Import what `attribution run` imports on its way (0.1-0.25 s at load ~3) before the
    clock, as :func:`_import_models` does for the models: typer's argument parsing imports
    pydantic for its type adapters, and the report's page imports plotly on first use.
    The timed region keeps the parsing, the run and the report; a cold process pays these
    imports once (README, Benchmarks)."""
    import importlib

    from attribution.report import write_report  # noqa: F401  (loads the page and plotly)

    try:  # typer's adapters (pydantic) where this typer version has them
        importlib.import_module("typer._adapters")
    except ImportError:
        pass


def w_floor(ctx: dict[str, Any]) -> dict[str, Any]:
    """Read the three columns a path needs, sort by (contact, time), group into lists."""
    import polars as pl

    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    touches = pl.read_parquet(ctx["data"] / "touches.parquet",
                              columns=["contact_id", "timestamp", "channel"])
    paths = (
        touches.sort("contact_id", "timestamp")
        .group_by("contact_id", maintain_order=True)
        .agg(pl.col("channel").alias("path"))
    )
    timed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    return {"timed_s": timed, "cpu_s": cpu, "rss_after_imports_mb": rss0,
            "rows_out": paths.height}


def w_engine_run(ctx: dict[str, Any]) -> dict[str, Any]:
    """The `attribution run` command end to end (in-process CLI), writing a run directory."""
    from attribution.cli import app

    models = [*_rule_models(), "markov:order=1", "shapley"]
    out = Path(ctx["scratch"])
    args = ["run", "--touches", str(ctx["data"] / "touches.parquet"),
            "--stages", str(ctx["data"] / "stages.parquet"), "--out", str(out)]
    for m in models:
        args += ["-m", m]
    _import_models()
    _import_command()
    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    app(args, standalone_mode=False)
    timed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    run_dir = max((p for p in out.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {
        "timed_s": timed, "cpu_s": cpu,
        "rss_after_imports_mb": rss0,
        "run_dir": str(run_dir),
        "models": models,
        "stages_s": manifest["timings_seconds"],
        "reconciliation": manifest["reconciliation"],
    }


def w_model(ctx: dict[str, Any]) -> dict[str, Any]:
    """One model alone through the Python API, from the touch log (journeys included)."""
    import attribution

    _import_models()
    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    res = attribution.attribute(ctx["data"] / "touches.parquet", ctx["data"] / "stages.parquet",
                                models=[ctx["model"]])
    timed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    return {"timed_s": timed, "cpu_s": cpu, "rss_after_imports_mb": rss0,
            "stages_s": res.manifest["timings_seconds"]}


def w_model_in_memory(ctx: dict[str, Any]) -> dict[str, Any]:
    """One model alone through the Python API, from the touch log and stage events already
    in memory (Polars frames read before the clock), as channelattribution is given its path
    table in memory: journeys, checks and model are timed, reading the files is not."""
    import polars as pl

    import attribution

    touches = pl.read_parquet(ctx["data"] / "touches.parquet")
    stages = pl.read_parquet(ctx["data"] / "stages.parquet")
    _import_models()
    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    res = attribution.attribute(touches, stages, models=[ctx["model"]])
    timed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    return {"timed_s": timed, "cpu_s": cpu, "rss_after_imports_mb": rss0,
            "stages_s": res.manifest["timings_seconds"]}


def _ca_paths(ctx: dict[str, Any]) -> Any:
    """The engine's path table as channelattribution wants it: pandas, '>' separated."""
    import polars as pl

    return (
        pl.read_parquet(ctx["data"] / "paths.parquet")
        .with_columns(pl.col("path").str.replace_all(" > ", ">", literal=True))
        .to_pandas()
    )


def w_ca_heuristics(ctx: dict[str, Any]) -> dict[str, Any]:
    import ChannelAttribution as ca

    df = _ca_paths(ctx)
    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    ca.heuristic_models(df, "path", "conversions", var_value="value", sep=">", flg_pro=False)
    timed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    return {"timed_s": timed, "cpu_s": cpu, "rss_after_imports_mb": rss0, "paths": len(df)}


def w_paths_model(ctx: dict[str, Any]) -> dict[str, Any]:
    """Ours on the same path table channelattribution gets (attribute_paths, strings parsed)."""
    import polars as pl

    import attribution

    frame = pl.read_parquet(ctx["data"] / "paths.parquet")
    _import_models()
    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    res = attribution.attribute_paths(frame, models=ctx["model"].split(","))
    timed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    return {"timed_s": timed, "cpu_s": cpu, "rss_after_imports_mb": rss0,
            "paths": frame.height,
            "stages_s": res.manifest["timings_seconds"]}


def _ca_markov(df: Any, nsim_start: float = 1e5) -> Any:
    import ChannelAttribution as ca

    return ca.markov_model(df, "path", "conversions", var_value="value", var_null="nulls",
                           order=1, sep=">", out_more=True, verbose=False, flg_pro=False,
                           nsim_start=nsim_start)


def w_ca_markov(ctx: dict[str, Any]) -> dict[str, Any]:
    df = _ca_paths(ctx)
    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    _ca_markov(df)
    timed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    return {"timed_s": timed, "cpu_s": cpu, "rss_after_imports_mb": rss0, "paths": len(df)}


def w_ca_accuracy(ctx: dict[str, Any]) -> dict[str, Any]:
    """Not timed: channelattribution vs ours on the same path table."""
    import ChannelAttribution as ca
    import polars as pl

    import attribution

    df = _ca_paths(ctx)
    theirs_h = pl.from_pandas(
        ca.heuristic_models(df, "path", "conversions", var_value="value", sep=">",
                            flg_pro=False)
    )
    theirs_m = _ca_markov(df)
    ours = attribution.attribute_paths(
        pl.read_parquet(ctx["data"] / "paths.parquet"),
        models=["first_touch", "last_touch", "linear", "markov"],
    )
    cc = ours.channel_credit
    out: dict[str, Any] = {"timed_s": 0.0, "heuristics": {}, "markov": {}}
    for ours_name, their_name in (("first_touch", "first_touch"), ("last_touch", "last_touch"),
                                  ("linear", "linear_touch")):
        joined = cc.filter(pl.col("model") == ours_name).join(
            theirs_h.select(
                pl.col("channel_name").alias("channel"),
                pl.col(f"{their_name}_conversions").alias("c_theirs"),
                pl.col(f"{their_name}_value").alias("v_theirs"),
            ),
            on="channel", how="full", coalesce=True,
        ).fill_null(0.0)
        out["heuristics"][ours_name] = {
            "channels": joined.height,
            "max_abs_diff_conversions": joined.select(
                (pl.col("conversions") - pl.col("c_theirs")).abs().max()).item(),
            "max_abs_diff_value": joined.select(
                (pl.col("value") - pl.col("v_theirs")).abs().max()).item(),
            "total_value": joined.get_column("value").sum(),
        }
    # exact reference for linear: rational arithmetic (fractions) over the converting paths
    from collections import Counter, defaultdict
    from fractions import Fraction

    exact: dict[str, Fraction] = defaultdict(Fraction)
    for path, conv in df.loc[df["conversions"] > 0, ["path", "conversions"]].itertuples(
            index=False):
        chs = path.split(">")
        for ch, k in Counter(chs).items():
            exact[ch] += Fraction(conv) * k / len(chs)
    ours_lin = dict(cc.filter(pl.col("model") == "linear").select("channel", "conversions")
                    .iter_rows())
    theirs_lin = dict(theirs_h.select("channel_name", "linear_touch_conversions").iter_rows())
    out["heuristics"]["linear"]["ours_max_abs_error_vs_exact"] = float(
        max(abs(Fraction(ours_lin.get(c, 0.0)) - v) for c, v in exact.items()))
    out["heuristics"]["linear"]["theirs_max_abs_error_vs_exact"] = float(
        max(abs(Fraction(theirs_lin.get(c, 0.0)) - v) for c, v in exact.items()))
    result = pl.from_pandas(theirs_m["result"]).select(
        pl.col("channel_name").alias("channel"),
        pl.col("total_conversions").alias("c_theirs"),
        pl.col("total_conversion_value").alias("v_theirs"),
    )
    removal = pl.from_pandas(theirs_m["removal_effects"]).select(
        pl.col("channel_name").alias("channel"),
        pl.col("removal_effects_conversion").alias("re_theirs"),
    )
    ours_re = next(v for k, v in ours.extras.items() if k.endswith("removal_effects"))
    m = (
        cc.filter(pl.col("model") == "markov")
        .join(result, on="channel", how="full", coalesce=True)
        .join(removal, on="channel", how="full", coalesce=True)
        .join(ours_re.select("channel", "removal_effect"), on="channel", how="full",
              coalesce=True)
        .fill_null(0.0)
        .with_columns(
            (pl.col("c_theirs") / pl.col("c_theirs").sum()).alias("share_theirs"),
        )
    )
    total = float(cc.filter(pl.col("model") == "markov").get_column("conversions").sum())
    out["markov"] = {
        "total_conversions": total,
        "max_abs_diff_conversions": m.select(
            (pl.col("conversions") - pl.col("c_theirs")).abs().max()).item(),
        "max_abs_diff_share": m.select(
            (pl.col("share") - pl.col("share_theirs")).abs().max()).item(),
        "max_abs_diff_removal_effect": m.select(
            (pl.col("removal_effect") - pl.col("re_theirs")).abs().max()).item(),
        "max_abs_diff_value_relative": m.select(
            (pl.col("value") - pl.col("v_theirs")).abs().max()
            / pl.col("value").sum()).item(),
        "per_channel": m.select("channel", "conversions", "c_theirs", "share", "share_theirs",
                                "removal_effect", "re_theirs").sort("channel").to_dicts(),
    }
    # more simulations: their estimate should move towards our exact removal effects
    more = pl.from_pandas(_ca_markov(df, nsim_start=1e6)["removal_effects"]).select(
        pl.col("channel_name").alias("channel"),
        pl.col("removal_effects_conversion").alias("re_1e6"),
    )
    out["markov"]["max_abs_diff_removal_effect_nsim_1e6"] = (
        ours_re.join(more, on="channel", how="full", coalesce=True).fill_null(0.0)
        .select((pl.col("removal_effect") - pl.col("re_1e6")).abs().max()).item()
    )
    return out


def w_prep_mam(ctx: dict[str, Any]) -> dict[str, Any]:
    """Not timed: mam reads a touch log with a per-touch conversion flag; derive it from the
    stages (the touch that is the last before each closed_won), shuffled like the input."""
    import polars as pl

    touches = pl.read_parquet(ctx["data"] / "touches.parquet",
                              columns=["touch_id", "contact_id", "timestamp", "channel"])
    won = (
        pl.read_parquet(ctx["data"] / "stages.parquet")
        .filter(pl.col("stage") == "closed_won")
        .select("contact_id", pl.col("timestamp").alias("_T"))
        .unique()
        .sort("_T")
    )
    flagged = (
        touches.sort("timestamp")
        .join_asof(won, left_on="timestamp", right_on="_T", by="contact_id",
                   strategy="forward", check_sortedness=False)
        .sort("contact_id", "timestamp", "touch_id")
        .with_columns(
            (pl.col("_T").is_not_null()
             & (pl.col("_T") != pl.col("_T").shift(-1).over("contact_id")).fill_null(True))
            .alias("has_conversion")
        )
        .select("contact_id", "timestamp", "channel", "has_conversion")
        .sample(fraction=1.0, shuffle=True, seed=SEED)
    )
    flagged.write_parquet(ctx["data"] / "mam_touches.parquet")
    return {"timed_s": 0.0, "flagged": int(flagged.get_column("has_conversion").sum())}


def w_mam(ctx: dict[str, Any]) -> dict[str, Any]:
    import mam
    import polars as pl

    df = pl.read_parquet(ctx["data"] / "mam_touches.parquet")
    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    model = mam.MAM(df, format_type="session", channels_colname="channel",
                    journey_with_conv_colname="has_conversion", datetime_colname="timestamp",
                    user_id_colname="contact_id", create_journey_id_based_on_conversion=True)
    t1 = time.perf_counter()
    model.run_markov()
    t2, cpu = time.perf_counter(), _cpu_s() - cpu0
    return {"timed_s": t2 - t0, "cpu_s": cpu, "rss_after_imports_mb": rss0,
            "stages_s": {"journeys": t1 - t0, "markov": t2 - t1},
            "journeys": model.unified_df.height}


def _pandas_inputs(ctx: dict[str, Any]) -> tuple[Any, Any]:
    import pandas as pd

    touches = pd.read_parquet(ctx["data"] / "touches.parquet",
                              columns=["touch_id", "contact_id", "timestamp", "channel"])
    stages = pd.read_parquet(ctx["data"] / "stages.parquet",
                             columns=["contact_id", "stage", "timestamp"])
    return touches, stages


def _credit_frame(first: Any, last: Any, linear: Any) -> list[dict[str, Any]]:
    rows = []
    for model, series in (("first_touch", first), ("last_touch", last), ("linear", linear)):
        rows += [{"model": model, "channel": str(ch), "conversions": float(v)}
                 for ch, v in series.items()]
    return rows


def w_pandas_vectorised(ctx: dict[str, Any]) -> dict[str, Any]:
    """What a careful analyst writes: merge_asof + groupby transforms, first/last/linear."""
    import pandas as pd

    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    touches, stages = _pandas_inputs(ctx)
    won = (
        stages.loc[stages["stage"] == "closed_won", ["contact_id", "timestamp"]]
        .drop_duplicates()
        .rename(columns={"timestamp": "T"})
        .sort_values("T")
    )
    j = pd.merge_asof(touches.sort_values("timestamp"), won, left_on="timestamp",
                      right_on="T", by="contact_id", direction="forward")
    j = j[j["T"].notna() & (j["timestamp"] >= j["T"] - pd.Timedelta(days=LOOKBACK_DAYS))]
    j = j.sort_values(["contact_id", "T", "timestamp", "touch_id"])
    g = j.groupby(["contact_id", "T"], sort=False)
    pos = g.cumcount()
    n = g["channel"].transform("size")
    first = j.loc[pos == 0].groupby("channel").size()
    last = j.loc[pos == n - 1].groupby("channel").size()
    linear = (1.0 / n).groupby(j["channel"]).sum()
    timed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    return {"timed_s": timed, "cpu_s": cpu, "rss_after_imports_mb": rss0,
            "credit": _credit_frame(first, last, linear)}


def w_pandas_naive(ctx: dict[str, Any]) -> dict[str, Any]:
    """What an analyst writes first: groupby(contact).apply(a Python function)."""
    import pandas as pd

    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    touches, stages = _pandas_inputs(ctx)
    won_times = (
        stages[stages["stage"] == "closed_won"].groupby("contact_id")["timestamp"]
        .apply(lambda s: sorted(set(s))).to_dict()
    )
    lookback = pd.Timedelta(days=LOOKBACK_DAYS)

    def credit(g: Any) -> Any:
        times = won_times.get(g.name)
        if not times:
            return None
        g = g.sort_values(["timestamp", "touch_id"])
        rows = []
        taken = pd.Timestamp.min.tz_localize("UTC")
        for T in times:
            journey = g[(g["timestamp"] > taken) & (g["timestamp"] <= T)
                        & (g["timestamp"] >= T - lookback)]
            taken = T
            if journey.empty:
                continue
            ch = journey["channel"].tolist()
            rows.append(("first_touch", ch[0], 1.0))
            rows.append(("last_touch", ch[-1], 1.0))
            rows += [("linear", c, 1.0 / len(ch)) for c in ch]
        return pd.DataFrame(rows, columns=["model", "channel", "credit"])

    per_journey = touches.groupby("contact_id")[["timestamp", "touch_id", "channel"]].apply(
        credit)
    totals = per_journey.groupby(["model", "channel"])["credit"].sum()
    timed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    return {"timed_s": timed, "cpu_s": cpu, "rss_after_imports_mb": rss0,
            "credit": [{"model": m, "channel": c, "conversions": float(v)}
                       for (m, c), v in totals.items()]}


def _long_journey_log(n_long: int) -> tuple[Any, Any]:
    """One bot contact with ``n_long`` touches over 80 days that converts, beside 2,000
    ordinary contacts (3-8 touches, one in two converting): seeded, built in memory."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(SEED)
    channels = np.array(["ads", "email", "events", "linkedin", "organic", "referral",
                         "webinar", "direct"])
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ordinary = rng.integers(3, 9, size=2_000)
    contact = np.concatenate([np.repeat(np.arange(2_000), ordinary), np.full(n_long, -1)])
    seconds = np.concatenate([rng.integers(0, 80 * 86_400, size=int(ordinary.sum())),
                              np.sort(rng.integers(0, 80 * 86_400, size=n_long))])
    touches = pl.DataFrame({
        "touch_id": [f"t{i}" for i in range(contact.size)],
        "contact_id": ["bot" if c < 0 else f"c{c}" for c in contact],
        "channel": channels[rng.integers(0, channels.size, size=contact.size)],
        "timestamp": [start + timedelta(seconds=int(x)) for x in seconds],
    })
    converting = [f"c{c}" for c in range(0, 2_000, 2)] + ["bot"]
    stages = pl.DataFrame({
        "contact_id": converting,
        "stage": ["closed_won"] * len(converting),
        "timestamp": [start + timedelta(days=85)] * len(converting),
        "value": [1_000.0] * len(converting),
    })
    return touches, stages


def w_long_journey(ctx: dict[str, Any]) -> dict[str, Any]:
    """Default models on a log holding one 50,000-touch journey (the size via ``--data``),
    under the default touch cap or with it lifted (``model`` = ``default`` / ``none``)."""
    import attribution

    touches, stages = _long_journey_log(int(ctx["data"].name))
    keywords = {} if ctx["model"] == "default" else {"max_touches_per_journey": None}
    _import_models()
    rss0 = _rss_now_mb()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    res = attribution.attribute(touches, stages, **keywords)
    timed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    rec = res.manifest["reconciliation"]
    return {"timed_s": timed, "cpu_s": cpu, "rss_after_imports_mb": rss0,
            "models": [m["label"] for m in res.manifest["models"]],
            "max_touches_per_journey": res.manifest["parameters"]["max_touches_per_journey"],
            "touches_dropped": rec["touches_dropped"],
            "journeys_too_long_list": rec.get("journeys_too_long_list", []),
            "stages_s": res.manifest["timings_seconds"]}


def run_long_journey(n_long: int, args: argparse.Namespace) -> None:
    """The long-journey cases, once each (no peers, no cached data): wall, timed, peak RSS."""
    scratch = RUNS / "long-journey"
    (scratch / "logs").mkdir(parents=True, exist_ok=True)
    data = scratch / str(n_long)  # the journey's length, read by the worker
    cases = {"default cap": "default", "cap lifted (None)": "none"}
    wanted = [w.strip() for w in args.cases.split(",") if w.strip()]
    runs = {}
    for name, cap in cases.items():
        if wanted and not any(w in name for w in wanted):
            continue
        print(f"[long journey {n_long:,}] {name} ...", file=sys.stderr, end=" ", flush=True)
        r = run_child("long_journey", data, scratch, scratch / "logs" / f"{cap}.log",
                      model=cap, timeout=args.timeout)
        print(f"{r.get('timed_s', float('nan')):.2f} s (wall {r['wall_s']:.2f} s, "
              f"rss {r['peak_rss_mb']:.0f} MB)" + (" FAILED" if "error" in r else "")
              + (" TIMED OUT" if r.get("timed_out") else ""), file=sys.stderr, flush=True)
        runs[name] = r
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{stamp}-long-journey.json"
    out.write_text(json.dumps({"command": "python benchmarks/run.py " + " ".join(sys.argv[1:]),
                               "journey_touches": n_long, "machine": machine_info(),
                               "runs": runs}, indent=2, default=str) + "\n")
    print(f"wrote {out}", file=sys.stderr)


WORKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "floor": w_floor,
    "engine_run": w_engine_run,
    "model": w_model,
    "model_in_memory": w_model_in_memory,
    "long_journey": w_long_journey,
    "ca_heuristics": w_ca_heuristics,
    "ca_markov": w_ca_markov,
    "ca_accuracy": w_ca_accuracy,
    "paths_model": w_paths_model,
    "prep_mam": w_prep_mam,
    "mam": w_mam,
    "pandas_vectorised": w_pandas_vectorised,
    "pandas_naive": w_pandas_naive,
}


def worker_main(args: argparse.Namespace) -> None:
    ctx = {"data": Path(args.data), "scratch": args.scratch, "model": args.model}
    result = WORKERS[args.worker](ctx)
    engine = sys.modules.get("attribution")
    if engine is not None:
        result["engine_file"] = getattr(engine, "__file__", None)
    Path(args.result).write_text(json.dumps(result, default=str))


# --------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------


class Case:
    def __init__(self, name: str, worker: str, what: str, *, model: str | None = None,
                 timeout: float | None = None, timed: bool = True) -> None:
        self.name, self.worker, self.what = name, worker, what
        self.model, self.timeout, self.timed = model, timeout, timed


def build_cases(n_touches: int, args: argparse.Namespace) -> list[Case]:
    from attribution import available_models

    cases = [
        Case("engine: attribution run (all rules + markov o1 + shapley)", "engine_run",
             "CLI end to end from the touch log, writes the run dir"),
        Case("floor: polars read + sort + group into paths", "floor",
             "3 columns, sort (contact, time), list of channels per contact"),
    ]
    names = [n for n, s in available_models().items() if n != "custom"]
    for name in names:
        shown = "markov order 1" if name == "markov" else name
        cases.append(Case(f"model alone: {shown}", "model", "attribute() from the touch log",
                          model=name))
    cases += [Case(f"model alone: markov order {order}", "model",
                   "attribute() from the touch log", model=f"markov:order={order}")
              for order in (2, 3, 4)]
    cases.append(Case("model alone, log in memory: markov order 1", "model_in_memory",
                      "attribute() from the touch log and stages as Polars frames, read "
                      "before the clock (as channelattribution's path table is)",
                      model="markov"))
    cases += [
        Case("channelattribution: heuristics (given paths)", "ca_heuristics",
             "first/last/linear on the engine's path table"),
        Case("channelattribution: markov order 1 (given paths)", "ca_markov",
             "simulated removal effects, nsim_start=1e5, seed 0"),
        Case("ours given paths: first/last/linear (attribute_paths)", "paths_model",
             "the same path table as channelattribution, path strings parsed",
             model="first_touch,last_touch,linear"),
        Case("ours given paths: markov order 1 (attribute_paths)", "paths_model",
             "the same path table as channelattribution, exact solve", model="markov"),
        Case("mam: build journeys + markov (from touch log)", "mam",
             "MAM(format_type='session') + run_markov()"),
    ]
    if n_touches <= 1_000_000:
        cases += [
            Case("pandas vectorised: first/last/linear", "pandas_vectorised",
                 "read + merge_asof + groupby transforms"),
            Case("pandas naive: groupby-apply first/last/linear", "pandas_naive",
                 "read + groupby(contact).apply(python)", timeout=args.naive_timeout),
        ]
    if args.cases:
        wanted = [w.strip() for w in args.cases.split(",") if w.strip()]
        cases = [c for c in cases
                 if c.worker == "engine_run" or any(w in c.name for w in wanted)]
    return cases


def run_child(case_worker: str, data: Path, scratch: Path, log: Path, *,
              model: str | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Run one worker process; wall time, peak RSS (wait4) and its JSON result."""
    result_file = scratch / f"result-{os.getpid()}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, __file__, "--worker", case_worker, "--data", str(data),
           "--scratch", str(scratch), "--result", str(result_file)]
    if model:
        cmd += ["--model", model]
    env = dict(os.environ, NO_COLOR="1", TERM="dumb", COLUMNS="120")
    with open(log, "w") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - t0 > timeout:
                os.killpg(proc.pid, 9)
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out: dict[str, Any] = {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024,
                           "exit_code": proc.returncode}
    if timed_out:
        out["timed_out"] = True
        out["timeout_s"] = timeout
    elif proc.returncode != 0 or not result_file.exists():
        tail = log.read_text()[-1500:]
        out["error"] = tail
    else:
        out.update(json.loads(result_file.read_text()))
        result_file.unlink()
    return out


def machine_info() -> dict[str, Any]:
    from importlib import metadata

    cpu = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    versions = {}
    for dist in ("attribution-engine", "polars", "numpy", "scipy", "pandas", "pyarrow",
                 "channelattribution", "marketing-attribution-models"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    commit = dirty = None
    try:  # read-only git queries
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                                    capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    return {
        "cpu_model": cpu,
        "logical_cpus": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "git_commit": commit,
        "git_dirty": dirty,
        "loadavg_start": os.getloadavg(),
    }


def summarise(runs: list[dict[str, Any]], timed: bool) -> dict[str, Any]:
    ok = [r for r in runs if "timed_s" in r]
    summary: dict[str, Any] = {"runs": runs, "n_ok": len(ok)}
    if any(r.get("timed_out") for r in runs):
        summary["timed_out_at_s"] = max(r["timeout_s"] for r in runs if r.get("timed_out"))
    if any("error" in r for r in runs):
        summary["error"] = next(r["error"] for r in runs if "error" in r)
    if ok and timed:
        summary["median_s"] = statistics.median(r["timed_s"] for r in ok)
        summary["median_wall_s"] = statistics.median(r["wall_s"] for r in ok)
        cpu = [r["cpu_s"] for r in ok if "cpu_s" in r]
        if cpu:
            summary["median_cpu_s"] = statistics.median(cpu)
        summary["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
        stages = [r["stages_s"] for r in ok if "stages_s" in r]
        if stages:
            summary["median_stages_s"] = {
                k: statistics.median(s.get(k, 0.0) for s in stages) for k in stages[0]
            }
    return summary


def pandas_accuracy(engine_run_dir: Path, credit: list[dict[str, Any]]) -> float | None:
    import polars as pl

    ours = pl.read_parquet(engine_run_dir / "channel_credit.parquet").filter(
        pl.col("model").is_in(["first_touch", "last_touch", "linear"]))
    theirs = pl.DataFrame(credit).rename({"conversions": "theirs"})
    joined = ours.join(theirs, on=["model", "channel"], how="full", coalesce=True).fill_null(0.0)
    return joined.select((pl.col("conversions") - pl.col("theirs")).abs().max()).item()


def run_size(n_touches: int, repeats: int, args: argparse.Namespace,
             machine: dict[str, Any]) -> dict[str, Any]:
    label = size_label(n_touches)
    machine = dict(machine, loadavg_start=os.getloadavg())
    data = ensure_data(n_touches)
    scratch = RUNS / label
    logs = scratch / "logs"
    if scratch.exists():
        shutil.rmtree(scratch)
    logs.mkdir(parents=True)
    cases = build_cases(n_touches, args)
    runs: dict[str, list[dict[str, Any]]] = {c.name: [] for c in cases}
    skip: set[str] = set()
    engine_run_dir: Path | None = None
    started = time.perf_counter()
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    for rep in range(repeats):
        for case in cases:
            if case.name in skip:
                continue
            if case.worker == "mam" and not (data / "mam_touches.parquet").exists():
                run_child("prep_mam", data, scratch, logs / "prep_mam.log")
            tag = f"{case.worker}-{case.model or ''}-{rep}".replace(":", "_").replace("=", "")
            print(f"[{label} {rep + 1}/{repeats}] {case.name} ...", file=sys.stderr, end=" ",
                  flush=True)
            r = run_child(case.worker, data, scratch, logs / f"{tag}.log", model=case.model,
                          timeout=case.timeout or args.timeout)
            if "error" in r:  # once: e.g. a library file caught mid-edit by a concurrent change
                first_error = r["error"]
                r = run_child(case.worker, data, scratch, logs / f"{tag}-retry.log",
                              model=case.model, timeout=case.timeout or args.timeout)
                r["retried_after_error"] = first_error
            runs[case.name].append(r)
            print(f"{r.get('timed_s', float('nan')):.2f} s (wall {r['wall_s']:.2f} s, "
                  f"rss {r['peak_rss_mb']:.0f} MB)"
                  + (" TIMED OUT" if r.get("timed_out") else "")
                  + (" FAILED" if "error" in r else ""), file=sys.stderr, flush=True)
            if r.get("timed_out") or "error" in r:
                skip.add(case.name)  # a capped or failing case is not repeated
            if case.worker == "engine_run" and "run_dir" in r:
                new_dir = Path(r["run_dir"])
                if engine_run_dir is None:
                    # the path table the peers are given: the engine's own, from this run
                    shutil.copy(new_dir / "paths.parquet", data / "paths.parquet")
                    engine_run_dir = new_dir
                else:
                    shutil.rmtree(new_dir)
    accuracy: dict[str, Any] = {}
    if (data / "paths.parquet").exists() and any(c.worker.startswith("ca_") for c in cases):
        acc = run_child("ca_accuracy", data, scratch, logs / "ca_accuracy.log")
        accuracy["channelattribution"] = acc
    if engine_run_dir is not None:
        for case in cases:
            if case.worker.startswith("pandas"):
                credit = next((r["credit"] for r in runs[case.name] if "credit" in r), None)
                if credit is not None:
                    accuracy[case.worker] = {
                        "max_abs_diff_vs_engine_first_last_linear":
                            pandas_accuracy(engine_run_dir, credit)}
                for r in runs[case.name]:
                    r.pop("credit", None)
    result = {
        "command": "python benchmarks/run.py " + " ".join(sys.argv[1:]),
        "started_at": started_at,
        "size": label,
        "n_touches": n_touches,
        "repeats": repeats,
        "seed": SEED,
        "data_dir": str(data),
        "machine": dict(machine, loadavg_end=os.getloadavg()),
        "harness_seconds": time.perf_counter() - started,
        "cases": {c.name: dict(summarise(runs[c.name], c.timed), worker=c.worker,
                               model=c.model, what=c.what) for c in cases},
        "accuracy": accuracy,
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = RUNS / "quick" if args.quick else RESULTS  # smoke runs stay out of results/
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{stamp}-{label}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return result


# --------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def _fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def markdown(results: list[dict[str, Any]], command: str) -> str:
    m = results[0]["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}`  ",
        f"Machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs "
        f"({m['cpus_available']} available), {m['ram_gb']} GB RAM, {m['platform']}  ",
        f"Python {m['python']}, " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()
                                               if v) + "  ",
        f"Engine: {m.get('engine_source', 'working tree')}; repository HEAD "
        f"{m['git_commit'] or '?'}{' (dirty tree)' if m['git_dirty'] else ''}  ",
        "Load average (1, 5, 15 min) at start / end of each size: "
        + "; ".join(f"{r['size']}: {', '.join(f'{x:.1f}' for x in r['machine']['loadavg_start'])}"
                    f" / {', '.join(f'{x:.1f}' for x in r['machine']['loadavg_end'])}"
                    for r in results)
        + f" (on {m['logical_cpus']} CPUs: other processes were competing when above that)",
        "",
        "Each case ran as its own process; time = median of the timed region (inputs given "
        "to the peers, e.g. channelattribution's pandas path table, are built outside it; "
        "the engine, the floor and pandas include reading the Parquet, except the case "
        "marked 'log in memory', whose frames are read before the clock). Peak RSS is the "
        "whole process (interpreter and imports included), max over runs. Ratios are of "
        "medians measured in the same run.",
        "",
    ]
    for res in results:
        cases = res["cases"]
        floor = next((c.get("median_s") for c in cases.values() if c["worker"] == "floor"),
                     None)
        ca_m = next((c.get("median_s") for c in cases.values() if c["worker"] == "ca_markov"),
                    None)
        per_m = res["n_touches"] / 1e6
        lines += [
            f"## {res['n_touches']:,} touches ({res['size']}), median of {res['repeats']}",
            "",
            f"`{res.get('command', '')}`, started {res.get('started_at', '?')}",
            "",
            "| case | median s | runs (s) | s per M touches | CPU s | peak RSS GB | x floor | "
            "x CA markov |",
            "|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for name, c in cases.items():
            med = c.get("median_s")
            runs_txt = ", ".join(_fmt_s(r["timed_s"]) for r in c["runs"] if "timed_s" in r)
            if "timed_out_at_s" in c:
                runs_txt += f" (capped: > {c['timed_out_at_s']:.0f} s)"
                med = med if med is not None else None
            if "error" in c:
                runs_txt += " (failed, see JSON)"
            rss = f"{c['peak_rss_mb'] / 1024:.2f}" if "peak_rss_mb" in c else (
                f"{max(r['peak_rss_mb'] for r in c['runs']) / 1024:.2f}" if c["runs"] else "-")
            med_txt = _fmt_s(med) if med is not None else (
                f"> {c['timed_out_at_s']:.0f}" if "timed_out_at_s" in c else "-")
            lines.append(
                f"| {name} | {med_txt} | {runs_txt} | "
                f"{_fmt_s(med / per_m) if med is not None else '-'} | "
                f"{_fmt_s(c.get('median_cpu_s'))} | {rss} | "
                f"{_fmt_ratio(med / floor if med is not None and floor else None)} | "
                f"{_fmt_ratio(med / ca_m if med is not None and ca_m else None)} |"
            )
        engine = next((c for c in cases.values() if c["worker"] == "engine_run"), None)
        if engine and "median_stages_s" in engine:
            lines += ["", "Engine run, median seconds per stage (manifest `timings_seconds`):",
                      "", "| stage | s |", "|---|---:|"]
            lines += [f"| {k} | {_fmt_s(v)} |" for k, v in engine["median_stages_s"].items()]
        acc = res["accuracy"]
        ca = acc.get("channelattribution", {})
        if "heuristics" in ca:
            lines += ["", "Accuracy vs channelattribution on the same path table "
                      f"({res['size']}):", "",
                      "| model | max abs diff conversions | max abs diff value |",
                      "|---|---:|---:|"]
            for model, d in ca["heuristics"].items():
                lines.append(f"| {model} | {d['max_abs_diff_conversions']:.2e} | "
                             f"{d['max_abs_diff_value']:.2e} (relative "
                             f"{d['max_abs_diff_value'] / (d['total_value'] or 1):.1e}) |")
            mk = ca["markov"]
            lines += [
                f"| markov o1 (theirs simulated, ours exact) | "
                f"{mk['max_abs_diff_conversions']:.4g} of {mk['total_conversions']:,.0f} "
                f"(share {mk['max_abs_diff_share']:.2e}, removal effect "
                f"{mk['max_abs_diff_removal_effect']:.2e}; with nsim_start=1e6: "
                f"{mk['max_abs_diff_removal_effect_nsim_1e6']:.2e}) | "
                f"{mk['max_abs_diff_value_relative']:.2e} of total value |",
            ]
            lin = ca["heuristics"]["linear"]
            if "ours_max_abs_error_vs_exact" in lin:
                lines += ["", "Linear against an exact rational-arithmetic reference: ours off by "
                          f"{lin['ours_max_abs_error_vs_exact']:.1e}, channelattribution by "
                          f"{lin['theirs_max_abs_error_vs_exact']:.1e} (max over channels)."]
        elif ca:
            lines += ["", f"channelattribution accuracy check failed: {ca.get('error', '?')}"]
        for key in ("pandas_vectorised", "pandas_naive"):
            if key in acc:
                d = acc[key]["max_abs_diff_vs_engine_first_last_linear"]
                lines.append(f"\n{key}: max abs diff vs the engine's first/last/linear "
                             f"conversions {d:.2e}")
        lines.append("")
    return "\n".join(lines + _per_million(results)) + "\n"


def _per_million(results: list[dict[str, Any]]) -> list[str]:
    """Seconds per million touches (of each size's label) of every case run at two sizes
    or more, wall and CPU, and the largest size's over the smallest's."""
    if len(results) < 2:
        return []
    small, large = results[0], results[-1]
    lines = [
        f"## Per million touches, {small['size']} against {large['size']}",
        "",
        "| case | wall s/M " + " | ".join(r["size"] for r in results) + " | ratio | "
        "CPU s/M " + " | ".join(r["size"] for r in results) + " | ratio |",
        "|---|" + "---:|" * (2 * len(results) + 2),
    ]
    per = [r["n_touches"] / 1e6 for r in results]

    def cells(values: list[Any]) -> str:
        if any(v is None for v in values):
            return " | ".join("-" for _ in values) + " | - |"
        rates = [v / m for v, m in zip(values, per, strict=True)]
        return " | ".join(_fmt_s(x) for x in rates) + f" | {rates[-1] / rates[0]:.2f} |"

    for name in large["cases"]:
        walls = [r["cases"].get(name, {}).get("median_s") for r in results]
        cpus = [r["cases"].get(name, {}).get("median_cpu_s") for r in results]
        if any(w is None for w in walls):
            continue
        lines.append(f"| {name} | {cells(walls)} {cells(cpus)}")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1m", help="comma-separated, e.g. 1m,10m")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help=f"CI smoke run: {QUICK_SIZE} touches, 1 repeat")
    parser.add_argument("--cases", default="",
                        help="only cases whose name contains one of these (comma-separated); "
                        "the engine run always runs (it provides the peers' path table)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per run, seconds")
    parser.add_argument("--naive-timeout", type=float, default=300.0,
                        help="cap for one naive pandas run, seconds")
    parser.add_argument("--snapshot", metavar="REV", default="",
                        help="benchmark the committed library at REV (e.g. HEAD) from a git "
                        "archive snapshot, immune to concurrent edits of the working tree")
    parser.add_argument("--no-install", action="store_true",
                        help="do not create / refresh benchmarks/.venv-bench")
    parser.add_argument("--long-journey", metavar="TOUCHES", default="",
                        help="only the long-journey cases: default models on a log with one "
                        "journey of this many touches (e.g. 50k), default cap and cap lifted; "
                        "needs no peers (runs in the current interpreter)")
    # internal: one case in its own process
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--report", nargs="+", metavar="JSON",
                        help="only rewrite results/latest.md from these result files")
    args = parser.parse_args()
    if args.report:
        results = [json.loads(Path(f).read_text()) for f in args.report]
        command = results[0].get("command", "python benchmarks/run.py")
        (RESULTS / "latest.md").write_text(markdown(results, command))
        print((RESULTS / "latest.md").read_text())
        return
    if args.worker:
        worker_main(args)
        return
    if args.long_journey:
        run_long_journey(parse_size(args.long_journey), args)
        return
    ensure_environment(args.no_install)
    if args.quick:
        sizes, repeats = [parse_size(QUICK_SIZE)], 1
        args.naive_timeout = min(args.naive_timeout, 30.0)
    else:
        sizes, repeats = [parse_size(s) for s in args.sizes.split(",") if s.strip()], args.repeats
    snapshot = use_snapshot(args.snapshot) if args.snapshot else None
    machine = machine_info()
    import attribution

    machine["engine_source"] = (
        f"snapshot of commit {snapshot} (git archive)" if snapshot
        else f"working tree ({Path(attribution.__file__).parent})"
    )
    results = [run_size(n, repeats, args, machine) for n in sizes]
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:])
    md = markdown(results, command.strip())
    md_file = RUNS / "quick" / "quick.md" if args.quick else RESULTS / "latest.md"
    md_file.write_text(md)
    print(md)
    if args.quick:  # a smoke run fails when any case failed (the naive pandas one may time out)
        failed = [name for res in results for name, case in res["cases"].items()
                  if "error" in case or (case.get("n_ok", 0) == 0 and "timed_out_at_s" not in case)]
        if failed:
            sys.exit(f"benchmark smoke run: cases failed: {failed}")


if __name__ == "__main__":
    main()
