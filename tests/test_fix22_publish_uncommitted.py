"""``attribution publish RUN_DIR`` refuses a run whose write-back did not commit (its
manifest's ``write_back.status`` failed / pending / unknown / not_attempted): exit 2 naming
the status and the target, ``--allow-uncommitted`` to publish it anyway. It published such
a run (a failed night) as the CRM's scoring model, a run the warehouse does not hold."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import attribution
from attribution import SnapshotStore
from attribution.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    result = attribution.attribute(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
                                   models=["linear"])  # fmt: skip
    return result.write(root, run_id="night")


def _night(tmp_path: Path, written: Path, status: str | None) -> Path:
    runs = tmp_path / "runs"
    run = shutil.copytree(written, runs / "night")
    if status is not None:
        manifest = json.loads((run / "manifest.json").read_text())
        manifest["write_back"] = {"target": "duckdb:///results.duckdb", "run_id": "night",
                                  "status": status}  # fmt: skip
        if status == "failed":
            manifest["write_back"]["error"] = "lost connection"
        (run / "manifest.json").write_text(json.dumps(manifest))
    return run


@pytest.mark.parametrize("status", ["failed", "pending", "unknown", "not_attempted"])
def test_a_run_whose_write_back_did_not_commit_is_refused(
    tmp_path: Path, written: Path, status: str
) -> None:
    run = _night(tmp_path, written, status)
    done = CliRunner().invoke(app, ["publish", str(run)])
    said = " ".join(done.output.split())
    assert done.exit_code == 2, done.output
    assert f"write_back.status '{status}'" in said
    assert "duckdb:///results.duckdb" in said
    assert "--allow-uncommitted" in said
    assert "Traceback" not in done.output
    assert SnapshotStore.beside(run.parent).current() is None
    anyway = CliRunner().invoke(app, ["publish", str(run), "--allow-uncommitted"])
    assert anyway.exit_code == 0, anyway.output
    assert "published anyway (--allow-uncommitted)" in " ".join(anyway.output.split())
    current = SnapshotStore.beside(run.parent).current()
    assert current is not None
    assert current.run_id == "night"


@pytest.mark.parametrize("status", ["committed", None])
def test_a_committed_run_or_one_without_write_back_is_published(
    tmp_path: Path, written: Path, status: str | None
) -> None:
    run = _night(tmp_path, written, status)
    done = CliRunner().invoke(app, ["publish", str(run)])
    assert done.exit_code == 0, done.output
    assert "anyway" not in done.output
    assert SnapshotStore.beside(run.parent).current() is not None
