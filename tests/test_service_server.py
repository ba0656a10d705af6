"""service/: a real uvicorn server on a loopback port, settings from the environment, serve()."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import attribution
from service import Settings, create_app, serve


@pytest.fixture
def server(tmp_path: Path, start_server: Callable[[Any], str]) -> str:
    """uvicorn serving the app from a thread, on a free 127.0.0.1 port: its URL."""
    return start_server(create_app(Settings(api_keys=("live-key-0123456789",), data_dir=tmp_path,
                                            runs_dir=tmp_path / "runs")))


def test_real_server_over_http(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/v1/models").status_code == 401
        auth = {"Authorization": "Bearer live-key-0123456789"}
        journey = {"conversion": {"id": "opp-9", "timestamp": "2025-02-01T00:00:00Z",
                                  "value": 500},
                   "touches": [{"touch_id": "a", "timestamp": "2025-01-01T00:00:00Z",
                                "channel": "linkedin"},
                               {"touch_id": "b", "timestamp": "2025-01-15T00:00:00Z",
                                "channel": "email"}]}
        response = http.post("/v1/attribute", headers=auth,
                             json={"models": ["first_touch", "linear"], "journeys": [journey]})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        rows = response.json()["touch_credit"]
        assert [(r["model"], r["touch_id"], r["credit"]) for r in rows] == [
            ("first_touch", "a", 1.0), ("first_touch", "b", 0.0),
            ("linear", "a", 0.5), ("linear", "b", 0.5)]
        too_big = http.post("/v1/attribute", headers=auth | {"content-type": "application/json"},
                            content=b"[" + b" " * 2_000_000 + b"]")
        assert too_big.status_code == 413
        assert too_big.json()["error"]["type"] == "payload_too_large"
        # one long journey is too large too: the message names touches, not only journeys
        assert "send fewer journeys or touches per request" in too_big.json()["error"][
            "message"]



@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/xml", "multipart/form-data; boundary=x"])
def test_a_body_of_another_media_type_is_415_naming_the_header(server: str, media: str) -> None:
    # new-user report 6 #2: any Content-Type was read as JSON, undocumented; now every body
    # endpoint refuses it, the body read and dropped (the connection stays usable)
    auth = {"Authorization": "Bearer live-key-0123456789"}
    body = b'{"models": ["linear"], "journeys": []}'
    with httpx.Client(base_url=server, timeout=10) as http:
        for path in ("/v1/attribute", "/v1/runs", "/v1/models/snapshots"):
            response = http.post(path, headers=auth | {"content-type": media}, content=body)
            assert response.status_code == 415, (path, response.text)
            error = response.json()["error"]
            assert error["type"] == "unsupported_media_type"
            assert error["field"] == "Content-Type"
            assert "'Content-Type: application/json'" in error["message"]
            assert media.split(";")[0] in error["message"]
        # the key is checked first; JSON with parameters or a +json type is taken
        assert http.post("/v1/attribute", headers={"content-type": media},
                         content=body).status_code == 401
        journey = {"conversion": {"id": "o", "timestamp": "2025-02-01T00:00:00Z"},
                   "touches": [{"timestamp": "2025-01-01T00:00:00Z", "channel": "email"}]}
        for json_type in ("application/json; charset=utf-8", "application/vnd.crm+json"):
            ok = http.post("/v1/attribute", headers=auth | {"content-type": json_type},
                           json={"models": ["linear"], "journeys": [journey]})
            assert ok.status_code == 200, ok.text
        # a body without a Content-Type is read as JSON (some clients send none)
        bare = httpx.Request("POST", f"{server}/v1/attribute", headers=auth,
                             content=b'{"models": ["linear"], "journeys": [' +
                             httpx.Response(200, json=journey).content + b"]}")
        assert "content-type" not in bare.headers
        assert http.send(bare).status_code == 200

def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("ATTRIBUTION_API_KEYS", " k1 , k2,,")
    monkeypatch.setenv("ATTRIBUTION_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("ATTRIBUTION_MAX_JOURNEYS", "7")
    monkeypatch.setenv("ATTRIBUTION_ALLOW_INSECURE", "true")
    settings = Settings()
    assert settings.api_keys == ("k1", "k2")
    assert settings.data_dir == tmp_path / "d"
    assert settings.max_journeys == 7
    assert settings.allow_insecure is True
    assert "k1" not in repr(settings)


def test_no_keys_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(api_keys=(), runs_dir=tmp_path / "runs")
    with pytest.raises(attribution.ConfigError, match="ATTRIBUTION_API_KEYS"):
        create_app(settings)
    with pytest.raises(attribution.ConfigError, match="--insecure"):
        serve("127.0.0.1", 0, settings=settings)


def test_insecure_flag_allows_no_keys(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    app = create_app(Settings(api_keys=(), allow_insecure=True, runs_dir=tmp_path / "runs"))
    with TestClient(app) as client:
        assert client.get("/v1/models").status_code == 200


def test_serve_gives_slow_starting_workers_time(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    # new-user report 6 #11: uvicorn's 5 s worker healthcheck killed every worker still
    # starting on a busy host (17 restarts); serve() gives them WORKER_HEALTHCHECK_S, and an
    # explicit uvicorn option still wins
    import uvicorn

    import service.main as main

    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.append(options))
    monkeypatch.setenv("ATTRIBUTION_API_KEYS", "live-key-0123456789")
    monkeypatch.setenv("ATTRIBUTION_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("ATTRIBUTION_DATA_DIR", str(tmp_path))
    serve(port=0, workers=2)
    serve(port=0, workers=2, timeout_worker_healthcheck=7)
    assert main.WORKER_HEALTHCHECK_S >= 30
    assert [o["timeout_worker_healthcheck"] for o in seen] == [main.WORKER_HEALTHCHECK_S, 7]


def test_serve_with_workers_answers_from_every_worker(tmp_path: Path) -> None:
    """``attribution serve --workers 2``: both processes serve the port; SIGTERM stops all."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = Path(sys.executable).with_name("attribution")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "attribution.cli"]
    env = {**os.environ, "ATTRIBUTION_API_KEYS": "live-key-0123456789",
           "ATTRIBUTION_RUNS_DIR": str(tmp_path / "runs"), "ATTRIBUTION_DATA_DIR": str(tmp_path)}
    server = subprocess.Popen([*command, "serve", "--port", str(port), "--workers", "2",
                               "--log-level", "warning"], env=env, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the workers did not start"
                assert server.poll() is None, "the server exited"
                time.sleep(0.2)
        journey = {"conversion": {"id": "opp-1", "timestamp": "2025-02-01T00:00:00Z"},
                   "touches": [{"timestamp": "2025-01-01T00:00:00Z", "channel": "email"}]}
        def children() -> list[str]:
            found = []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == server.pid:
                    found.append(pid)
            return found

        assert len(children()) >= 2  # the workers (and uvicorn's own helpers, if any)
        for _ in range(10):
            with httpx.Client(base_url=url, timeout=10) as http:
                answer = http.post("/v1/attribute", json={"models": ["linear"],
                                                          "journeys": [journey]},
                                   headers={"Authorization": "Bearer live-key-0123456789"})
                assert answer.status_code == 200
                assert answer.json()["touch_credit"][0]["credit"] == 1.0
                assert float(answer.headers["server-timing"].split("dur=")[1]) > 0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        assert server.wait(30) == 0


def test_serve_on_a_port_in_use_is_one_line_exit_2_before_startup(tmp_path: Path) -> None:
    """newuser-report3 #16: `attribution serve --port P` with P taken started the app (runs
    directory, leases), logged uvicorn's bind error and exited 3, the code of "no
    conversion". Now one line, exit 2, and the runs directory is not touched."""
    import os
    import socket
    import subprocess
    import sys

    script = Path(sys.executable).with_name("attribution")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "attribution.cli"]
    env = {**os.environ, "ATTRIBUTION_API_KEYS": "live-key-0123456789",
           "ATTRIBUTION_RUNS_DIR": str(tmp_path / "runs"), "ATTRIBUTION_DATA_DIR": str(tmp_path)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*command, "serve", "--port", str(port)], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: cannot listen on 127.0.0.1 port {port}")
    assert "choose another --port" in lines[0]
    assert not (tmp_path / "runs").exists()
    with pytest.raises(attribution.ConfigError, match="cannot listen on"):
        serve("192.0.2.1", 8000,  # TEST-NET: an address of no interface here
              settings=Settings(api_keys=("live-key-0123456789",), runs_dir=tmp_path / "r"))
