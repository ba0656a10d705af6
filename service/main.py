"""Builds the FastAPI app (:func:`create_app`) and runs it with uvicorn (:func:`serve`).

``attribution serve`` calls :func:`serve`; to run it under your own uvicorn command::

    uvicorn --factory service.main:create_app --host 127.0.0.1 --port 8000 [--workers N]
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

import attribution
from attribution import SnapshotStore

from .api.fast_path import ScoringFastPath
from .api.main import api_router
from .api.routes.attribute import document_body, init_process
from .core.auth import ApiKeyAuth, check_keys
from .core.batching import ScoringPool
from .core.config import Settings, load_settings
from .core.content_type import JsonBodyOnly
from .core.errors import install_error_handlers
from .core.limits import BodySizeLimit
from .core.request_id import RequestId
from .core.runs import RunStore
from .core.scoring import ScorerCache
from .core.storage import SnapshotReadiness, data_dir_problem
from .core.timing import ServerTiming

log = logging.getLogger("attribution.service")

#: seconds a worker may take to answer uvicorn's supervisor (its start included) before it
#: is killed and started again: a worker's start (importing the library, the app) took
#: ~40 s on a host at load 30, where uvicorn's default of 5 s restarted it 17 times
WORKER_HEALTHCHECK_S = 60

DESCRIPTION = """\
Multi-touch attribution over HTTP: score journeys sent by the CRM, start batch runs over
files in the data directory and read their results. Every `/v1` route needs
`Authorization: Bearer <key>`. Errors are `{"error": {"type", "message", "field"}}`.
"""


def check_security(settings: Settings) -> None:
    """Refuse to run without API keys unless the insecure flag says so, explicitly; refuse
    keys that are short or not printable ASCII."""
    check_keys(settings.api_keys)
    if not settings.api_keys and not settings.allow_insecure:
        raise attribution.ConfigError(
            "no API keys configured: set ATTRIBUTION_API_KEYS=key1,key2 (comma-separated), "
            "or, for local development only, ATTRIBUTION_ALLOW_INSECURE=true "
            "(attribution serve --insecure)"
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service, configured by ``settings`` (default: from ``ATTRIBUTION_*`` variables).

    Raises
    ------
    attribution.ConfigError
        No API keys and no insecure flag; a key shorter than 16 characters or not
        printable ASCII.
    """
    settings = settings if settings is not None else load_settings()
    check_security(settings)
    runs = RunStore(settings.runs_dir, workers=settings.run_workers,
                    max_queued=settings.max_queued_runs,
                    heartbeat=settings.run_heartbeat_seconds, lease=settings.run_lease_seconds,
                    data_dir=settings.data_dir)

    # large scoring requests run in child processes, with their own settings (no keys)
    scoring = ScoringPool(settings.scoring_workers, settings.scoring_waiting,
                          initializer=init_process,
                          initargs=(settings.model_copy(update={"api_keys": ()}),))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        unhook = log_through_uvicorn()
        runs.start()
        try:
            yield
            # SIGTERM (uvicorn's shutdown): running runs get the grace period, then are
            # marked interrupted; queued runs are marked interrupted at once
            await asyncio.to_thread(runs.shutdown, settings.shutdown_grace_seconds)
            await asyncio.to_thread(scoring.close)
        finally:
            unhook()

    app = FastAPI(
        title="attribution",
        version=attribution.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # the Swagger UI loads its scripts from a public CDN: off unless ATTRIBUTION_DOCS
        docs_url="/docs" if settings.docs else None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.runs = runs
    app.state.snapshots = SnapshotStore.beside(settings.runs_dir)
    app.state.readiness = SnapshotReadiness(app.state.snapshots)
    app.state.scorers = ScorerCache(app.state.snapshots, size=settings.scorer_cache_size,
                                    max_fits=settings.max_fits,
                                    fitted_models=settings.fitted_models)
    app.state.scoring = scoring
    # innermost: the everyday scoring request answered before routing (same answer)
    app.add_middleware(ScoringFastPath)
    install_error_handlers(app)
    # a body of another declared media type is a 415 (inside the size limit: the body it
    # drops before answering is bounded by it)
    app.add_middleware(JsonBodyOnly)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # the key is checked before the body is read or routed
    app.add_middleware(ApiKeyAuth, keys=settings.api_keys)
    # every request's id (X-Request-ID, taken or made), also on a 401 or a 413
    app.add_middleware(RequestId)
    # added last, so outermost: times everything the app does for a request
    app.add_middleware(ServerTiming)
    app.include_router(api_router)
    document_body(app)
    return app


def log_through_uvicorn() -> Callable[[], None]:
    """Send the service's log lines (``attribution.service``: batch runs accepted, started,
    succeeded, failed, interrupted) through the handlers uvicorn logs with, at the level of
    its ``--log-level``, when nothing else handles them (no handler of their own, none on the
    root logger: an application that configures logging keeps its own). Without this they
    went nowhere below WARNING. Returns the undo, for the app's shutdown."""
    ours = logging.getLogger(log.name)
    handlers = list(logging.getLogger("uvicorn").handlers)
    if not handlers or ours.handlers or logging.getLogger().handlers:
        return lambda: None
    level = ours.level
    ours.setLevel(logging.getLogger("uvicorn.error").getEffectiveLevel())
    for handler in handlers:
        ours.addHandler(handler)

    def undo() -> None:
        for handler in handlers:
            ours.removeHandler(handler)
        ours.setLevel(level)

    return undo


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(host: str, port: int) -> None:
    """That the server can listen on ``host:port`` (bound and released here, with
    ``SO_REUSEADDR`` as uvicorn binds), else a ConfigError saying why: a port in use was
    uvicorn's log line and exit status 3, after the app had started up."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise attribution.ConfigError(
            f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc} "
            "(--host: an interface name or address)") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            hint = ("another process listens there: stop it, or choose another --port"
                    if exc.errno == errno.EADDRINUSE else "choose another --host or --port")
            raise attribution.ConfigError(
                f"cannot listen on {host} port {port}: {exc.strerror}; {hint}") from None


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    settings: Settings | None = None,
    allow_insecure: bool | None = None,
    log_level: str = "info",
    workers: int = 1,
    **uvicorn_options: Any,
) -> None:
    """Start the service with uvicorn and block until it stops.

    Parameters
    ----------
    host, port
        Where to listen; the default is loopback only.
    settings
        Default: read from ``ATTRIBUTION_*`` environment variables.
    allow_insecure
        Overrides ``ATTRIBUTION_ALLOW_INSECURE`` (``attribution serve --insecure``).
    workers
        Server processes sharing the port (uvicorn's ``--workers``): each builds its own
        app from the ``ATTRIBUTION_*`` variables (so ``settings`` must be None), with its
        own scorer cache and scoring pool. uvicorn's supervisor restarts a worker that does
        not answer its ping within :data:`WORKER_HEALTHCHECK_S` seconds (uvicorn's own
        default, 5 s, killed every worker still starting on a busy host, in a loop).
    uvicorn_options
        Passed on to :func:`uvicorn.run` (e.g. ``access_log=False``).

    Raises
    ------
    attribution.ConfigError
        No API keys and no insecure flag: the service does not start.
    """
    import uvicorn

    if workers < 1:
        raise attribution.ConfigError(f"workers must be at least 1; got {workers}")
    if workers > 1 and settings is not None:
        raise attribution.ConfigError("several workers read their settings from the "
                                      "ATTRIBUTION_* variables: pass no settings")
    settings = settings if settings is not None else load_settings()
    if allow_insecure is not None:
        settings = settings.model_copy(update={"allow_insecure": allow_insecure})
    check_address(host, port)  # before the app touches the runs directory
    if workers == 1:
        app: Any = create_app(settings)
    else:
        create_app(settings)  # its errors here, once, before any worker starts
        if allow_insecure is not None:  # the workers read it from the environment
            os.environ["ATTRIBUTION_ALLOW_INSECURE"] = "true" if allow_insecure else "false"
        app = "service.main:create_app"
        uvicorn_options = {"factory": True, "workers": workers,
                           "timeout_worker_healthcheck": WORKER_HEALTHCHECK_S,
                           **uvicorn_options}
    if not settings.api_keys:
        log.warning("starting WITHOUT API keys (insecure local-development mode)%s",
                    "" if _is_loopback(host) else f"; and listening on {host}, not loopback")
    if (problem := data_dir_problem(settings.data_dir)) is not None:
        log.warning("%s ('%s')", problem, settings.data_dir)
    uvicorn.run(app, host=host, port=port, log_level=log_level, **uvicorn_options)
