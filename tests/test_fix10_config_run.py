"""`attribution plan -c` and `attribution surveys -c` read the config's [run] as `run -c`
does (cli/_run.py run_config / run_options, runs_dir_of): its models, bootstrap and out; a
flag still wins. Before, plan read none of [run] (the README gave the demo's plan
`-m last_non_direct --bootstrap 100` on the command line) and surveys wrote to ./runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"

pytestmark = pytest.mark.slow


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attribution.cli", *args], cwd=cwd, capture_output=True,
        text=True, env=dict(os.environ, COLUMNS="200"), timeout=300,
    )  # fmt: skip


def _manifest(runs: Path) -> dict[str, Any]:
    (run_dir,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    return dict(json.loads((run_dir / "manifest.json").read_text()))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "cfg" / "run.toml"
    cfg.parent.mkdir()
    cfg.write_text(
        f"[inputs]\ntouches = '{SAMPLE / 'touches.parquet'}'\n"
        f"stages = '{SAMPLE / 'stages.parquet'}'\nspend = '{SAMPLE / 'spend.parquet'}'\n"
        f"surveys = '{SAMPLE / 'surveys.parquet'}'\n"
        "[run]\nmodels = ['last_touch']\nbootstrap = 3\nout = 'config-runs'\n"
    )
    return cfg


def test_plan_reads_the_config_s_run_section(config: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = _cli("plan", str(SAMPLE / "plan.toml"), "-c", str(config), cwd=work)
    assert done.returncode == 0, done.stderr
    assert not (work / "runs").exists()  # [run] out, relative to the config file
    manifest = _manifest(config.parent / "config-runs")
    assert [m["label"] for m in manifest["models"]] == ["last_touch"]
    assert manifest["bootstrap"]["draws"] == 3
    # the flags win over the config's keys
    flagged = _cli(
        "plan", str(SAMPLE / "plan.toml"), "-c", str(config), "-m", "linear",
        "--bootstrap", "0", "--out", str(tmp_path / "flag-runs"), cwd=work,
    )  # fmt: skip
    assert flagged.returncode == 0, flagged.stderr
    manifest = _manifest(tmp_path / "flag-runs")
    assert [m["label"] for m in manifest["models"]] == ["linear"]
    assert manifest["decision_model"] == "linear"
    assert "bootstrap" not in manifest


def test_surveys_writes_where_the_config_s_run_out_says(config: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = _cli("surveys", "-c", str(config), cwd=work)
    assert done.returncode == 0, done.stderr
    assert not (work / "runs").exists()
    manifest = _manifest(config.parent / "config-runs")
    assert [m["label"] for m in manifest["models"]] == ["last_touch"]
    flagged = _cli("surveys", "-c", str(config), "--out", str(tmp_path / "flag"), cwd=work)
    assert flagged.returncode == 0, flagged.stderr
    assert _manifest(tmp_path / "flag")["decision_model"] is not None


def test_a_nightly_config_s_state_is_not_plan_s(tmp_path: Path) -> None:
    """A config's [run] state / write_to are `run`'s: plan and surveys leave them out,
    said in a note, rather than fail on an option they do not take."""
    cfg = tmp_path / "night.toml"
    cfg.write_text(
        f"[inputs]\ntouches = '{SAMPLE / 'touches.parquet'}'\n"
        f"stages = '{SAMPLE / 'stages.parquet'}'\nspend = '{SAMPLE / 'spend.parquet'}'\n"
        "[run]\nmodels = ['linear']\nstate = 'state'\nout = 'r'\n"
    )
    done = _cli("plan", str(SAMPLE / "plan.toml"), "-c", str(cfg), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[run] state is for `attribution run` (left out here)" in done.stderr
    assert not (tmp_path / "state").exists()


def test_a_config_s_allow_empty_does_not_make_an_empty_plan(tmp_path: Path) -> None:
    """plan has no --allow-empty: a config's [run] allow_empty (with a conversion stage no
    event has) still ends in exit 3 saying why, not a plan check of no customer."""
    cfg = tmp_path / "empty.toml"
    cfg.write_text(
        f"[inputs]\ntouches = '{SAMPLE / 'touches.parquet'}'\n"
        f"stages = '{SAMPLE / 'stages.parquet'}'\nspend = '{SAMPLE / 'spend.parquet'}'\n"
        "[run]\nmodels = ['linear']\nallow_empty = true\nlookback = '1s'\nout = 'r'\n"
    )
    done = _cli("plan", str(SAMPLE / "plan.toml"), "-c", str(cfg), cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
