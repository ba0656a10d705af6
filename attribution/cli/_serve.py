"""``attribution serve``: the HTTP API. The service is imported inside the command only, so
the rest of the command line does not load FastAPI."""

from __future__ import annotations

from typing import Annotated

import typer

from attribution.cli._app import app, fail
from attribution.exceptions import AttributionError


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Start without API keys (local development only)")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    workers: Annotated[int, typer.Option(
        min=1, help="Server processes sharing the port (each with its own scoring pool)")] = 1,
) -> None:
    """Start the HTTP API (settings from ATTRIBUTION_* variables); schema at /openapi.json."""
    from pydantic import ValidationError

    from service import serve as run_service

    try:
        run_service(host, port, allow_insecure=True if insecure else None, log_level=log_level,
                    workers=workers)
    except (AttributionError, ValidationError) as exc:  # no keys without --insecure, bad env
        fail(exc)
