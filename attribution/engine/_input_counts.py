"""Counts about the inputs that are not errors but that a user must see: the blank rows
dropped at load and the touches and conversions dated in the future (a year typed 2030 for
2025, a clock set wrong) or before 1990 (a year read as 25, an epoch-zero date). They go
into the manifest's reconciliation, which the summary prints; nothing is dropped for its
date (the run cannot know the right one).

Also :func:`contacts_frame`: the contacts table checked when it is loaded, so that its
errors name the file's lines."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, overload

import polars as pl

from attribution.b2b._committee import check_run_roles
from attribution.exceptions import InputError
from attribution.inputs._schema import Table
from attribution.journeys._contacts import attach_accounts

if TYPE_CHECKING:
    from attribution.options import RunOptions

__all__ = ["DISTANT_PAST", "contacts_frame", "count_blank_rows", "input_counts"]

#: Touches and conversions before this are counted (``dated_before_1990``) and printed, as
#: those dated in the future are: a year read wrong (``25`` for 2025 in a typed column, an
#: epoch-zero ``1970-01-01`` standing for a missing date), since no CRM holds such touches.
DISTANT_PAST = datetime(1990, 1, 1, tzinfo=UTC)


@overload
def contacts_frame(
    table: Table, options: RunOptions, *, accounts: bool = False
) -> pl.DataFrame: ...
@overload
def contacts_frame(table: None, options: RunOptions, *, accounts: bool = False) -> None: ...
def contacts_frame(
    table: Table | None, options: RunOptions, *, accounts: bool = False
) -> pl.DataFrame | None:
    """The loaded contacts table's frame (None without one); a contact listed with two
    accounts is an error naming the contacts file and its 1-based lines at account level,
    and at contact level when the run is given an accounts table (``accounts``: a touch
    without an account takes its contact's, whose segment the run reads; without one such
    a contact's touches keep no account) (found here, when the table is loaded, rather than
    inside the journeys, which no longer know the file), and so is a buying-committee role
    the run was given that no contact holds
    (:func:`attribution.b2b._committee.check_run_roles`)."""
    if table is not None and (options.level == "account" or accounts):
        try:
            attach_accounts(pl.DataFrame(schema={"contact_id": pl.String}), table.frame, "")
        except InputError as exc:
            raise table.error(exc) from None
    frame = table.frame if table is not None else None
    check_run_roles(frame, options, table.source.name if table is not None else None)
    return frame


def input_counts(
    touch_table: Table,
    stage_table: Table,
    touches: pl.DataFrame,
    conversions: pl.DataFrame,
    now: datetime | None = None,
) -> dict[str, Any]:
    """``blank_rows_dropped`` (table -> rows whose every cell was empty), ``ids_trimmed``
    (``table.column`` -> id cells trimmed of surrounding whitespace),
    ``dated_in_the_future`` (touches / conversions after ``now``, default the current UTC
    time) and ``dated_before_1990`` (before :data:`DISTANT_PAST`), each only when not
    empty."""
    out: dict[str, Any] = {}
    count_blank_rows(out, {"touches": touch_table, "stages": stage_table})
    moment = pl.lit(now or datetime.now(UTC), pl.Datetime("us", "UTC"))
    early = pl.lit(DISTANT_PAST, pl.Datetime("us", "UTC"))
    future: dict[str, int] = {}
    past: dict[str, int] = {}
    for name, frame in (("touches", touches), ("conversions", conversions)):
        if "timestamp" in frame.columns and frame.height:
            future[name], past[name] = frame.select(
                (pl.col("timestamp") > moment).sum().alias("future"),
                (pl.col("timestamp") < early).sum().alias("past"),
            ).row(0)
    if any(future.values()):
        out["dated_in_the_future"] = {n: k for n, k in future.items() if k}
    if any(past.values()):
        out[f"dated_before_{DISTANT_PAST.year}"] = {n: k for n, k in past.items() if k}
    return out


def count_blank_rows(counts: dict[str, Any], tables: Mapping[str, Table]) -> None:
    """Set ``counts["blank_rows_dropped"]`` to each of ``tables``' blank rows and
    ``counts["ids_trimmed"]`` to their id cells trimmed of surrounding whitespace
    (``"touches.contact_id"``: cells), the tables not given keeping the counts already
    there (zeros left out, a key only when not empty): how a run made of several reads (an
    incremental night reads only the inputs it read whole again) reports what a full run
    on the same files reports."""
    before = dict(counts.pop("blank_rows_dropped", None) or {})
    blank = {n: t.blank_rows for n, t in tables.items()}
    merged = {n: blank.get(n, before.get(n, 0)) for n in dict.fromkeys([*blank, *before])}
    if any(merged.values()):
        counts["blank_rows_dropped"] = {n: k for n, k in merged.items() if k}
    trimmed = {
        key: k
        for key, k in (counts.pop("ids_trimmed", None) or {}).items()
        if key.split(".")[0] not in tables
    }
    for n, t in tables.items():
        trimmed.update({f"{n}.{c}": k for c, k in t.trimmed.items() if k})
    if trimmed:
        counts["ids_trimmed"] = trimmed
