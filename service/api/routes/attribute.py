from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from attribution import JourneyScores

from ...core.errors import ServiceError, model_errors
from ...core.scoring import Scoring
from ..deps import BatcherDep, ScorersDep, SettingsDep
from ..schemas import AttributeRequest, AttributeResponse, errors

router = APIRouter(tags=["scoring"])


def _render(models: list[str], scoring: Scoring,
            unseen: list[str]) -> Callable[[JourneyScores], bytes]:
    snapshot = scoring.snapshot
    prefix = (f'{{"models":{json.dumps(models)},'
              f'"snapshot":{json.dumps(snapshot.snapshot_id if snapshot else None)},'
              f'"run_id":{json.dumps(snapshot.run_id if snapshot else None)},'
              f'"unseen_channels":{json.dumps(unseen)},')

    def render(scores: JourneyScores) -> bytes:
        # the frames serialise themselves: no per-row Python objects on the way out
        return (
            f'{prefix}"unattributed":{json.dumps(scores.unattributed)},'
            f'"touch_credit":{scores.touch_credit.write_json()},'
            f'"channel_credit":{scores.channel_credit.write_json()}}}'
        ).encode()

    return render


@router.post("/attribute", response_model=AttributeResponse,
             responses=errors(400, 401, 404, 409, 413, 422))
async def attribute(body: AttributeRequest, settings: SettingsDep, scorers: ScorersDep,
                    batcher: BatcherDep) -> Response:
    """Per-touch and per-channel credit for each journey under each model.

    Send exactly the touches to credit (at or before the conversion): each journey's touches
    go to its own conversion. Data-driven models (markov, shapley, counterfactual) are
    fitted on a published model snapshot: ``snapshot`` if given, else the current one (409
    when none is published); the response names it and lists ``unseen_channels``.
    """
    if len(body.journeys) > settings.max_journeys:
        raise ServiceError(
            422, "limit_exceeded",
            f"{len(body.journeys):,} journeys sent; the limit is {settings.max_journeys:,} per "
            "request (ATTRIBUTION_MAX_JOURNEYS)", field="journeys")
    for j, journey in enumerate(body.journeys):
        if len(journey["touches"]) > settings.max_touches_per_journey:
            raise ServiceError(
                422, "limit_exceeded",
                f"journeys[{j}] has {len(journey['touches']):,} touches; the limit is "
                f"{settings.max_touches_per_journey:,} per journey "
                "(ATTRIBUTION_MAX_TOUCHES_PER_JOURNEY)", field=f"journeys[{j}].touches")
    models = list(body.models)
    touches = sum(len(journey["touches"]) for journey in body.journeys)
    if touches * len(models) > settings.max_credit_rows:
        raise ServiceError(
            422, "limit_exceeded",
            f"{touches:,} touches x {len(models)} models = {touches * len(models):,} rows of "
            f"touch credit; the limit is {settings.max_credit_rows:,} per request "
            "(ATTRIBUTION_MAX_CREDIT_ROWS): send fewer journeys or models per request",
            field="journeys")
    scoring = scorers.cached(models)
    if scoring is None:
        # resolving models, reading the snapshot and fitting touch the disk: not on the loop
        with model_errors(models):
            scoring = await run_in_threadpool(scorers.get, models, body.snapshot)
    render = _render(scoring.scorer.labels, scoring, scoring.unseen(body.journeys))
    with model_errors(models):  # parameters that give non-finite credit
        content = await batcher.score(scoring.scorer, body.journeys, render)
    return Response(content, media_type="application/json")
