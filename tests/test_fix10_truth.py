"""A bad --truth (the synthetic truth file) is checked with the other B2B inputs, before the
attribution runs: the usual one-line error naming the file and what it lacks, never after
every model has run, never a traceback (B2BInputs.read / check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from attribution import B2BInputs, ConfigError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def _truth(tmp_path: Path, **changes: object) -> Path:
    data = json.loads((SAMPLE / "truth.json").read_text())
    data.update(changes)
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"incremental_share": "linkedin"}, "needs 'incremental_share'"),
        ({"anomalies": [{"family": "spend"}]}, "anomalies entry 1 needs"),
    ],
)
def test_a_bad_truth_file_is_an_error_when_the_inputs_are_read(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    truth = _truth(tmp_path, **changes)
    with pytest.raises(ConfigError, match=message) as caught:
        B2BInputs(truth=truth).check()
    assert str(truth) in str(caught.value)
    B2BInputs(truth=SAMPLE / "truth.json", experiments=SAMPLE / "experiments.csv").check()


def test_the_calibration_s_truth_is_checked_with_experiments(tmp_path: Path) -> None:
    """With experiments, the truth's expected conversions per channel score the
    calibration: a truth without them was a KeyError traceback after the whole run."""
    truth = _truth(tmp_path, expected={})
    B2BInputs(truth=truth).check()  # without experiments nothing reads them
    with pytest.raises(ConfigError, match=r"'expected' .*closed_won") as caught:
        B2BInputs(truth=truth, experiments=SAMPLE / "experiments.csv").check()
    assert str(truth) in str(caught.value)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "surveys"])
def test_run_refuses_a_bad_truth_before_the_attribution(tmp_path: Path, command: str) -> None:
    truth = _truth(tmp_path, incremental_share=None)
    args = [sys.executable, "-m", "attribution.cli", command, "--touches",
            str(SAMPLE / "touches.parquet"), "--stages", str(SAMPLE / "stages.parquet"),
            "--truth", str(truth), "-m", "linear", "--out", str(tmp_path / "runs")]  # fmt: skip
    if command == "surveys":
        args += ["--surveys", str(SAMPLE / "surveys.parquet")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COLUMNS="200"))  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"error: truth '{truth}' needs 'incremental_share'" in done.stderr
    assert "[load]" not in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
