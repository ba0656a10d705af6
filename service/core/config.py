"""The service's settings: one pydantic-settings class, read from ``ATTRIBUTION_*`` variables.

Only the service (and the CLI) read the environment; the library takes explicit arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from attribution import ConfigError


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
    max_touches_per_journey: int = Field(
        default=5_000, ge=1, description="touches per journey: the default touch cap of a run "
        "(max_touches_per_journey), so a journey a run credits whole can be scored whole")
    max_credit_rows: int = Field(
        default=50_000, ge=1,
        description="touches x models per scoring request (rows of touch credit answered)")
    scoring_workers: int = Field(
        default=2, ge=1, description="threads scoring large requests (above 2,000 touch-credit "
                                     "rows); small requests are batched on a thread of their own")
    scoring_waiting: int = Field(
        default=8, ge=0, description="large scoring requests that may wait for a thread; more "
                                     "get 429")
    docs: bool = Field(default=False, description="serve the Swagger UI at /docs (it loads "
                                                  "its scripts from a public CDN)")
    allow_insecure: bool = Field(default=False,
                                 description="start without API keys (local dev only)")
    run_workers: int = Field(default=2, ge=1, description="batch runs executed at once")
    scorer_cache_size: int = Field(default=64, ge=1,
                                   description="model sets kept resolved / fitted")
    max_fits: int = Field(default=1, ge=1, le=64,
                          description="data-driven model fits run at once per server process; "
                                      "a request needing another fit meanwhile gets 429")
    fitted_models: int = Field(default=32, ge=1,
                               description="fitted data-driven models kept, per snapshot and "
                                           "resolved parameters")
    max_queued_runs: int = Field(default=4, ge=0,
                                 description="batch runs waiting for a worker; more get 429")
    run_heartbeat_seconds: float = Field(default=5.0, gt=0, le=3600,
                                         description="how often a running run renews its lease")
    run_lease_seconds: float = Field(default=30.0, gt=0, le=86400,
                                     description="a run whose lease is this old is interrupted")
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=86400,
                                          description="on SIGTERM, running runs get this long")
    runs_min_free_bytes: int = Field(default=64 * 1024 * 1024, ge=0,
                                     description="/readyz is 503 below this free space")

    @model_validator(mode="after")
    def _lease_outlives_heartbeats(self) -> Settings:
        if self.run_lease_seconds < 2 * self.run_heartbeat_seconds:
            raise ValueError(
                f"ATTRIBUTION_RUN_LEASE_SECONDS ({self.run_lease_seconds:g}) must be at least "
                f"twice ATTRIBUTION_RUN_HEARTBEAT_SECONDS ({self.run_heartbeat_seconds:g}), so "
                "that one late heartbeat does not interrupt a live run")
        return self

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return value


def load_settings() -> Settings:
    """:class:`Settings` from the environment; a bad value is one line naming the variable.

    Raises
    ------
    attribution.ConfigError
        ``invalid settings: ATTRIBUTION_RUN_WORKERS: Input should be greater than or equal
        to 1``. Values are never echoed (pydantic's own message shows its input, and with a
        check over several settings that input holds the API keys).
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
            loc = error.get("loc") or ()
            problems.append(f"ATTRIBUTION_{str(loc[0]).upper()}: {message}" if loc else message)
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
