"""Dependencies, as ``Annotated`` aliases the routes take as parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from attribution import SnapshotStore

from ..core.batching import ScoringPool
from ..core.config import Settings
from ..core.runs import RunStore
from ..core.scoring import ScorerCache

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")


# async: trivial lookups, run on the event loop instead of a thread-pool hop each
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_runs(request: Request) -> RunStore:
    runs: RunStore = request.app.state.runs
    return runs


async def get_scorers(request: Request) -> ScorerCache:
    scorers: ScorerCache = request.app.state.scorers
    return scorers


async def get_snapshots(request: Request) -> SnapshotStore:
    snapshots: SnapshotStore = request.app.state.snapshots
    return snapshots


async def get_scoring(request: Request) -> ScoringPool:
    scoring: ScoringPool = request.app.state.scoring
    return scoring


SettingsDep = Annotated[Settings, Depends(get_settings)]
RunsDep = Annotated[RunStore, Depends(get_runs)]
ScorersDep = Annotated[ScorerCache, Depends(get_scorers)]
ScoringDep = Annotated[ScoringPool, Depends(get_scoring)]
SnapshotsDep = Annotated[SnapshotStore, Depends(get_snapshots)]


async def api_key_scheme(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Declares the bearer scheme in the OpenAPI schema. The key itself is checked earlier,
    by :class:`service.core.auth.ApiKeyAuth`, before the body is read or the route matched."""


Authenticated = Depends(api_key_scheme)
