"""service.api.body: the plain-form reader of scoring bodies gives what the pydantic schema
gives, and declines (None) every body the schema refuses, so errors stay the schema's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.api.body import _read_typed, _read_walk, read_plain
from service.api.schemas import AttributeRequest


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` 19 times in 20: most bodies are valid, and each may break in one place."""
    return st.sampled_from([True] * 19 + [False]).flatmap(lambda ok: good if ok else bad)


_text = _mostly(
    st.sampled_from(["linkedin", "t1", "opp-1", "a b", " x ", "LinkedIn ", "closed_won"]),
    st.one_of(st.sampled_from(["", " ", "c" * 256, "c" * 257, "é", "tab\t", "new\n", "\x7f",
                               "\x85", "a\u00a0"]), st.text(max_size=6)),
)
_digits = st.integers(0, 99).map(lambda n: f"{n:02d}")
_stamp = _mostly(st.sampled_from(["2025-01-01T09:00:00+00:00", "2025-02-01", "2025-01-03 10:30",
                                  "2025-01-03T10:30:00.25Z", "2024-12-31T23:00:00-05:00"]),
                 st.one_of(
    st.builds(lambda y, m, d, h, mi, s, f, z, sep: f"{y}-{m}-{d}{sep}{h}:{mi}{s}{f}{z}",
              st.sampled_from(["2025", "1999", "0000", "9999"]), _digits, _digits, _digits,
              _digits, st.sampled_from(["", ":00", ":59", ":60"]),
              st.sampled_from(["", ".5", ".123456", ".1234567"]),
              st.sampled_from(["", "Z", "+05:30", "-23:59", "+24:00", "z", "+00", "-03",
                               "+0100", " UTC", "+5"]),
              st.sampled_from(["T", " ", "t"])),
    st.builds(lambda y, m, d: f"{y}-{m}-{d}", st.sampled_from(["2025", "2024"]), _digits,
              _digits),
    st.sampled_from(["1700000000", "2025-01-01T09:00:00+00:00", " 2025-01-01", None, 5]),
))
_value = _mostly(st.one_of(st.none(), st.integers(0, 10**6), st.floats(0, 1e6)),
                 st.one_of(st.integers(-1, 10**16), st.floats(allow_nan=False),
                           st.sampled_from([True, "5", 1e15, 0.0])))


def _maybe(draw: st.DrawFn, key: str, strategy: st.SearchStrategy[Any], out: dict[str, Any],
           p_absent: float = 0.3) -> None:
    kept = round(100 * (1 - p_absent))
    if draw(st.sampled_from([True] * kept + [False] * (100 - kept))):
        out[key] = draw(strategy)


@st.composite
def _body(draw: st.DrawFn) -> dict[str, Any]:
    journeys = []
    for _ in range(draw(st.integers(0, 2)) or draw(st.integers(0, 1))):
        conversion: dict[str, Any] = {}
        _maybe(draw, "id", _text, conversion, 0.02)
        _maybe(draw, "timestamp", _stamp, conversion, 0.02)
        _maybe(draw, "value", _value, conversion)
        _maybe(draw, "stage", st.one_of(st.none(), _text), conversion)
        touches = []
        for _ in range(draw(st.integers(0, 3))):
            touch: dict[str, Any] = {}
            _maybe(draw, "touch_id", st.one_of(st.none(), _text), touch)
            _maybe(draw, "timestamp", _stamp, touch, 0.02)
            _maybe(draw, "channel", _text, touch, 0.02)
            _maybe(draw, "contact_id", st.one_of(st.none(), _text), touch)
            _maybe(draw, "role", st.one_of(st.none(), _text), touch, 0.8)
            _maybe(draw, "extra", st.just(1), touch, 0.98)
            touches.append(touch)
        journey: dict[str, Any] = {"conversion": conversion, "touches": touches}
        _maybe(draw, "milestones", st.one_of(st.none(), st.fixed_dictionaries(
            {}, optional={"lead": _stamp, "opportunity": _stamp, "sql": _stamp})), journey)
        journeys.append(journey)
    body: dict[str, Any] = {"journeys": journeys}
    _maybe(draw, "models", st.lists(st.one_of(_text, st.fixed_dictionaries(
        {"name": _text}, optional={"params": _mostly(st.just({"half_life": "3d"}),
                                                     st.none())})),
        min_size=1, max_size=3), body, 0.02)
    _maybe(draw, "snapshot", st.one_of(st.none(), st.sampled_from(
        ["20250101T000000Z-ab12", "-x", "a" * 129, "ok.1"])), body, 0.7)
    _maybe(draw, "run_id", st.just("r"), body, 0.98)
    return body


def _instants(value: Any) -> Any:
    """Datetimes as UTC instants (naive = UTC), recursively: what the library reads."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, dict):
        return {k: _instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_instants(v) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(_body())
def test_plain_reader_agrees_with_the_schema(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    plain = read_plain(raw)
    try:
        schema = AttributeRequest.model_validate(json.loads(raw))
    except ValidationError:
        assert plain is None  # the schema words the error
        return
    if plain is None:
        return  # declined: the schema reads it
    assert plain.models == schema.models
    assert plain.snapshot == schema.snapshot
    assert _instants(plain.journeys) == _instants(schema.journeys)


@settings(max_examples=300, deadline=None)
@given(_body(), st.booleans())
def test_typed_reader_agrees_with_the_walk(body: dict[str, Any], ascii_only: bool) -> None:
    """The typed decoder takes only what the walk takes, with the same result; bodies
    written without escapes (non-ASCII as is) are the ones it reads."""
    raw = json.dumps(body, ensure_ascii=ascii_only).encode()
    typed = _read_typed(raw)
    walk = _read_walk(raw)
    if typed is None:
        return
    assert walk is not None
    assert typed.models == walk.models
    assert typed.snapshot == walk.snapshot
    assert typed.journeys == walk.journeys
    assert [type(j["conversion"].get("value")) for j in typed.journeys] == [
        type(j["conversion"].get("value")) for j in walk.journeys]


def test_typed_reader_takes_the_everyday_body() -> None:
    crm = {"models": ["linear", {"name": "time_decay", "params": {"half_life": "14d"}}],
           "journeys": [{"conversion": {"id": "opp-42", "timestamp": "2025-03-01T12:00:00Z",
                                        "value": 48000},
                         "touches": [{"touch_id": f"t{k}", "timestamp": f"2025-01-0{k + 1}",
                                      "channel": "LinkedIn ", "contact_id": None}
                                     for k in range(3)],
                         "milestones": {"lead": "2025-01-06 10:00", "opportunity": None}}]}
    raw = json.dumps(crm).encode()
    typed = _read_typed(raw)
    assert typed is not None
    assert typed.journeys == _read_walk(raw).journeys  # type: ignore[union-attr]
    assert typed.journeys[0]["conversion"]["value"] == 48000.0
    # each thing the typed decoder leaves to the walk (or the schema): an escape, a blank or
    # empty string, DEL, a date it cannot read, an unknown key, a bool value
    for odd in ('"\\u00e9"', '" "', '""', '"a\x7fb"'):
        assert _read_typed(raw.replace(b'"opp-42"', odd.encode())) is None
    for before, after in ((b'"2025-01-01"', b'"2025-13-01"'), (b'"2025-01-01"', b'"20250101"'),
                          (b'"value": 48000', b'"value": 48000, "x": 1'),
                          (b'"value": 48000', b'"value": true')):
        assert _read_typed(raw.replace(before, after)) is None
    # a null stage (Apex's JSON.serialize of an unset field) is the stage omitted, read alike
    # by the typed decoder, the walk and the schema (new-user report 18, M5)
    null_stage = raw.replace(b'"value": 48000', b'"value": 48000, "stage": null')
    read = [_read_typed(null_stage), _read_walk(null_stage),
            AttributeRequest.model_validate(json.loads(null_stage))]
    assert all(r is not None for r in read)
    assert [r.journeys[0]["conversion"]["stage"] for r in read] == [None] * 3  # type: ignore[union-attr]
    assert read[0].journeys == read[1].journeys  # type: ignore[union-attr]
    escaped = raw.replace(b'"opp-42"', b'"opp\\/42"')  # "opp/42", written with an escape
    assert _read_typed(escaped) is None
    assert _read_walk(escaped).journeys[0]["conversion"]["id"] == "opp/42"  # type: ignore[union-attr]


@pytest.mark.parametrize("raw", [
    b'{"models": ["linear"], "journeys": [{"conversion": {"id": "a", "timestamp": "2025-01-01"},'
    b' "touches": []}], "extra": 1}',
    b'{"models": ["linear"], "journeys": [{"conversion": {"id": "a", "timestamp": NaN},'
    b' "touches": []}]}',
    b"\xef\xbb\xbf{}",
    b'{"models": ["lin\\u00e9ar"], "journeys": [{"conversion": {"id": "a", '
    b'"timestamp": "2025-01-01"}, "touches": []}]}',
])
def test_plain_reader_declines_what_is_not_plain(raw: bytes) -> None:
    assert read_plain(raw) is None


def test_plain_reader_reads_a_crm_body() -> None:
    raw = json.dumps({
        "models": ["linear", {"name": "time_decay", "params": {"half_life": "14d"}}],
        "journeys": [{"conversion": {"id": "opp-42", "timestamp": "2025-03-01T12:00:00Z",
                                     "value": 48000},
                      "touches": [{"touch_id": "t1", "timestamp": "2025-01-05T09:00:00+01:00",
                                   "channel": "LinkedIn ", "contact_id": "c1"}],
                      "milestones": {"lead": "2025-01-06"}}],
    }).encode()
    plain = read_plain(raw)
    assert plain is not None
    journey = plain.journeys[0]
    assert journey["conversion"]["value"] == 48000.0
    assert journey["touches"][0]["timestamp"] == datetime(2025, 1, 5, 8, tzinfo=UTC)
    schema = AttributeRequest.model_validate_json(raw)
    assert _instants(plain.journeys) == _instants(schema.journeys)


# PostgreSQL's timestamptz text (an offset of whole hours, what psql and COPY ... TO CSV
# write) and BigQuery's ' UTC' (new-user report 4, defect 12): read by the service as files
# read them (attribution's inputs), in the plain reader and in the schema alike
WAREHOUSE_STAMPS = ["2025-03-01 10:00:00+00", "2025-01-02 14:10:15.742226+00",
                    "2025-03-01T10:00-05", "2025-03-01 23:30:00.5+03", "2025-03-01 10:00:00 UTC"]


def test_warehouse_forms_read_as_files_read_them() -> None:
    import polars as pl

    from attribution.inputs._reading import _iso_timestamp

    files = pl.DataFrame({"t": WAREHOUSE_STAMPS}).select(_iso_timestamp(pl.col("t")))
    expected = files.to_series().to_list()
    assert None not in expected
    touches = [{"touch_id": f"t{k}", "timestamp": text, "channel": "email"}
               for k, text in enumerate(WAREHOUSE_STAMPS)]
    raw = json.dumps({"models": ["linear"], "journeys": [{
        "conversion": {"id": "o", "timestamp": "2025-03-02 00:00:00+00"},
        "touches": touches}]}).encode()
    schema = AttributeRequest.model_validate_json(raw)
    assert [t["timestamp"] for t in _instants(schema.journeys)[0]["touches"]] == expected
    assert read_plain(raw) is None  # ' UTC': declined, the schema reads it
    # the plain reader takes PostgreSQL's '+00' itself, with the schema's reading
    pg_only = raw.replace(b' UTC"', b'+00"')
    plain = _read_typed(pg_only)
    assert plain is not None
    assert _instants(plain.journeys) == _instants(
        AttributeRequest.model_validate_json(pg_only).journeys)
    assert _instants(plain.journeys) == _instants(schema.journeys)


# --- the fast path: the route's answer, byte for byte ---------------------------------------

KEY = "fast-path-key-0123456789"


def _crm_body(models: list[Any], touches: int = 6) -> dict[str, Any]:
    return {"models": models, "journeys": [{
        "conversion": {"id": f"opp-{j}", "timestamp": "2025-03-01T12:00:00Z", "value": 900},
        "touches": [{"touch_id": f"t{k}", "timestamp": f"2025-01-{k + 1:02d}T09:00:00+01:00",
                     "channel": ["LinkedIn ", "email", "direct"][k % 3], "contact_id": "c1"}
                    for k in range(touches)],
        "milestones": {"lead": "2025-01-03"}} for j in range(2)]}


def test_fast_path_answers_as_the_route_does(tmp_path: Any, start_server: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    import service.api.fast_path as fast_path
    from service import Settings, create_app

    answered: list[bool] = []
    real = fast_path._answer

    def counting(scope: Any, raw: bytes) -> bytes | None:
        out = real(scope, raw)
        answered.append(out is not None)
        return out

    monkeypatch.setattr(fast_path, "_answer", counting)
    url = start_server(create_app(Settings(api_keys=(KEY,), runs_dir=tmp_path / "runs",
                                           data_dir=tmp_path)))
    models = ["linear", "w_shaped", {"name": "time_decay", "params": {"half_life": "3d"}}]
    bad_touch = _crm_body(models)
    bad_touch["journeys"][0]["touches"][0]["timestamp"] = "2025-04-01T00:00:00Z"  # after
    postgres = json.loads(json.dumps(_crm_body(models)).replace("Z\"", "+00\"")
                          .replace("+01:00\"", "+01\""))
    campaigns = _crm_body(models)  # each row carries its touch's campaign, on either path
    for k, touch in enumerate(campaigns["journeys"][1]["touches"][:4]):
        touch["campaign"] = f"701{k % 2}"
    cases = [_crm_body(models), _crm_body(["linear"], touches=0), bad_touch,
             _crm_body(["nope"]), _crm_body(models) | {"extra": 1}, campaigns, postgres]
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=auth, timeout=30) as http:
        for sent in cases:
            raw = json.dumps(sent).encode()
            for _ in range(2):  # the first resolves the models (the route), the second not
                fast = http.post("/v1/attribute", content=raw)
            # no Content-Length (chunked): the fast path leaves it to the route
            routed = http.post("/v1/attribute", content=iter([raw[:100], raw[100:]]))
            assert (fast.status_code, fast.content) == (routed.status_code, routed.content)
            assert fast.headers["content-type"] == routed.headers["content-type"]
            if sent is campaigns:
                assert {r["campaign"] for r in fast.json()["touch_credit"]} == {
                    "7010", "7011", None}
    # the valid ones (after their first request) came by the fast path, the others did not
    assert answered == [False, True, False, True, False, False, False, False, False, False,
                        True, True, True, True]
    # PostgreSQL's '+00' (new-user report 4, defect 12): 200, the credit of the 'Z' body
    assert fast.status_code == 200
    with httpx.Client(base_url=url, headers=auth, timeout=30) as http:
        iso = http.post("/v1/attribute", content=json.dumps(_crm_body(models)).encode())
    assert fast.json() == iso.json()
