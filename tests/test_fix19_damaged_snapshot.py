"""Item 4 of fix19 (fix14's leftover): a snapshot whose ``paths.parquet`` is damaged on disk
(truncated; the pointer and ``snapshot.json`` good) answered scoring with a 500; it is the
store's damage, the operator's to repair: 503 ``snapshot_store``, as a damaged pointer is,
naming the snapshot and its file (never the server's path), for every request that needs the
fit, while rule-based requests keep working. In process, one tiny run."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

import attribution
from attribution import SnapshotStore
from service import Settings, create_app

KEY = "k-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _journeys(models: list[str]) -> dict[str, object]:
    return {"models": models, "journeys": [{
        "conversion": {"id": "o1", "timestamp": "2025-03-01T00:00:00Z"},
        "touches": [{"timestamp": "2025-02-01T00:00:00Z", "channel": "email"}]}]}


def _truncated(runs: Path) -> tuple[SnapshotStore, str]:
    touches = pl.DataFrame({"contact_id": ["a", "a", "b", "c"],
                            "channel": ["email", "ads", "ads", "email"],
                            "timestamp": ["2025-01-01T00:00:00Z"] * 4})  # fmt: skip
    stages = pl.DataFrame({"contact_id": ["a", "b"], "stage": ["closed_won"] * 2,
                           "timestamp": ["2025-01-05T00:00:00Z"] * 2, "value": [1.0, 2.0]})
    attribution.attribute(touches, stages, models=["linear"]).write(runs, run_id="good")
    store = SnapshotStore.beside(runs)
    snapshot = store.publish(runs / "good")
    paths = snapshot.directory / "paths.parquet"
    data = paths.read_bytes()
    paths.write_bytes(data[: len(data) // 2])  # a copy cut short on disk
    return store, snapshot.snapshot_id


def test_the_library_names_the_snapshot_and_its_file(tmp_path: Path) -> None:
    store, snapshot_id = _truncated(tmp_path / "runs")
    snapshot = store.current()
    assert snapshot is not None
    with pytest.raises(attribution.InputError) as caught:
        snapshot.read_paths()
    text = str(caught.value)
    assert f"snapshot '{snapshot_id}'" in text
    assert f".snapshots/{snapshot_id}/paths.parquet" in text
    assert str(tmp_path) not in text


def test_scoring_on_a_damaged_path_table_is_503_snapshot_store(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    store, snapshot_id = _truncated(runs)
    settings = Settings(api_keys=(KEY,), data_dir=tmp_path, runs_dir=runs)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for _ in range(2):  # not cached as a failure, nor as a fit
            answer = client.post("/v1/attribute", headers=AUTH, json=_journeys(["markov"]))
            assert answer.status_code == 503, answer.text
            error = answer.json()["error"]
            assert error["type"] == "snapshot_store"
            assert f".snapshots/{snapshot_id}/paths.parquet" in error["message"]
            assert str(tmp_path) not in answer.text
        rules = client.post("/v1/attribute", headers=AUTH, json=_journeys(["linear"]))
        assert rules.status_code == 200, rules.text
