"""service/: batch runs under faults, over real uvicorn servers on loopback.

kill -9 mid-run then a restart (the server as PID 1 of a new PID namespace where
``unshare`` works; a same-PID owner record otherwise), kill -9 while the run directory is
being written, SIGTERM mid-run (the run finishes within the grace period, or is marked
interrupted), a read-only and a full runs directory (a small tmpfs in a private mount
namespace), concurrent runs, 429 on a full queue, and the HTTP defects: long path components,
symbolic link loops, the connection after an error, absolute paths in responses.

Servers that must die or get signals run as processes (tests/service_process.py); the rest
run in a thread (the ``start_server`` fixture). Runs are slowed by sleeping at a stage, not
by big data, so the whole file takes seconds.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from raw_http import raw_exchange, request

import attribution
from service import Settings, create_app
from service.core.lease import process_start

pytestmark = pytest.mark.slow

LAUNCHER = Path(__file__).with_name("service_process.py")
KEY = "fault-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
RUN = {"touches": "touches.parquet", "stages": "stages.parquet", "models": ["linear"]}
FAST_LEASE = {"ATTRIBUTION_RUN_HEARTBEAT_SECONDS": "0.2", "ATTRIBUTION_RUN_LEASE_SECONDS": "1"}


# --- the environment's abilities --------------------------------------------------------------

def _works(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _namespace_prefix(*kinds: str) -> list[str] | None:
    """``unshare`` arguments giving new ``kinds`` namespaces (as root, or via a user
    namespace), or None where this machine does not allow it."""
    if shutil.which("unshare") is None:
        return None
    probe = "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || true; echo $$"
    for user in ([], ["--user", "--map-root-user"]):
        prefix = ["unshare", *user, *kinds]
        if _works([*prefix, "sh", "-c", probe]):
            return prefix
    return None


PID_NS = _namespace_prefix("--pid", "--fork", "--mount-proc")
MOUNT_NS = _namespace_prefix("--mount")
TMPFS_OK = MOUNT_NS is not None and _works(
    [*(MOUNT_NS or []), "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d"])
NO_TMPFS = "mounting a tmpfs in a private mount namespace is not allowed here (unshare --mount)"


# --- servers in their own process -----------------------------------------------------------

@dataclass
class Server:
    """A service process: the Popen of what was started (maybe ``unshare``), its URL, and
    the PID of the Python process that serves (the one to kill)."""

    popen: subprocess.Popen[str]
    url: str
    pid: int
    log: Path

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=10)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        os.kill(self.pid, sig)

    def wait_exit(self, timeout: float) -> float:
        started = time.monotonic()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not exit in {timeout} s:\n"
                                 + self.log.read_text()) from None
        return time.monotonic() - started


def _serving_pid(popen: subprocess.Popen[str], forked: bool) -> int:
    """The Python process: Popen's own, or unshare --fork's only child."""
    if not forked:
        return popen.pid
    children = Path(f"/proc/{popen.pid}/task/{popen.pid}/children")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = children.read_text().split()
        if found:
            return int(found[0])
        time.sleep(0.01)
    raise AssertionError("unshare started no server")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``spawn(env, prefix=[...], shell=...)`` starts tests/service_process.py (optionally
    under ``prefix``, e.g. unshare, or after ``shell`` commands in the same namespaces);
    every process started is killed at the end of the test."""
    started: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str], prefix: list[str] | None = None, shell: str = "") -> Server:
        log = tmp_path / f"server-{len(started)}.log"
        command = [sys.executable, str(LAUNCHER)]
        if shell:
            command = ["sh", "-c", f'{shell} && exec "$0" "$@"', *command]
        with log.open("w") as stderr:
            popen = subprocess.Popen(
                [*(prefix or []), *command], stdout=subprocess.PIPE, stderr=stderr,
                text=True, start_new_session=True,
                env={**os.environ, "ATTRIBUTION_API_KEYS": KEY, **env})
        started.append(popen)
        assert popen.stdout is not None
        ready, _, _ = select.select([popen.stdout], [], [], 30)
        line = popen.stdout.readline() if ready else ""
        if not line.startswith("PORT "):
            popen.kill()
            popen.wait()
            raise AssertionError(f"the server did not start: {line!r}\n{log.read_text()}")
        pid = _serving_pid(popen, forked="--fork" in (prefix or []))
        return Server(popen, f"http://127.0.0.1:{int(line.split()[1])}", pid, log)

    yield start
    for popen in started:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)  # the session this fixture started
        popen.wait()
        if popen.stdout is not None:
            popen.stdout.close()


def _env(data_dir: Path, runs_dir: Path, **extra: str) -> dict[str, str]:
    return {"ATTRIBUTION_DATA_DIR": str(data_dir), "ATTRIBUTION_RUNS_DIR": str(runs_dir),
            **extra}


def _poll(http: httpx.Client, run_id: str, until: Callable[[dict[str, Any]], bool],
          timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = http.get(f"/v1/runs/{run_id}")
        assert response.status_code == 200, response.text
        status: dict[str, Any] = response.json()
        if until(status):
            return status
        assert time.monotonic() < deadline, f"run {run_id} stuck at {status}"
        time.sleep(0.05)


def _start_run(http: httpx.Client, **extra: Any) -> str:
    response = http.post("/v1/runs", json=RUN | extra)
    assert response.status_code == 202, response.text
    run_id: str = response.json()["run_id"]
    return run_id


def _at_stage(stage: str) -> Callable[[dict[str, Any]], bool]:
    return lambda s: s["status"] == "running" and s["progress"]["stage"] == stage


def _on_disk(runs_dir: Path, run_id: str) -> dict[str, Any]:
    status: dict[str, Any] = json.loads((runs_dir / ".status" / f"{run_id}.json").read_text())
    return status


def _leftovers(runs_dir: Path) -> list[str]:
    return sorted(p.name for p in [*runs_dir.glob(".*.tmp"), *runs_dir.glob(".status/.*.tmp")])


def _lasting_leftovers(runs_dir: Path, seconds: float = 3.0) -> list[str]:
    """The temporary files still there after ``seconds``: a live server's lease heartbeat
    writes status files atomically (a ``.tmp`` that lives for a moment), so only a file
    that stays is left over."""
    deadline = time.monotonic() + seconds
    while (found := _leftovers(runs_dir)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _interrupted(status: dict[str, Any]) -> bool:
    return status["status"] == "failed"


# --- kill -9 and restarts -------------------------------------------------------------------

@pytest.mark.skipif(PID_NS is None, reason="no new PID namespace here (unshare --pid --fork "
                    "--mount-proc is not allowed); the same-PID case is simulated below")
def test_kill_9_of_pid_1_mid_run_then_restart_as_pid_1(spawn, data_dir, tmp_path) -> None:
    """The issue's container case: the server is PID 1, killed mid-run and restarted as
    PID 1 again. The run must not stay running: it becomes failed / interrupted."""
    runs = tmp_path / "runs"
    env = _env(data_dir, runs, **FAST_LEASE)
    first = spawn(env | {"SLOW_STAGE": "journeys:60"}, prefix=PID_NS)
    with first.http() as http:
        run_id = _start_run(http)
        running = _poll(http, run_id, _at_stage("journeys"))
    assert 0 < running["progress"]["fraction"] < 1
    assert _on_disk(runs, run_id)["lease"]["owner"]["pid"] == 1
    first.kill()
    first.wait_exit(10)

    second = spawn(env, prefix=PID_NS)
    with second.http() as http:
        restarted = time.monotonic()
        status = _poll(http, run_id, _interrupted, timeout=10)
        # at most the lease (1 s) plus polling, whether or not the PID namespace is new
        assert time.monotonic() - restarted < 5
        assert status["error"]["type"] == "interrupted"
        assert status["progress"]["fraction"] < 1
        assert _on_disk(runs, run_id)["status"] == "failed"
        assert http.get(f"/v1/runs/{run_id}/channel-credit").status_code == 409


def test_a_run_owned_by_an_earlier_process_with_my_pid_is_interrupted(spawn, data_dir,
                                                                       tmp_path) -> None:
    """Same PID, same host and boot, but another process start time: not alive (the old
    check said "same PID as me, so alive" and left it running forever)."""
    runs = tmp_path / "runs"
    server = spawn(_env(data_dir, runs))
    owner = {"host": socket.gethostname(),
             "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
             "pid_ns": os.readlink(f"/proc/{server.pid}/ns/pid"),
             "pid": server.pid, "started": (process_start(server.pid) or 0) - 100}
    run_id = "20250101T000000Z-0000beef"
    lease = {"owner": owner, "renewed_at": "2999-01-01T00:00:00+00:00",
             "expires_at": "2999-01-01T00:00:30+00:00"}  # far from expired: the PID decides
    (runs / ".status" / f"{run_id}.json").write_text(json.dumps({
        "run_id": run_id, "status": "running", "lease": lease,
        "progress": {"stage": "journeys", "completed": 2, "total": 8, "fraction": 0.25}}))
    with server.http() as http:
        status = http.get(f"/v1/runs/{run_id}").json()
    assert status["status"] == "failed"
    assert status["error"]["type"] == "interrupted"
    assert "stopped" in status["error"]["message"]


def test_kill_9_while_writing_then_restart_removes_the_temporary_directory(
    spawn, data_dir, tmp_path,
) -> None:
    runs = tmp_path / "runs"
    env = _env(data_dir, runs)
    first = spawn(env | {"SLOW_WRITE": "60"})
    with first.http() as http:
        run_id = _start_run(http)
        _poll(http, run_id, _at_stage("write"))
    deadline = time.monotonic() + 10
    while not list(runs.glob(f".{run_id}.*.tmp")):
        assert time.monotonic() < deadline, "no temporary run directory appeared"
        time.sleep(0.02)
    first.kill()
    first.wait_exit(10)
    assert _leftovers(runs) != []

    second = spawn(env)  # same host, boot and PID namespace: the dead PID is decisive
    assert _leftovers(runs) == []  # removed at startup, before serving
    assert _on_disk(runs, run_id)["error"]["type"] == "interrupted"
    with second.http() as http:
        status = http.get(f"/v1/runs/{run_id}").json()
    assert status["status"] == "failed"
    assert status["progress"]["fraction"] < 1
    assert not (runs / run_id).exists()


# --- SIGTERM --------------------------------------------------------------------------------

def test_sigterm_lets_a_running_run_finish_within_the_grace_period(spawn, data_dir,
                                                                  tmp_path) -> None:
    runs = tmp_path / "runs"
    server = spawn(_env(data_dir, runs, ATTRIBUTION_SHUTDOWN_GRACE_SECONDS="30",
                        SLOW_STAGE="journeys:1.5"))
    seen: list[dict[str, Any]] = []
    with server.http() as http:
        run_id = _start_run(http)
        _poll(http, run_id, lambda s: seen.append(s) is None and _at_stage("journeys")(s))
    server.kill(signal.SIGTERM)
    server.wait_exit(30)
    assert server.popen.returncode == -signal.SIGTERM  # ends by the signal, as uvicorn does
    status = _on_disk(runs, run_id)
    assert status["status"] == "succeeded", server.log.read_text()
    assert status["progress"]["fraction"] == 1.0
    assert (runs / run_id / "manifest.json").is_file()
    assert all(s["progress"]["fraction"] < 1 for s in seen)  # 1.0 only with succeeded
    assert _leftovers(runs) == []


@pytest.mark.parametrize("pid_1", [
    False,
    pytest.param(True, marks=pytest.mark.skipif(PID_NS is None, reason="no new PID namespace "
                                                "here (unshare --pid --fork --mount-proc)")),
])
def test_sigterm_past_the_grace_period_interrupts_running_and_queued_runs(
    spawn, data_dir, tmp_path, pid_1,
) -> None:
    """Also as PID 1, whose re-raised SIGTERM the kernel ignores: the process still exits
    after the grace (worker threads do not hold it) and the runs read interrupted."""
    runs = tmp_path / "runs"
    server = spawn(_env(data_dir, runs, ATTRIBUTION_SHUTDOWN_GRACE_SECONDS="0.5",
                        ATTRIBUTION_RUN_WORKERS="1", SLOW_STAGE="journeys:60"),
                   prefix=PID_NS if pid_1 else None)
    with server.http() as http:
        running = _start_run(http)
        _poll(http, running, _at_stage("journeys"))
        queued = _start_run(http)
        assert http.get(f"/v1/runs/{queued}").json()["status"] == "queued"
    server.kill(signal.SIGTERM)
    assert server.wait_exit(15) < 10  # the grace, not the 60 s the run would take
    assert server.popen.returncode == (0 if pid_1 else -signal.SIGTERM)
    late, waiting = _on_disk(runs, running), _on_disk(runs, queued)
    assert (late["status"], late["error"]["type"]) == ("failed", "interrupted")
    assert "ATTRIBUTION_SHUTDOWN_GRACE_SECONDS" in late["error"]["message"]
    assert (waiting["status"], waiting["error"]["type"]) == ("failed", "interrupted")
    assert "before this run started" in waiting["error"]["message"]
    assert late["progress"]["fraction"] < 1
    # said in the server's log, one line each, through uvicorn's handlers (report 12 #10)
    log = server.log.read_text()
    for run_id, why in ((running, "ATTRIBUTION_SHUTDOWN_GRACE_SECONDS"),
                        (queued, "before this run started")):
        assert re.search(rf"^WARNING: +run {run_id} interrupted: .*{why}.*\(request \w+\)$",
                         log, re.M), log
    assert KEY not in log


# --- startup, readiness, the disk -----------------------------------------------------------

def _cli() -> list[str]:
    script = Path(sys.executable).with_name("attribution")
    return [str(script)] if script.exists() else [sys.executable, "-m", "attribution.cli"]


def _serve_fails(env: dict[str, str], prefix: list[str] | None = None,
                 shell: str = "") -> subprocess.CompletedProcess[str]:
    command = [*_cli(), "serve", "--port", "0"]
    if shell:
        command = ["sh", "-c", f'{shell} && exec "$0" "$@"', *command]
    return subprocess.run([*(prefix or []), *command], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "ATTRIBUTION_API_KEYS": KEY,
                                           "COLUMNS": "400", **env})  # no wrapping by width


def test_a_runs_directory_that_cannot_be_created_is_a_one_line_error(tmp_path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    done = _serve_fails({"ATTRIBUTION_RUNS_DIR": str(tmp_path / "a-file" / "runs")})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "ATTRIBUTION_RUNS_DIR" in lines[0]
    assert "Not a directory" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout


def test_bad_settings_are_one_line_naming_the_variable_never_its_value(monkeypatch) -> None:
    from service.core.config import load_settings

    monkeypatch.setenv("ATTRIBUTION_API_KEYS", KEY)
    monkeypatch.setenv("ATTRIBUTION_RUN_LEASE_SECONDS", "1")  # under twice the heartbeat (5)
    with pytest.raises(attribution.ConfigError) as lease:
        load_settings()
    assert str(lease.value).startswith("invalid settings: ATTRIBUTION_RUN_LEASE_SECONDS (1)")
    monkeypatch.setenv("ATTRIBUTION_RUN_WORKERS", "0")
    with pytest.raises(attribution.ConfigError) as both:
        load_settings()
    message = str(both.value)
    assert "ATTRIBUTION_RUN_WORKERS: Input should be greater than or equal to 1" in message
    assert "\n" not in message
    assert KEY[:8] not in message  # pydantic's own message would show the keys


@pytest.mark.skipif(not TMPFS_OK, reason=NO_TMPFS)
def test_a_read_only_runs_directory_is_a_one_line_error_at_startup(tmp_path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    done = _serve_fails({"ATTRIBUTION_RUNS_DIR": str(disk / "runs")}, prefix=MOUNT_NS,
                        shell=f"mount -t tmpfs -o ro,size=1m tmpfs {disk}")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Read-only file system" in lines[0]


def _in_namespace(server: Server, command: str) -> None:
    """Run ``command`` in the server's mount (and user) namespace."""
    user = ["--user", "--preserve-credentials"] if "--user" in (MOUNT_NS or []) else []
    subprocess.run(["nsenter", "--target", str(server.pid), *user, "--mount",
                    "sh", "-c", command], check=True, capture_output=True, timeout=20)


@pytest.mark.skipif(not TMPFS_OK or shutil.which("nsenter") is None, reason=NO_TMPFS)
def test_a_runs_directory_turned_read_only_makes_the_service_not_ready(data_dir,
                                                                      tmp_path, spawn) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    server = spawn(_env(data_dir, disk / "runs", ATTRIBUTION_RUNS_MIN_FREE_BYTES="0"),
                   prefix=MOUNT_NS, shell=f"mount -t tmpfs -o size=1m tmpfs {disk}")
    with server.http() as http:
        assert http.get("/readyz").json()["status"] == "ok"
        _in_namespace(server, f"mount -o remount,ro {disk}")
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["type"] == "not_ready"
        assert "Read-only file system" in ready.json()["error"]["message"]
        assert str(tmp_path) not in ready.text
        assert http.get("/healthz").json() == {"status": "ok"}  # liveness: still alive
        refused = http.post("/v1/runs", json=RUN)
        assert refused.status_code == 503
        assert "Read-only file system" in refused.json()["error"]["message"]


@pytest.mark.skipif(not TMPFS_OK or shutil.which("nsenter") is None, reason=NO_TMPFS)
def test_a_full_runs_directory_fails_the_run_cleanly_and_is_not_ready(data_dir, tmp_path,
                                                                     spawn) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    runs = disk / "runs"
    server = spawn(_env(data_dir, runs, ATTRIBUTION_RUNS_MIN_FREE_BYTES="0"),
                   prefix=MOUNT_NS, shell=f"mount -t tmpfs -o size=256k tmpfs {disk}")
    with server.http() as http:
        # the run's files do not fit in 256 KiB (the chart library its report inlines alone is
        # over 500 KB)
        run_id = _start_run(http)
        status = _poll(http, run_id, lambda s: s["status"] in ("succeeded", "failed"))
        assert status["status"] == "failed"
        assert "No space left on device" in status["error"]["message"]
        assert str(tmp_path) not in json.dumps(status)
        # the temporary run directory is gone, so the space is back
        assert http.get("/readyz").status_code == 200
        _in_namespace(server, f"cat /dev/zero > {disk}/filler || true")
        full = http.get("/readyz")
        assert full.status_code == 503
        assert "No space left on device" in full.json()["error"]["message"] or \
            "bytes free" in full.json()["error"]["message"]
        assert http.post("/v1/runs", json=RUN).status_code == 503
        _in_namespace(server, f"rm {disk}/filler")
        assert http.get("/readyz").status_code == 200
    server.kill(signal.SIGTERM)
    server.wait_exit(20)


def test_the_free_space_floor_is_a_readiness_reason(tmp_path, start_server) -> None:
    url = start_server(create_app(Settings(
        api_keys=(KEY,), runs_dir=tmp_path / "runs", data_dir=tmp_path,
        runs_min_free_bytes=2**62)))
    with httpx.Client(base_url=url, timeout=10) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert "ATTRIBUTION_RUNS_MIN_FREE_BYTES" in ready.json()["error"]["message"]
        assert http.get("/healthz").status_code == 200


# --- in-process servers: queue, concurrency, leases of other hosts, HTTP defects ----------

@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Runs wait at the 'journeys' stage until the event is set (set at teardown)."""
    release = threading.Event()
    real = attribution.attribute

    def attribute(*args: Any, progress: Any = None, **kwargs: Any) -> Any:
        def report(stage: str) -> None:
            progress(stage)
            if stage == "journeys":
                release.wait(60)
        return real(*args, progress=report, **kwargs)

    monkeypatch.setattr(attribution, "attribute", attribute)
    yield release
    release.set()


def _app(data_dir: Path, runs_dir: Path, **settings: Any) -> Any:
    return create_app(Settings(api_keys=(KEY,), data_dir=data_dir, runs_dir=runs_dir,
                               **settings))


def test_a_full_queue_answers_429_with_retry_after(data_dir, tmp_path, start_server,
                                                   gate) -> None:
    url = start_server(_app(data_dir, tmp_path / "runs", run_workers=1, max_queued_runs=1))
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
        first = _start_run(http)
        _poll(http, first, _at_stage("journeys"))
        second = _start_run(http)
        refused = http.post("/v1/runs", json=RUN)
        assert refused.status_code == 429
        assert refused.json()["error"]["type"] == "too_many_runs"
        assert "ATTRIBUTION_MAX_QUEUED_RUNS" in refused.json()["error"]["message"]
        assert int(refused.headers["Retry-After"]) >= 1
        gate.set()
        for run_id in (first, second):
            assert _poll(http, run_id, lambda s: s["status"] != "running" and
                         s["status"] != "queued")["status"] == "succeeded"
        again = _start_run(http)  # room again
        assert _poll(http, again, lambda s: s["status"] == "succeeded")


def test_a_worker_whose_run_another_server_interrupted_writes_nothing_more(
    data_dir, tmp_path, start_server, gate,
) -> None:
    """The lease's fence: a run declared interrupted elsewhere (this server looked dead) stays
    interrupted; its worker, when it wakes up, neither overwrites the status nor writes a
    run directory."""
    runs = tmp_path / "runs"
    app = _app(data_dir, runs)
    url = start_server(app)
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
        run_id = _start_run(http)
        _poll(http, run_id, _at_stage("journeys"))
        path = runs / ".status" / f"{run_id}.json"
        verdict = json.loads(path.read_text()) | {
            "status": "failed", "error": {"type": "interrupted", "message": "from elsewhere"}}
        path.write_text(json.dumps(verdict))
        gate.set()
        app.state.runs.wait(run_id, 30)  # its worker went on and found the run gone
        status = http.get(f"/v1/runs/{run_id}").json()
    assert status["error"] == {"type": "interrupted", "message": "from elsewhere",
                               "field": None}
    assert json.loads(path.read_text())["progress"]["stage"] == "journeys"
    assert not (runs / run_id).exists()
    assert _leftovers(runs) == []


def test_a_live_servers_run_read_by_another_server_stays_running(
    data_dir, tmp_path, start_server, gate,
) -> None:
    """Two servers on one runs directory (here two apps in one process, so the same host,
    boot and PID): the second sees the first's run as running, not interrupted."""
    runs = tmp_path / "runs"
    first, second = (start_server(_app(data_dir, runs)) for _ in range(2))
    with httpx.Client(base_url=first, headers=AUTH, timeout=10) as http:
        run_id = _start_run(http)
        _poll(http, run_id, _at_stage("journeys"))
    with httpx.Client(base_url=second, headers=AUTH, timeout=10) as http:
        assert http.get(f"/v1/runs/{run_id}").json()["status"] == "running"
        gate.set()
        assert _poll(http, run_id, lambda s: s["status"] != "running")["status"] == "succeeded"


def test_concurrent_runs_over_http(data_dir, tmp_path, start_server) -> None:
    runs = tmp_path / "runs"
    url = start_server(_app(data_dir, runs, run_workers=2, max_queued_runs=4))
    models = [["linear"], ["first_touch"], ["w_shaped"], ["markov"]]
    ids: dict[str, list[str]] = {}

    def post(wanted: list[str]) -> None:
        with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
            ids[_start_run(http, models=wanted)] = wanted

    threads = [threading.Thread(target=post, args=(m,)) for m in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(map(tuple, ids.values())) == sorted(map(tuple, models))
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
        for run_id, wanted in ids.items():
            status = _poll(http, run_id, lambda s: s["status"] in ("succeeded", "failed"))
            assert status["status"] == "succeeded", status
            assert [m["label"] for m in status["manifest"]["models"]] == wanted
    assert _lasting_leftovers(runs) == []


def _lease_file(runs: Path, run_id: str, host: str, expires_in: float) -> None:
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))  # noqa: E731
    owner = {"host": host, "boot_id": "another-boot", "pid_ns": "pid:[1]", "pid": 4242,
             "started": 123}
    runs.joinpath(".status").mkdir(parents=True, exist_ok=True)
    (runs / ".status" / f"{run_id}.json").write_text(json.dumps({
        "run_id": run_id, "status": "running",
        "lease": {"owner": owner, "renewed_at": iso(now), "expires_at": iso(now + expires_in)},
        "progress": {"stage": "journeys", "completed": 2, "total": 8, "fraction": 0.25}}))


class _ServerClock:
    """The ``time`` module as ``service.core.runs`` sees it, with its wall clock moved on by
    ``ahead`` seconds: a lease's expiry is then reached when the test says, not after a
    real wait that a loaded machine can stretch past it."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def test_another_hosts_run_is_interrupted_once_its_lease_expires(
    data_dir, tmp_path, start_server, monkeypatch
) -> None:
    """A lease of another host is waited on while it lasts and interrupts the run once it
    has expired. The live lease lasts 10 minutes and the server's clock is then moved past
    it (it used to last 3 real seconds, which the server's start-up could use up on a loaded
    machine: the live run then read as interrupted and the test failed)."""
    import service.core.runs as runs_module

    clock = _ServerClock()
    monkeypatch.setattr(runs_module, "time", clock)
    runs = tmp_path / "runs"
    _lease_file(runs, "20250101T000000Z-00000001", "another-host", expires_in=-5)
    _lease_file(runs, "20250101T000000Z-00000002", "another-host", expires_in=600)
    url = start_server(_app(data_dir, runs))
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
        expired = http.get("/v1/runs/20250101T000000Z-00000001").json()
        assert (expired["status"], expired["error"]["type"]) == ("failed", "interrupted")
        assert "lease expired" in expired["error"]["message"]
        live = http.get("/v1/runs/20250101T000000Z-00000002").json()
        assert live["status"] == "running"  # another host's live lease: cannot tell, wait
        status = runs / ".status" / "20250101T000000Z-00000002.json"
        expires = json.loads(status.read_text())["lease"]["expires_at"]
        at = calendar.timegm(time.strptime(expires, "%Y-%m-%dT%H:%M:%S+00:00"))
        clock.ahead = at - 30 - time.time()  # the server's clock 30 s before the expiry
        live = http.get("/v1/runs/20250101T000000Z-00000002").json()
        assert live["status"] == "running"
        clock.ahead = at + 1 - time.time()  # past it (real time only adds): interrupted
        later = _poll(http, "20250101T000000Z-00000002", _interrupted, timeout=10)
        assert later["error"]["type"] == "interrupted"
        assert "lease expired" in later["error"]["message"]


def test_errors_are_json_and_keep_the_connection(data_dir, tmp_path, start_server) -> None:
    """Long path components and symbolic link loops are 400s, an unexpected error is a JSON
    500, and after each the same keep-alive connection serves the next request."""
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    (data / "loop").symlink_to(data / "loop")
    app = _app(data, tmp_path / "runs", max_body_bytes=64_000)

    @app.get("/v1/explode")
    def explode() -> None:  # an unexpected error, as a bug would raise it
        raise RuntimeError("boom")

    long_name = "x" * 300 + ".parquet"
    big = b"[" + b" " * 70_000 + b"]"  # over the 64,000-byte limit set above

    def run_request(**change: str) -> bytes:
        return request("POST", "/v1/runs", json.dumps(RUN | change).encode(), AUTH)

    answers = raw_exchange(start_server(app), [
        run_request(touches=f"sub/{long_name}"),
        run_request(stages="loop"),
        run_request(stages="loop/touches.parquet"),
        request("POST", "/v1/attribute", big, AUTH),
        request("GET", "/v1/explode", b"", AUTH),
        request("GET", "/v1/runs/no-such-run", b"", AUTH),
        request("GET", "/readyz"),
    ])  # one connection: a request after a dropped one would fail here
    statuses = [status for status, _, _ in answers]
    assert statuses == [400, 400, 400, 413, 500, 404, 200]
    errors = [json.loads(body).get("error") for _, _, body in answers]
    assert [(e["type"], e["field"]) for e in errors[:3]] == [
        ("bad_path", "touches"), ("bad_path", "stages"), ("bad_path", "stages")]
    assert "308 bytes" in errors[0]["message"]
    assert all("symbolic link loop" in e["message"] for e in errors[1:3])
    assert all(str(tmp_path) not in body.decode() for _, _, body in answers)
    assert "connection" not in answers[3][1]  # the 413's body was read: the connection goes on
    assert errors[4]["type"] == "internal"
    assert b"boom" not in answers[4][2]
    assert json.loads(answers[6][2])["status"] == "ok"


def test_responses_name_files_relative_to_the_data_directory(data_dir, tmp_path,
                                                             start_server) -> None:
    runs = tmp_path / "runs"
    url = start_server(_app(data_dir, runs))
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
        good = _start_run(http, contacts="contacts.parquet")
        bad = _start_run(http, touches="broken.parquet")
        done = _poll(http, good, lambda s: s["status"] == "succeeded")
        failed = _poll(http, bad, _interrupted)
        texts = [http.get(f"/v1/runs/{good}").text, http.get(f"/v1/runs/{bad}").text]
    assert done["manifest"]["inputs"]["touches"]["source"] == "touches.parquet"
    assert done["manifest"]["inputs"]["contacts"]["source"] == "contacts.parquet"
    assert "broken.parquet" in failed["error"]["message"]
    for text in texts:
        assert str(data_dir) not in text
        assert str(runs) not in text
        assert str(data_dir.resolve()) not in text
    # the run directory on disk keeps what the library wrote
    stored = json.loads((runs / good / "manifest.json").read_text())
    assert stored["inputs"]["touches"]["source"] == str((data_dir / "touches.parquet").resolve())


def test_the_redactor_leaves_no_absolute_server_path(tmp_path) -> None:
    from service.core.redact import PathRedactor

    data, runs = tmp_path / "data", tmp_path / "runs"
    redact = PathRedactor(data, runs)
    error = {"message": f"cannot read '{data.resolve()}/sub/touches.parquet'; [Errno 28] No "
                        f"space left on device: '{runs}/.r1.x.tmp/report.html' (in "
                        f"{attribution.__file__}); start one with POST /v1/runs",
             "nested": [f"{data}/a.parquet", 3]}
    assert redact(error) == {
        "message": "cannot read 'sub/touches.parquet'; [Errno 28] No space left on device: "
                   "'$ATTRIBUTION_RUNS_DIR/.r1.x.tmp/report.html' (in .../__init__.py); start "
                   "one with POST /v1/runs",
        "nested": ["a.parquet", 3]}
