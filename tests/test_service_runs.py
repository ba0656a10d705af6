"""service/: batch runs over sample_data/: status, results, failures, restarts, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

import attribution
import attribution.engine._result
from service import Settings, create_app

AUTH = {"Authorization": "Bearer k-0123456789abcdef"}
RUN = {"touches": "touches.parquet", "stages": "stages.parquet"}


@pytest.fixture
def settings(tmp_path: Path, data_dir: Path) -> Settings:
    return Settings(api_keys=("k-0123456789abcdef",), data_dir=data_dir,
                    runs_dir=tmp_path / "runs")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def wait(client: TestClient, run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/v1/runs/{run_id}", headers=AUTH)
        assert response.status_code == 200
        status: dict[str, Any] = response.json()
        if status["status"] in ("succeeded", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def start(client: TestClient, **extra: Any) -> str:
    response = client.post("/v1/runs", headers=AUTH, json=RUN | extra)
    assert response.status_code == 202, response.text
    status = response.json()
    assert status["status"] == "queued"
    assert status["progress"]["fraction"] == 0.0
    run_id: str = status["run_id"]
    return run_id


def test_run_on_sample_data_and_read_channel_credit(client: TestClient,
                                                    settings: Settings) -> None:
    run_id = start(client, models=["linear", "markov"], contacts="contacts.parquet")
    status = wait(client, run_id)
    assert status["status"] == "succeeded", status
    assert status["error"] is None
    assert status["progress"]["fraction"] == 1.0
    assert status["manifest"]["run_id"] == run_id
    assert [m["label"] for m in status["manifest"]["models"]] == ["linear", "markov"]
    assert status["request"]["models"] == ["linear", "markov"]

    response = client.get(f"/v1/runs/{run_id}/channel-credit", headers=AUTH,
                          params={"model": "markov"})
    assert response.status_code == 200
    out = response.json()
    assert out["run_id"] == run_id
    assert out["model"] == "markov"
    stored = pl.read_parquet(settings.runs_dir / run_id / "channel_credit.parquet")
    assert out["rows"] == stored.filter(model="markov").to_dicts()
    everything = client.get(f"/v1/runs/{run_id}/channel-credit", headers=AUTH).json()
    assert {r["model"] for r in everything["rows"]} == {"linear", "markov"}

    missing = client.get(f"/v1/runs/{run_id}/channel-credit", headers=AUTH,
                         params={"model": "shapley"})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == (
        f"model 'shapley' is not in run '{run_id}'; its models: linear, markov")


def test_a_finished_run_serves_its_report_and_a_queued_one_says_409(
        client: TestClient, settings: Settings) -> None:
    run_id = start(client, models=["linear"])
    early = client.get(f"/v1/runs/{run_id}/report", headers=AUTH)
    if early.status_code != 200:  # the run may already be done on a fast machine
        assert early.status_code == 409
        assert early.json()["error"]["message"].endswith(
            "the report is there once it has succeeded")
    assert wait(client, run_id)["status"] == "succeeded"
    response = client.get(f"/v1/runs/{run_id}/report", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = settings.runs_dir / run_id / "report.html"
    assert response.text == page.read_text(encoding="utf-8")
    assert run_id in response.text


def test_run_request_sets_the_touch_cap(client: TestClient) -> None:
    capped = wait(client, start(client, models=["linear"], max_touches_per_journey=2))
    lifted = wait(client, start(client, models=["linear"], max_touches_per_journey="none"))
    assert capped["manifest"]["parameters"]["max_touches_per_journey"] == 2
    assert lifted["manifest"]["parameters"]["max_touches_per_journey"] is None
    cut = capped["manifest"]["reconciliation"]
    assert cut["touches_dropped"]["journey_too_long"] > 0
    assert cut["journeys_too_long"] == len(cut["journeys_too_long_list"]) or (
        len(cut["journeys_too_long_list"]) == 20
    )
    assert "journey_too_long" not in lifted["manifest"]["reconciliation"]["touches_dropped"]
    assert capped["request"]["max_touches_per_journey"] == 2


def test_a_lookback_per_segment_reads_the_accounts(client: TestClient) -> None:
    lookback = {"smb": "30d", "enterprise": "365d", "default": "60d"}
    done = wait(client, start(client, models=["linear"], accounts="accounts.parquet",
                              lookback=lookback))
    assert done["status"] == "succeeded", done
    manifest = done["manifest"]
    assert manifest["parameters"]["lookback_by_segment_seconds"]["smb"] == 30 * 86400
    assert manifest["parameters"]["lookback_seconds"] == 60 * 86400
    assert "accounts" in manifest["inputs"]
    single = wait(client, start(client, models=["linear"], lookback="60d"))["manifest"]
    assert (manifest["reconciliation"]["touches_in_journeys"]
            != single["reconciliation"]["touches_in_journeys"])  # other windows, other journeys
    # without the accounts: a 422 naming the field, no run started
    response = client.post("/v1/runs", headers=AUTH, json=RUN | {"lookback": "smb=30d"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "lookback"
    assert "accounts" in response.json()["error"]["message"]
    response = client.post("/v1/runs", headers=AUTH,
                           json=RUN | {"lookback": {"smb": "30"}, "accounts": "accounts.parquet"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "lookback"


def test_a_run_that_attributes_nothing_fails_saying_why(client: TestClient,
                                                        settings: Settings) -> None:
    empty = wait(client, start(client, models=["linear"], conversion_stage="won"))
    assert empty["status"] == "failed"
    assert empty["error"]["type"] == "empty_result"
    assert "closed_won" in empty["error"]["message"]  # the stage names found, a did-you-mean
    # the fix is told as the request's fields, not as command-line flags
    assert "'allow_empty'" in empty["error"]["message"]
    assert "'conversion_stage'" in empty["error"]["message"]
    assert "--" not in empty["error"]["message"]
    assert not (settings.runs_dir / empty["run_id"]).exists()
    allowed = wait(client, start(client, models=["linear"], conversion_stage="won",
                                 allow_empty=True))
    assert allowed["status"] == "succeeded", allowed
    assert allowed["manifest"]["parameters"]["allow_empty"] is True
    assert allowed["request"]["allow_empty"] is True


def test_concurrent_runs_do_not_corrupt_each_other(client: TestClient,
                                                   settings: Settings) -> None:
    wanted = {start(client, models=models): models
              for models in (["linear"], ["first_touch", "last_touch"], ["w_shaped"],
                             ["counterfactual"])}
    for run_id, models in wanted.items():
        status = wait(client, run_id)
        assert status["status"] == "succeeded", status
        assert [m["label"] for m in status["manifest"]["models"]] == models
        stored = pl.read_parquet(settings.runs_dir / run_id / "channel_credit.parquet")
        assert sorted(stored.get_column("model").unique()) == sorted(models)
    expected = attribution.attribute(settings.data_dir / "touches.parquet",
                                     settings.data_dir / "stages.parquet",
                                     models=["w_shaped"]).channel_credit
    w_run = next(r for r, m in wanted.items() if m == ["w_shaped"])
    stored = pl.read_parquet(settings.runs_dir / w_run / "channel_credit.parquet")
    assert stored.sort("channel").get_column("conversions").to_list() == pytest.approx(
        expected.sort("channel").get_column("conversions").to_list())
    leftovers = [p.name for p in settings.runs_dir.iterdir()
                 if p.name.endswith(".tmp") or (p.name.startswith(".") and p.name != ".status")]
    assert leftovers == []


def test_a_bad_input_file_fails_the_run_with_its_error(client: TestClient,
                                                       settings: Settings) -> None:
    run_id = start(client, touches="broken.parquet", models=["linear"])
    status = wait(client, run_id)
    assert status["status"] == "failed"
    assert status["error"]["type"] == "input"
    assert "broken.parquet" in status["error"]["message"]
    assert status["manifest"] is None
    assert not (settings.runs_dir / run_id).exists()
    conflict = client.get(f"/v1/runs/{run_id}/channel-credit", headers=AUTH)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["message"] == (
        f"run '{run_id}' is failed; channel credit is there once it has succeeded")


def test_a_crash_while_writing_leaves_no_half_written_run(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    # the last file the library writes: everything else is already in the temporary dir
    monkeypatch.setattr(attribution.engine._result, "write_json_atomic", explode)
    run_id = start(client, models=["linear"])
    status = wait(client, run_id)
    assert status["status"] == "failed"
    assert status["error"] == {
        "type": "runs_dir", "field": None,
        "message": "the run was computed but could not be written into the runs directory "
                   "(ATTRIBUTION_RUNS_DIR): OSError; GET /readyz says whether it can take "
                   "runs now"}
    assert sorted(p.name for p in settings.runs_dir.iterdir()) == [".status"]


def test_a_runs_directory_that_refuses_new_entries_is_not_ready(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """newuser-report6 #14: a runs directory made immutable (chattr +i) with its .status
    folder still writable: /readyz said ok and POST /v1/runs took runs that were computed and
    then failed as 'internal' ('PermissionError: ... <the server's path>')."""
    import tempfile

    make = tempfile.mkstemp

    def refuse(*args: Any, **kwargs: Any) -> tuple[int, str]:
        if Path(kwargs.get("dir") or "") == settings.runs_dir:
            raise PermissionError(1, "Operation not permitted")
        return make(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"] == {
        "type": "not_ready",
        "message": "the runs directory (ATTRIBUTION_RUNS_DIR) cannot be written: "
                   "Operation not permitted"}
    refused = client.post("/v1/runs", headers=AUTH, json=RUN)
    assert refused.status_code == 503
    assert "Operation not permitted" in refused.json()["error"]["message"]


def test_status_survives_a_restart(settings: Settings) -> None:
    with TestClient(create_app(settings)) as first:
        run_id = start(first, models=["linear"])
        before = wait(first, run_id)
    assert before["status"] == "succeeded"
    with TestClient(create_app(settings)) as second:  # a new app instance: only the disk
        after = second.get(f"/v1/runs/{run_id}", headers=AUTH).json()
        assert after == before
        rows = second.get(f"/v1/runs/{run_id}/channel-credit", headers=AUTH).json()["rows"]
        assert {r["model"] for r in rows} == {"linear"}


def test_a_run_whose_process_died_reads_back_as_interrupted(settings: Settings) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    status_dir = settings.runs_dir / ".status"
    status_dir.mkdir(parents=True)
    with TestClient(create_app(settings)) as client:
        owner = {"host": os.uname().nodename, "pid": pid}
        for name, state in (("20250101T000000Z-deadbeef", "running"),
                            ("20250101T000000Z-feedface", "queued")):
            (status_dir / f"{name}.json").write_text(json.dumps({
                "run_id": name, "status": state, "owner": owner,
                "progress": {"stage": "journeys", "fraction": 0.3}}))
            status = client.get(f"/v1/runs/{name}", headers=AUTH).json()
            assert status["status"] == "failed"
            assert status["error"]["type"] == "interrupted"
            assert json.loads((status_dir / f"{name}.json").read_text())["status"] == "failed"


def test_a_run_finished_before_its_status_was_written_counts_as_succeeded(
    settings: Settings,
) -> None:
    # `attribution run` output, or a crash between the atomic rename and the status update
    result = attribution.attribute(settings.data_dir / "touches.parquet",
                                   settings.data_dir / "stages.parquet", models=["linear"])
    result.write(settings.runs_dir, run_id="from-the-cli")
    with TestClient(create_app(settings)) as client:
        status = client.get("/v1/runs/from-the-cli", headers=AUTH).json()
        assert status["status"] == "succeeded"
        assert status["manifest"]["run_id"] == "from-the-cli"


def test_a_status_read_before_the_last_update_is_the_final_status(settings: Settings) -> None:
    """Between the run directory landing and the worker's last status update, a read already
    says 'succeeded': it must say exactly what the final status file says (this race made
    the restart test flaky)."""
    with TestClient(create_app(settings)) as client:
        run_id = start(client, models=["linear"])
        final = wait(client, run_id)
        while final.get("finished_at") is None:  # the worker's own update, not the early view
            final = client.get(f"/v1/runs/{run_id}", headers=AUTH).json()
        path = settings.runs_dir / ".status" / f"{run_id}.json"
        written = json.loads(path.read_text())
        steps = written["progress"]["total"]
        # atomically, as the server writes it: a heartbeat reading a half-written file
        # would take it for no status at all
        attribution.write_json_atomic(path, written | {
            "status": "running", "finished_at": None,
            "progress": {"stage": "write", "completed": steps - 1, "total": steps,
                         "fraction": round((steps - 1) / steps, 4)}})
        early = client.get(f"/v1/runs/{run_id}", headers=AUTH).json()
    assert early == final


@pytest.mark.parametrize(("models", "level"), [(["linear", "markov"], "contact"),
                                               (["markov"], "account")])
def test_progress_counts_every_stage_once(settings: Settings, monkeypatch, models, level) -> None:
    """The step count matches the stages the library reports: each step counted once, the
    total reached only with 'succeeded' (writing the run directory is the last step)."""
    from service.core.runs import RunStore

    seen: list[dict[str, Any]] = []

    def recorded(method):
        def record(self, key, /, **changes):
            if "progress" in changes:
                seen.append(changes["progress"])
            return method(self, key, **changes)
        return record

    # the worker's own updates (_own) and the final one (_update)
    monkeypatch.setattr(RunStore, "_update", recorded(RunStore._update))
    monkeypatch.setattr(RunStore, "_own", recorded(RunStore._own))
    with TestClient(create_app(settings)) as client:
        extra = {"contacts": "contacts.parquet"} if level == "account" else {}
        run_id = start(client, models=models, level=level, **extra)
        final = wait(client, run_id)
        assert final["status"] == "succeeded"
    write = next(p for p in seen if p["stage"] == "write")
    assert write["completed"] == write["total"] - 1
    assert seen[0]["stage"] == "queued"
    assert [p["completed"] for p in seen[1:]] == list(range(write["total"] + 1))
    assert all(p["fraction"] < 1.0 for p in seen[:-1])
    assert seen[-1] == {"stage": "done", "completed": write["total"], "total": write["total"],
                        "fraction": 1.0}
    assert final["progress"] == seen[-1]


def test_a_missing_data_directory_is_a_readiness_warning_and_named_in_a_run_400(
        tmp_path: Path) -> None:
    settings = Settings(api_keys=("k-0123456789abcdef",), data_dir=tmp_path / "nowhere",
                        runs_dir=tmp_path / "runs")
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200  # scoring still works: a warning, not a refusal
        assert ready.json()["warnings"] == [
            "the data directory (ATTRIBUTION_DATA_DIR) does not exist: batch runs cannot "
            "read inputs"]
        response = client.post("/v1/runs", headers=AUTH, json=RUN)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["field"] == "touches"
        assert "ATTRIBUTION_DATA_DIR" in error["message"]
        assert str(tmp_path) not in error["message"]  # never the server's absolute path
    (tmp_path / "nowhere").mkdir()
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz").json()
        assert ready["status"] == "ok"
        assert "warnings" not in ready
