"""The service's settings: one pydantic-settings class, read from ``ATTRIBUTION_*`` variables.

Only the service (and the CLI) read the environment; the library takes explicit arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Service settings. Each field ``x`` is read from the variable ``ATTRIBUTION_X``.

    ``ATTRIBUTION_API_KEYS`` is comma-separated: ``key1,key2``. With no keys the service
    refuses to start unless ``ATTRIBUTION_ALLOW_INSECURE=true`` (local development only).
    """

    model_config = SettingsConfigDict(env_prefix="ATTRIBUTION_", extra="ignore")

    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), repr=False, description="accepted bearer keys (comma-separated)"
    )
    data_dir: Path = Field(default=Path("data"),
                           description="batch runs read files under this dir only")
    runs_dir: Path = Field(default=Path("runs"),
                           description="run directories and their status files")
    max_body_bytes: int = Field(default=1_048_576, ge=1,
                                description="larger request bodies get 413")
    max_journeys: int = Field(default=100, ge=1, description="journeys per scoring request")
    max_touches_per_journey: int = Field(default=1_000, ge=1, description="touches per journey")
    allow_insecure: bool = Field(default=False,
                                 description="start without API keys (local dev only)")
    run_workers: int = Field(default=2, ge=1, description="batch runs executed at once")
    scorer_cache_size: int = Field(default=64, ge=1,
                                   description="model sets kept resolved / fitted")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return value
