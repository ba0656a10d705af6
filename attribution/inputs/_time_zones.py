"""Times with and without a time zone in one run: a note, counted per table.

A CRM's export writes its users' local time without an offset (Pipedrive's ``Won time``
``2025-03-01 10:22:00``, HubSpot's UI exports) while an event log writes UTC with ``Z`` (GA4's
``2025-03-01T09:22:00Z``). Read without ``--timezone`` the naive side is taken as UTC, so its
moments are off by the CRM's UTC offset against the others: a touch can land after the
conversion it led to, or outside a lookback. *Decision* (README, "Input formats", "Time
zones"), as ``attribution import`` decides it (:mod:`attribution.importers._zones`): the run
reads them as it always did (UTC) and says so, when it read at least one naive time of day
and at least one zoned one, in any of its tables or in one column:

- each timestamp column of the touches, stages, events and contacts tables is counted as it
  is read (:func:`count_zones`: text with a time of day (a ``:``) and no ``Z`` / offset is
  naive, text with one is zoned, a date alone is neither; a Parquet / Arrow datetime without
  a zone is naive, with one zoned); one anchored regular expression and a literal search per
  text column (~0.07 s of CPU per 2M values, against ~1.3 s for reading them), next to
  nothing for a typed column;
- the run's manifest holds ``inputs.<table>.time_zones`` (the user's column -> ``naive``,
  ``zoned``) for every table with either, and the note (:func:`zone_notes`) among its
  ``notes`` under the code :data:`NAIVE_TIMES`; ``attribution run`` prints it as a NOTE;
- with ``--timezone`` (``[run] timezone``, ``RunOptions(timezone=...)``) nothing is counted:
  the naive times are read in that zone, as asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import polars as pl

__all__ = ["NAIVE_TIMES", "count_zones", "merge_zones", "zone_masks", "zone_notes"]

#: the manifest's note code of :func:`zone_notes` (``note_codes``)
NAIVE_TIMES: Final = "naive_times"
#: a time of day followed by ``Z``, an offset (``+02:00``, ``-0500``, PostgreSQL's ``+00``) or
#: ``UTC`` / ``GMT`` (BigQuery's text): a zoned value
_ZONED = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d(:?\d\d)?|UTC|GMT)\s*$"



def zone_masks(values: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``(naive, zoned)``: whether each text timestamp of ``values`` is a time of day
    without a zone, and one written with a zone (``Z``, an offset, ``UTC`` / ``GMT``); a
    date alone and an epoch number (no ``:``) are neither. The one rule of ``run`` and
    ``attribution import`` (:mod:`attribution.importers._zones`)."""
    zoned = values.str.contains(_ZONED)
    return values.str.contains(":", literal=True) & ~zoned, zoned


#: per column: (naive values, zoned values, the first naive one, the first zoned one)
Zones = dict[str, tuple[int, int, str | None, str | None]]


def count_zones(frame: pl.DataFrame, kinds: Mapping[str, str], timestamp: str) -> Zones:
    """The naive and zoned values of ``frame``'s timestamp columns (those of ``kinds`` of
    kind ``timestamp``) as read (text, or a datetime type), with the first of each;
    columns with neither left out. A text column: one query of two masks, then their sums
    and first indexes (no copy of the values)."""
    found: Zones = {}
    for column in (c for c, kind in kinds.items() if kind == timestamp and c in frame.columns):
        values, dtype = frame.get_column(column), frame.schema[column]
        if dtype == pl.String:
            naive_mask, zoned_mask = zone_masks(pl.col(column))
            masks = frame.select(naive_mask.alias("naive"), zoned_mask.alias("zoned"))
            naive_at, zoned_at = masks.get_column("naive"), masks.get_column("zoned")
            naive, zoned = int(naive_at.sum()), int(zoned_at.sum())
            first_naive = values[naive_at.arg_max() or 0] if naive else None
            first_zoned = values[zoned_at.arg_max() or 0] if zoned else None
        elif isinstance(dtype, pl.Datetime):  # typed: the whole column one way or the other
            count = values.len() - values.null_count()
            first = str(values.drop_nulls().head(1).item()) if count else None
            naive, zoned = (count, 0) if dtype.time_zone is None else (0, count)
            first_naive, first_zoned = (first, None) if naive else (None, first)
        else:
            continue  # a date has no time of day for a zone to move
        if naive or zoned:
            found[column] = (naive, zoned, first_naive, first_zoned)
    return found


def zone_notes(
    inputs: dict[str, Any], zones: Mapping[str, tuple[str, Mapping[str, Any]]]
) -> list[str]:
    """The note of a run that read naive times beside zoned ones (``zones``: table -> (its
    source's name, :attr:`~attribution.inputs._sources.Source.zones`: our column -> naive,
    zoned, the first of each, the user's column)), with ``inputs.<table>.time_zones`` added
    to the manifest's ``inputs`` for each table counted; none otherwise."""
    rows = [(table, name, their, n, z, nex, zex)
            for table, (name, found) in zones.items()
            for n, z, nex, zex, their in found.values()]  # fmt: skip
    naive = sum(r[3] for r in rows)
    zoned = sum(r[4] for r in rows)
    if not naive or not zoned:
        return []
    for table, _, their, n, z, _, _ in rows:
        entry = inputs.get(table)
        if isinstance(entry, dict):
            entry.setdefault("time_zones", {})[their] = {"naive": n, "zoned": z}
    nt, nn, nc, _, _, nex, _ = next(r for r in rows if r[3])
    zt, zn, zc, _, _, _, zex = next(r for r in rows if r[4])
    per_table = "; ".join(
        f"{table} {n:,} naive, {z:,} zoned" for table, n, z in _by_table(rows)
    )
    return [
        f"{naive:,} time(s) without a time zone (e.g. {nt} '{nn}', column '{nc}': {nex!r}) "
        f"were read as UTC, beside {zoned:,} written with one (e.g. {zt} '{zn}', column "
        f"'{zc}': {zex!r}) ({per_table}): a CRM's export (Pipedrive, HubSpot's UI) writes "
        "its users' local time without an offset, so read as UTC those times are off by "
        "its UTC offset against the others; if they are local times, run again with "
        "--timezone ZONE (the CRM's zone, e.g. --timezone Europe/Berlin; [run] timezone in "
        "the config, timezone= in Python)"
    ]


def _by_table(rows: list[tuple[Any, ...]]) -> list[tuple[str, int, int]]:
    totals: dict[str, list[int]] = {}
    for table, _, _, n, z, _, _ in rows:
        both = totals.setdefault(table, [0, 0])
        both[0] += n
        both[1] += z
    return [(table, n, z) for table, (n, z) in totals.items()]


def merge_zones(
    parts: Iterable[Mapping[str, tuple[int, int, str | None, str | None, str]]],
) -> dict[str, tuple[int, int, str | None, str | None, str]]:
    """One table's :attr:`~attribution.inputs._sources.Source.zones` over its partitions
    (a ``--partitions`` run's, in partition order): the counts summed per column, the first
    example of each kind kept (a row of the file, not always the file's first)."""
    out: dict[str, tuple[int, int, str | None, str | None, str]] = {}
    for zones in parts:
        for ours, (n, z, nex, zex, their) in zones.items():
            m, y, mex, yex, _ = out.get(ours, (0, 0, None, None, their))
            out[ours] = (m + n, y + z, mex if mex is not None else nex,
                         yex if yex is not None else zex, their)  # fmt: skip
    return out

