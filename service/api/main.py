"""All routes: ``/healthz`` open, everything under ``/v1`` behind the API key."""

from __future__ import annotations

from fastapi import APIRouter

from .deps import Authenticated
from .routes import attribute, health, models, runs, snapshots

api_router = APIRouter()
api_router.include_router(health.router)

v1 = APIRouter(prefix="/v1", dependencies=[Authenticated])
v1.include_router(models.router)
v1.include_router(snapshots.router)
v1.include_router(attribute.router)
v1.include_router(runs.router)
api_router.include_router(v1)
