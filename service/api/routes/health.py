from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

import attribution

from ...core.errors import ServiceError
from ...core.storage import SnapshotReadiness, data_dir_problem
from ..deps import RunsDep, SettingsDep
from ..schemas import Health, errors

router = APIRouter(tags=["health"])

#: /readyz's note when no model snapshot is published: ready, for rule-based scoring
NO_SNAPSHOT = ("no model snapshot is published: rule-based models score; data-driven ones "
               "(markov, shapley, counterfactual) answer 409 no_snapshot until a run is "
               "published")


@router.get("/healthz", response_model=Health, response_model_exclude_none=True)
def healthz() -> dict[str, str]:
    """Liveness probe: the process answers. Needs no API key."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Health, response_model_exclude_none=True,
            responses=errors(503))
def readyz(settings: SettingsDep, runs: RunsDep, request: Request) -> dict[str, Any]:
    """Readiness probe: 503 with the reason when batch runs cannot be taken (the runs
    directory is missing, read-only or below ATTRIBUTION_RUNS_MIN_FREE_BYTES free, or the
    service is shutting down) or when data-driven scoring cannot find the current model
    snapshot (the store's pointer to it is damaged: 503 snapshot_store, the message scoring
    gives). Ready with no snapshot published (rule-based scoring), saying so in ``notes``.
    Needs no API key."""
    reason = runs.not_ready(settings.runs_min_free_bytes)
    if reason is not None:
        raise ServiceError(503, "not_ready", reason)
    readiness: SnapshotReadiness = request.app.state.readiness
    try:
        snapshot = readiness.current()
    except attribution.InputError as exc:  # as scoring answers it (service/core/scoring.py)
        raise ServiceError(503, "snapshot_store", str(exc)) from None
    answer: dict[str, Any] = {"status": "ok", "snapshot": snapshot}
    if snapshot is None:
        answer["notes"] = [NO_SNAPSHOT]
    if (problem := data_dir_problem(settings.data_dir)) is not None:
        answer["warnings"] = [problem]
    return answer
