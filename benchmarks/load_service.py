"""Bounded loopback load test of the HTTP scoring API against its own health check.

Starts the service (``attribution serve``, ``--workers`` processes, uvicorn as the project
installs it: uvloop + httptools) in a subprocess on a free 127.0.0.1 port, then, against
that same server in one run:

1. ``GET /healthz`` and ``POST /v1/attribute`` (one journey of ``--touches`` touches under
   every rule-based model) at each concurrency of ``--concurrency`` (default 1, 16, 64):
   requests/s, p50, p99 and the ratio scoring / healthz of requests/s, case by case;
2. a lone scoring request's **server time**, from the ``Server-Timing`` header (the app's
   own time, without the network or the client), over ``--lone`` sequential requests;
3. a **mixed** run: ``--mixed-connections`` connections, each sending small requests and,
   with probability 5%, a budget-sized one (``--budget-journeys`` x ``--budget-touches``
   touches, every rule-based model: just under ``ATTRIBUTION_MAX_CREDIT_ROWS``); p50 / p99
   of the small ones, by the small ones alone in the same run for comparison.

The load tool is ``hey`` when it is installed (``apt-get install hey``; keep-alive, its CSV
output read for the percentiles), else this script's own asyncio keep-alive client; the mixed
run always uses the asyncio client (it draws the request kind per request). The client runs
in its own process(es), on the same 2 cores as the server, which the report says, with the
load average before each case. Results: ``benchmarks/results/load_service-<stamp>.json`` and
``.md``.

    python benchmarks/load_service.py                          # the full run, ~1-2 minutes
    python benchmarks/load_service.py --requests 1000 --concurrency 16
    python benchmarks/load_service.py --workers 2              # attribution serve --workers 2
    python benchmarks/load_service.py --profile                # cProfile of scoring alone

Only loopback: the server binds 127.0.0.1 and the clients connect nowhere else; every loop
is bounded in requests (at most 100,000 per case).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
API_KEY = "load-test-key-0123456789"
CHANNELS = ["linkedin", "google_ads", "email", "webinar", "organic_search", "direct", "g2",
            "events", "partner_referral", "direct_mail"]


def rule_models() -> list[str]:
    sys.path.insert(0, str(ROOT))
    import attribution

    return [n for n, spec in attribution.available_models().items() if spec.family == "rule"]


def journey(n_touches: int, cid: str = "opp-1") -> dict[str, Any]:
    start = datetime(2025, 1, 1, 9, tzinfo=UTC)
    touches = [{"touch_id": f"t{k}", "timestamp": (start + timedelta(days=3 * k)).isoformat(),
                "channel": CHANNELS[k % len(CHANNELS)], "contact_id": f"c{k % 4}"}
               for k in range(n_touches)]
    return {
        "conversion": {"id": cid, "value": 48_000.0, "stage": "closed_won",
                       "timestamp": (start + timedelta(days=3 * n_touches)).isoformat()},
        "touches": touches,
        "milestones": {"lead": (start + timedelta(days=10)).isoformat(),
                       "opportunity": (start + timedelta(days=30)).isoformat()},
    }


def scoring_body(journeys: int, touches: int, models: list[str]) -> dict[str, Any]:
    return {"models": models, "journeys": [journey(touches, f"opp-{j}") for j in range(journeys)]}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(port: int, runs_dir: Path, workers: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"ATTRIBUTION_API_KEYS": API_KEY, "ATTRIBUTION_RUNS_DIR": str(runs_dir),
                        "ATTRIBUTION_DATA_DIR": str(runs_dir)}
    code = ("from service import serve; "
            f"serve('127.0.0.1', {port}, log_level='warning', access_log=False, "
            f"workers={workers})")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                            start_new_session=True)


async def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            await writer.drain()
            data = await reader.read()
            writer.close()
            if b" 200 " in data.split(b"\r\n", 1)[0]:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the server did not become ready")


# --- the asyncio keep-alive client --------------------------------------------------------------

async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return status, headers, body


def http_request(method: str, path: str, port: int, body: dict[str, Any] | None = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


async def _client(port: int, requests: list[bytes], weights: list[float], count: int,
                  seed: int, out: list[tuple[int, float, int, float]]) -> None:
    """``count`` requests on one keep-alive connection; each drawn from ``requests`` by
    ``weights``; out: (kind, latency s, status, server ms)."""
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            kind = rng.choices(range(len(requests)), weights)[0] if len(requests) > 1 else 0
            started = time.perf_counter()
            writer.write(requests[kind])
            await writer.drain()
            status, headers, _ = await read_response(reader)
            took = time.perf_counter() - started
            timing = headers.get("server-timing", "dur=nan").split("dur=")[-1]
            out.append((kind, took, status, float(timing)))
    finally:
        writer.close()


async def python_load(port: int, requests: list[bytes], weights: list[float], total: int,
                      concurrency: int, seed: int = 7) -> tuple[list[tuple[int, float, int,
                                                                           float]], float]:
    out: list[tuple[int, float, int, float]] = []
    per_client = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, requests, weights, n, seed + i, out)
                           for i, n in enumerate(per_client) if n))
    return out, time.perf_counter() - started


def summary(latencies_s: list[float], wall_s: float, errors: int) -> dict[str, Any]:
    ordered = sorted(latencies_s)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1e3

    return {"requests": len(ordered), "errors": errors, "wall_s": round(wall_s, 3),
            "requests_per_s": round(len(ordered) / wall_s, 1),
            "p50_ms": round(pct(50), 2), "p99_ms": round(pct(99), 2),
            "max_ms": round(ordered[-1] * 1e3, 2),
            "mean_ms": round(statistics.fmean(ordered) * 1e3, 2)}


# --- hey ----------------------------------------------------------------------------------------

def hey_load(port: int, method: str, path: str, body: bytes | None, total: int,
             concurrency: int) -> dict[str, Any]:
    command = ["hey", "-n", str(total), "-c", str(concurrency), "-m", method, "-o", "csv",
               "-H", f"Authorization: Bearer {API_KEY}"]
    with tempfile.NamedTemporaryFile(suffix=".json") as payload:
        if body is not None:
            payload.write(body)
            payload.flush()
            command += ["-T", "application/json", "-D", payload.name]
        command.append(f"http://127.0.0.1:{port}{path}")
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    latencies = [float(r["response-time"]) for r in rows]
    # offsets are when each request started; the last one's end closes the run
    wall = max(float(r["offset"]) + float(r["response-time"]) for r in rows)
    errors = sum(r["status-code"] != "200" for r in rows)
    # where the slowest 1% are: how many of them started in the run's first tenth (new
    # connections, the server's queue filling up) rather than spread over the run
    slow = sorted(rows, key=lambda r: float(r["response-time"]))[-max(1, len(rows) // 100):]
    early = sum(float(r["offset"]) < wall / 10 for r in slow) / len(slow)
    return {**summary(latencies, wall, errors), "slowest_1pct_in_first_tenth": round(early, 2)}


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its descendants (the workers):
    what requests cost the server, whatever share of the machine it got meanwhile."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {pid}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(times.get(p, 0.0) for p in tree)


def run_case(tool: str, port: int, method: str, path: str, body: dict[str, Any] | None,
             total: int, concurrency: int, server_pid: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    cpu = tree_cpu_s(server_pid)
    client = _client_cpu_s()
    if tool == "hey":
        raw = json.dumps(body).encode() if body is not None else None
        result = hey_load(port, method, path, raw, total, concurrency)
    else:
        request = http_request(method, path, port, body)
        out, wall = asyncio.run(python_load(port, [request], [1.0], total, concurrency))
        result = summary([o[1] for o in out], wall, sum(o[2] != 200 for o in out))
    cpu_ms = (tree_cpu_s(server_pid) - cpu) / total * 1e3
    client_ms = (_client_cpu_s() - client) / total * 1e3
    return {**result, "concurrency": concurrency, "load_average_before": round(load, 2),
            "server_cpu_ms_per_request": round(cpu_ms, 3),
            "client_cpu_ms_per_request": round(client_ms, 3)}


def _client_cpu_s() -> float:
    """CPU seconds of the load tool: this process (the asyncio client) and its finished
    children (``hey``; the server, still running, is not among them)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def lone_server_time(port: int, body: dict[str, Any], count: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    request = http_request("POST", "/v1/attribute", port, body)
    out, _ = asyncio.run(python_load(port, [request], [1.0], count, 1))
    server = sorted(o[3] for o in out)
    client = sorted(o[1] * 1e3 for o in out)
    return {"requests": count, "load_average_before": round(load, 2),
            "server_p50_ms": round(server[len(server) // 2], 3),
            "server_p99_ms": round(server[min(len(server) - 1, int(0.99 * len(server)))], 3),
            "client_p50_ms": round(client[len(client) // 2], 3),
            "errors": sum(o[2] != 200 for o in out)}


def mixed(port: int, small: dict[str, Any], large: dict[str, Any], total: int,
          concurrency: int) -> dict[str, Any]:
    requests = [http_request("POST", "/v1/attribute", port, small),
                http_request("POST", "/v1/attribute", port, large)]
    load = os.getloadavg()[0]
    alone, wall_alone = asyncio.run(python_load(port, requests[:1], [1.0], total, concurrency))
    load_mixed = os.getloadavg()[0]
    out, wall = asyncio.run(python_load(port, requests, [0.95, 0.05], total, concurrency))
    small_lat = [o[1] for o in out if o[0] == 0]
    large_lat = [o[1] for o in out if o[0] == 1]
    return {
        "connections": concurrency, "large_share": 0.05,
        "large_request_bytes": len(requests[1]),
        "small_alone": {**summary([o[1] for o in alone], wall_alone,
                                  sum(o[2] != 200 for o in alone)),
                        "load_average_before": round(load, 2)},
        "small_in_mix": {**summary(small_lat, wall, sum(o[2] != 200 for o in out if o[0] == 0)),
                         "load_average_before": round(load_mixed, 2)},
        "large_in_mix": summary(large_lat, wall, sum(o[2] != 200 for o in out if o[0] == 1)),
        "large_statuses": sorted({o[2] for o in out if o[0] == 1}),
    }


def _best_cpu_ms(fn: Any, repeat: int, rounds: int = 7) -> float:
    """CPU milliseconds (this process, all threads) per call of ``fn``: the least of
    ``rounds`` rounds of ``repeat`` calls (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(repeat):
            fn()
        best = min(best, (time.process_time() - started) / repeat * 1e3)
    return round(best, 4)


def profile_parts(body: dict[str, Any], repeat: int = 300) -> dict[str, float]:
    """CPU ms per request of each part of a scoring request, in this process, no socket:
    reading the body, scoring, rendering the JSON answer, and the whole app (every
    middleware, the key check, the fast path) for a scoring request and a health check, as
    an ASGI call with the server's part (uvicorn, the socket) left out."""
    sys.path.insert(0, str(ROOT))
    from service import Settings, create_app
    from service.api.routes.attribute import parse_request

    raw = json.dumps(body).encode()
    with tempfile.TemporaryDirectory(prefix="attribution-profile-") as tmp:
        app = create_app(Settings(api_keys=(API_KEY,), runs_dir=Path(tmp) / "runs",
                                  data_dir=Path(tmp)))

        async def call(method: str, path: str, payload: bytes) -> None:
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                     "method": method, "scheme": "http", "path": path,
                     "raw_path": path.encode(), "query_string": b"", "root_path": "",
                     "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
                     "headers": [(b"host", b"127.0.0.1:8000"),
                                 (b"authorization", f"Bearer {API_KEY}".encode()),
                                 (b"content-type", b"application/json"),
                                 (b"content-length", str(len(payload)).encode())]}
            status: list[int] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": payload, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status.append(message["status"])

            await app(scope, receive, send)
            if status != [200]:
                raise RuntimeError(f"{method} {path} answered {status}")

        def app_ms(method: str, path: str, payload: bytes) -> float:
            """As :func:`_best_cpu_ms`, the calls awaited in one coroutine per round."""
            async def calls() -> None:
                for _ in range(repeat):
                    await call(method, path, payload)

            best = float("inf")
            for _ in range(7):
                started = time.process_time()
                loop.run_until_complete(calls())
                best = min(best, (time.process_time() - started) / repeat * 1e3)
            return round(best, 4)

        loop = asyncio.new_event_loop()
        try:
            # the first request resolves the models: the scorer is cached from then on
            loop.run_until_complete(call("POST", "/v1/attribute", raw))
            scoring = app.state.scorers.cached(list(parse_request(raw).models))
            scorer = scoring.scorer
            journeys = parse_request(raw).journeys
            scores = scorer.score(journeys)
            parts = {
                "read_body_ms": _best_cpu_ms(lambda: parse_request(raw), repeat),
                "score_ms": _best_cpu_ms(lambda: scorer.score(journeys), repeat),
                "render_json_ms": _best_cpu_ms(lambda: scores.to_json({"k": 1}), repeat),
                "app_scoring_ms": app_ms("POST", "/v1/attribute", raw),
                "app_healthz_ms": app_ms("GET", "/healthz", b""),
            }
        finally:
            loop.close()
    return parts


def profile_scoring(body: dict[str, Any], repeat: int) -> None:
    """Profile the library's scoring path alone (what one request costs the worker)."""
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    from attribution import JourneyScorer
    from service.api.routes.attribute import parse_request

    print("CPU ms per request, by part (no socket):", profile_parts(body))
    raw = json.dumps(body).encode()
    parsed = parse_request(raw)
    scorer = JourneyScorer(models=parsed.models).fit()
    for _ in range(50):
        scorer.score(parse_request(raw).journeys).to_json()
    started = time.perf_counter()
    for _ in range(repeat):
        scorer.score(parse_request(raw).journeys).to_json()
    per_call = (time.perf_counter() - started) / repeat * 1e3
    print(f"parse + score + JSON, no server: {per_call:.3f} ms per request")
    cProfile.runctx("for _ in range(repeat): scorer.score(parse_request(raw).journeys).to_json()",
                    globals(), {"repeat": repeat, "scorer": scorer, "raw": raw,
                                "parse_request": parse_request}, "/tmp/score.prof")
    pstats.Stats("/tmp/score.prof").sort_stats("tottime").print_stats(20)


def markdown(report: dict[str, Any]) -> str:
    s = report["settings"]
    lines = [
        f"POST /v1/attribute: 1 journey x {s['touches']} touches x {len(s['models'])} "
        f"rule-based models ({s['request_bytes']:,} bytes; response {s['response_bytes']:,} "
        f"bytes); {s['server']}; load tool {s['tool']}; {s['cpus']} CPUs shared by server, "
        f"client and the machine's other users; {s['requests']:,} requests per case.",
        "",
        "| c | healthz req/s | p50 ms | p99 ms | scoring req/s | p50 ms | p99 ms | "
        "scoring / healthz | server CPU ms/req (healthz / scoring) | "
        "load tool CPU ms/req (healthz / scoring) | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for h, sc in zip(report["healthz"], report["scoring"], strict=True):
        lines.append(
            f"| {sc['concurrency']} | {h['requests_per_s']:,.0f} | {h['p50_ms']:.2f} | "
            f"{h['p99_ms']:.2f} | {sc['requests_per_s']:,.0f} | {sc['p50_ms']:.2f} | "
            f"{sc['p99_ms']:.2f} | {sc['requests_per_s'] / h['requests_per_s']:.0%} | "
            f"{h['server_cpu_ms_per_request']:.2f} / {sc['server_cpu_ms_per_request']:.2f} | "
            f"{h['client_cpu_ms_per_request']:.2f} / {sc['client_cpu_ms_per_request']:.2f} | "
            f"{h['load_average_before']} / {sc['load_average_before']} |")
    if all("slowest_1pct_in_first_tenth" in case for case in report["scoring"]):
        lines += ["", "Share of the slowest 1% of requests that started in the run's first tenth "
                  "(healthz / scoring): " + "; ".join(
                      f"c={sc['concurrency']} {h['slowest_1pct_in_first_tenth']:.0%} / "
                      f"{sc['slowest_1pct_in_first_tenth']:.0%}"
                      for h, sc in zip(report["healthz"], report["scoring"], strict=True)) + "."]
    parts = report.get("parts")
    if parts:
        lines += ["", "CPU per request by part, in the benchmark's process before the server "
                  f"starts (no socket; least of 7 rounds; load average {parts['load_average']}):"
                  f" reading the body {parts['read_body_ms']:.3f} ms, scoring "
                  f"{parts['score_ms']:.3f} ms, rendering the JSON answer "
                  f"{parts['render_json_ms']:.3f} ms; the whole app (middleware, key check, "
                  f"fast path) {parts['app_scoring_ms']:.3f} ms for a scoring request and "
                  f"{parts['app_healthz_ms']:.3f} ms for a health check."]
    lone = report["lone"]
    lines += ["", f"Lone request (c=1, {lone['requests']} sequential): server time p50 "
              f"{lone['server_p50_ms']:.3f} ms, p99 {lone['server_p99_ms']:.3f} ms "
              f"(Server-Timing); client-side p50 {lone['client_p50_ms']:.3f} ms; load average "
              f"{lone['load_average_before']}."]
    m = report.get("mixed")
    if m:
        lines += [
            "",
            f"Mixed ({m['connections']} connections, 5% budget-sized requests of "
            f"{m['large_request_bytes']:,} bytes, asyncio client):",
            "",
            "| small requests | req/s (all) | p50 ms | p99 ms | load avg |",
            "|---|---:|---:|---:|---|",
            f"| alone | {m['small_alone']['requests_per_s']:,.0f} | "
            f"{m['small_alone']['p50_ms']:.2f} | {m['small_alone']['p99_ms']:.2f} | "
            f"{m['small_alone']['load_average_before']} |",
            f"| with 5% large | {m['small_in_mix']['requests_per_s']:,.0f} | "
            f"{m['small_in_mix']['p50_ms']:.2f} | {m['small_in_mix']['p99_ms']:.2f} | "
            f"{m['small_in_mix']['load_average_before']} |",
            "",
            f"Large requests in the mix: {m['large_in_mix']['requests']} sent, p50 "
            f"{m['large_in_mix']['p50_ms']:.0f} ms, statuses {m['large_statuses']}.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per case")
    parser.add_argument("--warmup", type=int, default=300, help="requests before measuring")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated")
    parser.add_argument("--touches", type=int, default=20, help="touches in the small journey")
    parser.add_argument("--workers", type=int, default=1, help="attribution serve --workers")
    parser.add_argument("--lone", type=int, default=500, help="sequential requests timed")
    parser.add_argument("--mixed-requests", type=int, default=1000)
    parser.add_argument("--mixed-connections", type=int, default=16)
    parser.add_argument("--budget-journeys", type=int, default=100)
    parser.add_argument("--budget-touches", type=int, default=40)
    parser.add_argument("--tool", choices=["auto", "hey", "python"], default="auto")
    parser.add_argument("--profile", action="store_true", help="profile scoring, no server")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    if not (0 < args.requests <= 100_000 and all(0 < c <= 256 for c in levels)
            and 0 < args.mixed_requests <= 100_000 and 0 < args.lone <= 100_000):
        parser.error("keep it bounded: 1-100,000 requests, 1-256 connections")

    models = rule_models()
    body = scoring_body(1, args.touches, models)
    if args.profile:
        profile_scoring(body, repeat=500)
        return
    tool = args.tool if args.tool != "auto" else ("hey" if shutil.which("hey") else "python")

    import polars as pl

    load = os.getloadavg()[0]
    parts: dict[str, Any] = {**profile_parts(body), "load_average": round(load, 2)}
    print("parts", parts, flush=True)
    port = free_port()
    runs_dir = Path(tempfile.mkdtemp(prefix="attribution-load-"))
    server = start_server(port, runs_dir, args.workers)
    report: dict[str, Any] = {"healthz": [], "scoring": [], "parts": parts}
    try:
        asyncio.run(wait_ready(port))
        check = asyncio.run(python_load(port, [http_request("POST", "/v1/attribute", port,
                                                            body)], [1.0], 1, 1))
        if check[0][0][2] != 200:
            raise RuntimeError(f"the scoring request failed: {check[0][0][2]}")
        response_bytes = len(json.dumps(json.loads(asyncio.run(_one(port, body)))))
        for c in levels:
            for name, method, path, payload in (("healthz", "GET", "/healthz", None),
                                                ("scoring", "POST", "/v1/attribute", body)):
                run_case(tool, port, method, path, payload, args.warmup, c, server.pid)
                report[name].append(run_case(tool, port, method, path, payload,
                                             args.requests, c, server.pid))
                print(name, report[name][-1], flush=True)
        report["lone"] = lone_server_time(port, body, args.lone)
        print("lone", report["lone"], flush=True)
        large = scoring_body(args.budget_journeys, args.budget_touches, models)
        report["mixed"] = mixed(port, body, large, args.mixed_requests,
                                args.mixed_connections)
        print("mixed", report["mixed"], flush=True)
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
        shutil.rmtree(runs_dir, ignore_errors=True)
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
        stack = "uvloop loop, httptools parser"
    except ImportError:
        stack = "asyncio loop, h11 parser"
    report["settings"] = {
        "touches": args.touches, "models": models,
        "request_bytes": len(http_request("POST", "/v1/attribute", port, body)),
        "response_bytes": response_bytes, "requests": args.requests, "warmup": args.warmup,
        "concurrency": levels, "tool": tool if tool == "python" else _hey_version(),
        "server": f"uvicorn, {args.workers} worker(s), {stack}, access log off",
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "polars": pl.__version__, "platform": platform.platform(),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    out_file = args.out / f"load_service-{stamp}.json"
    out_file.write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    out_file.with_suffix(".md").write_text(text)
    print("\n" + text)
    shown = out_file.relative_to(ROOT) if out_file.is_relative_to(ROOT) else out_file
    print(f"written to {shown} (and .md)")


async def _one(port: int, body: dict[str, Any]) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(http_request("POST", "/v1/attribute", port, body))
    await writer.drain()
    _, _, content = await read_response(reader)
    writer.close()
    return content


def _hey_version() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "hey"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except OSError:
        out = ""
    return f"hey {out}".strip() + " (keep-alive, CSV output)"


if __name__ == "__main__":
    main()
