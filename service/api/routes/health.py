from __future__ import annotations

from fastapi import APIRouter

from ..schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> dict[str, str]:
    """Liveness probe; needs no API key."""
    return {"status": "ok"}
