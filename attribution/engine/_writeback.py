"""Write-back: a run's results appended to database tables, one transaction per run.

``write_back(result, uri, run_id=...)`` appends, each row led by the ``run_id``:

==================================== =========================================================
table                                rows
==================================== =========================================================
``attribution_channel_credit``       ``channel_credit`` (model, channel, conversions, value,
                                     share)
``attribution_touch_credit``         ``touch_credit`` (conversion, touch, contact, account,
                                     channel, timestamp, model, credit, value)
``attribution_campaign_influence``   ``campaign_influence`` (per opportunity, model and
                                     campaign), when the touches carry campaigns
``attribution_economics``            the unit economics table, when the run has one (as
                                     ``economics.parquet``: ``all`` and segment rows)
==================================== =========================================================

A table that does not exist is created from the first run's columns. Everything is written in
one transaction: when any append fails (a table of the same name with other columns, a lost
connection), nothing of the run is written.

With ``run_dir`` (the command line's ``--write-to``), the run directory's ``manifest.json``
says whether the run reached the database, under ``write_back``: ``target`` (the URI,
redacted), ``run_id``, ``status`` and, once committed, ``tables`` (rows per table) and
``rows``. The status is ``pending`` as the directory is written (it stays so only when the
process was killed while writing: the database may hold the run or not; ``SELECT count(*)
FROM attribution_channel_credit WHERE run_id = '...'`` tells), then ``committed`` (COMMIT
returned), ``failed`` (an error, or Ctrl-C / SIGTERM before COMMIT: rolled back, nothing of
the run written; ``error`` says why), ``unknown`` (stopped while COMMIT was on its way) or
``not_attempted`` (stopped before the write began). ``--keep-runs`` and the service's run
list read it (:func:`write_back_status`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from attribution.engine._files import RunFiles, write_json_atomic
from attribution.exceptions import AttributionError, ConfigError
from attribution.inputs._database import open_database, redacted

__all__ = [
    "WRITE_BACK",
    "WRITE_BACK_TABLES",
    "mark_pending",
    "outcome_line",
    "write_back",
    "write_back_status",
]

#: the manifest's key of the write-back's target and outcome
WRITE_BACK = "write_back"

#: What is written -> the database table it goes to.
WRITE_BACK_TABLES: Mapping[str, str] = {
    "channel_credit": "attribution_channel_credit",
    "touch_credit": "attribution_touch_credit",
    "campaign_influence": "attribution_campaign_influence",
    "economics": "attribution_economics",
}


def _frames(result: Any, extras: Iterable[Any]) -> dict[str, pl.DataFrame]:
    from attribution.b2b._economics import UnitEconomics

    frames = {"channel_credit": result.channel_credit, "touch_credit": result.touch_credit}
    influence = getattr(result, "campaign_influence", None)
    if isinstance(influence, pl.DataFrame) and influence.width:  # touches with campaigns
        frames["campaign_influence"] = influence
    for extra in extras:
        if isinstance(extra, UnitEconomics):
            frames["economics"] = extra.frame  # as economics.parquet: all and segment rows
    return frames


def write_back(
    result: Any,
    uri: str,
    *,
    run_id: str | None = None,
    extras: Iterable[Any] = (),
    run_dir: str | Path | None = None,
) -> dict[str, int]:
    """Append ``result``'s channel and touch credit (and the economics among ``extras``) to
    the tables of :data:`WRITE_BACK_TABLES` in the database ``uri``, in one transaction, with
    ``run_id`` (default the manifest's) as the first column. Returns the rows written per
    table. Raises :class:`ConfigError` (nothing written) when the database refuses any of it.
    ``run_dir``: the run's directory, whose ``manifest.json`` then records the target and
    the outcome (``write_back``, see the module), as ``result.manifest`` does.

    Examples
    --------
    >>> import duckdb, tempfile, pathlib, polars as pl, attribution
    >>> touches = pl.DataFrame({"contact_id": ["c1", "c1"], "channel": ["ads", "email"],
    ...     "timestamp": ["2025-01-01", "2025-01-05"]})
    >>> stages = pl.DataFrame({"contact_id": ["c1"], "stage": ["closed_won"],
    ...     "timestamp": ["2025-01-10"], "value": [100.0]})
    >>> result = attribution.attribute(touches, stages, models=["linear"])
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "results.duckdb"
    >>> attribution.write_back(result, f"duckdb://{db}", run_id="night-1")
    {'attribution_channel_credit': 2, 'attribution_touch_credit': 2}
    >>> with duckdb.connect(str(db)) as con:
    ...     con.sql("SELECT run_id, channel, conversions FROM attribution_channel_credit "
    ...             "ORDER BY channel").fetchall()
    [('night-1', 'ads', 0.5), ('night-1', 'email', 0.5)]
    >>> result.manifest["write_back"]["status"], result.manifest["write_back"]["rows"]
    ('committed', 4)
    """
    run_id = run_id or str(result.manifest["run_id"])
    frames = _frames(result, extras)
    written: dict[str, int] = {}
    record: dict[str, Any] = {"target": redacted(uri), "run_id": run_id, "status": "pending"}
    result.manifest[WRITE_BACK] = record
    _record(run_dir, record)  # killed from here on, the manifest says the write may be there
    database = None
    try:
        with open_database(uri, write=True) as database:
            try:
                with database.transaction() as transaction:
                    for name, frame in frames.items():
                        table = WRITE_BACK_TABLES[name]
                        rows = frame.select(pl.lit(run_id).alias("run_id"), pl.all())
                        transaction.append(table, rows.to_arrow())
                        written[table] = rows.height
            except AttributionError:
                raise
            except Exception as exc:  # the driver's error, without secrets: nothing written
                raise ConfigError(
                    f"writing the run to {redacted(uri)} failed, nothing was written: "
                    f"{database.error(exc)}"
                ) from None
    except BaseException as exc:
        outcome = database.outcome if database is not None else "rolled_back"
        stopped = not isinstance(exc, Exception)
        record.update(
            status="unknown" if outcome == "unknown" else "failed",
            error=(
                "stopped (Ctrl-C or SIGTERM) while COMMIT was on its way"
                if outcome == "unknown"
                else "stopped (Ctrl-C or SIGTERM) before COMMIT: rolled back"
                if stopped
                else str(exc)
            ),
            ended_at=datetime.now(UTC).isoformat(),
        )
        _record(run_dir, record)
        raise
    record.update(
        status="committed",
        tables=dict(written),
        rows=sum(written.values()),
        ended_at=datetime.now(UTC).isoformat(),
    )
    _record(run_dir, record)
    return written


def mark_pending(result: Any, uri: str) -> None:
    """Before the run directory is written: its manifest's ``write_back`` names the target,
    status ``not_attempted`` (``pending`` once :func:`write_back` starts)."""
    result.manifest[WRITE_BACK] = {
        "target": redacted(uri),
        "run_id": str(result.manifest.get("run_id")),
        "status": "not_attempted",
    }


def _record(run_dir: str | Path | None, record: Mapping[str, Any]) -> None:
    """``record`` into the ``manifest.json`` of ``run_dir`` (replaced in one step), when
    given and there."""
    if run_dir is None:
        return
    path = Path(run_dir) / RunFiles.MANIFEST
    try:
        manifest = json.loads(path.read_text())
        manifest[WRITE_BACK] = dict(record)
        write_json_atomic(path, manifest)
    except (OSError, ValueError):  # the directory removed meanwhile: nothing to record in
        pass


def write_back_status(manifest: Mapping[str, Any]) -> str | None:
    """The ``write_back`` status of a run's manifest, None for a run written without
    ``--write-to`` (or before the manifest recorded it)."""
    record = manifest.get(WRITE_BACK)
    if not isinstance(record, Mapping):
        return None
    return str(record.get("status"))


def outcome_line(manifest: Mapping[str, Any]) -> str:
    """What became of the run's write-back, for the line of a stopped command (Ctrl-C,
    SIGTERM): what the process knows, never "whole or absent"."""
    record = manifest.get(WRITE_BACK)
    if not isinstance(record, Mapping):
        return ""
    target, run_id = record.get("target"), record.get("run_id")
    status = record.get("status")
    if status == "committed":
        return f"; its write to {target} (run_id {run_id}) was committed"
    if status == "unknown":
        return (
            f"; its write to {target} (run_id {run_id}) was stopped while COMMIT was on its "
            "way: the database may hold it or not (SELECT count(*) FROM "
            f"attribution_channel_credit WHERE run_id = '{run_id}' tells)"
        )
    if status in ("failed", "pending"):
        return (
            f"; its write to {target} (run_id {run_id}) was rolled back before COMMIT: "
            "nothing of this run is in the database"
        )
    return f"; nothing was written to {target} (the write had not begun)"
