"""Data-driven fits in the HTTP service are bounded (newuser-report3 #5): a model is fitted
once per snapshot and resolved parameters whatever its spelling, a second request for a
model being fitted waits for that fit (single flight, no thread held), and at most
ATTRIBUTION_MAX_FITS fits run at once (another fit meanwhile: 429 with Retry-After). Over a
real uvicorn server on loopback; the fits are real (the snapshot's paths are read and the
model fitted), the test only holds the first read until it has sent the others."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

import attribution
from attribution import ModelSnapshot, SnapshotStore
from service import Settings, create_app

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
KEY = "fits-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stored")
    return attribution.attribute(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
                                 models=["linear"]).write(root, run_id="good")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Counts the snapshot reads (one per fit) and can hold the first one."""
    state: dict[str, Any] = {"count": 0, "hold": None, "entered": threading.Event()}
    real = ModelSnapshot.read_paths

    def read_paths(self: ModelSnapshot) -> pl.DataFrame:
        state["count"] += 1
        state["entered"].set()
        if state["hold"] is not None:
            assert state["hold"].wait(60)
        return real(self)

    monkeypatch.setattr(ModelSnapshot, "read_paths", read_paths)
    return state


def _server(tmp_path: Path, stored: Path, start_server: Callable[[Any], str]) -> str:
    runs = tmp_path / "runs"
    shutil.copytree(stored, runs / "good")
    SnapshotStore.beside(runs).publish(runs / "good")
    return start_server(create_app(Settings(api_keys=(KEY,), data_dir=tmp_path,
                                            runs_dir=runs, max_fits=1)))


def _body(model: Any) -> dict[str, Any]:
    return {"models": [model], "journeys": [{
        "conversion": {"id": "o", "timestamp": "2025-06-01T00:00:00Z"},
        "touches": [{"timestamp": "2025-05-01T00:00:00Z", "channel": "linkedin"},
                    {"timestamp": "2025-05-02T00:00:00Z", "channel": "email"}]}]}


def test_every_spelling_of_a_model_shares_one_fit(
        tmp_path: Path, stored: Path, start_server: Callable[[Any], str],
        reads: dict[str, Any]) -> None:
    url = _server(tmp_path, stored, start_server)
    spellings = ["markov:order=2", {"name": "markov", "params": {"order": 2}},
                 "markov:order=2;use_nulls=true", {"name": "markov", "params": {"order": "2"}}]
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as http:
        answers = [http.post("/v1/attribute", json=_body(m)) for m in spellings]
        assert [a.status_code for a in answers] == [200] * 4, answers[-1].text
        credit = {tuple(r["credit"] for r in a.json()["touch_credit"]) for a in answers}
        assert len(credit) == 1
        # the labels still say what was sent
        assert answers[2].json()["models"] == ["markov(order=2,use_nulls=true)"]
        assert reads["count"] == 1
        assert http.post("/v1/attribute", json=_body("markov:order=3")).status_code == 200
        assert reads["count"] == 2  # another model: its own fit


def test_fits_are_single_flight_and_bounded(
        tmp_path: Path, stored: Path, start_server: Callable[[Any], str],
        reads: dict[str, Any]) -> None:
    url = _server(tmp_path, stored, start_server)
    reads["hold"] = threading.Event()
    answers: dict[str, httpx.Response] = {}

    def post(name: str, model: Any) -> None:
        answers[name] = httpx.post(f"{url}/v1/attribute", json=_body(model), headers=AUTH,
                                   timeout=60)

    first = threading.Thread(target=post, args=("first", "markov"))
    first.start()
    assert reads["entered"].wait(30)  # the first request is fitting markov (held)
    same = threading.Thread(target=post, args=("same", {"name": "markov"}))
    same.start()
    time.sleep(0.5)  # the second one waits for that fit
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        other = http.post("/v1/attribute", json=_body("shapley"))
        assert other.status_code == 429, other.text
        err = other.json()["error"]
        assert (err["type"], err["field"]) == ("busy", "models")
        assert "ATTRIBUTION_MAX_FITS" in err["message"]
        assert "markov" in err["message"]
        assert other.headers["Retry-After"] == "5"
        # waiting requests hold no thread: the service answers meanwhile
        started = time.monotonic()
        assert http.get("/healthz").status_code == 200
        assert http.post("/v1/attribute", json=_body("linear")).status_code == 200
        assert time.monotonic() - started < 10
        reads["hold"].set()
        first.join(60)
        same.join(60)
        assert answers["first"].status_code == answers["same"].status_code == 200
        assert [r["credit"] for r in answers["first"].json()["touch_credit"]] == [
            r["credit"] for r in answers["same"].json()["touch_credit"]]
        assert reads["count"] == 1  # one fit for both
        assert http.post("/v1/attribute", json=_body("shapley")).status_code == 200
        assert reads["count"] == 2


def test_a_failed_fit_is_the_error_of_every_request_waiting_for_it(
        tmp_path: Path, stored: Path, start_server: Callable[[Any], str],
        reads: dict[str, Any]) -> None:
    """The fit's own error reaches the requests that waited for it, and the next request
    fits again (a failure is not kept)."""
    url = _server(tmp_path, stored, start_server)
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as http:
        too_wide = http.post("/v1/attribute", json=_body("shapley:max_channels=1"))
        assert too_wide.status_code == 422, too_wide.text
        assert "max_channels" in too_wide.json()["error"]["message"]
        again = http.post("/v1/attribute", json=_body("shapley:max_channels=1"))
        assert again.status_code == 422
        assert reads["count"] == 2
        assert http.post("/v1/attribute", json=_body("shapley")).status_code == 200


def test_fitted_models_kept_are_bounded_and_so_are_the_model_sets_holding_them(
        tmp_path: Path, stored: Path, reads: dict[str, Any]) -> None:
    """newuser-report3 #5b: each fit stayed in memory as long as any of 64 model sets held
    it. Now at most ATTRIBUTION_FITTED_MODELS fitted models are kept: evicting one drops
    the model sets fitted with it."""
    from service.core.scoring import ScorerCache
    runs = tmp_path / "runs"
    shutil.copytree(stored, runs / "good")
    SnapshotStore.beside(runs).publish(runs / "good")
    cache = ScorerCache(SnapshotStore.beside(runs), size=64, fitted_models=2)
    first = cache.get(["linear", "markov"], None)
    assert cache.cached(["linear", "markov"]) is first
    assert cache.get(["markov:order=1"], None).scorer.estimators_["markov(order=1)"] is \
        first.scorer.estimators_["markov"]  # one fit, two sets
    cache.get(["shapley"], None)
    assert cache.cached(["linear", "markov"]) is first  # two fitted models: both kept
    cache.get(["counterfactual"], None)  # a third: markov, the oldest, goes
    assert cache.cached(["linear", "markov"]) is None
    assert cache.cached(["markov:order=1"]) is None
    assert cache.cached(["shapley"]) is not None
    assert cache.cached(["linear"]) is None  # never asked
    linear = cache.get(["linear"], None)  # rule-based: on the current snapshot, no fit
    assert linear.snapshot is not None
    assert not linear.scorer.estimators_
    current = SnapshotStore.beside(runs).current()
    assert current is not None
    assert linear.snapshot.snapshot_id == current.snapshot_id
    kept = {id(e) for key in (["shapley"], ["counterfactual"], ["linear"])
            if (s := cache.cached(key)) is not None for e in s.scorer.estimators_.values()}
    assert len(kept) == 2
    assert reads["count"] == 3
    again = cache.get(["linear", "markov"], None)  # fitted again when asked again
    assert again is not first
    assert reads["count"] == 4
