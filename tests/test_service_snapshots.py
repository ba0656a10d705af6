"""Published model snapshots: data-driven scoring uses a snapshot someone published, never
"the latest run". The library's SnapshotStore, ``attribution publish`` and the HTTP routes
over a real uvicorn server on loopback."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution import JourneyScorer, SnapshotStore, read_run_paths
from service import Settings, create_app

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
KEY = "snapshot-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
DATA = ["markov", "shapley", "counterfactual"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two run directories written as `attribution run` writes them: one over the sample
    data, one ad-hoc linear-only run with no conversion (the issue's reproduction)."""
    root = tmp_path_factory.mktemp("stored")
    touches, stages = SAMPLE / "touches.parquet", SAMPLE / "stages.parquet"
    good = attribution.attribute(touches, stages, models=["linear"]).write(root, run_id="good")
    empty = attribution.attribute(touches, stages, models=["linear"], allow_empty=True,
                                  conversion_stage="nothing").write(root, run_id="empty")
    return {"good": good, "empty": empty}


@pytest.fixture
def runs_dir(tmp_path: Path, stored: dict[str, Path]) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(stored["good"], runs / "good")
    return runs


def journey(cid: str, *channels: str) -> dict[str, Any]:
    return {"conversion": {"id": cid, "timestamp": "2025-06-01T00:00:00Z", "value": 100},
            "touches": [{"touch_id": f"t{k}", "timestamp": f"2025-05-{k + 1:02d}T00:00:00Z",
                         "channel": channel} for k, channel in enumerate(channels)]}


def credit(response: httpx.Response) -> dict[tuple[str, str, str], float]:
    return {(r["model"], r["conversion_id"], r["touch_id"]): r["credit"]
            for r in response.json()["touch_credit"]}


# --- the library --------------------------------------------------------------------------------

def test_publish_copies_the_path_table_and_becomes_current(tmp_path: Path,
                                                           stored: dict[str, Path]) -> None:
    run = shutil.copytree(stored["good"], tmp_path / "runs" / "good")
    store = SnapshotStore.beside(tmp_path / "runs")
    assert store.current() is None
    assert store.all() == []
    first = store.publish(run)
    assert first.run_id == "good"
    assert store.current() == first
    expected = read_run_paths(stored["good"])
    assert first.conversions == expected.get_column("conversions").sum() > 0
    assert first.paths == expected.height
    assert list(first.channels) == sorted(expected.get_column("path").explode().unique())
    assert first.run["models"] == ["linear"]
    assert first.manifest()["run_id"] == "good"
    shutil.rmtree(run)  # a copy: the run directory can go, the snapshot stays
    assert first.read_paths().equals(expected)
    second = SnapshotStore(store.root).publish(shutil.copytree(stored["good"], tmp_path / "g2"))
    assert store.current() == second
    assert [s.snapshot_id for s in store.all()] == [second.snapshot_id, first.snapshot_id]
    assert store.get(first.snapshot_id) == first
    # nothing half-written beside the snapshots, no way out of the store
    assert sorted(p.name for p in store.root.iterdir()) == sorted(
        ["current.json", first.snapshot_id, second.snapshot_id])
    for name in ("../good", "..", ".", "", "/etc", "nope"):
        assert store.get(name) is None


def test_a_publication_killed_mid_write_leaves_nothing_for_long(tmp_path: Path,
                                                                 stored: dict[str, Path]) -> None:
    store = SnapshotStore(tmp_path / "store")
    store.root.mkdir()
    old_dir = store.root / ".20250101T000000Z-dead.x1.tmp"
    old_dir.mkdir()
    (old_dir / "paths.parquet").write_bytes(b"half")
    old_file = store.root / ".current.json.x2.tmp"
    old_file.write_text("{")
    fresh = store.root / ".20250101T000000Z-busy.x3.tmp"  # another publication, under way
    fresh.mkdir()
    for path in (old_dir, old_file):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    snapshot = store.publish(stored["good"])
    assert sorted(p.name for p in store.root.iterdir()) == sorted(
        [fresh.name, "current.json", snapshot.snapshot_id])
    assert [s.snapshot_id for s in store.all()] == [snapshot.snapshot_id]


def test_a_run_without_a_conversion_cannot_be_published(tmp_path: Path,
                                                        stored: dict[str, Path]) -> None:
    store = SnapshotStore(tmp_path / "store")
    with pytest.raises(attribution.InputError, match="run 'empty' has no conversion"):
        store.publish(stored["empty"])
    with pytest.raises(attribution.InputError, match="not a finished run directory"):
        store.publish(tmp_path)
    assert store.current() is None
    assert not store.root.exists() or list(store.root.iterdir()) == []


def test_the_cli_publishes_beside_the_run(runs_dir: Path, stored: dict[str, Path]) -> None:
    from attribution.cli import app

    result = CliRunner().invoke(app, ["publish", str(runs_dir / "good")])
    assert result.exit_code == 0, result.output
    current = SnapshotStore.beside(runs_dir).current()
    assert current is not None
    assert current.run_id == "good"
    assert current.snapshot_id in " ".join(result.output.split())
    failed = CliRunner().invoke(app, ["publish", str(stored["empty"]),
                                      "--to", str(runs_dir / "elsewhere")])
    assert failed.exit_code == 2
    assert "Traceback" not in failed.output
    assert "has no conversion" in " ".join(failed.output.split())


# --- over HTTP ----------------------------------------------------------------------------------

@pytest.fixture
def url(runs_dir: Path, start_server: Callable[[Any], str]) -> str:
    return start_server(create_app(Settings(api_keys=(KEY,), data_dir=runs_dir.parent,
                                            runs_dir=runs_dir)))


def test_scoring_uses_the_published_snapshot_never_the_latest_run(
        url: str, runs_dir: Path, stored: dict[str, Path]) -> None:
    sent = {"models": ["linear", *DATA],
            "journeys": [journey("o1", "linkedin", "email", "webinar")]}
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        # a succeeded run is there, but nobody published it: 409 naming the fix
        unpublished = http.post("/v1/attribute", json=sent)
        assert unpublished.status_code == 409
        assert unpublished.json()["error"]["type"] == "no_snapshot"
        assert "POST /v1/models/snapshots" in unpublished.json()["error"]["message"]
        assert http.post("/v1/attribute", json=sent | {"models": ["linear"]}).status_code == 200

        published = http.post("/v1/models/snapshots", json={"run_id": "good"})
        assert published.status_code == 201, published.text
        snap = published.json()
        assert (snap["run_id"], snap["current"], snap["run"]["models"]) == (
            "good", True, ["linear"])
        assert str(runs_dir) not in published.text  # no server path in the answer

        scored = http.post("/v1/attribute", json=sent)
        assert scored.status_code == 200, scored.text
        out = scored.json()
        assert (out["snapshot"], out["run_id"], out["unseen_channels"]) == (
            snap["snapshot_id"], "good", [])
        expected = JourneyScorer(models=sent["models"]).fit(
            read_run_paths(stored["good"])).score(sent["journeys"]).touch_credit
        assert [r["credit"] for r in out["touch_credit"]] == expected.get_column(
            "credit").to_list()

        # an ad-hoc run (linear only, no conversion) lands in the runs folder later: the
        # answer does not move (it used to fall to 0.5 / 0.5)
        shutil.copytree(stored["empty"], runs_dir / "zz-later-ad-hoc")
        assert credit(http.post("/v1/attribute", json=sent)) == credit(scored)
        refused = http.post("/v1/models/snapshots", json={"run_id": "zz-later-ad-hoc"})
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "run_id"
        assert "has no conversion" in refused.json()["error"]["message"]

        listed = http.get("/v1/models/snapshots").json()
        assert listed["current"] == snap["snapshot_id"]
        assert [s["snapshot_id"] for s in listed["snapshots"]] == [snap["snapshot_id"]]


def test_a_request_may_name_a_snapshot(url: str, runs_dir: Path, tmp_path: Path) -> None:
    # a second snapshot, from a run fitted on part of the data, published by the CLI
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    half = touches.filter(pl.col("channel").is_in(["linkedin", "email", "webinar"]))
    attribution.attribute(half, SAMPLE / "stages.parquet", models=["linear"]).write(
        runs_dir, run_id="half")
    sent = {"models": ["markov"], "journeys": [journey("o1", "linkedin", "organic_search")]}
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        first = http.post("/v1/models/snapshots", json={"run_id": "good"}).json()
        from attribution.cli import app
        assert CliRunner().invoke(app, ["publish", str(runs_dir / "half")]).exit_code == 0
        listed = http.get("/v1/models/snapshots").json()
        assert [s["run_id"] for s in listed["snapshots"]] == ["half", "good"]
        second = listed["current"]
        assert second != first["snapshot_id"]

        current = http.post("/v1/attribute", json=sent).json()
        named = http.post("/v1/attribute", json=sent | {"snapshot": first["snapshot_id"]}).json()
        assert (current["snapshot"], current["run_id"]) == (second, "half")
        assert (named["snapshot"], named["run_id"]) == (first["snapshot_id"], "good")
        assert current["unseen_channels"] == ["organic_search"]
        assert named["unseen_channels"] == []
        # the half snapshot never saw organic_search: linkedin takes the journey's credit
        assert [r["credit"] for r in current["touch_credit"]] == [1.0, 0.0]
        assert 0 < named["touch_credit"][1]["credit"] < 1

        unknown = http.post("/v1/attribute", json=sent | {"snapshot": "nope"})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["field"] == "snapshot"
        assert http.post("/v1/models/snapshots", json={"run_id": "nope"}).status_code == 404
        # a named snapshot removed from the store is not served from a fit cached before:
        # 404, as a server that never fitted it answers (new-user report 6 #4)
        shutil.move(runs_dir / ".snapshots" / first["snapshot_id"], tmp_path / "moved")
        gone = http.post("/v1/attribute", json=sent | {"snapshot": first["snapshot_id"]})
        assert gone.status_code == 404, gone.text
        assert gone.json()["error"]["field"] == "snapshot"


def test_a_data_driven_scorer_is_reused_until_the_current_snapshot_changes(
        runs_dir: Path, stored: dict[str, Path], tmp_path: Path) -> None:
    """The cache answers a data-driven model set without resolving or reading a snapshot
    (so such requests take the fast path), for the current snapshot only while its pointer
    is unchanged: a publication by another process is seen by the very next request."""
    from service.core.scoring import ScorerCache
    store = SnapshotStore.beside(runs_dir)
    cache = ScorerCache(SnapshotStore.beside(runs_dir))
    models: list[Any] = ["linear", "markov"]
    assert cache.cached(models) is None  # never resolved
    first = store.publish(stored["good"])
    fitted = cache.get(models, None)
    assert fitted.snapshot is not None
    assert fitted.snapshot.snapshot_id == first.snapshot_id
    assert cache.cached(models) is fitted
    assert cache.cached(models, first.snapshot_id) is fitted
    assert cache.cached(models, "someone-else") is None
    # a second publication (another store object, as another process would)
    second = SnapshotStore(store.root).publish(
        shutil.copytree(stored["good"], tmp_path / "again"))
    assert cache.cached(models) is None  # the pointer moved: resolve again
    refitted = cache.get(models, None)
    assert refitted.snapshot is not None
    assert refitted.snapshot.snapshot_id == second.snapshot_id
    assert cache.cached(models) is refitted
    assert cache.cached(models, first.snapshot_id) is fitted  # named: snapshots never change
    assert cache.cached(["linear"]) is None  # a set not resolved yet
    rules = cache.get(["linear"], None)  # rule-based alone: the current snapshot's run too
    assert rules.snapshot is not None
    assert rules.snapshot.snapshot_id == second.snapshot_id
    assert cache.cached(["linear"]) is rules
    assert cache.cached(["linear"], first.snapshot_id) is None  # not resolved on that one
    third = SnapshotStore(store.root).publish(
        shutil.copytree(stored["good"], tmp_path / "third"))
    assert cache.cached(["linear"]) is None  # the pointer moved: resolve again
    assert cache.get(["linear"], None).snapshot.snapshot_id == third.snapshot_id  # type: ignore[union-attr]


def test_a_publication_is_seen_by_the_next_request_on_the_fast_path(
        url: str, runs_dir: Path) -> None:
    sent = {"models": ["markov"], "journeys": [journey("o1", "linkedin", "email")]}
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        first = http.post("/v1/models/snapshots", json={"run_id": "good"}).json()
        answers = [http.post("/v1/attribute", json=sent).json() for _ in range(3)]
        assert {a["snapshot"] for a in answers} == {first["snapshot_id"]}
        from attribution.cli import app
        assert CliRunner().invoke(app, ["publish", str(runs_dir / "good")]).exit_code == 0
        second = http.get("/v1/models/snapshots").json()["current"]
        assert second != first["snapshot_id"]
        assert http.post("/v1/attribute", json=sent).json()["snapshot"] == second
        named = http.post("/v1/attribute", json=sent | {"snapshot": first["snapshot_id"]})
        assert named.json()["snapshot"] == first["snapshot_id"]


def test_unseen_channels_and_their_credit_rule(url: str) -> None:
    """A channel the snapshot never saw: listed in unseen_channels; it earns no credit of
    its own under every data-driven model, which scores the journey as its seen touches
    alone (counterfactual too: it used to give the path's last touch everything, the unseen
    channel itself when last, newuser-report3 #2); a journey of unseen channels only is split
    evenly. Credit per conversion sums to 1 either way."""
    sent = {"models": DATA, "journeys": [journey("mixed", "linkedin", "tiktok", "email"),
                                         journey("unseen", "tiktok", "snap"),
                                         journey("spelled", " LinkedIn", "TikTok"),
                                         journey("last", "linkedin", "g2_capterra", "tiktok")]}
    alone = {"models": DATA, "journeys": [journey("mixed", "linkedin", "email"),
                                          journey("last", "linkedin", "g2_capterra")]}
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        assert http.post("/v1/models/snapshots", json={"run_id": "good"}).status_code == 201
        out = http.post("/v1/attribute", json=sent)
        assert out.status_code == 200, out.text
        # in the spelling of the rows: " LinkedIn" is the snapshot's linkedin, seen
        assert out.json()["unseen_channels"] == ["snap", "tiktok"]
        got = credit(out)
        seen_only = credit(http.post("/v1/attribute", json=alone))
    assert got["markov", "spelled", "t0"] == 1.0
    for model in DATA:
        for conv, n in (("mixed", 3), ("unseen", 2), ("last", 3)):
            assert sum(got[model, conv, f"t{k}"] for k in range(n)) == pytest.approx(1.0)
        assert got[model, "mixed", "t1"] == got[model, "last", "t2"] == 0.0
        assert got[model, "unseen", "t0"] == got[model, "unseen", "t1"] == 0.5
        # the seen touches get what they get without the unseen one
        for conv, seen in (("mixed", {"t0": "t0", "t2": "t1"}), ("last", {"t0": "t0",
                                                                          "t1": "t1"})):
            for tid, alone_tid in seen.items():
                assert got[model, conv, tid] == pytest.approx(
                    seen_only[model, conv, alone_tid], abs=1e-12)
    for model in ("markov", "shapley"):
        assert got[model, "mixed", "t0"] > 0
        assert got[model, "mixed", "t2"] > 0


def test_a_damaged_pointer_is_not_read_as_nothing_published(
        tmp_path: Path, stored: dict[str, Path]) -> None:
    store = SnapshotStore(tmp_path / "store")
    assert store.current() is None  # no store at all: nothing published
    first = store.publish(stored["good"])
    second = store.publish(shutil.copytree(stored["good"], tmp_path / "again"))
    pointer = store.root / "current.json"
    for content, says in ((b'{"snapshot_id": "nope"}', "names snapshot 'nope', which the "
                                                       "store does not hold"),
                          (b'{"snap', 'is not the {"snapshot_id": "..."}'),
                          (b"[]", 'is not the {"snapshot_id": "..."}'),
                          (b"\xff\xfe", "cannot be read")):
        pointer.write_bytes(content)
        with pytest.raises(attribution.InputError) as err:
            store.current()
        message = " ".join(str(err.value).split())
        assert "current.json" in message
        assert says in message
        assert f"{second.snapshot_id}, {first.snapshot_id}" in message  # newest first
        assert "attribution publish" in message
    pointer.unlink()  # new-user report 6 #3: a missing pointer beside snapshots is damaged
    with pytest.raises(attribution.InputError, match="current snapshot is missing; published "
                       f"snapshots \\(newest first\\): {second.snapshot_id}"):
        store.current()
    assert store.current_id() is None
    shutil.rmtree(store.root / first.snapshot_id)
    shutil.rmtree(store.root / second.snapshot_id)
    assert store.current() is None  # no snapshot, no pointer: nothing published


def test_publications_at_once_leave_the_newest_current(tmp_path: Path,
                                                       stored: dict[str, Path]) -> None:
    # new-user report 6 #12: six publications at once each wrote the pointer; the last
    # write won (not the newest publication) and each was told it was current
    from concurrent.futures import ThreadPoolExecutor

    store = SnapshotStore(tmp_path / "store")
    with ThreadPoolExecutor(6) as pool:
        published = list(pool.map(lambda _: store.publish(stored["good"]), range(6)))
    newest = max(published, key=lambda x: (x.published_at, x.snapshot_id))
    assert store.current_id() == newest.snapshot_id
    # a publication that finishes after a newer one does not move the pointer back
    older = published[0] if published[0] is not newest else published[1]
    assert store._point_at(older) is False
    assert store.current_id() == newest.snapshot_id
    from attribution.cli import app  # not an attribute of the package until imported

    result = CliRunner().invoke(app, ["publish", str(stored["good"]), "--to", str(store.root)])
    assert result.exit_code == 0, result.output
    assert "it is now the current snapshot" in " ".join(result.output.split())


def test_scoring_on_a_damaged_pointer_says_so_over_http(url: str, runs_dir: Path) -> None:
    """newuser-report3 #3: a pointer naming a missing snapshot, or truncated, answered 409
    no_snapshot "none is published; publish a finished run": now 503 for the operator,
    naming the pointer and the snapshots there (rule-based requests too: which run's options
    apply cannot be known); named-snapshot requests are unaffected, the listing warns, and a
    publication repairs it."""
    sent = {"models": ["markov"], "journeys": [journey("o1", "linkedin", "email")]}
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        snap = http.post("/v1/models/snapshots", json={"run_id": "good"}).json()
        assert http.post("/v1/attribute", json=sent).status_code == 200  # cached, fast path
        pointer = runs_dir / ".snapshots" / "current.json"
        for content in ('{"snapshot_id": "nope"}', '{"snap'):
            pointer.write_text(content)
            answer = http.post("/v1/attribute", json=sent)
            assert answer.status_code == 503, answer.text
            err = answer.json()["error"]
            assert err["type"] == "snapshot_store"
            assert ".snapshots/current.json" in err["message"]
            assert snap["snapshot_id"] in err["message"]
            assert "none is published" not in err["message"]
            assert str(runs_dir) not in answer.text
            if "nope" in content:
                assert "names snapshot 'nope'" in err["message"]
            # rule-based too (newuser-report18 S1): which run's options apply is unknown
            rules = http.post("/v1/attribute", json=sent | {"models": ["linear"]})
            assert rules.status_code == 503, rules.text
            assert rules.json()["error"] == err
            named = http.post("/v1/attribute", json=sent | {"snapshot": snap["snapshot_id"]})
            assert named.status_code == 200
            listed = http.get("/v1/models/snapshots").json()
            assert listed["current"] is None
            assert [s["snapshot_id"] for s in listed["snapshots"]] == [snap["snapshot_id"]]
            assert listed["warnings"] == [err["message"]]
        again = http.post("/v1/models/snapshots", json={"run_id": "good"}).json()
        assert http.post("/v1/attribute", json=sent).json()["snapshot"] == again["snapshot_id"]
        assert http.get("/v1/models/snapshots").json()["warnings"] == []


def test_a_run_not_succeeded_cannot_be_published(url: str, runs_dir: Path) -> None:
    status = {"run_id": "busy", "status": "running", "owner": {"host": "elsewhere", "pid": 1}}
    (runs_dir / ".status").mkdir(exist_ok=True)
    (runs_dir / ".status" / "busy.json").write_text(json.dumps(status))
    response = httpx.post(f"{url}/v1/models/snapshots", headers=AUTH, timeout=10,
                          json={"run_id": "busy"})
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "run_id"


def test_a_succeeded_run_whose_directory_is_gone_says_so(url: str, runs_dir: Path) -> None:
    """newuser-report3 #24 / #24b: a retention job removed a succeeded run's directory (its
    status file stays): publishing it said "is succeeded; a run can be published once it
    has succeeded", and its channel credit and report the same. Now 410 gone, saying the
    directory was removed, and the status read says it too."""
    shutil.move(runs_dir / "good", runs_dir.parent / "moved-away")
    status = {"run_id": "good", "status": "succeeded", "created_at": "2026-12-06T00:00:00Z",
              "finished_at": "2026-12-06T00:01:00Z"}
    (runs_dir / ".status").mkdir(exist_ok=True)
    (runs_dir / ".status" / "good.json").write_text(json.dumps(status))
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        for answer in (http.post("/v1/models/snapshots", json={"run_id": "good"}),
                       http.get("/v1/runs/good/channel-credit"),
                       http.get("/v1/runs/good/report")):
            assert answer.status_code == 410, answer.text
            err = answer.json()["error"]
            assert (err["type"], err["field"]) == ("gone", "run_id")
            assert "$ATTRIBUTION_RUNS_DIR/good is gone" in err["message"]
            assert "once it has succeeded" not in err["message"]
            assert str(runs_dir) not in answer.text
        read = http.get("/v1/runs/good").json()
        assert read["status"] == "succeeded"
        assert read["error"]["type"] == "gone"
        assert read["manifest"] is None
    shutil.move(runs_dir.parent / "moved-away", runs_dir / "good")  # back: served again
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        assert http.get("/v1/runs/good/channel-credit").status_code == 200
        assert http.get("/v1/runs/good").json()["error"] is None


def test_get_v1_runs_lists_the_runs_to_publish(url: str, runs_dir: Path) -> None:
    """newuser-report3 #16: there was no GET /v1/runs (405): a CRM admin could not find the
    succeeded run to publish over HTTP."""
    (runs_dir / ".status").mkdir(exist_ok=True)
    failed = {"run_id": "20261206T100000Z-aaaa", "status": "failed",
              "error": {"type": "input", "message": "bad"}, "request": {"touches": "t"}}
    (runs_dir / ".status" / "20261206T100000Z-aaaa.json").write_text(json.dumps(failed))
    shutil.copytree(runs_dir / "good", runs_dir / "20261206T110000Z-bbbb")
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        listed = http.get("/v1/runs")
        assert listed.status_code == 200, listed.text
        runs = listed.json()["runs"]
        assert [(r["run_id"], r["status"]) for r in runs] == [
            ("good", "succeeded"), ("20261206T110000Z-bbbb", "succeeded"),
            ("20261206T100000Z-aaaa", "failed")]
        assert all(r["manifest"] is None and r["request"] is None for r in runs)
        assert runs[2]["error"]["message"] == "bad"
        succeeded = http.get("/v1/runs", params={"status": "succeeded", "limit": 1}).json()
        assert [r["run_id"] for r in succeeded["runs"]] == ["good"]
        assert http.get("/v1/runs", params={"limit": 0}).status_code == 422
        assert http.get("/v1/runs", params={"status": "done"}).status_code == 422
        assert http.get("/v1/runs", params={"satus": "succeeded"}).status_code == 422  # typo
        assert http.post("/v1/models/snapshots",
                         json={"run_id": runs[1]["run_id"]}).status_code == 201
    assert httpx.get(f"{url}/v1/runs", timeout=10).status_code == 401


def test_a_publication_older_than_the_current_one_answers_current_false(
        url: str, runs_dir: Path) -> None:
    # the 201's "current" is read from the store after the pointer moved (report 6 #12)
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as http:
        first = http.post("/v1/models/snapshots", json={"run_id": "good"}).json()
        assert first["current"] is True
        info = runs_dir / ".snapshots" / first["snapshot_id"] / "snapshot.json"
        data = json.loads(info.read_text())
        info.write_text(json.dumps(data | {"published_at": "2999-01-01T00:00:00+00:00"}))
        second = http.post("/v1/models/snapshots", json={"run_id": "good"})
        assert second.status_code == 201, second.text
        assert second.json()["current"] is False
        assert http.get("/v1/models/snapshots").json()["current"] == first["snapshot_id"]
