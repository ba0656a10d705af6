"""service/: scoring in a bounded pool, so large requests cannot starve small ones. A real
uvicorn server in its own process on loopback, bounded request counts."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import attribution

pytestmark = pytest.mark.slow

KEY = "pool-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
RULES = [n for n, s in attribution.available_models().items()
         if s.family == "rule" and n != "custom"]
BUDGET = 50_000  # the documented default of ATTRIBUTION_MAX_CREDIT_ROWS


def body(n_journeys: int, n_touches: int) -> dict[str, Any]:
    return {"models": RULES, "journeys": [{
        "conversion": {"id": f"opp-{j}", "timestamp": "2025-06-01T00:00:00Z", "value": 100},
        "touches": [{"touch_id": f"t{k}", "channel": f"channel-{k % 13}", "contact_id": f"c{k % 5}",
                     "timestamp": f"2025-0{1 + k % 5}-{1 + k % 28:02d}T08:00:00Z"}
                    for k in range(n_touches)]} for j in range(n_journeys)]}


SMALL = body(1, 20)
# as many touches as the budget allows with every rule-based model, over 20 journeys
LARGE = body(20, BUDGET // len(RULES) // 20)


def start_server_process(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``attribution serve`` in a child process (its own interpreter: the client's threads
    do not share its GIL), on a free loopback port; the process and its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"ATTRIBUTION_API_KEYS": KEY, "ATTRIBUTION_RUNS_DIR": str(tmp / "runs"),
                        "ATTRIBUTION_DATA_DIR": str(tmp)}
    code = ("from service import serve; "
            f"serve('127.0.0.1', {port}, log_level='warning', access_log=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env,
                            cwd=Path(__file__).resolve().parents[1])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_server_process(tmp_path_factory.mktemp("pool"))
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def small_latencies(http: httpx.Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = http.post("/v1/attribute", json=SMALL)
        out.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return out


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


# four clients, each sending the large request again as soon as it is answered, until a
# line on stdin says stop (bounded: at most 40 each)
LOAD = """
import os, sys, threading, httpx
os.nice(10)  # the clients stand for load from elsewhere: they must not outrun the server
url, key = sys.argv[1], sys.argv[2]
body = open(sys.argv[3], "rb").read()
stop, counts = threading.Event(), []
def client():
    n = 0
    with httpx.Client(base_url=url, timeout=300, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json"}) as http:
        while not stop.is_set() and n < 40:
            assert http.post("/v1/attribute", content=body).status_code == 200
            n += 1
            if n == 1:
                print("answered", flush=True)
    counts.append(n)
threads = [threading.Thread(target=client) for _ in range(4)]
for t in threads:
    t.start()
print("started", flush=True)
sys.stdin.readline()
stop.set()
for t in threads:
    t.join()
print(*counts)
"""


def test_a_small_request_is_not_starved_by_budget_sized_ones(server: str,
                                                             tmp_path: Path) -> None:
    rows = sum(len(j["touches"]) for j in LARGE["journeys"]) * len(RULES)
    assert BUDGET * 0.95 < rows <= BUDGET
    with httpx.Client(base_url=server, headers=AUTH, timeout=60) as http:
        assert http.post("/v1/attribute", json=LARGE).status_code == 200  # warm both paths
        small_latencies(http, 10)
        idle = small_latencies(http, 200)

    # the four large clients in a process of their own too: their threads must not share
    # the measuring client's GIL
    large = tmp_path / "large.json"
    large.write_text(json.dumps(LARGE))
    load = subprocess.Popen([sys.executable, "-c", LOAD, server, KEY, str(large)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        assert load.stdout is not None
        assert load.stdin is not None
        assert load.stdout.readline().strip() == "started"
        reader = threading.Thread(target=lambda: lines.extend(load.stdout or ()), daemon=True)
        reader.start()
        time.sleep(0.5)  # all four are in
        # small requests all the while the large ones are served: at least 200, and until
        # every large client has had an answer (a small one takes a fraction of a large one)
        loaded: list[float] = []
        deadline = time.monotonic() + 240
        with httpx.Client(base_url=server, headers=AUTH, timeout=60) as http:
            while len(loaded) < 200 or (lines.count("answered\n") < 4
                                        and time.monotonic() < deadline):
                loaded += small_latencies(http, 20)
        load.stdin.write("stop\n")
        load.stdin.close()
        load.wait(300)
        reader.join(30)
    finally:
        load.kill()
        load.wait(30)
        for stream in (load.stdin, load.stdout):
            if stream is not None:
                stream.close()
    out = lines[-1]
    answered = [int(n) for n in out.split()]
    assert len(answered) == 4
    assert all(n >= 1 for n in answered)  # every large client got answers
    print(f"idle p99 {p99(idle) * 1e3:.1f} ms, loaded p99 {p99(loaded) * 1e3:.1f} ms, "
          f"large requests answered {answered}", sorted(round(x * 1e3) for x in loaded)[::20])
    assert p99(loaded) <= 5 * p99(idle)


# --- the large lane: same answers, same errors, bounded -------------------------------------------

def test_a_large_request_is_scored_in_a_process_with_the_same_answers_and_errors(
        tmp_path: Path, start_server: Callable[[Any], str]) -> None:
    from attribution import JourneyScorer
    from service import Settings, create_app

    app = create_app(Settings(api_keys=(KEY,), runs_dir=tmp_path / "runs", data_dir=tmp_path,
                              max_credit_rows=20_000))
    url = start_server(app)
    sent = body(4, 300)  # 13,200 rows, an 88 KB body: parsed and scored in a process
    assert len(json.dumps(sent)) > 64 * 1024
    with httpx.Client(base_url=url, headers=AUTH, timeout=120) as http:
        response = http.post("/v1/attribute", json=sent)
        assert response.status_code == 200, response.text[:300]
        # its 3.7 MB answer came as a file, sent in chunks, the file removed once read
        assert len(response.content) > 1024 * 1024
        assert response.headers["content-length"] == str(len(response.content))
        assert response.headers["content-type"] == "application/json"
        assert os.listdir(app.state.scoring.spool_dir()) == []
        out = response.json()
        expected = JourneyScorer(models=RULES).fit().score(sent["journeys"])
        assert [r["credit"] for r in out["touch_credit"]] == expected.touch_credit.get_column(
            "credit").to_list()
        assert len(out["channel_credit"]) == expected.channel_credit.height
        assert (out["snapshot"], out["unseen_channels"]) == (None, [])

        bad = json.loads(json.dumps(sent))
        bad["journeys"][3]["touches"][299]["channel"] = "x\x00y"
        error = http.post("/v1/attribute", json=bad).json()["error"]
        assert error["field"] == "journeys[3].touches[299].channel"
        assert "control characters" in error["message"]

        broken = json.dumps(sent).encode()[:-2] + b"\n,]"
        error = http.post("/v1/attribute", content=broken,
                          headers={"content-type": "application/json"}).json()["error"]
        assert (error["field"], error["message"]) == (
            "body", "the body is not valid JSON: Expecting value at line 2, column 2")

        over = body(5, 400)  # 22,000 rows
        answer = http.post("/v1/attribute", json=over)
        assert answer.status_code == 422
        assert "(ATTRIBUTION_MAX_CREDIT_ROWS)" in answer.json()["error"]["message"]

        markov = http.post("/v1/attribute", json=sent | {"models": ["markov", *RULES[:-1]]})
        assert markov.status_code == 409  # no snapshot published: the process says so too
        assert markov.json()["error"]["type"] == "no_snapshot"


def test_large_requests_beyond_the_pool_and_its_queue_get_429(
        tmp_path: Path, start_server: Callable[[Any], str]) -> None:
    from service import Settings, create_app

    url = start_server(create_app(Settings(api_keys=(KEY,), runs_dir=tmp_path / "runs",
                                           data_dir=tmp_path, scoring_workers=1,
                                           scoring_waiting=0)))
    payload = json.dumps(LARGE).encode()
    answers: list[httpx.Response] = []

    def send() -> None:
        answers.append(httpx.post(f"{url}/v1/attribute", content=payload, timeout=300,
                                  headers=AUTH | {"content-type": "application/json"}))

    clients = [threading.Thread(target=send) for _ in range(3)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(300)
    statuses = sorted(a.status_code for a in answers)
    assert statuses[0] == 200
    assert 429 in statuses
    busy = next(a for a in answers if a.status_code == 429)
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["type"] == "busy"
    assert "ATTRIBUTION_SCORING_WORKERS" in busy.json()["error"]["message"]


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_scoring_processes_end_with_the_service_even_on_kill_9(tmp_path: Path) -> None:
    proc, url = start_server_process(tmp_path)
    scoring: list[int] = []
    try:
        response = httpx.post(f"{url}/v1/attribute", headers=AUTH, json=LARGE, timeout=300)
        assert response.status_code == 200
        scoring = [pid for pid in children(proc.pid)
                   if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(scoring) == 2  # ATTRIBUTION_SCORING_WORKERS, all started
        assert all(os.getpriority(os.PRIO_PROCESS, pid) >= 10 for pid in scoring)
    finally:
        proc.kill()
        proc.wait(30)
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in scoring):
        assert time.monotonic() < deadline, "scoring processes outlived the service"
        time.sleep(0.2)


def test_a_large_answer_comes_back_as_a_file_sent_in_chunks(tmp_path: Path) -> None:
    import asyncio

    from service import Settings
    from service.api.routes.attribute import (
        CHUNK_BYTES,
        Spooled,
        SpooledResponse,
        init_process,
        score_in_process,
    )

    init_process(Settings(api_keys=(), allow_insecure=True, runs_dir=tmp_path / "runs",
                          data_dir=tmp_path, max_credit_rows=20_000))
    raw = json.dumps(body(4, 300)).encode()
    status, expected, _ = score_in_process(raw)  # no spool directory: the bytes themselves
    assert status == 200
    assert isinstance(expected, bytes)
    assert len(expected) > 2 * CHUNK_BYTES
    spool = tmp_path / "spool"
    spool.mkdir()
    status, spooled, headers = score_in_process(raw, str(spool))
    assert (status, headers) == (200, None)
    assert isinstance(spooled, Spooled)
    assert spooled.size == len(expected)
    assert Path(spooled.path).read_bytes() == expected
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    asyncio.run(SpooledResponse(spooled)({"type": "http"}, receive, send))
    assert sent[0]["headers"] == [(b"content-length", str(len(expected)).encode()),
                                  (b"content-type", b"application/json")]
    chunks = [m["body"] for m in sent[1:]]
    assert b"".join(chunks) == expected
    assert max(map(len, chunks)) == CHUNK_BYTES
    assert len(chunks) > 2
    assert not Path(spooled.path).exists()
    # a small answer, and an error, come back as bytes
    small = score_in_process(json.dumps(body(1, 3)).encode(), str(spool))
    assert small[0] == 200
    assert isinstance(small[1], bytes)
    # a spool that cannot take the file (gone, or a full /dev/shm): the bytes themselves
    status, fallback, _ = score_in_process(raw, str(spool / "gone"))
    assert status == 200
    assert fallback == expected
    error = score_in_process(raw[:-2], str(spool))
    assert error[0] == 422
    assert isinstance(error[1], bytes)
    assert os.listdir(spool) == []
