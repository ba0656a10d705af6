from __future__ import annotations

from typing import Any

from fastapi import APIRouter

import attribution

from ..schemas import ModelsResponse, errors

router = APIRouter(tags=["models"])


@router.get("/models", response_model=ModelsResponse, responses=errors(401))
def list_models() -> dict[str, Any]:
    """Every registered model, with its parameters and their defaults."""
    return {"models": [spec.describe() for spec in attribution.available_models().values()]}
