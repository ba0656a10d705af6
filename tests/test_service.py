"""service/: every endpoint in-process (TestClient), its errors and their exact JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

import attribution
from service import Settings, create_app

KEY = "test-key-0123456789"
OTHER_KEY = "other-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
RULES = [name for name, spec in attribution.available_models().items() if spec.family == "rule"]


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"api_keys": (KEY, OTHER_KEY), "data_dir": tmp_path / "data",
                              "runs_dir": tmp_path / "runs", "max_journeys": 3,
                              "max_touches_per_journey": 5, "max_body_bytes": 20_000}
    return Settings(**(values | overrides))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "touches.csv").write_text("contact_id,channel,timestamp\n")
    with TestClient(create_app(make_settings(tmp_path))) as c:
        yield c


def body(n_journeys: int = 1, n_touches: int = 3,
         models: list[Any] | None = None) -> dict[str, Any]:
    return {
        "models": models or ["linear"],
        "journeys": [{
            "conversion": {"id": f"opp-{j}", "timestamp": "2025-03-01T00:00:00Z", "value": 900},
            "touches": [{"touch_id": f"t{k}", "timestamp": f"2025-01-{k + 1:02d}T08:00:00Z",
                         "channel": ["linkedin", "email", "webinar"][k % 3], "contact_id": "c1"}
                        for k in range(n_touches)],
            "milestones": {"lead": "2025-01-02T12:00:00Z"},
        } for j in range(n_journeys)],
    }


def error(response: Any) -> dict[str, Any]:
    payload = response.json()
    assert set(payload) == {"error"}
    err: dict[str, Any] = payload["error"]
    assert set(err) <= {"type", "message", "field"}
    return err


# --- health, auth, models ------------------------------------------------------------------

def test_healthz_needs_no_key(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


MISSING = ("missing or invalid API key: send the header 'Authorization: Bearer <key>' with "
           "one of the keys in ATTRIBUTION_API_KEYS")


@pytest.mark.parametrize(("headers", "message"), [
    ({}, MISSING),
    ({"Authorization": f"Basic {KEY}"}, MISSING),
    ({"Authorization": "Bearer wrong"}, "invalid API key"),
    ({"Authorization": f"Bearer {KEY}x"}, "invalid API key"),
])
@pytest.mark.parametrize(("method", "path"), [("get", "/v1/models"), ("post", "/v1/attribute"),
                                              ("post", "/v1/runs"), ("get", "/v1/runs/x"),
                                              ("get", "/v1/runs/x/channel-credit"),
                                              ("get", "/v1/runs/x/report")])
def test_v1_needs_a_valid_key(client: TestClient, headers: dict[str, str], message: str,
                              method: str, path: str) -> None:
    response = client.request(method, path, headers=headers, json=body())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert error(response) == {"type": "unauthorized", "message": message,
                               "field": "Authorization"}
    # rendered as every other error is (orjson: no spaces), not by another serialiser
    assert response.content == orjson.dumps(response.json())


def test_every_configured_key_works(client: TestClient) -> None:
    for key in (KEY, OTHER_KEY):
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code \
            == 200


def test_models_lists_the_registry(client: TestClient) -> None:
    response = client.get("/v1/models", headers=AUTH)
    assert response.status_code == 200
    models = {m["name"]: m for m in response.json()["models"]}
    assert list(models) == list(attribution.available_models())
    assert models["markov"]["family"] == "data"
    assert {p["name"]: p["default"] for p in models["time_decay"]["params"]} == {
        "half_life": "7d"}
    assert models["shapley"]["params"][0]["choices"] == ["rate", "count"]


# --- scoring -------------------------------------------------------------------------------

def test_attribute_scores_each_journey(client: TestClient) -> None:
    response = client.post("/v1/attribute", headers=AUTH, json=body(
        n_journeys=2, models=["linear", {"name": "time_decay", "params": {"half_life": "3d"}},
                              "position_based:first=0.5;last=0.5"]))
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["models"] == ["linear", "time_decay(half_life=3d)",
                             "position_based(first=0.5,last=0.5)"]
    assert (out["snapshot"], out["run_id"], out["unseen_channels"]) == (None, None, [])
    assert out["unattributed"] == []
    rows = out["touch_credit"]
    assert len(rows) == 2 * 3 * 3
    assert set(rows[0]) == {"conversion_id", "touch_id", "campaign", "contact_id", "account_id",
                            "channel", "timestamp", "model", "credit", "value"}
    assert rows[0] == {"conversion_id": "opp-0", "touch_id": "t0", "campaign": None,
                       "contact_id": "c1",
                       "account_id": None, "channel": "linkedin",
                       "timestamp": "2025-01-01T08:00:00+00:00", "model": "linear",
                       "credit": pytest.approx(1 / 3), "value": pytest.approx(300.0)}
    for model in out["models"]:
        for conv in ("opp-0", "opp-1"):
            total = sum(r["credit"] for r in rows
                        if r["model"] == model and r["conversion_id"] == conv)
            assert total == pytest.approx(1.0, abs=1e-9)
    linear = {r["channel"]: r for r in out["channel_credit"] if r["model"] == "linear"}
    assert linear["email"] == {"model": "linear", "channel": "email",
                               "conversions": pytest.approx(2 / 3),
                               "value": pytest.approx(600.0), "share": pytest.approx(1 / 3)}


def test_attribute_matches_the_library(client: TestClient) -> None:
    from attribution.engine._scoring import score_journeys

    sent = body(n_journeys=2, models=RULES)
    out = client.post("/v1/attribute", headers=AUTH, json=sent).json()
    expected = score_journeys(sent["journeys"], models=RULES).touch_credit
    assert [r["credit"] for r in out["touch_credit"]] == expected.get_column("credit").to_list()


def test_unknown_model_lists_the_valid_names(client: TestClient) -> None:
    response = client.post("/v1/attribute", headers=AUTH, json=body(models=["lineer"]))
    assert response.status_code == 422
    err = error(response)
    assert err["type"] == "model_not_found"
    assert "did you mean 'linear'" in err["message"]
    assert all(name in err["message"] for name in attribution.available_models())


@pytest.mark.parametrize(("model", "text"), [
    ({"name": "time_decay", "params": {"half_life": "soon"}}, "half_life"),
    ({"name": "position_based", "params": {"first": 0.8, "last": 0.8}}, "sum to at most 1"),
    ({"name": "linear", "params": {"alpha": 1}}, "linear has no parameter 'alpha'"),
    ("linear:alpha", "key=value"),
    ({"name": "custom", "params": {"first": "inf"}}, "must be a finite number"),
])
def test_bad_params_are_422(client: TestClient, model: Any, text: str) -> None:
    response = client.post("/v1/attribute", headers=AUTH, json=body(models=[model]))
    assert response.status_code == 422
    err = error(response)
    assert err["type"] == "model_parameter"
    assert text in err["message"]


def test_data_models_without_a_snapshot_say_how_to_get_one(client: TestClient) -> None:
    response = client.post("/v1/attribute", headers=AUTH,
                           json=body(models=["linear", "markov", "shapley"]))
    assert response.status_code == 409
    assert error(response) == {
        "type": "no_snapshot", "field": "models",
        "message": "markov, shapley: data-driven models (markov, shapley, counterfactual) are "
                   "fitted on a published model snapshot and none is published; publish a "
                   'finished run with POST /v1/models/snapshots {"run_id": "<run_id>"} (or '
                   "`attribution publish RUN_DIR`)"}


def test_unknown_snapshot_is_404(client: TestClient) -> None:
    response = client.post("/v1/attribute", headers=AUTH,
                           json=body(models=["markov"]) | {"snapshot": "nope"})
    assert response.status_code == 404
    assert error(response) == {
        "type": "not_found", "field": "snapshot",
        "message": "no published snapshot 'nope'; GET /v1/models/snapshots lists them"}


def test_run_id_in_a_scoring_request_says_what_replaced_it(client: TestClient) -> None:
    response = client.post("/v1/attribute", headers=AUTH,
                           json=body(models=["markov"]) | {"run_id": "x"})
    assert response.status_code == 422
    assert "publish the run (POST /v1/models/snapshots" in error(response)["message"]


def test_too_many_journeys_names_the_limit(client: TestClient) -> None:
    response = client.post("/v1/attribute", headers=AUTH, json=body(n_journeys=4))
    assert response.status_code == 422
    assert error(response) == {
        "type": "limit_exceeded", "field": "journeys",
        "message": "4 journeys sent; the limit is 3 per request (ATTRIBUTION_MAX_JOURNEYS)"}


def test_too_many_touches_names_the_limit(client: TestClient) -> None:
    sent = body(n_journeys=2)
    sent["journeys"][1] = body(n_touches=6)["journeys"][0] | {"conversion": {
        "id": "big", "timestamp": "2025-03-01T00:00:00Z"}}
    response = client.post("/v1/attribute", headers=AUTH, json=sent)
    assert response.status_code == 422
    assert error(response) == {
        "type": "limit_exceeded", "field": "journeys[1].touches",
        "message": "journeys[1] has 6 touches; the limit is 5 per journey "
                   "(ATTRIBUTION_MAX_TOUCHES_PER_JOURNEY): a run credits a journey's last "
                   "max_touches_per_journey touches (5,000 by default), so send the last "
                   "ones its run credits, or have the limit raised to the run's cap (a "
                   "request stays within ATTRIBUTION_MAX_CREDIT_ROWS and "
                   "ATTRIBUTION_MAX_BODY_BYTES)"}


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = json.dumps(body() | {"padding": "x" * 25_000})
    response = client.post("/v1/attribute", headers=AUTH | {"content-type": "application/json"},
                           content=big)
    assert response.status_code == 413
    err = error(response)
    assert err["type"] == "payload_too_large"
    assert err["field"] == "body"
    assert "20,000 bytes (ATTRIBUTION_MAX_BODY_BYTES)" in err["message"]
    assert response.content == orjson.dumps(response.json())


def test_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(30):
            yield b" " * 1_000

    response = client.post("/v1/attribute", headers=AUTH | {"content-type": "application/json"},
                           content=chunks())
    assert response.status_code == 413
    assert error(response)["type"] == "payload_too_large"
    assert error(response)["field"] == "body"


@pytest.mark.parametrize(("mutate", "field", "text"), [
    (lambda b: b["journeys"][0]["touches"][1].pop("channel"), "journeys[0].touches[1].channel",
     "Field required"),
    (lambda b: b["journeys"][0]["touches"][2].update(timestamp="not a time"),
     "journeys[0].touches[2].timestamp", "must be an ISO 8601 timestamp string"),
    (lambda b: b["journeys"][0]["conversion"].update(value=-5), "journeys[0].conversion.value",
     "greater than or equal to 0"),
    (lambda b: b["journeys"][0]["touches"][0].update(chanel="x"),
     "journeys[0].touches[0].chanel", "Extra inputs are not permitted"),
    (lambda b: b.update(models=[]), "models", "at least 1 item"),
    (lambda b: b.pop("journeys"), "journeys", "Field required"),
])
def test_validation_errors_give_the_field_path(client: TestClient, mutate: Any, field: str,
                                               text: str) -> None:
    sent = body()
    mutate(sent)
    response = client.post("/v1/attribute", headers=AUTH, json=sent)
    assert response.status_code == 422
    err = error(response)
    assert err["type"] == "validation"
    assert err["field"] == field
    assert err["message"].startswith(f"{field}: ")
    assert text in err["message"]


def test_library_input_errors_give_the_field_path(client: TestClient) -> None:
    sent = body()
    sent["journeys"][0]["touches"][1]["timestamp"] = "2025-04-01T00:00:00Z"
    response = client.post("/v1/attribute", headers=AUTH, json=sent)
    assert response.status_code == 422
    err = error(response)
    assert err["type"] == "input"
    assert err["field"] == "journeys[0].touches[1].timestamp"
    assert "after its conversion" in err["message"]


@pytest.mark.parametrize("model", ["linear", "w_shaped"])
def test_a_milestone_after_its_conversion_is_422_naming_it(client: TestClient,
                                                            model: str) -> None:
    """newuser-report6 #15: a lead a month after the deal closed was read as no lead (200,
    the credit of a request without milestones), while a touch after it is a 422."""
    sent = body(models=[model])
    sent["journeys"][0]["milestones"] = {"lead": "2025-04-01T00:00:00Z"}
    response = client.post("/v1/attribute", headers=AUTH, json=sent)
    assert response.status_code == 422
    err = error(response)
    assert err["field"] == "journeys[0].milestones.lead"
    assert ("milestone is after its conversion (2025-04-01T00:00:00+00:00, the conversion "
            "2025-03-01T00:00:00+00:00)") in err["message"]


@pytest.mark.parametrize(("sent", "said"), [
    ("3/1/2025", "a month/day/year or day.month.year date is never guessed"),
    ("03/01/2025 10:00 AM", "send year-month-day, 2025-03-01"),
    ("2025-03-01T10:00:00 PST", "a zone name ('PST') is not read"),
    ("2025/03/01", "(invalid date separator, expected `-`)"),
])
def test_an_unreadable_timestamp_says_the_form_expected(client: TestClient, sent: str,
                                                       said: str) -> None:
    """newuser-report6 #10: a CRM's US date got pydantic's 'Input should be a valid
    datetime or date, input is too short', naming no form to send."""
    body_sent = body()
    body_sent["journeys"][0]["conversion"]["timestamp"] = sent
    response = client.post("/v1/attribute", headers=AUTH, json=body_sent)
    assert response.status_code == 422
    err = error(response)
    assert err["field"] == "journeys[0].conversion.timestamp"
    assert err["message"].startswith(
        "journeys[0].conversion.timestamp: must be an ISO 8601 timestamp string, e.g. "
        f"2025-01-31T09:00:00Z or 2025-01-31T09:00:00-08:00 (a date alone, 2025-01-31, is "
        f"read too); got {sent!r}")
    assert said in err["message"]
    assert "Input should be" not in err["message"]


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post("/v1/attribute", headers=AUTH | {"content-type": "application/json"},
                           content=b"{not json")
    assert response.status_code == 422
    assert error(response)["type"] == "validation"


# --- runs: request checks (the runs themselves are in test_service_runs.py) ----------------

@pytest.mark.parametrize("path", ["../secrets.csv", "/etc/passwd", "a/../../x.csv",
                                  "~/touches.csv", "touches.csv/../../../etc/hosts"])
def test_paths_outside_the_data_dir_are_400(client: TestClient, path: str) -> None:
    response = client.post("/v1/runs", headers=AUTH, json={"touches": path,
                                                          "stages": "touches.csv"})
    assert response.status_code == 400
    err = error(response)
    assert err["type"] == "bad_path"
    assert err["field"] == "touches"
    assert path in err["message"]


def test_symlink_out_of_the_data_dir_is_400(client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "outside.csv").write_text("x\n")
    (tmp_path / "data" / "link.csv").symlink_to(tmp_path / "outside.csv")
    response = client.post("/v1/runs", headers=AUTH, json={"touches": "link.csv",
                                                          "stages": "touches.csv"})
    assert response.status_code == 400
    assert "outside the data directory" in error(response)["message"]


def test_missing_file_is_400(client: TestClient) -> None:
    response = client.post("/v1/runs", headers=AUTH, json={"touches": "touches.csv",
                                                          "stages": "nope.parquet"})
    assert response.status_code == 400
    assert error(response) == {"type": "bad_path", "field": "stages",
                               "message": "'nope.parquet' is not a file in the data directory"}


@pytest.mark.parametrize(("sent", "status", "type_", "field"), [
    ({"touches": "touches.csv"}, 422, "validation", "body"),
    ({"events": "touches.csv", "touches": "touches.csv"}, 422, "validation", "body"),
    ({"events": "touches.csv", "models": ["linear", "nope"]}, 422, "model_not_found",
     "models[1]"),
    ({"events": "touches.csv", "lookback": "forever"}, 422, "input", "lookback"),
    ({"events": "touches.csv", "max_touches_per_journey": 0}, 422, "input",
     "max_touches_per_journey"),
    ({"events": "touches.csv", "max_touches_per_journey": "lots"}, 422, "input",
     "max_touches_per_journey"),
    ({"events": "touches.csv", "level": "planet"}, 422, "validation", "level"),
])
def test_bad_run_requests(client: TestClient, sent: dict[str, Any], status: int, type_: str,
                          field: str | None) -> None:
    response = client.post("/v1/runs", headers=AUTH, json=sent)
    assert response.status_code == status
    err = error(response)
    assert err["type"] == type_
    assert err.get("field") == field


@pytest.mark.parametrize("path", ["/v1/runs/nope", "/v1/runs/nope/channel-credit",
                                  "/v1/runs/..%2F..%2Fetc/channel-credit",
                                  "/v1/runs/nope/report", "/v1/runs/..%2F..%2Fetc/report"])
def test_unknown_run_is_404(client: TestClient, path: str) -> None:
    response = client.get(path, headers=AUTH)
    assert response.status_code == 404
    assert error(response)["type"] == "not_found"


def test_openapi_docs_are_served(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, docs=True))) as client:
        assert client.get("/docs").status_code == 200
        schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/healthz", "/readyz", "/v1/models",
                                    "/v1/models/snapshots", "/v1/attribute", "/v1/runs",
                                    "/v1/runs/{run_id}", "/v1/runs/{run_id}/channel-credit",
                                    "/v1/runs/{run_id}/report"}
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


@pytest.mark.parametrize("depth", [20_000, 200_000])
def test_deeply_nested_json_is_a_400_not_a_500(tmp_path: Path, depth: int) -> None:
    raw = '{"models":["linear"],"journeys":' + "[" * depth + "]" * depth + "}"
    settings = make_settings(tmp_path, max_body_bytes=1_048_576)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post("/v1/attribute", content=raw,
                               headers=AUTH | {"content-type": "application/json"})
    assert response.status_code == 400
    assert error(response) == {"type": "bad_request", "field": "body",
                               "message": "the body nests JSON arrays or objects too deeply "
                                          "to be a scoring request"}


@pytest.mark.parametrize("where", ["extra", "value"])
def test_a_number_of_thousands_of_digits_is_a_400_not_a_500(tmp_path: Path, where: str) -> None:
    """New-user report 4, defect 16: a 5,000-digit number passed Python's JSON parser's
    integer-digits limit (4,300) as a ValueError: 500 and a traceback in the log."""
    digits = "1" * 5000
    journey = ('{"touches":[{"timestamp":"2025-03-01T10:00:00Z","channel":"email"}],'
               '"conversion":{"timestamp":"2025-03-02T10:00:00Z","value":'
               + (digits if where == "value" else "100") + "}}")  # fmt: skip
    raw = ('{"models":["linear"],"journeys":[' + journey + "]"
           + (f',"x":{digits}' if where == "extra" else "") + "}")  # fmt: skip
    settings = make_settings(tmp_path, max_body_bytes=1_048_576)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post("/v1/attribute", content=raw,
                               headers=AUTH | {"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 400, response.text
    body = error(response)
    assert body["type"] == "bad_request"
    assert body["field"] == "body"
    assert "digits" in body["message"]
