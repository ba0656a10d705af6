"""Published model snapshots: what data-driven scoring is fitted on."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

import attribution
from attribution import ModelSnapshot

from ...core.errors import ServiceError, describe_library_error
from ...core.runs import gone_message
from ..deps import RunsDep, SnapshotsDep
from ..schemas import PublishRequest, SnapshotInfo, SnapshotsResponse, errors

router = APIRouter(prefix="/models/snapshots", tags=["models"])


def _info(snapshot: ModelSnapshot, current: str | None) -> dict[str, Any]:
    return snapshot.describe() | {"current": snapshot.snapshot_id == current}


@router.get("", response_model=SnapshotsResponse, responses=errors(401))
def list_snapshots(snapshots: SnapshotsDep) -> dict[str, Any]:
    """Every published snapshot, newest first, and which one is current (null, with a
    warning saying why, when the store's pointer to it is damaged)."""
    warnings: list[str] = []
    try:
        found = snapshots.current()
    except attribution.InputError as exc:  # listed all the same: the operator repairs it
        found, warnings = None, [str(exc)]
    current = found.snapshot_id if found is not None else None
    return {"current": current, "snapshots": [_info(s, current) for s in snapshots.all()],
            "warnings": warnings}


@router.post("", status_code=201, response_model=SnapshotInfo,
             responses=errors(400, 401, 404, 409, 410, 422, 503))
async def publish(body: PublishRequest, runs: RunsDep, snapshots: SnapshotsDep) -> dict[str, Any]:
    """Publish a succeeded run as a new snapshot and make it the current one.

    Data-driven models (markov, shapley, counterfactual) in ``POST /v1/attribute`` are
    fitted on the current snapshot unless the request names another. A run without a
    conversion cannot be published (422).
    """
    run_dir = runs.run_dir(body.run_id)
    if run_dir is None:
        status = await run_in_threadpool(runs.get, body.run_id)
        if status is None:
            raise ServiceError(404, "not_found", f"no run '{body.run_id}'", field="run_id")
        if status.get("status") == "succeeded":  # and its directory removed since
            raise ServiceError(410, "gone", gone_message(body.run_id), field="run_id")
        raise ServiceError(409, "conflict", f"run '{body.run_id}' is {status.get('status')}; "
                           "a run can be published once it has succeeded", field="run_id")
    try:
        snapshot = await run_in_threadpool(snapshots.publish, run_dir)
    except attribution.InputError as exc:  # no conversion, no readable path table
        kind, message, _ = describe_library_error(exc)
        raise ServiceError(422, kind, message, field="run_id") from exc
    except OSError as exc:  # a read-only or full disk: say so, without the server's paths
        raise ServiceError(503, "storage", "cannot write the snapshot store: "
                           f"{exc.strerror or type(exc).__name__}") from exc
    # "current" as the store says after the pointer moved: a newer publication at the same
    # time may be the current one, and this answer must not say otherwise
    return _info(snapshot, await run_in_threadpool(snapshots.current_id))
