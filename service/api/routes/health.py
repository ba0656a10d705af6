from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...core.errors import ServiceError
from ...core.storage import data_dir_problem
from ..deps import RunsDep, SettingsDep
from ..schemas import Health, errors

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, response_model_exclude_none=True)
def healthz() -> dict[str, str]:
    """Liveness probe: the process answers. Needs no API key."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Health, response_model_exclude_none=True,
            responses=errors(503))
def readyz(settings: SettingsDep, runs: RunsDep) -> dict[str, Any]:
    """Readiness probe: 503 with the reason when batch runs cannot be taken (the runs
    directory is missing, read-only or below ATTRIBUTION_RUNS_MIN_FREE_BYTES free, or the
    service is shutting down). Needs no API key."""
    reason = runs.not_ready(settings.runs_min_free_bytes)
    if reason is not None:
        raise ServiceError(503, "not_ready", reason)
    problem = data_dir_problem(settings.data_dir)
    return {"status": "ok"} if problem is None else {"status": "ok", "warnings": [problem]}
