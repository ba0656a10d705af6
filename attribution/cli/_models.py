"""``attribution models``: the model registry, as a table or JSON."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from attribution.cli._app import app, console
from attribution.models._registry import available_models


@app.command("models")
def models_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """List every registered model with its parameters."""
    specs = [s.describe() for s in available_models().values()]
    if as_json:
        sys.stdout.write(json.dumps(specs, indent=2, default=str) + "\n")
        return
    table = Table(title="Registered models")
    for col in ("name", "family", "summary", "parameters (default)"):
        table.add_column(col)
    for s in specs:
        params = ", ".join(f"{p['name']}={p['default']}" for p in s["params"]) or "-"
        table.add_row(*(escape(str(v)) for v in (s["name"], s["family"], s["summary"], params)))
    console.print(table)
