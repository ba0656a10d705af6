"""Service operations (new-user report 12 #6, #10, #11; fix10's money note): a table input
the library cannot read is a 400 naming the field when the run is requested; a run's
failure about a table names the request's field; a run's lines in the log carry its request
id; /readyz covers the current model snapshot; an HTTP run's manifest says what was read as
money, as the command line's does. One app per module, two short runs on the sample data."""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from service import Settings, create_app
from service.core.lease import Instance
from service.core.runs import RunStore

KEY = "k-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
SCORE = {"models": ["markov"], "journeys": [{
    "conversion": {"id": "o1", "timestamp": "2025-03-01T00:00:00Z"},
    "touches": [{"timestamp": "2025-02-01T00:00:00Z", "channel": "email"}]}]}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ops-data")
    for name in ("touches", "stages"):
        shutil.copy(SAMPLE / f"{name}.parquet", folder)
    spend = pl.read_parquet(SAMPLE / "spend.parquet")
    # a finance sheet's amounts: '$1,074.05'
    spend.with_columns(pl.Series("amount", [f"${v:,.2f}" for v in spend["amount"]])
                       ).write_csv(folder / "spend_dollars.csv")
    (folder / "README.md").write_text("# not a table\n")
    (folder / "spend.xlsx").write_bytes(b"PK\x03\x04 a workbook")
    return folder


@pytest.fixture(scope="module")
def client(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    runs = tmp_path_factory.mktemp("ops-runs")
    with TestClient(create_app(Settings(api_keys=(KEY,), data_dir=data, runs_dir=runs))) as c:
        yield c


def _wait(client: TestClient, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        status: dict[str, Any] = client.get(f"/v1/runs/{run_id}", headers=AUTH).json()
        if status["status"] in ("succeeded", "failed"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def _lines(caplog: pytest.LogCaptureFixture, run_id: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "attribution.service" and run_id in r.getMessage()]


@pytest.fixture(scope="module")
def dollars_run(client: TestClient) -> dict[str, Any]:
    response = client.post("/v1/runs", headers=AUTH, json={
        "touches": "touches.parquet", "stages": "stages.parquet",
        "spend": "spend_dollars.csv", "models": ["linear"]})
    assert response.status_code == 202, response.text
    return _wait(client, response.json()["run_id"])


@pytest.mark.parametrize(("field", "name", "says"), [
    ("touches", "README.md", "cannot tell the format from the extension '.md'"),
    ("spend", "spend.xlsx", "a spreadsheet workbook ('.xlsx') is not read"),
])
def test_a_table_of_no_readable_format_is_a_400_naming_its_field(
        client: TestClient, data: Path, field: str, name: str, says: str) -> None:
    body = {"touches": "touches.parquet", "stages": "stages.parquet", field: name}
    response = client.post("/v1/runs", headers=AUTH, json=body)
    assert response.status_code == 400, response.text  # was a 202, then a failed run
    error = response.json()["error"]
    assert (error["type"], error["field"]) == ("bad_path", field)
    assert says in error["message"]
    assert f"'{name}'" in error["message"]
    assert str(data) not in error["message"]


def test_a_run_failing_on_a_table_names_its_field_and_logs_with_the_request_id(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="attribution.service")
    response = client.post("/v1/runs", headers=AUTH | {"X-Request-ID": "crm-4711"},
                           json={"touches": "stages.parquet", "stages": "stages.parquet"})
    assert response.status_code == 202
    assert response.headers["x-request-id"] == "crm-4711"
    run_id = response.json()["run_id"]
    status = _wait(client, run_id)
    error = status["error"]
    assert (status["status"], error["type"], error["field"]) == (
        "failed", "column_not_found", "touches")  # the request's field, was 'channel'
    assert "column 'channel'" in error["message"]
    assert status["request_id"] == "crm-4711"
    lines = _lines(caplog, run_id)
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"run {run_id} accepted, ")
    assert lines[1] == f"run {run_id} started (request crm-4711)"
    assert lines[2].startswith(f"run {run_id} failed after ")
    assert all(line.endswith("(request crm-4711)") for line in lines)
    assert "column_not_found: table 'touches'" in lines[-1]
    assert KEY not in "".join(lines)


def test_an_http_runs_manifest_says_what_was_read_as_money(
        dollars_run: dict[str, Any], client: TestClient) -> None:
    assert dollars_run["status"] == "succeeded", dollars_run["error"]
    note = ("NOTE: spend 'spend_dollars.csv', column 'amount': 504 amount(s) written as money "
            "(e.g. '$1,074.05')")
    assert any(n.startswith(note) for n in dollars_run["manifest"]["notes"])
    run_dir = Path(client.app.state.settings.runs_dir) / dollars_run["run_id"]  # type: ignore[attr-defined]
    on_disk = json.loads((run_dir / "manifest.json").read_text())["notes"]  # its own path
    assert any(note.split("'", 2)[2] in n for n in on_disk)


def test_request_ids_are_echoed_or_made(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-1.2:3"}).headers[
        "x-request-id"] == "abc-1.2:3"
    for sent in ("two words", "x" * 129, ""):
        made = client.get("/healthz", headers={"X-Request-ID": sent}).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made), made
    # before the key check too: a 401 carries one
    assert re.fullmatch(r"[0-9a-f]{32}", client.get("/v1/models").headers["x-request-id"])


def test_readiness_covers_the_current_snapshot(
        client: TestClient, dollars_run: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert "snapshot" not in ready.json()
    assert "no model snapshot is published" in ready.json()["notes"][0]
    published = client.post("/v1/models/snapshots", headers=AUTH,
                            json={"run_id": dollars_run["run_id"]})
    assert published.status_code == 201, published.text
    snapshot = published.json()["snapshot_id"]
    assert client.get("/readyz").json() == {"status": "ok", "snapshot": snapshot}
    # polled: while the pointer is unchanged, the snapshot is not read again
    store = client.app.state.readiness.store  # type: ignore[attr-defined]
    reads: list[int] = []
    real = store.current
    monkeypatch.setattr(store, "current", lambda: reads.append(1) or real())
    assert client.get("/readyz").json()["snapshot"] == snapshot
    assert reads == []
    shutil.rmtree(store.root / snapshot)  # the current snapshot removed: scoring is 503
    scoring = client.post("/v1/attribute", headers=AUTH, json=SCORE)
    reads.clear()
    ready = client.get("/readyz")
    assert (scoring.status_code, ready.status_code) == (503, 503)
    assert ready.json() == scoring.json()  # the same type and message
    assert ready.json()["error"]["type"] == "snapshot_store"
    assert reads == [1]


def test_a_run_interrupted_at_restart_is_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="attribution.service")
    runs = tmp_path / "runs"
    (runs / ".status").mkdir(parents=True)
    owner = Instance.current().record()
    owner["started"] = (owner.get("started") or 0) - 100  # an earlier process of my pid
    run_id = "20250101T000000Z-0000beef"
    (runs / ".status" / f"{run_id}.json").write_text(json.dumps({
        "run_id": run_id, "status": "running", "request_id": "crm-9",
        "lease": {"owner": owner, "expires_at": "2999-01-01T00:00:00+00:00"}}))
    store = RunStore(runs)
    try:
        [line] = _lines(caplog, run_id)
    finally:
        store.shutdown()
    assert line.startswith(f"run {run_id} interrupted: the run was interrupted (")
    assert line.endswith("(request crm-9)")
