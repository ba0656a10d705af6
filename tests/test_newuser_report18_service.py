"""New-user report 18 (a Salesforce admin wiring HTTP scoring), its minor defects in the
service: what a CRM's null fields get (M4, M5), which run is published (M7), a config's
``role_multipliers = "default"`` (M9) and the per-journey touch limit (M11)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

import attribution
from attribution import SnapshotStore
from attribution.inputs._config import load_config
from service import Settings, create_app

KEY = "report18-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(**({"api_keys": (KEY,), "data_dir": tmp_path, "runs_dir": tmp_path / "runs"}
                       | overrides))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(tmp_path))) as c:
        yield c


def deal(touches: int = 3, **conversion: Any) -> dict[str, Any]:
    return {"conversion": {"id": "0065g00000Opp01AAA", "timestamp": "2025-06-30",
                           "value": 24000} | conversion,
            "touches": [{"touch_id": f"00v{k}", "timestamp": f"2025-06-{k + 1:02d}T09:00:00Z",
                         "channel": ["Email", "Webinar", "Trade Show"][k % 3]}
                        for k in range(touches)]}


def post(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/v1/attribute", headers=AUTH, content=json.dumps(body).encode())


# --- M4: a null timestamp is said to be missing, not an epoch number -------------------------

@pytest.mark.parametrize("where", ["touch", "conversion"])
def test_a_null_timestamp_is_missing_and_required(client: TestClient, where: str) -> None:
    sent = deal()
    if where == "touch":  # a CampaignMember without FirstRespondedDate, as Apex writes it
        sent["touches"][1]["timestamp"] = None
        field = "journeys[0].touches[1].timestamp"
    else:
        sent["conversion"]["timestamp"] = None
        field = "journeys[0].conversion.timestamp"
    response = post(client, {"models": ["linear"], "journeys": [sent]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field
    assert "is missing (null) and required" in error["message"]
    assert "epoch" not in error["message"]


def test_a_null_milestone_is_still_no_milestone(client: TestClient) -> None:
    sent = deal() | {"milestones": {"lead": None, "opportunity": None}}
    assert post(client, {"models": ["w_shaped"], "journeys": [sent]}).status_code == 200


# --- M5: "stage": null is the stage omitted -------------------------------------------------

@pytest.mark.parametrize("channel", ["Webinar", "Wébinar"])  # the plain reader, the schema's
def test_a_null_stage_is_the_stage_omitted(client: TestClient, channel: str) -> None:
    def answer(**conversion: Any) -> Any:
        sent = deal(**conversion)
        sent["touches"][1]["channel"] = channel
        response = post(client, {"models": ["linear", "w_shaped", "full_path"],
                                 "journeys": [sent]})
        assert response.status_code == 200, response.text
        return response.json()["touch_credit"]

    omitted = answer()
    assert answer(stage=None) == omitted
    assert answer(stage="closed_won") == omitted
    # and the stage still counts when sent: a lost deal is credited otherwise (full path)
    assert answer(stage="closed_lost") != omitted


# --- M7: GET /v1/runs says which run is published ---------------------------------------------

def _run(runs_dir: Path, run_id: str) -> Path:
    at = datetime(2025, 3, 1, tzinfo=UTC)
    touches = pl.DataFrame({
        "contact_id": ["c1", "c1", "c2", "c2", "c3"],
        "channel": ["linkedin", "email", "webinar", "email", "linkedin"],
        "timestamp": [at + timedelta(days=d) for d in (1, 2, 1, 3, 2)]})
    stages = pl.DataFrame({"contact_id": ["c1", "c2"], "stage": ["closed_won"] * 2,
                           "timestamp": [at + timedelta(days=5)] * 2, "value": [100.0, 200.0]})
    result = attribution.attribute(touches, stages, models=["linear", "markov"])
    return result.write(runs_dir, run_id=run_id, report=False)


def test_the_run_list_says_which_run_is_published(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    first, second, never = "20250301T000001Z-aaaa", "20250301T000002Z-bbbb", \
        "20250301T000003Z-cccc"
    store = SnapshotStore.beside(runs_dir)
    a1 = store.publish(_run(runs_dir, first)).snapshot_id
    b = store.publish(_run(runs_dir, second)).snapshot_id
    _run(runs_dir, never)
    a2 = store.publish(runs_dir / first).snapshot_id  # published again: current
    with TestClient(create_app(settings(tmp_path))) as client:
        listed = client.get("/v1/runs", headers=AUTH).json()["runs"]
        by_id = {r["run_id"]: (r["snapshots"], r["current"]) for r in listed}
        assert by_id == {first: ([a2, a1], True), second: ([b], False), never: ([], False)}
        one = client.get(f"/v1/runs/{second}", headers=AUTH).json()
        assert (one["snapshots"], one["current"], one["status"]) == ([b], False, "succeeded")
        # the snapshots' own listing agrees
        snaps = client.get("/v1/models/snapshots", headers=AUTH).json()
        assert {s["snapshot_id"]: s["run_id"] for s in snaps["snapshots"] if s["current"]} \
            == {a2: first}
        # publishing over HTTP moves it
        assert client.post("/v1/models/snapshots", headers=AUTH,
                           json={"run_id": second}).status_code == 201
        listed = client.get("/v1/runs?status=succeeded", headers=AUTH).json()["runs"]
        assert [r["run_id"] for r in listed if r["current"]] == [second]


# --- M9: role_multipliers = "default" in a config, as on the command line -------------------

def _config(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(f'[run]\nlevel = "account"\nrole_multipliers = {value}\n')
    return path


def test_a_config_takes_role_multipliers_as_the_command_line_does(tmp_path: Path) -> None:
    default = load_config(_config(tmp_path, '"default"')).options().role_multipliers
    assert default == attribution.DEFAULT_ROLE_MULTIPLIERS
    text = load_config(_config(tmp_path, '"decision_maker=3|user=0.25"')).options()
    assert text.role_multipliers == {"decision_maker": 3.0, "user": 0.25}
    table = load_config(_config(tmp_path, "{decision_maker = 3.0, user = 0.25}")).options()
    assert table.role_multipliers == text.role_multipliers
    with pytest.raises(attribution.ConfigError) as bad:
        load_config(_config(tmp_path, '"lots"'))
    message = str(bad.value)
    assert "[run] role_multipliers" in message
    assert "'default'" in message
    assert "role_multipliers = {decision_maker = 2.0, champion = 1.5, user = 0.5}" in message


# --- M11: a journey as long as a run credits can be scored --------------------------------------

def test_the_touch_limit_is_the_runs_touch_cap(tmp_path: Path) -> None:
    cap = attribution.RunOptions().max_touches_per_journey
    assert cap is not None
    assert Settings().max_touches_per_journey == cap

    def journey(n: int) -> dict[str, Any]:
        return {"conversion": {"id": "o", "timestamp": "2025-06-30"},
                "touches": [{"timestamp": (start + timedelta(minutes=k)).isoformat(),
                             "channel": "email"} for k in range(n)]}

    start = datetime(2025, 6, 1, tzinfo=UTC)

    with TestClient(create_app(settings(tmp_path))) as client:
        whole = json.dumps({"models": ["linear"], "journeys": [journey(cap)]}).encode()
        assert len(whole) < Settings().max_body_bytes
        response = client.post("/v1/attribute", headers=AUTH, content=whole)
        assert response.status_code == 200
        rows = response.json()["touch_credit"]
        assert len(rows) == cap
        assert abs(sum(r["credit"] for r in rows) - 1) < 1e-9
        over = post(client, {"models": ["linear"], "journeys": [journey(cap + 1)]})
        assert over.status_code == 422
        error = over.json()["error"]
        assert error["field"] == "journeys[0].touches"
        assert f"the limit is {cap:,} per journey" in error["message"]
        assert f"max_touches_per_journey touches ({cap:,} by default)" in error["message"]


# --- M10: a touch after a date-alone close date: the instants and how the date was read ------

def test_a_touch_after_a_date_alone_close_shows_both_instants(client: TestClient) -> None:
    sent = {"conversion": {"id": "0065g00000Opp01AAA", "timestamp": "2025-06-30",
                           "value": 24000},
            "touches": [{"timestamp": "2025-06-30T09:00:00.000-0700", "channel": "Email"},
                        {"timestamp": "2025-06-30T18:00:00.000-0700", "channel": "Webinar"}]}
    response = post(client, {"models": ["linear"], "journeys": [sent]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "journeys[0].touches[1].timestamp"
    assert error["message"] == (
        "journeys[0].touches[1].timestamp: touch is after its conversion "
        "(2025-07-01T01:00:00+00:00, the conversion 2025-06-30T23:59:59.999999+00:00; a "
        "conversion sent as a date alone is the end of that day in UTC: send the close date "
        "with the org's end of day and its offset, e.g. 2025-06-30T23:59:59-07:00); send "
        "only the touches to credit, which happen at or before the conversion")
    # as the checklist says: the org's end of day with its offset takes the touch
    sent["conversion"]["timestamp"] = "2025-06-30T23:59:59-07:00"
    assert post(client, {"models": ["linear"], "journeys": [sent]}).status_code == 200


def test_a_touch_after_a_timed_conversion_shows_both_instants_in_every_lane(
        tmp_path: Path) -> None:
    late = {"conversion": {"id": "o", "timestamp": "2025-06-30T12:00:00+02:00"},
            "touches": [{"timestamp": "2025-06-30T10:30:00Z", "channel": "email"}]}
    message = ("journeys[1].touches[0].timestamp: touch is after its conversion "
               "(2025-06-30T10:30:00+00:00, the conversion 2025-06-30T10:00:00+00:00); send "
               "only the touches to credit, which happen at or before the conversion")
    fine = deal(touches=3)
    padded = deal()  # over 64 KiB: parsed and scored in a scoring process
    start = datetime(2025, 5, 1, tzinfo=UTC)
    padded["touches"] = [{"timestamp": (start + timedelta(hours=k)).isoformat(),
                          "channel": "email"} for k in range(1200)]
    with TestClient(create_app(settings(tmp_path))) as client:
        for first in (fine, padded):
            sent = json.dumps({"models": ["linear"], "journeys": [first, late]}).encode()
            assert (len(sent) > 64 * 1024) == (first is padded)
            response = client.post("/v1/attribute", headers=AUTH, content=sent)
            assert response.status_code == 422
            assert response.json()["error"] == {
                "type": "input", "message": message,
                "field": "journeys[1].touches[0].timestamp"}


# --- M1: each row carries the touch's campaign; a campaign's credit is a sum of rows -------

def _campaign_deal(conversion: str, n: int) -> dict[str, Any]:
    start = datetime(2025, 5, 1, tzinfo=UTC)
    touches = [{"touch_id": f"00v{conversion}{k}", "campaign": f"701{k % 3}",
                "timestamp": (start + timedelta(hours=k)).isoformat(), "channel": "email"}
               for k in range(n)]
    touches[0].pop("touch_id")  # named touches[0] in the rows
    touches[1].pop("campaign")  # null in its rows
    touches[2]["campaign"] = None
    return {"conversion": {"id": conversion, "timestamp": "2025-06-30", "value": 900},
            "touches": touches}


def test_each_row_carries_the_touchs_campaign_in_every_lane(client: TestClient) -> None:
    def expected(journey: dict[str, Any]) -> dict[str, str | None]:
        return {t.get("touch_id", f"touches[{k}]"): t.get("campaign")
                for k, t in enumerate(journey["touches"])}

    small = [_campaign_deal("a", 5), _campaign_deal("b", 4)]
    large = [_campaign_deal("c", 1200)]  # over 64 KiB: a scoring process answers it
    for journeys in (small, small, large):  # the route, then the fast path; the process
        sent = json.dumps({"models": ["linear", "w_shaped"], "journeys": journeys}).encode()
        assert (len(sent) > 64 * 1024) == (journeys is large)
        response = client.post("/v1/attribute", headers=AUTH, content=sent)
        assert response.status_code == 200
        rows = response.json()["touch_credit"]
        assert list(rows[0])[:3] == ["conversion_id", "touch_id", "campaign"]
        for journey in journeys:
            mine = [r for r in rows if r["conversion_id"] == journey["conversion"]["id"]]
            assert len(mine) == 2 * len(journey["touches"])
            assert {r["touch_id"]: r["campaign"] for r in mine} == expected(journey)
    # a request without any campaign: every row's campaign is null, the rest unchanged
    plain = post(client, {"models": ["linear"], "journeys": [deal()]}).json()["touch_credit"]
    assert [r.pop("campaign") for r in plain] == [None] * 3
    assert [r["credit"] for r in plain] == pytest.approx([1 / 3] * 3)


def test_a_campaigns_credit_is_the_sum_of_its_rows_as_the_run_gives_it(
        client: TestClient) -> None:
    """A per-campaign influence record needs only a sum: the rows' credit summed by
    conversion, model and campaign is the batch run's campaign influence share, and their
    value its revenue share (a touch without a campaign: the run's '(none)')."""
    at = datetime(2025, 3, 1, tzinfo=UTC)
    touches = pl.DataFrame({
        "touch_id": ["t1", "t2", "t3", "t4", "t5", "t6"],
        "contact_id": ["c1", "c1", "c1", "c2", "c2", "c2"],
        "channel": ["linkedin", "email", "webinar", "email", "email", "events"],
        "campaign": ["701A", "701B", None, "701B", "701C", "701A"],
        "timestamp": [at + timedelta(days=d) for d in (1, 2, 3, 1, 4, 6)]})
    stages = pl.DataFrame({"contact_id": ["c1", "c2"], "stage": ["closed_won"] * 2,
                           "timestamp": [at + timedelta(days=10)] * 2, "value": [100.0, 200.0]})
    models = ["linear", "w_shaped", "time_decay"]
    run = attribution.attribute(touches, stages, models=models)
    influence = {(r["opportunity_id"], r["model"], r["campaign_id"]):
                 (r["credit_share"], r["revenue_share"])
                 for r in run.campaign_influence.iter_rows(named=True)}
    journeys = [{"conversion": {"id": c["conversion_id"], "timestamp": c["timestamp"].isoformat(),
                                "value": c["value"]},
                 "touches": [{"touch_id": t["touch_id"], "timestamp": t["timestamp"].isoformat(),
                              "channel": t["channel"], "campaign": t["campaign"]}
                             for t in touches.filter(pl.col("contact_id") == c["contact_id"])
                             .iter_rows(named=True)]}
                for c in run.conversions.iter_rows(named=True)]
    response = post(client, {"models": models, "journeys": journeys})
    assert response.status_code == 200
    summed: dict[tuple[str, str, str], list[float]] = {}
    for row in response.json()["touch_credit"]:
        key = (row["conversion_id"], row["model"], row["campaign"] or "(none)")
        total = summed.setdefault(key, [0.0, 0.0])
        total[0] += row["credit"]
        total[1] += row["value"]
    assert set(summed) == set(influence)
    for key, (share, revenue) in influence.items():
        assert summed[key] == pytest.approx([share, revenue], abs=1e-12)


def test_a_campaign_finds_its_row_whatever_the_ids_hold(client: TestClient) -> None:
    odd = 'opp,"contact_id":{"conversion_id":\\'  # the markers the rows are read by, as text
    sent = deal()
    sent["conversion"]["id"] = odd
    sent["touches"][0] |= {"touch_id": 'x","touch_id":"y', "campaign": 'c,"contact_id":'}
    sent["touches"][1] |= {"campaign": "Ünïcode 701"}
    response = post(client, {"models": ["linear", "first_touch"], "journeys": [sent]})
    assert response.status_code == 200
    rows = response.json()["touch_credit"]
    assert {(r["conversion_id"], r["touch_id"], r["campaign"]) for r in rows} == {
        (odd, 'x","touch_id":"y', 'c,"contact_id":'), (odd, "00v1", "Ünïcode 701"),
        (odd, "00v2", None)}
    assert len(rows) == 6
