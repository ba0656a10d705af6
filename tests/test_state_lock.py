"""One run at a time on a state directory (new-user report 4, defect 2: two overlapping
nightly runs read and compacted each other's files, and the loser's message blamed a
compaction): the second stops at once, exit 2, naming the run that holds the state; a run
that was killed releases it; the lock is re-entrant within a thread."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution import attribute_incremental
from attribution.engine._state_lock import LOCK_FILE, StateInUseError, state_lock

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def sample() -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(SAMPLE / "touches.parquet"), pl.read_parquet(SAMPLE / "stages.parquet")


def test_a_second_run_on_a_held_state_stops_naming_the_holder(sample, tmp_path) -> None:
    touches, stages = sample
    touches.write_parquet(tmp_path / "touches.parquet")
    stages.write_parquet(tmp_path / "stages.parquet")
    command = [
        sys.executable, "-m", "attribution.cli", "run", "--touches", "touches.parquet",
        "--stages", "stages.parquet", "-m", "linear", "--state", "state", "--out", "runs",
    ]  # fmt: skip
    with state_lock(tmp_path / "state"):  # this process is the other run
        held = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
    assert held.returncode == 2, held.stderr
    assert f"state 'state' is in use by another run (pid {os.getpid()}" in held.stderr
    assert "Traceback" not in held.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert not (tmp_path / "state" / "state.json").exists()  # it read and wrote nothing
    free = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert free.returncode == 0, free.stderr  # released: the next run goes ahead


def test_another_thread_cannot_share_it_the_same_thread_can(sample, tmp_path) -> None:
    touches, stages = sample
    state = tmp_path / "state"
    caught: list[BaseException] = []

    def other() -> None:
        try:
            attribute_incremental(touches, stages, models=["linear"], state=state)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            caught.append(exc)

    with state_lock(state):
        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
        # re-entrant: the thread holding it runs (as the command line does)
        mine = attribute_incremental(touches, stages, models=["linear"], state=state)
    assert len(caught) == 1
    assert isinstance(caught[0], StateInUseError)
    assert isinstance(caught[0], attribution.AttributionError)
    assert mine.manifest["parameters"]["incremental"]["mode"] == "full"
    with state_lock(state):  # released after the outer hold
        pass


def test_a_killed_holder_releases_the_state(tmp_path) -> None:
    state = tmp_path / "state"
    code = (
        "import sys, time; from attribution.engine._state_lock import state_lock\n"
        "with state_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(state)], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StateInUseError, match=f"pid {holder.pid} "):
            with state_lock(state):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
    deadline = time.monotonic() + 10
    while True:  # the kernel drops a dead process's lock at once
        try:
            with state_lock(state):
                break
        except StateInUseError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert (state / LOCK_FILE).is_file()
