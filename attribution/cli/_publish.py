"""``attribution publish RUN_DIR``: make a finished run the model snapshot that data-driven
scoring (Markov, Shapley, counterfactual; ``POST /v1/attribute``) is fitted on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from attribution.cli._app import app, fail
from attribution.cli._output import console
from attribution.engine._snapshots import SnapshotStore
from attribution.exceptions import AttributionError, ConfigError


@app.command("publish")
def publish_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory, e.g. runs/<run_id>")],
    to: Annotated[
        Path | None,
        typer.Option("--to", help="Snapshot store (default: RUN_DIR/../.snapshots, where the "
                                  "service serving that runs directory looks)"),
    ] = None,
) -> None:
    """Publish a run as the current model snapshot for data-driven scoring."""
    store = SnapshotStore(to) if to is not None else SnapshotStore.beside(run_dir.parent)
    try:
        snapshot = store.publish(run_dir)
    except AttributionError as exc:
        fail(exc)
    except OSError as exc:  # the store cannot be written
        fail(ConfigError(f"cannot write the snapshot store {store.root}: {exc.strerror or exc}"))
    current = store.current_id()
    console.print(f"published snapshot {snapshot.snapshot_id} of run {snapshot.run_id} "
                  f"({snapshot.conversions:,.0f} conversions, {len(snapshot.channels)} "
                  "channels); "
                  + (f"it is now the current snapshot in {store.root}"
                     if current == snapshot.snapshot_id
                     else f"a newer publication, {current}, stays the current snapshot in "
                          f"{store.root}"),
                  markup=False, highlight=False)
