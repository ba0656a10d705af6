"""attribution.engine._scoring: journeys as plain data -> touch and channel credit (the
API's core)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA
from attribution.engine._run_paths import read_run_paths
from attribution.engine._scoring import JourneyScorer, needs_paths, score_journeys

ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)
RULES = [name for name, spec in attribution.available_models().items() if spec.family == "rule"]
DATA = [name for name, spec in attribution.available_models().items() if spec.family == "data"]
CHANNELS = ["linkedin", "google_ads", "email", "webinar", "direct", "g2"]


def day(n: float) -> datetime:
    return ORIGIN + timedelta(days=n)


def journey(cid: str, touches: list[tuple[str, str, float]], at: float, *,
            value: float | None = 1000.0, stage: str | None = None,
            lead: float | None = None, opportunity: float | None = None) -> dict[str, Any]:
    conversion: dict[str, Any] = {"id": cid, "timestamp": day(at), "value": value}
    if stage:
        conversion["stage"] = stage
    milestones = {k: day(v) for k, v in (("lead", lead), ("opportunity", opportunity))
                  if v is not None}
    return {
        "conversion": conversion,
        "touches": [{"touch_id": t, "channel": ch, "timestamp": day(d)} for t, ch, d in touches],
        "milestones": milestones,
    }


WORKED = journey(
    "opp-1",
    [("t1", "linkedin", 0), ("t2", "google_ads", 10), ("t3", "email", 20),
     ("t4", "webinar", 30), ("t5", "events", 40)],
    40, lead=12, opportunity=31,
)


@pytest.fixture(scope="module")
def sample_paths(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """The path table of a stored run over sample_data/ (read back as the service does)."""
    data = Path(__file__).resolve().parents[1] / "sample_data"
    result = attribution.attribute(data / "touches.parquet", data / "stages.parquet",
                                   models=["linear"])
    run_dir = result.write(tmp_path_factory.mktemp("runs"))
    return read_run_paths(run_dir)


def test_worked_example_matches_models_md() -> None:
    res = score_journeys([WORKED], models=["w_shaped", "time_decay"])
    rows = res.touch_credit.select("model", "touch_id", "credit").rows()
    credit = {(m, t): c for m, t, c in rows}
    assert [credit["w_shaped", f"t{i}"] for i in range(1, 6)] == pytest.approx(
        [0.3, 0.3, 0.05, 0.3, 0.05])
    assert [credit["time_decay", f"t{i}"] for i in range(1, 6)] == pytest.approx(
        [0.0121, 0.0325, 0.0874, 0.2352, 0.6330], abs=1e-4)


def test_same_credit_as_attribute_on_the_equivalent_touch_log() -> None:
    touches = pl.DataFrame({
        "touch_id": ["t1", "t2", "t3", "t4", "t5"], "contact_id": ["c1"] * 5,
        "channel": ["linkedin", "google_ads", "email", "webinar", "events"],
        "timestamp": [day(d) for d in (0, 10, 20, 30, 40)],
    })
    stages = pl.DataFrame({
        "contact_id": ["c1"] * 3, "stage": ["lead", "opportunity", "closed_won"],
        "timestamp": [day(12), day(31), day(40)], "value": [None, None, 1000.0],
    })
    expected = attribution.attribute(touches, stages, models=RULES).touch_credit
    got = score_journeys([WORKED], models=RULES).touch_credit
    cols = ["touch_id", "channel", "timestamp", "model", "credit", "value"]
    assert_frame_equal(got.select(cols), expected.select(cols))


def test_columns_ids_and_sum_to_one() -> None:
    journeys = [journey(f"opp-{i}", [(f"t{k}", CHANNELS[(i + k) % 6], k) for k in range(4 + i)],
                        30, lead=2) for i in range(3)]
    res = score_journeys(journeys, models=RULES)
    assert res.touch_credit.schema == TOUCH_CREDIT_SCHEMA
    assert res.channel_credit.schema == CHANNEL_CREDIT_SCHEMA
    assert res.models == RULES
    assert set(res.touch_credit.get_column("conversion_id")) == {"opp-0", "opp-1", "opp-2"}
    sums = res.touch_credit.group_by("model", "conversion_id").agg(pl.col("credit").sum())
    assert sums.height == 3 * len(RULES)
    assert (sums.get_column("credit") - 1).abs().max() < 1e-9  # type: ignore[operator]
    assert res.touch_credit.get_column("credit").min() >= 0  # type: ignore[operator]
    per_model = res.channel_credit.group_by("model").agg(pl.col("conversions").sum(),
                                                         pl.col("value").sum())
    assert (per_model.get_column("conversions") - 3).abs().max() < 1e-9  # type: ignore[operator]
    assert (per_model.get_column("value") - 3000).abs().max() < 1e-6  # type: ignore[operator]


def test_a_touch_only_goes_to_its_own_journey() -> None:
    # same contact, same touch ids, overlapping times: still two separate journeys
    a = journey("a", [("t1", "linkedin", 0), ("t2", "email", 5)], 10)
    b = journey("b", [("t1", "g2", 1), ("t2", "direct", 6)], 8)
    res = score_journeys([a, b], models=["linear"])
    rows = res.touch_credit.select("conversion_id", "touch_id", "channel", "credit").rows()
    assert rows == [("a", "t1", "linkedin", 0.5), ("a", "t2", "email", 0.5),
                    ("b", "t1", "g2", 0.5), ("b", "t2", "direct", 0.5)]


def test_defaults_ids_value_stage_and_unattributed() -> None:
    journeys = [
        {"conversion": {"id": "x", "timestamp": "2025-02-01T00:00:00Z"},
         "touches": [{"timestamp": "2025-01-01", "channel": "linkedin"},
                     {"timestamp": datetime(2025, 1, 2), "channel": "email"}]},
        {"conversion": {"id": "empty", "timestamp": "2025-02-01"}, "touches": []},
    ]
    res = score_journeys(journeys, models=["first_touch", "full_path"])
    assert res.unattributed == ["empty"]
    tc = res.touch_credit.filter(model="first_touch")
    assert tc.get_column("touch_id").to_list() == ["touches[0]", "touches[1]"]
    assert tc.get_column("value").to_list() == [0.0, 0.0]  # no value sent: 0
    # naive datetimes are UTC
    assert tc.get_column("timestamp").to_list()[1] == datetime(2025, 1, 2, tzinfo=UTC)
    # stage defaults to closed_won: full_path's closed-won touch is the last one
    full = res.touch_credit.filter(model="full_path").get_column("credit").to_list()
    assert full == pytest.approx([0.5, 0.5])


def test_opportunity_conversion_is_its_own_opportunity_milestone() -> None:
    touches = [("t1", "linkedin", 0), ("t2", "email", 10), ("t3", "g2", 20)]
    own = score_journeys([journey("o", touches, 20, stage="opportunity", lead=5)],
                         models=["w_shaped"]).touch_credit.get_column("credit").to_list()
    # first t1, lead t1 (last touch at or before day 5), opportunity t3 (the conversion)
    assert own == pytest.approx([0.3 + 0.3, 0.1, 0.3])  # others (0.1): t2 alone


@pytest.mark.parametrize(("bad", "field", "text"), [
    (lambda j: j["touches"][1].update(timestamp=day(99)), "journeys[0].touches[1].timestamp",
     "after its conversion"),
    (lambda j: j["touches"][1].update(touch_id="t1"), "journeys[0].touches[1].touch_id",
     "sent twice"),
    (lambda j: j["touches"][0].update(timestamp="yesterday"), "journeys[0].touches[0].timestamp",
     "ISO 8601"),
    (lambda j: j["touches"][0].pop("channel"), "journeys[0].touches[0].channel", "required"),
    (lambda j: j["conversion"].update(value=-1.0), "journeys[0].conversion.value",
     "non-negative"),
    (lambda j: j["milestones"].update(mql=day(1)), "journeys[0].milestones.mql",
     "not a milestone"),
    (lambda j: j["milestones"].update(opportunity=day(11)),
     "journeys[0].milestones.opportunity", "milestone is after its conversion"),
])
def test_bad_journeys_name_the_field(bad: Any, field: str, text: str) -> None:
    j = journey("opp", [("t1", "linkedin", 0), ("t2", "email", 5)], 10)
    bad(j)
    with pytest.raises(attribution.InputError, match=text) as info:
        score_journeys([j], models=["linear"])
    assert info.value.column == field


def test_duplicate_conversion_ids_are_refused() -> None:
    j = journey("opp", [("t1", "linkedin", 0)], 10)
    with pytest.raises(attribution.InputError, match="sent twice") as info:
        score_journeys([j, j], models=["linear"])
    assert info.value.column == "journeys[1].conversion.id"


def test_model_errors_come_from_the_registry() -> None:
    with pytest.raises(attribution.ModelNotFoundError, match="did you mean 'linear'"):
        score_journeys([WORKED], models=["lineer"])
    with pytest.raises(attribution.ModelParameterError, match="half_life"):
        score_journeys([WORKED], models=[("time_decay", {"half_life": "soon"})])


def test_infinite_weights_are_an_error_not_nan_credit() -> None:
    with pytest.raises(attribution.ModelParameterError, match="must be a finite number"):
        score_journeys([WORKED], models=[{"name": "custom", "params": {"first": "inf",
                                                                       "last": "inf"}}])


@pytest.mark.parametrize("model", DATA)
def test_data_models_need_paths(model: str) -> None:
    assert needs_paths([model])
    assert not needs_paths(RULES)
    with pytest.raises(attribution.ModelParameterError, match="fitted on a path table"):
        score_journeys([WORKED], models=["linear", model])


def test_data_models_fitted_on_a_stored_run(sample_paths: pl.DataFrame) -> None:
    assert sample_paths.schema["path"] == pl.List(pl.String)
    journeys = [WORKED, journey("opp-2", [("a", "linkedin", 0), ("b", "linkedin", 1),
                                          ("c", "email", 2)], 3)]
    res = score_journeys(journeys, models=DATA, paths=sample_paths)
    sums = res.touch_credit.group_by("model", "conversion_id").agg(pl.col("credit").sum())
    assert sums.height == 2 * len(DATA)
    assert (sums.get_column("credit") - 1).abs().max() < 1e-9  # type: ignore[operator]
    # markov: each conversion split over its channels by removal effect, like attribute()
    markov = JourneyScorer(models=["markov"]).fit(sample_paths).estimators_["markov"]
    weights = markov.channel_weights_
    opp2 = dict(res.touch_credit.filter(model="markov", conversion_id="opp-2")
                .select("touch_id", "credit").rows())
    share = weights["linkedin"] / (weights["linkedin"] + weights["email"])
    assert opp2["a"] == pytest.approx(share / 2)
    assert opp2["c"] == pytest.approx(1 - share)


def _assert_engines_agree(journeys: list[dict[str, Any]], models: list[Any],
                          paths: pl.DataFrame | None = None) -> None:
    scorer = JourneyScorer(models=models).fit(paths)
    fast = scorer.score(journeys, engine="fast")
    reference = scorer.score(journeys, engine="reference")
    assert_frame_equal(fast.touch_credit, reference.touch_credit)  # exact, row order too
    # channel sums: equal up to the order Polars adds in (nondeterministic in the last bit)
    assert_frame_equal(fast.channel_credit.sort("model", "channel"),
                       reference.channel_credit.sort("model", "channel"),
                       check_exact=False, rel_tol=1e-12, abs_tol=1e-12)
    assert fast.unattributed == reference.unattributed


def test_fast_engine_equals_reference_with_data_models(sample_paths: pl.DataFrame) -> None:
    journeys = [WORKED, journey("opp-2", [("a", "linkedin", 0), ("b", "direct", 0),
                                          ("c", "email", 2)], 3, stage="opportunity")]
    _assert_engines_agree(journeys, [*DATA, "linear", "markov:order=2"], sample_paths)


_touch = st.tuples(st.sampled_from(CHANNELS), st.integers(0, 40))
_journey = st.tuples(
    st.lists(_touch, max_size=6),
    st.integers(0, 45),                      # conversion day (touches after it are dropped)
    st.sampled_from([None, "closed_won", "opportunity", "mql", "sql"]),
    st.one_of(st.none(), st.integers(0, 50)),  # lead (after the conversion: left out)
    st.one_of(st.none(), st.integers(0, 50)),  # opportunity
    st.one_of(st.none(), st.floats(0, 1e6)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_journey, min_size=1, max_size=4))
def test_fast_engine_equals_reference(spec: list[Any]) -> None:
    journeys = []
    for i, (touches, at, stage, lead, opp, value) in enumerate(spec):
        kept = [(f"t{k}", ch, d) for k, (ch, d) in enumerate(touches) if d <= at]
        lead, opp = (m if m is None or m <= at else None for m in (lead, opp))  # else a 422
        journeys.append(journey(f"c{i}", kept, at, value=value, stage=stage, lead=lead,
                                opportunity=opp))
    _assert_engines_agree(journeys, [*RULES, ("custom", {"lead": 1, "others": 0.5,
                                                         "half_life": "3d"})])


def test_score_many_equals_score_on_each_request() -> None:
    requests = [
        [WORKED, journey("opp-2", [("a", "g2", 0), ("b", "email", 2)], 3, stage="opportunity")],
        [journey("opp-1", [("x", "direct", 1)], 2)],  # same id as in request 0: allowed
        [{"conversion": {"id": "lonely", "timestamp": day(5)}, "touches": []}],
        [WORKED],
    ]
    scorer = JourneyScorer(models=[*RULES, "time_decay:half_life=1d"]).fit()
    many = scorer.score_many(requests)
    assert len(many) == len(requests)
    for journeys, batched in zip(requests, many, strict=True):
        alone = scorer.score(journeys)
        assert_frame_equal(batched.touch_credit, alone.touch_credit)
        assert_frame_equal(batched.channel_credit, alone.channel_credit, check_exact=False,
                           rel_tol=1e-12, abs_tol=1e-12)
        assert batched.unattributed == alone.unattributed
        assert batched.models == alone.models
    assert many[2].touch_credit.height == 0
    assert many[2].unattributed == ["lonely"]


# --- the small engine (NumPy) against the Polars engine ------------------------------------

_small_touch = st.tuples(st.sampled_from([*CHANNELS, "Direct ", "events"]),
                         st.integers(0, 40), st.sampled_from(["t0", "t1", "t2", None]))
_small_journey = st.tuples(
    st.lists(_small_touch, max_size=7),
    st.integers(0, 45),
    st.sampled_from([None, "closed_won", "opportunity", "mql", "lead"]),
    st.one_of(st.none(), st.integers(0, 50)),
    st.one_of(st.none(), st.integers(0, 50)),
    st.one_of(st.none(), st.floats(0, 1e6)),
)
SMALL_MODELS = [*RULES, *DATA, "markov:order=2", "counterfactual:transform=exposure",
                "counterfactual:transform=first", "counterfactual:transform=frequency",
                "last_non_direct:direct_channels=direct|email",
                ("custom", {"first": 0.5, "lead": 1, "others": 0.5, "last_non_direct": 2,
                            "half_life": "3d", "channel_multipliers": {"webinar": 3, "g2": 0}})]


@pytest.fixture(scope="module")
def every_model(sample_paths: pl.DataFrame) -> JourneyScorer:
    return JourneyScorer(models=SMALL_MODELS).fit(sample_paths)


def _small_journeys(spec: list[Any]) -> list[dict[str, Any]]:
    journeys = []
    for i, (touches, at, stage, lead, opp, value) in enumerate(spec):
        kept, seen = [], set()
        for k, (ch, d, tid) in enumerate(touches):  # equal times and ids: ties to break
            if d <= at and (tid is None or tid not in seen):
                seen.add(tid)
                kept.append((tid or f"x{k}", ch, d))
        lead, opp = (m if m is None or m <= at else None for m in (lead, opp))  # else a 422
        journeys.append(journey(f"c{(i * 7) % 5}{i}", kept, at, value=value, stage=stage,
                                lead=lead, opportunity=opp))
    return journeys


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_small_journey, min_size=1, max_size=4))
def test_small_engine_equals_the_polars_engine(every_model: JourneyScorer,
                                               spec: list[Any]) -> None:
    journeys = _small_journeys(spec)
    small = every_model.score(journeys, engine="small")
    fast = every_model.score(journeys, engine="fast")
    _same_scores(small.touch_credit, fast.touch_credit)  # row order too
    _same_scores(small.channel_credit.sort("model", "channel"),
                 fast.channel_credit.sort("model", "channel"))
    assert small.unattributed == fast.unattributed
    assert small.channels == sorted(set(fast.channel_credit.get_column("channel")))
    # the JSON rows are the frames' own JSON: same keys, same text, same numbers
    small_json, fast_json = (orjson.loads(s.to_json({"k": 1})) for s in (small, fast))
    for part, schema in (("touch_credit", TOUCH_CREDIT_SCHEMA),
                         ("channel_credit", CHANNEL_CREDIT_SCHEMA)):
        assert [list(r) for r in small_json[part]] == [list(r) for r in fast_json[part]]
        as_frames = [pl.DataFrame(rows, schema={k: pl.String if v == pl.Datetime("us", "UTC")
                                                else v for k, v in schema.items()}, orient="row")
                     for rows in ([list(r.values()) for r in j[part]]
                                  for j in (small_json, fast_json))]
        if part == "channel_credit":
            as_frames = [f.sort("model", "channel") for f in as_frames]
        _same_scores(*as_frames)
    assert {k: v for k, v in small_json.items() if "credit" not in k} == {
        k: v for k, v in fast_json.items() if "credit" not in k}


def _same_scores(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Equal, credit and shares to 1e-12, values (credit x deal value) relatively so."""
    assert got.columns == expected.columns
    absolute = [c for c in got.columns if c in ("credit", "conversions", "share")]
    assert_frame_equal(got.drop(absolute), expected.drop(absolute), check_exact=False,
                       rel_tol=1e-12, abs_tol=1e-9)
    assert_frame_equal(got.select(absolute), expected.select(absolute), check_exact=False,
                       rel_tol=0, abs_tol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
       st.sampled_from(["T", " "]), st.sampled_from(["", "Z", "+05:30", "-01:00"]),
       st.sampled_from([0, 1, 3, 6]), st.sampled_from(["date", "minutes", "seconds"]))
def test_small_engine_reads_iso_text_as_polars_does(moment: datetime, sep: str, zone: str,
                                                    digits: int, form: str) -> None:
    if form == "date":
        text = moment.date().isoformat()
    elif form == "minutes":
        text = moment.strftime(f"%Y-%m-%d{sep}%H:%M") + zone
    else:
        fraction = f".{moment.microsecond:06d}"[:digits + 1] if digits else ""
        text = moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + fraction + zone
    one = [{"conversion": {"id": "k", "timestamp": "2300-01-01"},
            "touches": [{"timestamp": text, "channel": "email"}]}]
    scorer = JourneyScorer(models=["linear"]).fit()
    small = scorer.score(one, engine="small").touch_credit
    assert_frame_equal(small, scorer.score(one, engine="fast").touch_credit)


def test_small_engine_leaves_what_it_does_not_read_to_the_general_one() -> None:
    scorer = JourneyScorer(models=["linear"]).fit()
    odd = [{"conversion": {"id": "k", "timestamp": " 2025-02-01 "},
            "touches": [{"timestamp": "2025-01-01T00:00:00.1234567", "channel": "email"}]}]
    with pytest.raises(ValueError, match="small engine does not take"):
        scorer.score(odd, engine="small")
    assert scorer.score(odd).touch_credit.get_column("credit").to_list() == [1.0]
    bad = [{"conversion": {"id": "k", "timestamp": "2025-02-01"},
            "touches": [{"timestamp": "2025-03-01", "channel": "email"}]}]
    with pytest.raises(attribution.InputError, match="after its conversion") as err:
        scorer.score(bad)
    assert err.value.column == "journeys[0].touches[0].timestamp"
