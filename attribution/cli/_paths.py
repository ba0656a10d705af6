"""``attribution paths``: attribute a pre-aggregated path table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from attribution.cli._app import EXIT_EMPTY, ModelOpt, OutOpt, app, fail, finish
from attribution.engine._memory import attribute_paths
from attribution.exceptions import AttributionError, EmptyResultError
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
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Write the run even when no path has a conversion "
                     "(else exit 3 saying so)"),
    ] = False,
) -> None:
    """Attribute a pre-aggregated path table (as other tools take)."""
    try:  # nothing attributed is no answer: exit 3 saying why, as `run` does
        result = attribute_paths(file, models=model or default_models(paths_only=True), sep=sep,
                                 allow_empty=allow_empty)
    except EmptyResultError as exc:
        fail(exc, EXIT_EMPTY)
    except AttributionError as exc:
        fail(exc)
    finish(result, out)
