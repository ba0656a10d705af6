"""service/: fails closed and small, over a real uvicorn server on loopback: the key is
checked before the body is read and before routing, the credit-row budget, ids and
channels without control characters, timestamps as text only, error fields; key rules and
/docs off by default."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from raw_http import post, raw_exchange
from typer.testing import CliRunner

import attribution
from service import Settings, create_app
from service.core.auth import check_keys

KEY = "closed-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(**({"api_keys": (KEY,), "data_dir": tmp_path, "runs_dir": tmp_path / "runs",
                        "max_credit_rows": 100} | overrides))


@pytest.fixture
def url(tmp_path: Path, start_server: Callable[[Any], str]) -> str:
    return start_server(create_app(settings(tmp_path)))


def journey(n_touches: int = 2, **touch: Any) -> dict[str, Any]:
    return {"conversion": {"id": "opp-1", "timestamp": "2025-03-01T00:00:00Z", "value": 10},
            "touches": [{"timestamp": f"2025-01-{k % 28 + 1:02d}T00:00:00Z",
                         "channel": "linkedin"} | touch for k in range(n_touches)]}


# --- the key first ----------------------------------------------------------------------------

def test_the_key_is_checked_before_the_body_is_read_and_the_connection_stays_usable(
        url: str) -> None:
    good = json.dumps({"models": ["linear"], "journeys": [journey()]}).encode()
    answers = raw_exchange(url, [
        post("/v1/attribute", b'{"models": ['),                        # broken JSON, no key
        post("/v1/attribute", b'{"models": [', {"Authorization": "Bearer wrong"}),
        post("/v1/attribute", good, AUTH),                             # same connection
    ])
    (s1, h1, b1), (s2, _, b2), (s3, _, b3) = answers
    assert (s1, s2, s3) == (401, 401, 200)
    assert h1["www-authenticate"] == "Bearer"
    assert json.loads(b1)["error"]["type"] == "unauthorized"
    assert json.loads(b2)["error"]["message"] == "invalid API key"
    assert [r["credit"] for r in json.loads(b3)["touch_credit"]] == [0.5, 0.5]


def test_a_body_too_large_without_a_key_is_401_not_413(url: str) -> None:
    big = b'{"models": ["linear"], "journeys": [' + b" " * 2_000_000 + b"]}"
    response = httpx.post(f"{url}/v1/attribute", content=big,
                          headers={"content-type": "application/json"}, timeout=10)
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/v1/nope", "/v1", "/v1/runs/x/nope", "/v1/models/x/y"])
def test_unknown_v1_routes_need_a_key_before_they_are_404(url: str, path: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.get(path).status_code == 401
        found = http.get(path, headers=AUTH)
        assert found.status_code == 404
        assert found.json()["error"]["type"] == "not_found"
        assert http.get("/nope").status_code == 404  # outside /v1: no key needed to be 404


# --- the credit-row budget ----------------------------------------------------------------------

def test_touches_times_models_above_the_budget_is_422_naming_it(url: str) -> None:
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as http:
        models = ["linear", "first_touch", "last_touch", "u_shaped"]
        at_limit = http.post("/v1/attribute", json={"models": models,
                                                    "journeys": [journey(25)]})
        assert at_limit.status_code == 200, at_limit.text
        assert len(at_limit.json()["touch_credit"]) == 100
        over = http.post("/v1/attribute", json={"models": models, "journeys": [
            journey(20), {**journey(6), "conversion": {"id": "opp-2",
                                                       "timestamp": "2025-03-01T00:00:00Z"}}]})
        assert over.status_code == 422
        assert over.json() == {"error": {
            "type": "limit_exceeded", "field": "journeys",
            "message": "26 touches x 4 models = 104 rows of touch credit; the limit is 100 per "
                       "request (ATTRIBUTION_MAX_CREDIT_ROWS): send fewer touches (journeys) "
                       "or models per request, or have the limit raised"}}


def test_the_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().max_credit_rows == 50_000  # the documented default
    monkeypatch.setenv("ATTRIBUTION_MAX_CREDIT_ROWS", "1234")
    assert Settings().max_credit_rows == 1234


# --- what ids, channels and timestamps may be -------------------------------------------------

@pytest.mark.parametrize(("touch", "field"), [
    ({"channel": "linked\x00in"}, "journeys[0].touches[0].channel"),
    ({"channel": "linked\tin"}, "journeys[0].touches[0].channel"),
    ({"channel": "   "}, "journeys[0].touches[0].channel"),
    ({"channel": "\u00a0\u2003"}, "journeys[0].touches[0].channel"),
    ({"channel": "x\u0085"}, "journeys[0].touches[0].channel"),
    ({"channel": "\u200b"}, "journeys[0].touches[0].channel"),  # invisible: blank
    ({"channel": " \u200c\u200d\u2060\ufeff"}, "journeys[0].touches[0].channel"),
    ({"contact_id": "\ufeff"}, "journeys[0].touches[0].contact_id"),
    ({"touch_id": "t\n1"}, "journeys[0].touches[0].touch_id"),
    ({"contact_id": " "}, "journeys[0].touches[0].contact_id"),
    ({"role": "\x7f"}, "journeys[0].touches[0].role"),
])
def test_control_characters_and_blanks_are_422_with_the_field(url: str, touch: dict[str, Any],
                                                              field: str) -> None:
    response = httpx.post(f"{url}/v1/attribute", headers=AUTH, timeout=10,
                          json={"models": ["linear"], "journeys": [journey(1, **touch)]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"] == (f"{field}: must not be blank and must not contain control "
                                "characters (NUL, tab, newline, ...)")


@pytest.mark.parametrize("conversion_id", ["\x00", "  ", "opp\r\n1", "\u200b"])
def test_conversion_ids_too(url: str, conversion_id: str) -> None:
    sent = journey(1)
    sent["conversion"]["id"] = conversion_id
    response = httpx.post(f"{url}/v1/attribute", headers=AUTH, timeout=10,
                          json={"models": ["linear"], "journeys": [sent]})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "journeys[0].conversion.id"


def test_ordinary_names_with_inner_spaces_and_unicode_pass(url: str) -> None:
    response = httpx.post(f"{url}/v1/attribute", headers=AUTH, timeout=10, json={
        "models": ["linear"], "journeys": [journey(1, channel="Événement salon", touch_id="a b")]})
    assert response.status_code == 200, response.text
    # in the one spelling of channel names that runs use (lower case, words joined by '_'),
    # accents kept, so that it meets the stored run's paths (issue 14)
    assert response.json()["touch_credit"][0]["channel"] == "événement_salon"


@pytest.mark.parametrize("stamp", ["1700000000", " 1700000000.5 ", "1.7e9", 1700000000,
                                   "1740823200000", 1740823200000])
def test_seconds_are_not_a_timestamp_even_as_text(url: str, stamp: Any) -> None:
    sent = journey(1)
    sent["conversion"]["timestamp"] = stamp
    response = httpx.post(f"{url}/v1/attribute", headers=AUTH, timeout=10,
                          json={"models": ["linear"], "journeys": [sent]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "journeys[0].conversion.timestamp"
    assert "ISO 8601" in error["message"]
    # milliseconds too (newuser-report3 #16: the message said only "seconds")
    assert "a number (seconds or milliseconds since the epoch) is not accepted" in error[
        "message"]


# --- error fields -------------------------------------------------------------------------------

@pytest.mark.parametrize(("models", "type_", "field"), [
    (["linear", "lineer"], "model_not_found", "models[1]"),
    ([{"name": "time_decay", "params": {"half_life": "soon"}}], "model_parameter", "models[0]"),
    (["linear", "first_touch:alpha=1"], "model_parameter", "models[1]"),
    (["linear", "linear"], "model_parameter", "models"),  # no single model is at fault
])
def test_model_errors_carry_their_place(url: str, models: list[Any], type_: str,
                                        field: str) -> None:
    response = httpx.post(f"{url}/v1/attribute", headers=AUTH, timeout=10,
                          json={"models": models, "journeys": [journey()]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["type"], error["field"]) == (type_, field)


def test_a_run_request_model_error_carries_its_place(url: str) -> None:
    response = httpx.post(f"{url}/v1/runs", headers=AUTH, timeout=10,
                          json={"events": "e.csv", "models": ["linear", "w_shaped:x=1"]})
    assert response.status_code in (400, 422)
    if response.status_code == 422:  # the file is checked first where it does not exist
        assert response.json()["error"]["field"] == "models[1]"


def test_a_json_syntax_error_says_where(url: str) -> None:
    body = b'{"models": ["linear"],\n "journeys": [}'
    response = httpx.post(f"{url}/v1/attribute", headers=AUTH | {
        "content-type": "application/json"}, content=body, timeout=10)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "body"
    assert error["message"] == ("the body is not valid JSON: Expecting value at line 2, "
                                "column 15")


# --- keys and docs ------------------------------------------------------------------------------

@pytest.mark.parametrize(("keys", "text"), [
    (("short-key",), "key 1 of 1 is 9 characters long; keys need at least 16"),
    (("x" * 20, "clé-0123456789abcdef"), "key 2 of 2 holds the character U+00E9"),
    (("with space 0123456789",), "holds the character U+0020"),
    (("tab\t0123456789abcdef",), "holds the character U+0009"),
])
def test_bad_keys_refuse_to_start(tmp_path: Path, keys: tuple[str, ...], text: str) -> None:
    with pytest.raises(attribution.ConfigError, match=re.escape(text)) as caught:
        create_app(settings(tmp_path, api_keys=keys))
    assert "\n" not in str(caught.value)
    assert all(key not in str(caught.value) for key in keys)  # never echoed


def test_good_keys_pass() -> None:
    check_keys(["0123456789abcdef", "A-b_c.d~e!f@g#h$i%j^k&l*m(n)o+p=q"])


def test_serve_with_a_short_key_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    from attribution.cli import app

    monkeypatch.setenv("ATTRIBUTION_API_KEYS", "abc")
    monkeypatch.setenv("ATTRIBUTION_RUNS_DIR", str(tmp_path / "runs"))
    result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())  # rich wraps at the terminal's width
    assert text.startswith("error: ATTRIBUTION_API_KEYS: key 1 of 1 is 3 characters long; "
                           "keys need at least 16")


def test_docs_are_off_by_default_and_on_by_setting(tmp_path: Path,
                                                   start_server: Callable[[Any], str]) -> None:
    off = start_server(create_app(settings(tmp_path)))
    on = start_server(create_app(settings(tmp_path, docs=True)))
    assert httpx.get(f"{off}/docs", timeout=10).status_code == 404
    assert httpx.get(f"{off}/redoc", timeout=10).status_code == 404
    assert httpx.get(f"{off}/openapi.json", timeout=10).status_code == 200
    assert httpx.get(f"{on}/docs", timeout=10).status_code == 200


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "/v1/models/snapshots", "GET, POST"),
    ("PUT", "/v1/runs", "GET, POST"),  # GET lists the runs (newuser-report3 #16)
    ("POST", "/v1/runs/x", "GET"),
])
def test_405_names_every_method_of_the_path(url: str, method: str, path: str,
                                            allow: str) -> None:
    response = httpx.request(method, f"{url}{path}", headers=AUTH, timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["error"]["type"] == "method_not_allowed"
