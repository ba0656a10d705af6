"""service/core/batching.py: concurrent scoring requests are batched, and stay separate."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import attribution
from attribution.engine._scoring import JourneyScorer, JourneyScores
from service.core.batching import ScoringBatcher

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def journeys(cid: str, n: int, *, late: bool = False) -> list[dict[str, Any]]:
    touches = [{"touch_id": f"t{k}", "timestamp": T0 + timedelta(days=k),
                "channel": ["linkedin", "email", "g2"][k % 3]} for k in range(n)]
    if late:
        touches[-1]["timestamp"] = T0 + timedelta(days=99)
    return [{"conversion": {"id": cid, "timestamp": T0 + timedelta(days=n), "value": 10.0},
             "touches": touches}]


def render(scores: JourneyScores) -> bytes:
    return json.dumps({"touch": scores.touch_credit.select("conversion_id", "touch_id",
                                                            "model", "credit").rows(),
                       "unattributed": scores.unattributed}).encode()


def test_concurrent_requests_get_their_own_results_and_errors() -> None:
    scorer = JourneyScorer(models=["linear", "first_touch"]).fit()
    sent = [journeys("a", 2), journeys("b", 3), journeys("c", 3, late=True), journeys("a", 4)]

    async def main() -> list[bytes | BaseException]:
        batcher = ScoringBatcher()
        try:
            return await asyncio.gather(*(batcher.score(scorer, j, render) for j in sent),
                                        return_exceptions=True)
        finally:
            batcher.close()

    results = asyncio.run(main())
    for journeys_sent, got in zip(sent, results, strict=True):
        if journeys_sent[0]["conversion"]["id"] == "c":
            assert isinstance(got, attribution.InputError)
            assert got.column == "journeys[0].touches[2].timestamp"  # its own request's path
        else:
            assert got == render(scorer.score(journeys_sent))


def test_a_lone_request_is_scored_at_once() -> None:
    scorer = JourneyScorer(models=["linear"]).fit()

    async def main() -> bytes:
        batcher = ScoringBatcher()
        try:
            return await asyncio.wait_for(batcher.score(scorer, journeys("x", 3), render), 10)
        finally:
            batcher.close()

    assert json.loads(asyncio.run(main()))["touch"][0] == ["x", "t0", "linear",
                                                          pytest.approx(1 / 3)]
