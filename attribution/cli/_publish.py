"""``attribution publish RUN_DIR``: make a finished run the model snapshot that data-driven
scoring (Markov, Shapley, counterfactual; ``POST /v1/attribute``) is fitted on.

*Decision* (README, "Nightly on your warehouse"): a run written with ``--write-to`` whose
write-back did not commit (its manifest's ``write_back.status`` is ``failed``, ``pending``,
``unknown`` or ``not_attempted``) is refused, exit 2, naming the status and the target:
scoring would then be fitted on a run the warehouse's result tables do not hold (or may not).
``--allow-uncommitted`` publishes it anyway (said). A run written without ``--write-to`` has
no write-back to wait for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from attribution.cli._app import app, fail
from attribution.cli._output import console
from attribution.engine._files import RunFiles
from attribution.engine._snapshots import SnapshotStore
from attribution.engine._writeback import WRITE_BACK, write_back_status
from attribution.exceptions import AttributionError, ConfigError, InputError

#: what each status that is not ``committed`` means for the warehouse's result tables
_NOT_COMMITTED = {
    "failed": "it failed and was rolled back: the database holds nothing of this run",
    "pending": "the process was killed while writing: the database may hold the run or not",
    "unknown": "it was stopped while COMMIT was on its way: the database may hold the run "
    "or not",
    "not_attempted": "it was stopped before the write began: the database holds nothing of "
    "this run",
}


@app.command("publish")
def publish_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory, e.g. runs/<run_id>")],
    to: Annotated[
        Path | None,
        typer.Option("--to", help="Snapshot store (default: RUN_DIR/../.snapshots, where the "
                                  "service serving that runs directory looks)"),
    ] = None,
    allow_uncommitted: Annotated[
        bool,
        typer.Option("--allow-uncommitted", help="Publish a run whose write-back (--write-to) "
                     "did not commit (refused otherwise: the warehouse lacks that run)"),
    ] = False,
) -> None:
    """Publish a run as the current model snapshot for data-driven scoring."""
    store = SnapshotStore(to) if to is not None else SnapshotStore.beside(run_dir.parent)
    refusal = uncommitted(_manifest(run_dir), run_dir.name)
    if refusal is not None:
        if not allow_uncommitted:
            fail(refusal)
        console.print(f"note: {refusal.message}; published anyway (--allow-uncommitted)",
                      markup=False, highlight=False)
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


def _manifest(run_dir: Path) -> Mapping[str, Any]:
    """The run's manifest, {} when it cannot be read (the store's publish names that)."""
    try:
        found = json.loads((run_dir / RunFiles.MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def uncommitted(manifest: Mapping[str, Any], name: str) -> InputError | None:
    """The error refusing to publish a run whose write-back did not commit; None for a run
    whose write-back committed or that had none."""
    status = write_back_status(manifest)
    if status is None or status == "committed":
        return None
    record = manifest.get(WRITE_BACK) or {}
    why = _NOT_COMMITTED.get(status, "its outcome is not recorded as committed")
    error = record.get("error")
    return InputError(
        f"run '{name}' wrote its results to {record.get('target')} (run_id "
        f"{record.get('run_id')}) and that write did not commit (write_back.status "
        f"'{status}'{f': {error}' if error else ''}): {why}; scoring fitted on it would "
        "answer from a run your result tables do not hold",
        hint="publish a run whose write-back committed (run the night again), or give "
        "--allow-uncommitted to publish this one anyway",
    )
