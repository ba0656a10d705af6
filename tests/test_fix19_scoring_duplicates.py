"""Item 2 of fix19: the scoring rule of an exact duplicate is one function
(:func:`attribution.engine._journey_request.exact_duplicates` over ``DUPLICATE_FIELDS``) that
the general engine and the small engine both use: a change of the rule reaches both, and they
agree on touches whose times are written differently but read alike."""

from __future__ import annotations

import pytest

import attribution
from attribution.engine import _journey_request

DEAL = {"id": "opp-1", "timestamp": "2025-01-10T00:00:00Z", "value": 100.0}
# the same moment in three spellings, one channel: one touch and two exact duplicates
SAME = [{"timestamp": "2025-01-01T00:00:00Z", "channel": "linkedin"},
        {"timestamp": "2025-01-01T00:00Z", "channel": "linkedin"},
        {"timestamp": "2025-01-01T01:00:00+01:00", "channel": "linkedin"},
        {"timestamp": "2025-01-05T00:00:00Z", "channel": "webinar"}]  # fmt: skip


@pytest.mark.parametrize("engine", ["auto", "fast", "reference"])
def test_times_read_alike_are_one_touch_in_every_engine(engine: str) -> None:
    scores = attribution.score_journeys([{"conversion": DEAL, "touches": SAME}],
                                        models=["linear"], engine=engine)  # type: ignore[arg-type]
    assert scores.touches_dropped == {"exact_duplicate": 2}
    assert scores.touch_credit.select("channel", "credit").rows() == [
        ("linkedin", 0.5), ("webinar", 0.5)]


def test_a_change_of_the_rule_reaches_both_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    # two contacts' touches at one moment on one channel: two touches under the rule...
    touches = [{"timestamp": "2025-01-01T00:00:00Z", "channel": "linkedin", "contact_id": c}
               for c in ("c1", "c2")] + [SAME[3]]  # fmt: skip
    journeys = [{"conversion": DEAL, "touches": touches}]
    small = attribution.score_journeys(journeys, models=["linear"], engine="small")
    assert small.touches_dropped == {}
    # ...and duplicates in both engines when the one rule stops comparing the contact
    monkeypatch.setattr(_journey_request, "DUPLICATE_FIELDS", ("touch_id", "channel"))
    with pytest.raises(ValueError, match="small engine does not take this request"):
        attribution.score_journeys(journeys, models=["linear"], engine="small")
    fast = attribution.score_journeys(journeys, models=["linear"], engine="fast")
    assert fast.touches_dropped == {"exact_duplicate": 1}


def test_the_rule_gives_one_answer_in_python_and_in_polars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 3 journeys x 6 touches: repeats within a journey are duplicates, across journeys not
    journeys = [j for j in range(3) for _ in range(6)]
    moments = [k % 2 for _ in range(3) for k in range(6)]
    fields = {f: [None] * 18 for f in _journey_request.DUPLICATE_FIELDS}
    fields["channel"] = ["a", "a", "b", "b", "a", "a"] * 3
    in_python = _journey_request.exact_duplicates(journeys, moments, fields).to_list()
    monkeypatch.setattr(_journey_request, "_IN_PYTHON_UP_TO", 0)
    in_polars = _journey_request.exact_duplicates(journeys, moments, fields).to_list()
    assert in_python == in_polars == [False, False, False, False, True, True] * 3
