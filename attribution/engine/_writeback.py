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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from attribution.exceptions import AttributionError, ConfigError
from attribution.inputs._database import open_database, redacted

__all__ = ["WRITE_BACK_TABLES", "write_back"]

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
    result: Any, uri: str, *, run_id: str | None = None, extras: Iterable[Any] = ()
) -> dict[str, int]:
    """Append ``result``'s channel and touch credit (and the economics among ``extras``) to
    the tables of :data:`WRITE_BACK_TABLES` in the database ``uri``, in one transaction, with
    ``run_id`` (default the manifest's) as the first column. Returns the rows written per
    table. Raises :class:`ConfigError` (nothing written) when the database refuses any of it.

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
    """
    run_id = run_id or str(result.manifest["run_id"])
    frames = _frames(result, extras)
    written: dict[str, int] = {}
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
        except Exception as exc:  # the driver's error, without secrets: nothing was written
            raise ConfigError(
                f"writing the run to {redacted(uri)} failed, nothing was written: "
                f"{database.error(exc)}"
            ) from None
    return written
