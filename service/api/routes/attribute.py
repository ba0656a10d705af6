from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from attribution import JourneyScorer, JourneyScores

from ...core.errors import ServiceError, model_errors
from ..deps import BatcherDep, ScorersDep, SettingsDep
from ..schemas import AttributeRequest, AttributeResponse, errors

router = APIRouter(tags=["scoring"])


def _render(models: list[str], run_id: str | None) -> Callable[[JourneyScores], bytes]:
    prefix = f'{{"models":{json.dumps(models)},"run_id":{json.dumps(run_id)},'

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
    go to its own conversion. Data-driven models use a fitted model from a stored run
    (``run_id``, default the latest finished run); ``run_id`` in the response says which.
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
    found: tuple[JourneyScorer, str | None] | None = scorers.cached(models, body.run_id)
    if found is None:
        # resolving models, finding the latest run and fitting touch the disk: not on the loop
        with model_errors(models):
            found = await run_in_threadpool(scorers.get, models, body.run_id)
    scorer, run_id = found
    with model_errors(models):  # parameters that give non-finite credit
        content = await batcher.score(scorer, body.journeys, _render(scorer.labels, run_id))
    return Response(content, media_type="application/json")
