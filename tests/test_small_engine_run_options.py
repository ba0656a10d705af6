"""The small scoring engine under a published run's options (new-user report 18, M3): a
request shaped as a Salesforce caller sends it (its StageName mapped by the run's
``stage_names``, the opportunity's whole history with touches older than the run's lookback
or more than its cap, each touch's buying-committee ``role`` under an account-level run)
took the general engine, 17-25 ms of server time instead of under 1 ms. The small engine
now reads those requests itself: it must give the general engine's answer, drops and
unattributed conversions included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution import JourneyScorer

ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)
CHANNELS = ["linkedin", "Google Ads", "email", "webinar", "direct"]
RULES = [n for n, spec in attribution.available_models().items() if spec.family == "rule"]
#: a path table to fit the data-driven models on
PATHS = pl.DataFrame({
    "path": [["linkedin", "email"], ["webinar"], ["google_ads", "email", "direct"],
             ["linkedin"], ["email", "webinar"]],
    "conversions": [3, 1, 2, 0, 1], "nulls": [1, 2, 0, 4, 1],
    "value": [300.0, 100.0, 250.0, 0.0, 90.0]})
RUN = {  # an account-level Salesforce run's options, as a snapshot gives them
    "stage_names": {"closed_won": ["Closed Won"], "opportunity": ["Qualification"]},
    "lookback": "12d", "max_touches_per_journey": 4, "level": "account",
    "role_multipliers": {"decision_maker": 2.0, "champion": 1.5, "user": 0.5},
}


def _at(days: float) -> str:
    return (ORIGIN + timedelta(days=days)).isoformat()


_touch = st.tuples(st.sampled_from(CHANNELS), st.integers(0, 30),
                   st.sampled_from([None, "Decision Maker", "champion", "User", "intern", ""]))
_journey = st.tuples(
    st.lists(_touch, max_size=8), st.integers(10, 32),
    st.sampled_from([None, "Closed Won", "closed  won", "Qualification", "opportunity",
                     "mql"]),
    st.one_of(st.none(), st.floats(0, 1e5)))


def _journeys(spec: list[Any], roles: bool) -> list[dict[str, Any]]:
    out = []
    for i, (touches, at, stage, value) in enumerate(spec):
        conversion: dict[str, Any] = {"id": f"opp-{(i * 7) % 5}{i}", "timestamp": _at(at),
                                      "value": value}
        if stage is not None:
            conversion["stage"] = stage
        sent = []
        for k, (channel, day, role) in enumerate(touches):
            if day > at:
                continue  # a touch after its conversion is a 422 (the general engine's)
            touch = {"touch_id": f"t{k % 3}{k}", "channel": channel, "timestamp": _at(day)}
            if roles and role:
                touch["role"] = role
            sent.append(touch)
        out.append({"conversion": conversion, "touches": sent})
    return out


@pytest.fixture(scope="module", params=["account", "contact"])
def scorer(request: pytest.FixtureRequest) -> JourneyScorer:
    options = dict(RUN)
    if request.param == "contact":
        options = {k: v for k, v in options.items() if k not in ("level", "role_multipliers")}
    return JourneyScorer(models=[*RULES, "time_decay:half_life=2d", "markov", "shapley"],
                         **options).fit(PATHS)


@settings(max_examples=40, deadline=None)
@given(st.lists(_journey, min_size=1, max_size=4))
def test_small_engine_equals_the_general_one_under_run_options(
        scorer: JourneyScorer, spec: list[Any]) -> None:
    assert scorer.small_engine
    journeys = _journeys(spec, roles=scorer.role_multipliers is not None)
    small = scorer.score(journeys, engine="small")
    fast = scorer.score(journeys, engine="fast")
    assert_frame_equal(small.touch_credit, fast.touch_credit, check_exact=False,
                       rel_tol=1e-12, abs_tol=1e-12)
    assert_frame_equal(small.channel_credit.sort("model", "channel"),
                       fast.channel_credit.sort("model", "channel"), check_exact=False,
                       rel_tol=1e-12, abs_tol=1e-9)
    assert small.unattributed == fast.unattributed
    assert small.touches_dropped == fast.touches_dropped


def test_the_run_options_change_the_small_engines_answer(scorer: JourneyScorer) -> None:
    """Not a no-op: the stage is mapped, old touches and those over the cap are dropped and
    counted, and roles weigh linear (account level)."""
    touches = [{"touch_id": f"t{k}", "channel": "email", "timestamp": _at(k),
                "role": "Decision Maker" if k == 19 else "user"} for k in range(20)]
    deal = {"conversion": {"id": "opp-1", "timestamp": _at(20), "stage": "Closed Won"},
            "touches": touches}
    gone = {"conversion": {"id": "opp-2", "timestamp": _at(30)}, "touches": touches[:2]}
    scores = scorer.score([deal, gone], engine="small")
    assert scores.touches_dropped == {"journey_too_long": 8, "outside_lookback": 10}
    assert scores.unattributed == ["opp-2"]
    linear = scores.touch_credit.filter(pl.col("model") == "linear")
    assert linear.get_column("touch_id").to_list() == ["t16", "t17", "t18", "t19"]
    expected = [0.5 / 3.5] * 3 + [2 / 3.5] if scorer.role_multipliers else [0.25] * 4
    assert linear.get_column("credit").to_list() == pytest.approx(expected, abs=1e-12)
    with pytest.raises(attribution.InputError, match="not a stage scoring knows"):
        scorer.score([{**deal, "conversion": {**deal["conversion"], "stage": "Won"}}])
