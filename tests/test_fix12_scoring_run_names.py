"""New-user report 12, serious #1-#3: scoring reads a journey as the published run read its
data. The run's channel aliases apply to the channels sent (``LinkedIn`` is the run's
``paid_social``), the run's missing-value rule to channels and stages (``N/A`` is no
channel), and ``conversion.stage`` is mapped through the run's stage names and must then be
a stage scoring knows (``banana`` and an unmapped ``Closed Won`` are 422s, never "not won").
The library's scorer and the HTTP service over a real uvicorn on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import attribution
from attribution import InputError, JourneyScorer, SnapshotStore
from service import Settings, create_app

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
KEY = "fix12-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
ALIASES = {"paid_social": ["linkedin"]}
STAGE_NAMES = {"closed_won": ["Closed Won"]}
ENGINES = ("small", "fast", "reference")
PLACEHOLDERS = ("N/A", "-", "null", "None", "#N/A", " n/a ")


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> attribution.ModelSnapshot:
    """A run over the sample data that renamed linkedin to paid_social and reads the
    stage 'Closed Won' as closed_won, published."""
    runs = tmp_path_factory.mktemp("fix12") / "runs"
    result = attribution.attribute(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
                                   models=["linear", "markov"], channel_aliases=ALIASES,
                                   stage_names=STAGE_NAMES)
    run = result.write(runs, run_id="aliased")
    assert result.manifest["reconciliation"]["channel_values_renamed"] == {
        "linkedin": "paid_social"}
    return SnapshotStore.beside(runs).publish(run)


def journey(*channels: str, stage: str | None = None, cid: str = "opp-1") -> dict[str, Any]:
    conversion: dict[str, Any] = {"id": cid, "timestamp": "2025-06-01T00:00:00Z", "value": 100}
    if stage is not None:
        conversion["stage"] = stage
    return {"conversion": conversion,
            "milestones": {"lead": "2025-05-02T12:00:00Z", "opportunity": "2025-05-03T12:00:00Z"},
            "touches": [{"touch_id": f"t{k}", "timestamp": f"2025-05-{k + 1:02d}T00:00:00Z",
                         "channel": channel} for k, channel in enumerate(channels)]}


def rows(frame: Any) -> list[tuple[str, str, str, float]]:
    return sorted(frame.select("model", "touch_id", "channel", "credit").rows())


def same(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> bool:
    """The same rows, credit to 1e-12."""
    return ([r[:-1] for r in got] == [r[:-1] for r in expected]
            and [r[-1] for r in got] == pytest.approx([r[-1] for r in expected], abs=1e-12))


# --- the library --------------------------------------------------------------------------------

def test_the_snapshot_keeps_the_runs_renames(snapshot: attribution.ModelSnapshot) -> None:
    options = snapshot.scoring_options()  # with the run's other options (fix13)
    assert (options["channel_aliases"], options["stage_names"]) == (ALIASES, STAGE_NAMES)
    assert "paid_social" in snapshot.channels
    assert "linkedin" not in snapshot.channels


@pytest.mark.parametrize("engine", ENGINES)
def test_a_channel_the_run_renamed_is_scored_as_the_run_named_it(
    snapshot: attribution.ModelSnapshot, engine: str,
) -> None:
    scorer = JourneyScorer(models=["linear", "markov"], **snapshot.scoring_options()).fit(
        snapshot.read_paths())
    sent = scorer.score([journey("LinkedIn ", "webinar", "email")], engine=engine)  # type: ignore[arg-type]
    ours = scorer.score([journey("paid_social", "webinar", "email")], engine=engine)  # type: ignore[arg-type]
    assert sent.channels == ["email", "paid_social", "webinar"]
    assert same(rows(sent.touch_credit), rows(ours.touch_credit))
    markov = dict(sent.touch_credit.filter(model="markov").select("channel", "credit").rows())
    assert markov["paid_social"] > 0.3  # the run's weight, not an unseen channel's 0
    # without the run's aliases the same name is a channel the run never saw
    plain = JourneyScorer(models=["markov"]).fit(snapshot.read_paths())
    alone = plain.score([journey("LinkedIn", "webinar", "email")], engine=engine)  # type: ignore[arg-type]
    assert dict(alone.touch_credit.select("channel", "credit").rows())["linkedin"] == 0.0


@pytest.mark.parametrize("engine", ["auto", "fast", "reference"])
@pytest.mark.parametrize("token", PLACEHOLDERS)
def test_a_placeholder_channel_is_a_missing_channel(engine: str, token: str) -> None:
    with pytest.raises(InputError) as caught:
        attribution.score_journeys([journey("linkedin", token, "email")], models=["linear"],
                                   engine=engine)  # type: ignore[arg-type]
    assert caught.value.column == "journeys[0].touches[1].channel"
    assert "missing value" in str(caught.value)
    assert repr(token) in str(caught.value)


@pytest.mark.parametrize("engine", ["auto", "fast", "reference"])
@pytest.mark.parametrize(("stage", "hint"), [("banana", "available:"),
                                             ("Closed Won", "did you mean 'closed_won'"),
                                             ("N/A", "missing value")])
def test_an_unknown_stage_is_refused_naming_the_field(engine: str, stage: str, hint: str
                                                      ) -> None:
    with pytest.raises(InputError) as caught:
        attribution.score_journeys([journey("linkedin", "email", stage=stage)],
                                   models=["full_path"], engine=engine)  # type: ignore[arg-type]
    assert caught.value.column == "journeys[0].conversion.stage"
    assert hint in str(caught.value)


@pytest.mark.parametrize("engine", ["auto", "fast", "reference"])
def test_a_stage_is_mapped_as_the_run_maps_its_stage_values(engine: str) -> None:
    won = attribution.score_journeys([journey("a", "b", "c", "d", "e")], models=["full_path"],
                                     engine=engine).touch_credit  # type: ignore[arg-type]
    assert won.get_column("credit").to_list()[-1] == pytest.approx(0.225)
    for stage, names in (("Closed Won", STAGE_NAMES), (" Closed_Won", None),
                         ("closed_won", STAGE_NAMES)):
        got = attribution.score_journeys(
            [journey("a", "b", "c", "d", "e", stage=stage)], models=["full_path"],
            engine=engine, stage_names=names).touch_credit  # type: ignore[arg-type]
        assert got.get_column("credit").to_list() == pytest.approx(
            won.get_column("credit").to_list()), stage
    lost = attribution.score_journeys([journey("a", "b", "c", "d", "e", stage="closed_lost")],
                                      models=["full_path"], engine=engine)  # type: ignore[arg-type]
    # closed_lost: no closed-won touch, the last touch shares the "others" 0.1 (0.05 / 0.775)
    assert lost.touch_credit.get_column("credit").to_list()[-1] == pytest.approx(0.05 / 0.775)


# --- the service --------------------------------------------------------------------------------

@pytest.fixture
def url(snapshot: attribution.ModelSnapshot, tmp_path: Path,
        start_server: Callable[[Any], str]) -> str:
    runs = tmp_path / "runs"
    shutil.copytree(snapshot.directory.parent.parent, runs)
    return start_server(create_app(Settings(api_keys=(KEY,), data_dir=tmp_path,
                                            runs_dir=runs)))


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/v1/attribute", json=body, headers=AUTH, timeout=30)


def test_the_service_scores_with_the_snapshots_aliases(
    url: str, snapshot: attribution.ModelSnapshot,
) -> None:
    for pin in ({}, {"snapshot": snapshot.snapshot_id}):
        answers = []
        for channels in (("LinkedIn", "webinar", "email"), ("paid_social", "webinar", "email")):
            for _ in range(2):  # the route, then the fast path (a model set already fitted)
                response = post(url, {"models": ["linear", "markov"], **pin,
                                      "journeys": [journey(*channels)]})
                assert response.status_code == 200, response.text
                body = response.json()
                assert body["unseen_channels"] == []
                assert body["snapshot"] == snapshot.snapshot_id
                answers.append(sorted((r["model"], r["touch_id"], r["channel"], r["credit"])
                                      for r in body["touch_credit"]))
        assert all(same(a, answers[0]) for a in answers)
        assert {r[2] for r in answers[0]} == {"paid_social", "webinar", "email"}
    # rule-based models pinned to the snapshot take its names too
    response = post(url, {"models": ["linear"], "snapshot": snapshot.snapshot_id,
                          "journeys": [journey("LinkedIn", "email")]})
    assert response.status_code == 200, response.text
    assert {r["channel"] for r in response.json()["channel_credit"]} == {"paid_social", "email"}
    assert response.json()["snapshot"] == snapshot.snapshot_id


def test_the_service_refuses_placeholders_and_unknown_stages(
    url: str, snapshot: attribution.ModelSnapshot,
) -> None:
    for models in (["linear"], ["linear", "markov"]):
        for token in ("N/A", "-", "#N/A"):
            response = post(url, {"models": models,
                                  "journeys": [journey("linkedin", token, "email")]})
            assert response.status_code == 422, response.text
            assert response.json()["error"]["field"] == "journeys[0].touches[1].channel"
        # no snapshot named: the current one's stage_names, rule-based models too
        # (newuser-report18 S1: 'Closed Won' was a 422 under linear, a 200 with markov)
        banana = post(url, {"models": models, "journeys": [journey("linkedin",
                                                                   stage="banana")]})
        assert banana.status_code == 422, banana.text
        error = banana.json()["error"]
        assert error["field"] == "journeys[0].conversion.stage"
        assert "closed_won" in error["message"]
        won = post(url, {"models": models, "journeys": [journey("linkedin",
                                                                stage="Closed Won")]})
        assert won.status_code == 200, won.text
        assert won.json()["snapshot"] == snapshot.snapshot_id
    # the snapshot's run maps 'Closed Won': as closed_won, never as "not won"
    full = {"models": ["full_path"], "snapshot": snapshot.snapshot_id}
    won = post(url, {**full, "journeys": [journey("a", "b", "c", "d", "e")]})
    named = post(url, {**full, "journeys": [journey("a", "b", "c", "d", "e",
                                                    stage="Closed Won")]})
    assert won.status_code == named.status_code == 200, named.text
    assert [r["credit"] for r in named.json()["touch_credit"]] == pytest.approx(
        [r["credit"] for r in won.json()["touch_credit"]])
    banana = post(url, {**full, "journeys": [journey("a", "b", stage="banana")]})
    assert banana.status_code == 422
    assert banana.json()["error"]["field"] == "journeys[0].conversion.stage"


def test_a_rule_based_request_naming_an_unknown_snapshot_is_404(url: str) -> None:
    response = post(url, {"models": ["linear"], "snapshot": "nonexistent-id",
                          "journeys": [journey("linkedin", "email")]})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["field"] == "snapshot"


def test_an_empty_runs_channel_credit_names_its_models(
    tmp_path: Path, start_server: Callable[[Any], str],
) -> None:
    # minor #7: an allow_empty run (no conversion) answered 404 "its models: none" for a
    # model its manifest lists; it has the model and no rows
    runs = tmp_path / "runs"
    attribution.attribute(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
                          models=["linear", "markov"], conversion_stage="Closed Won",
                          allow_empty=True).write(runs, run_id="empty")
    url = start_server(create_app(Settings(api_keys=(KEY,), data_dir=tmp_path, runs_dir=runs)))
    got = httpx.get(f"{url}/v1/runs/empty/channel-credit", params={"model": "linear"},
                    headers=AUTH, timeout=30)
    assert got.status_code == 200, got.text
    assert got.json()["rows"] == []
    assert got.json()["model"] == "linear"
    other = httpx.get(f"{url}/v1/runs/empty/channel-credit", params={"model": "shapley"},
                      headers=AUTH, timeout=30)
    assert other.status_code == 404
    assert "its models: linear, markov" in other.json()["error"]["message"]
    # minor #5: the run's notes name the request's fields, not the command line's flags
    notes = httpx.get(f"{url}/v1/runs/empty", headers=AUTH,
                      timeout=30).json()["manifest"]["notes"]
    empty = next(n for n in notes if n.startswith("no conversion"))
    assert "'conversion_stage' closed_won" in empty
    assert "--" not in " ".join(notes)


def test_library_messages_name_the_run_requests_fields() -> None:
    from service.core.errors import for_http

    said = for_http("timestamps must match a strftime pattern given with --timestamp-format; "
                    "try --timestamp-format '%d/%m/%Y'; the plan check needs --spend")
    assert said == ("timestamps must match a strftime pattern given with 'timestamp_formats'; "
                    "try 'timestamp_formats' '%d/%m/%Y'; the plan check needs 'spend'")


def test_a_journeys_error_is_worded_by_its_field(url: str) -> None:
    # minor #4: messages for JSON clients were worded as files ("table 'journeys', column
    # 'journeys[0].touches[1].touch_id': ...")
    body = journey("linkedin", "email")
    body["touches"][1]["touch_id"] = "t0"
    response = post(url, {"models": ["linear"], "journeys": [body]})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "journeys[0].touches[1].touch_id"
    assert error["message"] == ("journeys[0].touches[1].touch_id: touch_id 't0' is sent twice "
                                "in this journey")


def test_runs_of_one_second_are_listed_newest_first(
    tmp_path: Path, start_server: Callable[[Any], str],
) -> None:
    # minor #9: run ids tell the second, then a random suffix; six runs of one second were
    # listed by the suffix, so '?limit=1' could name an older run as the latest
    runs = tmp_path / "runs"
    older = attribution.attribute(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
                                  models=["linear"])
    newer = attribution.attribute(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
                                  models=["linear"])
    assert older.manifest["created_at"] < newer.manifest["created_at"]
    older.write(runs, run_id="20261207T105229Z-ffffffff")
    newer.write(runs, run_id="20261207T105229Z-00000000")
    attribution.attribute(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
                          models=["linear"]).write(runs, run_id="20261207T105228Z-99999999")
    url = start_server(create_app(Settings(api_keys=(KEY,), data_dir=tmp_path, runs_dir=runs)))
    listed = httpx.get(f"{url}/v1/runs", headers=AUTH, timeout=30).json()["runs"]
    assert [r["run_id"] for r in listed] == ["20261207T105229Z-00000000",
                                            "20261207T105229Z-ffffffff",
                                            "20261207T105228Z-99999999"]
    latest = httpx.get(f"{url}/v1/runs", params={"status": "succeeded", "limit": 1},
                       headers=AUTH, timeout=30).json()["runs"]
    assert [r["run_id"] for r in latest] == ["20261207T105229Z-00000000"]


def test_a_validation_error_names_every_field_at_fault(url: str) -> None:
    # minor #3: only the first error was shown, "(and 2 more errors)", the others unnamed
    good = journey("linkedin", "email")
    bad = journey("linkedin", "email", cid="opp-2")
    bad["conversion"]["timestamp"] = "bad"
    bad["touches"][0]["timestamp"] = "also bad"
    bad["touches"][1]["channel"] = ""
    response = post(url, {"models": ["linear"], "journeys": [good, bad]})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "journeys[1].conversion.timestamp"
    assert error["message"].startswith("journeys[1].conversion.timestamp: ")
    assert error["message"].endswith(
        "(and 2 more errors, at journeys[1].touches[0].timestamp, "
        "journeys[1].touches[1].channel)")
