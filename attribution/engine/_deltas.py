"""The arithmetic of incremental runs (:mod:`attribution.engine._incremental`): which of the
rows read are new, and the additive outputs updated by ``old - before + after``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from attribution.engine._result import PATH_TABLE_SCHEMA
from attribution.inputs._schema import ROW
from attribution.journeys._cap import LISTED

__all__ = [
    "PATH_KEY",
    "combine_counts",
    "shown_stage_counts",
    "stage_counts_full",
    "unseen",
    "keyed_paths",
    "unkeyed_paths",
    "update_paths",
]


def _content_hashes(frame: pl.DataFrame) -> pl.DataFrame:
    """Each row's hash (all columns but ``_row``) and its occurrence among equal hashes."""
    hashes = frame.select(pl.exclude(ROW)).hash_rows(seed=0)
    return pl.DataFrame({"_h": hashes}).with_columns(pl.int_range(pl.len()).over("_h").alias("_n"))


def unseen(new: pl.DataFrame, seen: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``new`` not in ``seen`` (both: rows at or after the cutoff; as multisets,
    so a row that the source holds twice is kept once if it was read once before)."""
    if not seen.height or not new.height:
        return new
    columns = [c for c in new.columns if c != ROW]
    mine = _content_hashes(new.select([*columns, ROW]))
    theirs = _content_hashes(seen.select([*columns, ROW])).with_columns(pl.lit(True).alias("_seen"))
    unseen = (
        mine.join(theirs, on=["_h", "_n"], how="left", maintain_order="left")
        .get_column("_seen")
        .is_null()
    )
    return new.filter(unseen)


# --- counts ---------------------------------------------------------------------------------


def combine_counts(
    total: Mapping[str, Any],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    affected: set[str | None],
    key: str,
) -> dict[str, Any]:
    """Reconciliation counts: ``total - before + after`` (numbers, and maps of numbers with
    zero entries dropped); name lists united (rows only ever add); the too-long list without
    the affected entities' old entries, with their new ones."""
    out: dict[str, Any] = {}
    for name in sorted({*total, *before, *after}):
        t, b, a = total.get(name), before.get(name), after.get(name)
        sample = next(v for v in (t, b, a) if v is not None)
        if isinstance(sample, list) and all(isinstance(v, str) for v in sample):
            out[name] = sorted({*(t or []), *(a or [])})
        elif isinstance(sample, list):
            kept = [e for e in (t or []) if e.get(key) not in affected]
            joined = sorted([*kept, *(a or [])], key=lambda e: -int(e.get("touches", 0)))
            out[name] = joined[:LISTED]
        elif isinstance(sample, Mapping):
            values = [v for v in (t, b, a) if v is not None]
            if any(isinstance(x, str) for v in values for x in v.values()):
                out[name] = {**(t or {}), **(a or {})}
                continue
            merged: dict[str, int] = dict(t or {})
            for reason, n in (b or {}).items():
                merged[reason] = merged.get(reason, 0) - n
            for reason, n in (a or {}).items():
                merged[reason] = merged.get(reason, 0) + n
            out[name] = {k: v for k, v in merged.items() if v}
        else:
            out[name] = (t or 0) - (b or 0) + (a or 0)
    return out


def stage_counts_full(stages: pl.DataFrame) -> dict[str, int]:
    if "stage" not in stages.columns or not stages.height:
        return {}
    counted = stages.group_by("stage").len()
    return dict(zip(counted["stage"].cast(pl.String).to_list(), counted["len"].to_list(),
                    strict=True))


def shown_stage_counts(full: Mapping[str, int]) -> dict[str, int]:
    """The manifest's ``stage_counts`` from the uncut counts, as :func:`stage_counts` cuts."""
    from attribution.engine._empty import STAGE_COUNTS_SHOWN

    ordered = sorted(((s, n) for s, n in full.items() if n), key=lambda p: (-p[1], p[0]))
    return dict(ordered[:STAGE_COUNTS_SHOWN])


#: The path table's text key in the state: a path's channels joined by a unit separator.
PATH_KEY = "_key"
_SEPARATOR = "\x1f"


def keyed_paths(paths: pl.DataFrame) -> pl.DataFrame:
    """A path table as the state keeps it: :data:`PATH_KEY` (text) instead of the list of
    channels -- grouping, joining and writing text is several times faster than lists."""
    return paths.select(
        pl.col("path").list.join(_SEPARATOR).alias(PATH_KEY), "conversions", "nulls", "value"
    )


def unkeyed_paths(paths: pl.DataFrame) -> pl.DataFrame:
    """The path table (``path`` a list of channels) from :func:`keyed_paths`."""
    return paths.select(
        pl.col(PATH_KEY).str.split(_SEPARATOR).alias("path"), "conversions", "nulls", "value"
    ).cast(PATH_TABLE_SCHEMA)


def update_paths(total: pl.DataFrame, before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """The keyed path table ``total - before + after`` (``total`` and the result as
    :func:`keyed_paths`; ``before`` and ``after`` path tables): only the paths of ``before``
    and ``after`` change; paths left with no conversion and no null path are gone."""
    sums = ["conversions", "nulls", "value"]
    delta = (
        pl.concat([keyed_paths(before).with_columns(-pl.col(sums)), keyed_paths(after)])
        .group_by(PATH_KEY)
        .agg(*(pl.col(c).sum().alias(f"_d_{c}") for c in sums))
    )
    return (
        total.join(delta, on=PATH_KEY, how="full", coalesce=True)
        .select(
            PATH_KEY,
            *(
                (pl.col(c).fill_null(0.0) + pl.col(f"_d_{c}").fill_null(0.0)).alias(c)
                for c in sums
            ),
        )
        .filter((pl.col("conversions") != 0) | (pl.col("nulls") != 0))
        .sort(["conversions", "nulls"], descending=True)
    )
