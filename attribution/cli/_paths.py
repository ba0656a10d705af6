"""``attribution paths``: attribute a pre-aggregated path table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from attribution.cli._app import ModelOpt, OutOpt, app, fail, finish
from attribution.engine._memory import attribute_paths
from attribution.exceptions import AttributionError
from attribution.models._registry import default_models


@app.command()
def paths(
    file: Annotated[Path, typer.Argument(help="Path table: path, conversions[, nulls, value]")],
    model: ModelOpt = None,
    sep: Annotated[
        str,
        typer.Option(help="Separator between channels in a path (default '>', spaces around it "
                     "optional)"),
    ] = ">",
    out: OutOpt = Path("runs"),
) -> None:
    """Attribute a pre-aggregated path table (as other tools take)."""
    try:
        result = attribute_paths(file, models=model or default_models(paths_only=True), sep=sep)
    except AttributionError as exc:
        fail(exc)
    finish(result, out)
