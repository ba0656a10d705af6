"""Dependencies, as ``Annotated`` aliases the routes take as parameters."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..core.batching import ScoringBatcher
from ..core.config import Settings
from ..core.errors import ServiceError
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


async def get_batcher(request: Request) -> ScoringBatcher:
    batcher: ScoringBatcher = request.app.state.batcher
    return batcher


SettingsDep = Annotated[Settings, Depends(get_settings)]
RunsDep = Annotated[RunStore, Depends(get_runs)]
ScorersDep = Annotated[ScorerCache, Depends(get_scorers)]
BatcherDep = Annotated[ScoringBatcher, Depends(get_batcher)]


async def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless the request carries ``Authorization: Bearer <one of the keys>``.

    With no keys configured (only possible with the explicit insecure flag) all pass.
    """
    if not settings.api_keys:
        return
    sent = credentials.credentials.encode() if credentials else b""
    # compare against every key, so the time taken does not tell which one nearly matched
    matched = False
    for key in settings.api_keys:
        matched |= secrets.compare_digest(sent, key.encode())
    if not matched:
        raise ServiceError(
            401, "unauthorized",
            "missing or invalid API key: send the header 'Authorization: Bearer <key>' with "
            "one of the keys in ATTRIBUTION_API_KEYS" if credentials is None else
            "invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )


Authenticated = Depends(require_api_key)
