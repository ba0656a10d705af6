"""Bounded loopback load test of the HTTP scoring API (POST /v1/attribute).

Starts one uvicorn worker (``service.serve``) in a subprocess on a free 127.0.0.1 port,
then sends a fixed number of requests from ``--concurrency`` keep-alive connections, each
scoring one journey of ``--touches`` touches with every rule-based model in the registry.
Prints a Markdown table (requests/s, p50, p90, p99, max) and writes the same with the
settings to ``benchmarks/results/load_service-<timestamp>.json``.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams (the request bytes are
built once), so the measurement is of the server rather than of a heavy client; it still
shares the machine's cores with the server, which the report says.

    python benchmarks/load_service.py                       # 4,000 requests, 16 connections
    python benchmarks/load_service.py --requests 500 --concurrency 4 --touches 20
    python benchmarks/load_service.py --profile             # pyinstrument profile of scoring

Only loopback: the server binds 127.0.0.1 and the client connects nowhere else.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
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


def journey_body(n_touches: int, models: list[str]) -> dict[str, Any]:
    start = datetime(2025, 1, 1, 9, tzinfo=UTC)
    touches = [{"touch_id": f"t{k}", "timestamp": (start + timedelta(days=3 * k)).isoformat(),
                "channel": CHANNELS[k % len(CHANNELS)], "contact_id": f"c{k % 4}"}
               for k in range(n_touches)]
    return {
        "models": models,
        "journeys": [{
            "conversion": {"id": "opp-1", "value": 48_000.0, "stage": "closed_won",
                           "timestamp": (start + timedelta(days=3 * n_touches)).isoformat()},
            "touches": touches,
            "milestones": {"lead": (start + timedelta(days=10)).isoformat(),
                           "opportunity": (start + timedelta(days=30)).isoformat()},
        }],
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(port: int, runs_dir: Path, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = os.environ | {"ATTRIBUTION_API_KEYS": API_KEY, "ATTRIBUTION_RUNS_DIR": str(runs_dir),
                        "ATTRIBUTION_DATA_DIR": str(runs_dir)} | extra_env
    code = ("from service import serve; "
            f"serve('127.0.0.1', {port}, log_level='warning', access_log=False)")
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)


async def wait_ready(port: int, timeout: float = 30.0) -> None:
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
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    return status, body


async def client(port: int, request: bytes, count: int, latencies: list[float],
                 errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status, _ = await read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def load(port: int, request: bytes, total: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[int] = []
    per_client = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(client(port, request, n, latencies, errors) for n in per_client))
    wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1e3

    return {
        "requests": len(latencies), "errors": len(errors), "wall_s": round(wall, 3),
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(pct(50), 2), "p90_ms": round(pct(90), 2), "p99_ms": round(pct(99), 2),
        "max_ms": round(ordered[-1] * 1e3, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1e3, 2),
    }


def http_request(body: dict[str, Any], port: int) -> bytes:
    payload = json.dumps(body).encode()
    head = (f"POST /v1/attribute HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


def check_response(port: int, request: bytes, models: list[str], touches: int) -> int:
    async def once() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        out = await read_response(reader)
        writer.close()
        return out

    status, body = asyncio.run(once())
    if status != 200:
        raise RuntimeError(f"scoring request failed: {status} {body[:500]!r}")
    out = json.loads(body)
    assert len(out["touch_credit"]) == len(models) * touches, "unexpected row count"
    return len(body)


def profile_scoring(body: dict[str, Any], repeat: int) -> None:
    """Profile the library's scoring path alone (what one request costs the worker)."""
    sys.path.insert(0, str(ROOT))
    from attribution import JourneyScorer
    from service.api.schemas import AttributeRequest

    parsed = AttributeRequest.model_validate_json(json.dumps(body))
    scorer = JourneyScorer(models=parsed.models).fit()
    for _ in range(20):
        scorer.score(parsed.journeys)
    started = time.perf_counter()
    for _ in range(repeat):
        scorer.score(parsed.journeys)
    per_call = (time.perf_counter() - started) / repeat * 1e3
    print(f"scoring alone (JourneyScorer.score, fast engine): {per_call:.2f} ms per request")
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import pstats

        cProfile.runctx("for _ in range(repeat): scorer.score(parsed.journeys)", globals(),
                        {"repeat": repeat, "scorer": scorer, "parsed": parsed}, "/tmp/score.prof")
        pstats.Stats("/tmp/score.prof").sort_stats("cumulative").print_stats(25)
        return
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(repeat):
        scorer.score(parsed.journeys)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="measured requests")
    parser.add_argument("--warmup", type=int, default=300, help="requests before measuring")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--touches", type=int, default=20, help="touches in the journey")
    parser.add_argument("--profile", action="store_true", help="profile scoring, no server")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if not (0 < args.requests <= 100_000 and 0 < args.concurrency <= 256):
        parser.error("keep it bounded: 1-100,000 requests, 1-256 connections")

    models = rule_models()
    body = journey_body(args.touches, models)
    if args.profile:
        profile_scoring(body, repeat=500)
        return

    import polars as pl

    port = free_port()
    runs_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"attribution-load-{os.getpid()}"
    server = start_server(port, runs_dir, {})
    try:
        asyncio.run(wait_ready(port))
        request = http_request(body, port)
        response_bytes = check_response(port, request, models, args.touches)
        asyncio.run(load(port, request, args.warmup, args.concurrency))
        result = asyncio.run(load(port, request, args.requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(10)
    try:
        import uvloop  # noqa: F401
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401
        http = "httptools"
    except ImportError:
        http = "h11"
    settings = {
        "endpoint": "POST /v1/attribute", "journeys_per_request": 1, "touches": args.touches,
        "models": models, "request_bytes": len(request), "response_bytes": response_bytes,
        "requests": args.requests, "warmup": args.warmup, "concurrency": args.concurrency,
        "server": f"uvicorn, 1 worker, {loop} loop, {http} parser, access log off",
        "client": "asyncio keep-alive HTTP/1.1, same machine",
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "polars": pl.__version__, "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    out_file = args.out / f"load_service-{stamp}.json"
    out_file.write_text(json.dumps({"settings": settings, "result": result}, indent=2) + "\n")

    print(f"\nPOST /v1/attribute: 1 journey x {args.touches} touches x {len(models)} rule-based "
          f"models; {args.requests:,} requests over {args.concurrency} connections; "
          f"{settings['server']}; {os.cpu_count()} CPUs shared with the client\n")
    print("| requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {result['requests_per_s']:,.0f} | {result['p50_ms']:.1f} | {result['p90_ms']:.1f} "
          f"| {result['p99_ms']:.1f} | {result['max_ms']:.1f} | {result['errors']} |")
    shown = out_file.relative_to(ROOT) if out_file.is_relative_to(ROOT) else out_file
    print(f"\nwritten to {shown}")


if __name__ == "__main__":
    main()
