"""Scoring's rule for channels a data-driven model never saw: they earn no credit of their
own, and they move nothing. Every data-driven model scores a journey as its seen touches
alone (the unseen ones get 0); a journey of unseen channels only is split evenly over its
distinct channels, then their touches. All three engines (small, fast, reference) agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import attribution
from attribution import JourneyScorer, read_run_paths

ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)
SEEN = ["linkedin", "google_ads", "email", "webinar", "direct", "g2_capterra", "events"]
UNSEEN = ["tiktok", "snapchat"]
MODELS = ["markov", "shapley", "counterfactual", "markov:order=2",
          "counterfactual:transform=exposure", "counterfactual:transform=first",
          "counterfactual:transform=frequency"]
ENGINES = ("small", "fast", "reference")


@pytest.fixture(scope="module")
def scorer(tmp_path_factory: pytest.TempPathFactory) -> JourneyScorer:
    data = Path(__file__).resolve().parents[1] / "sample_data"
    result = attribution.attribute(data / "touches.parquet", data / "stages.parquet",
                                   models=["linear"])
    paths = read_run_paths(result.write(tmp_path_factory.mktemp("runs")))
    assert not set(UNSEEN) & set(paths.get_column("path").explode().to_list())
    return JourneyScorer(models=MODELS).fit(paths)


def _journey(touches: list[tuple[str, str]]) -> dict[str, Any]:
    """Touches (id, channel) a day apart, in the order given; the conversion after them."""
    return {"conversion": {"id": "deal", "timestamp": ORIGIN + timedelta(days=len(touches)),
                           "value": 1000.0},
            "touches": [{"touch_id": tid, "channel": channel,
                         "timestamp": ORIGIN + timedelta(days=k)}
                        for k, (tid, channel) in enumerate(touches)]}


def _credit(scorer: JourneyScorer, touches: list[tuple[str, str]],
            engine: str) -> dict[tuple[str, str], float]:
    rows = scorer.score([_journey(touches)], engine=engine).touch_credit  # type: ignore[arg-type]
    return {(m, t): c for m, t, c in rows.select("model", "touch_id", "credit").rows()}


def test_the_tester_s_journey_counterfactual_gives_the_unseen_last_touch_nothing(
        scorer: JourneyScorer) -> None:
    """newuser-report3 #2: linkedin, g2_capterra, then tiktok (unseen) as the last touch.
    Counterfactual used to give tiktok 1.0; now it scores linkedin > g2_capterra as the
    model learned it, as Markov and Shapley do."""
    sent = [("a", "linkedin"), ("b", "g2_capterra"), ("c", "tiktok")]
    without = _credit(scorer, sent[:2], "fast")
    for engine in ENGINES:
        got = _credit(scorer, sent, engine)
        for model in scorer.labels:
            assert got[model, "c"] == 0.0, (engine, model)
            assert got[model, "a"] + got[model, "b"] == pytest.approx(1.0, abs=1e-12)
            for tid in ("a", "b"):
                assert got[model, tid] == pytest.approx(without[model, tid], abs=1e-12)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seen=st.lists(st.sampled_from(SEEN), max_size=6),
       unseen=st.lists(st.tuples(st.sampled_from(UNSEEN), st.integers(0, 6)),
                       min_size=1, max_size=4))
def test_unseen_touches_earn_nothing_and_move_nothing(scorer: JourneyScorer,
                                                      seen: list[str],
                                                      unseen: list[tuple[str, int]]) -> None:
    touches = [(f"s{k}", channel) for k, channel in enumerate(seen)]
    for k, (channel, at) in enumerate(unseen):  # anywhere, the last place included
        touches.insert(min(at, len(touches)), (f"u{k}", channel))
    without = _credit(scorer, [t for t in touches if t[0].startswith("s")], "fast") if seen \
        else {}
    for engine in ENGINES:
        got = _credit(scorer, touches, engine)
        for model in scorer.labels:
            credits = [got[model, tid] for tid, _ in touches]
            assert min(credits) >= 0
            assert sum(credits) == pytest.approx(1.0, abs=1e-12)
            for tid, channel in touches:
                if seen and tid.startswith("u"):
                    assert got[model, tid] == 0.0
                elif seen:
                    assert got[model, tid] == pytest.approx(without[model, tid], abs=1e-12)
                else:  # all unseen: even over the distinct channels, then their touches
                    kinds = {c for _, c in touches}
                    mine = sum(c == channel for _, c in touches)
                    assert got[model, tid] == pytest.approx(1 / len(kinds) / mine, abs=1e-12)


def test_channel_credit_of_a_request_with_unseen_channels_sums_to_its_conversions(
        scorer: JourneyScorer) -> None:
    journeys = [_journey([("a", "tiktok"), ("b", "email"), ("c", "snapchat")]),
                {**_journey([("x", "tiktok")]), "conversion": {
                    "id": "other", "timestamp": ORIGIN + timedelta(days=3), "value": 10.0}}]
    for engine in ENGINES:
        channel = scorer.score(journeys, engine=engine).channel_credit  # type: ignore[arg-type]
        sums = channel.group_by("model").agg(pl.col("conversions").sum())
        assert sums.get_column("conversions").to_list() == pytest.approx([2.0] * len(MODELS))
        cf = channel.filter(pl.col("model") == "counterfactual")
        by = dict(cf.select("channel", "conversions").rows())
        assert (by["email"], by["tiktok"], by["snapchat"]) == pytest.approx((1.0, 1.0, 0.0))


def test_the_channel_spelling_cache_emptied_mid_request_spells_every_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # new-user report 6 #9: once 4,096 spellings were cached, a request whose other channel
    # was cached lost it to the emptying: KeyError, a 500 from the service
    from attribution.engine import _scoring_small_read

    monkeypatch.setattr(_scoring_small_read, "_SPELLING_CACHE_SIZE", 8)
    scorer = attribution.JourneyScorer(models=["linear"]).fit()  # the cache is the scorer's
    assert scorer._small is not None
    for i in range(30):
        journey = {"conversion": {"id": "c1", "timestamp": "2025-03-01T10:00:00Z"},
                   "touches": [{"timestamp": "2025-01-10T09:00:00Z", "channel": f"Ch{i}"},
                               {"timestamp": "2025-01-11T09:00:00Z", "channel": " B "}]}
        credit = scorer.score([journey], engine="small").channel_credit
        assert dict(credit.select("channel", "conversions").iter_rows()) == {
            f"ch{i}": 0.5, "b": 0.5}
        assert len(scorer._small._spell._values) <= 8
