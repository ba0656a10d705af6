"""How the executors that split a run (partitioned, Spark) split it and merge its partials.

Journeys are split by a hash of their key, every row keeping its global row number, so ties,
``row-N`` touch ids and error messages are those of the in-memory run. The partials that
come back are additive: path-table rows, reconciliation counts and per-channel sums of the
rule-based credit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from attribution.b2b._accounts import ACCOUNTS_SCHEMA, engagement_z_expr, tier_expr
from attribution.engine._result import (
    CHANNEL_CREDIT_SCHEMA,
    SUMS_SCHEMA,
    TOUCH_CREDIT_SCHEMA,
)
from attribution.engine._stages import Fitted, channel_credit_from_touches, concat
from attribution.exceptions import InputError
from attribution.inputs._dedupe import touch_id_conflict
from attribution.inputs._reading import locate
from attribution.inputs._schema import ROW, Table, TableSpec, load
from attribution.inputs._sources import Source
from attribution.journeys._cap import LISTED
from attribution.journeys._contacts import attach_accounts
from attribution.options import RunOptions

__all__ = [
    "GLOBAL_ROW",
    "TouchIds",
    "collect_credit",
    "bucket_expr",
    "channel_sums",
    "check_partitions",
    "contact_accounts",
    "load_with_rows",
    "merge_channel_sums",
    "merge_counts",
    "retier",
]

#: Each input row's number in its source, carried through the split.
GLOBAL_ROW = "__global_row"
_HASH_SEED = 0


def bucket_expr(key: pl.Expr, partitions: int) -> pl.Expr:
    """The partition of a journey key (text): ``hash(key) % partitions`` (null keys too)."""
    return (key.cast(pl.String).hash(seed=_HASH_SEED) % partitions).cast(pl.UInt32)


def check_partitions(partitions: object) -> int:
    """The partition count, or an InputError when it is not a positive integer."""
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise InputError(f"partitions must be a positive integer; got {partitions!r}")
    return partitions


def contact_accounts(
    contacts: pl.DataFrame | None, options: RunOptions, *, accounts: bool = False
) -> pl.DataFrame | None:
    """At account level, each contact's account (``__contact``, ``__account``): the split
    keys rows that carry only a contact by it, as the journeys do. A contact of two accounts
    is an error (at contact level too when the run is given an accounts table: a touch
    without an account takes its contact's, whose segment the run reads), raised here,
    before any pass over the data."""
    if contacts is None:
        return None
    if options.level == "account" or accounts:
        attach_accounts(pl.DataFrame(schema={"contact_id": pl.String}), contacts, "")
    if options.level != "account":
        return None
    return (
        contacts.filter(pl.col("account_id").is_not_null())
        .select(pl.col("contact_id").alias("__contact"), pl.col("account_id").alias("__account"))
        .unique("__contact")
    )


def load_with_rows(
    frame: pl.DataFrame,
    spec: TableSpec,
    columns: Mapping[str, str] | None,
    source: Source,
    formats: Mapping[str, Sequence[str]] | None = None,
) -> Table:
    """``frame`` (raw columns plus :data:`GLOBAL_ROW`) through the library's validator, with
    the global row numbers as ``_row``, so ties, ``row-N`` ids and errors are the run's (and
    errors name the source's lines and the user's column)."""
    if not frame.get_column(GLOBAL_ROW).is_sorted():  # the split keeps source order
        frame = frame.sort(GLOBAL_ROW, maintain_order=True)  # duplicates keep the first
    rows = frame.get_column(GLOBAL_ROW).cast(pl.Int64)
    data = Source(frame.drop(GLOBAL_ROW).lazy(), "<memory>")
    if source.path is not None and source.path.suffix.lower() in (".parquet", ".pq"):
        # a partition of a Parquet file: the file's statistics say which text columns hold
        # no blank cell (then none of its partitions does), as they do for the whole file
        data = Source(
            frame.drop(GLOBAL_ROW).lazy(), source.name, path=source.path,
            numbering=source.numbering,
        )  # fmt: skip
    # the whole file's currency (split.all_currencies): a partition's blank cells are it; its
    # separator: a ';' file's numbers are read as in memory (inputs/_numbers.py)
    data = replace(data, currency=source.currency, separator=source.separator,  # ';': '4.744'?
                   decimal_points=source.decimal_points)  # the file's dots: decimal points
    try:
        table = load(data, spec, columns=columns, formats=formats,
                     currency_rates=source.currency_rates)  # fmt: skip
    except InputError as exc:
        raise _with_global_rows(exc, rows, source) from None
    return Table(  # blank rows (every cell empty) are dropped by the validator: counted
        table.frame.with_columns(rows.gather(table.frame.get_column(ROW)).alias(ROW)),
        replace(source, zones=table.source.zones),  # this partition's naive and zoned times
        table.rows_in,
        names=table.names,
        formats=table.formats,
        blank_rows=table.blank_rows,
        trimmed=table.trimmed,
    )


def _with_global_rows(exc: InputError, rows: pl.Series, source: Source) -> InputError:
    moved = exc.replace(source=source.name, rows=[int(rows[r]) for r in exc.rows], numbering=None)
    return locate(moved, source)


def channel_sums(credit: pl.DataFrame) -> pl.DataFrame:
    """Per model and channel, the sums of ``credit`` and ``value``: an additive partial."""
    return credit.group_by("model", "channel").agg(pl.col("credit").sum(), pl.col("value").sum())


def merge_channel_sums(sums: list[pl.DataFrame]) -> pl.DataFrame:
    """Channel credit of a rule-based model from its partials (as ``attribute`` reports it)."""
    merged = concat(sums, SUMS_SCHEMA)
    return channel_credit_from_touches(merged) if merged.height else merged


def merge_counts(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Reconciliation counts summed over the partials (reasons summed within their maps;
    lists, such as the journeys cut, joined and kept to their longest entries; lists of names,
    such as the touch channels, united and sorted; maps of names, such as the channel values
    renamed, united)."""
    out: dict[str, Any] = {}
    for counts in parts:
        for key, value in counts.items():
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                out[key] = sorted({*out.get(key, []), *value})
            elif isinstance(value, list):
                joined = [*out.get(key, []), *value]
                joined.sort(key=lambda entry: -entry.get("touches", 0))
                out[key] = joined[:LISTED]
            elif isinstance(value, Mapping):
                merged = out.setdefault(key, {})
                for reason, n in value.items():
                    if isinstance(n, str):
                        merged[reason] = n
                    else:
                        merged[reason] = merged.get(reason, 0) + n
            else:
                out[key] = out.get(key, 0) + value
    return out


def retier(accounts: pl.DataFrame) -> pl.DataFrame:
    """Engagement z-score and tier over every account of the run (as ``b2b`` does within one
    frame), then the run's account order."""
    return (
        accounts.with_columns(engagement_z_expr().alias("engagement_z"))
        .with_columns(tier_expr().alias("tier"))
        .sort(["engagement_score", "account_id"], descending=[True, False])
        .select(list(ACCOUNTS_SCHEMA))
        .cast(ACCOUNTS_SCHEMA)
    )


def collect_credit(
    n_runs: int, rules: Mapping[int, pl.DataFrame], fitted: Fitted
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The run's touch credit and channel credit, model by model in the order of the run:
    rule-based ones from their touch credit, data-driven ones as fitted."""
    touch_credit = concat(
        [rules[i] if i in rules else fitted.touch_credit[i] for i in range(n_runs)],
        TOUCH_CREDIT_SCHEMA,
    )
    channel_credit = concat(
        [
            channel_credit_from_touches(rules[i]) if i in rules else fitted.channel_credit[i]
            for i in range(n_runs)
        ],
        CHANNEL_CREDIT_SCHEMA,
    )
    return touch_credit, channel_credit


def _id_hash(ids: pl.Expr) -> pl.Expr:
    return ids.hash(seed=0)


class TouchIds:
    """Whether a ``touch_id`` is on rows of two partitions: rows with different journey
    keys, which the in-memory run reports as rows that share a touch_id but differ.

    Each partition's ids are hashed (one column of its file; the low bits of a hash give way
    to the partition number), the hashes of every partition sorted together (8 bytes a
    touch) and a hash held by two partitions checked on the ids themselves. A second split
    of the log by ``touch_id`` did this before (20% of a 10M run). Writing each row's key
    in the split instead of reading the ids back was measured and not taken: 10M touches,
    the split +0.65 s of CPU (hashing in the stream, 8 incompressible bytes a row through
    lz4), reading the keys -0.46 s."""

    def __init__(
        self, directory: Path, bucket: str, column: pl.Expr | None, source: str, partitions: int
    ) -> None:
        """``directory``: the split touches, one ``<bucket>=<p>`` folder per partition;
        ``column``: the user's touch id column there (None: none); ``source``: the input's
        name in errors."""
        self.directory, self.bucket, self.column, self.source = directory, bucket, column, source
        self.active = column is not None and partitions > 1
        #: the low bits of a key that hold the partition
        self.low = (1 << max(partitions - 1, 1).bit_length()) - 1
        self.high = ((1 << 64) - 1) ^ self.low
        self.keys: list[pl.Series] = []
        #: after :meth:`check`: whether some id's hash is on two rows (None: not checked)
        self.repeated: bool | None = None

    def _scan(self, part: int) -> pl.LazyFrame | None:
        files = sorted((self.directory / f"{self.bucket}={part}").glob("*.ipc"))
        if not files or self.column is None:
            return None
        return (
            pl.scan_ipc(files, hive_partitioning=False)
            .select(self.column.alias("__touch_id"), GLOBAL_ROW)
            .filter(pl.col("__touch_id").is_not_null())
        )

    def add(self, *parts: int) -> None:
        """Hash partitions ``parts``' ids (the hash's low bits replaced by the partition),
        every partition's query run at once (``collect_all``: in parallel)."""
        high = pl.lit(self.high, pl.UInt64)
        queries = [
            scan.select((_id_hash(pl.col("__touch_id")) & high) | pl.lit(part, pl.UInt64))
            for part in parts
            if (scan := self._scan(part) if self.active else None) is not None
        ]
        self.keys.extend(frame.to_series() for frame in pl.collect_all(queries))

    def check(self) -> None:
        """Raise the in-memory run's error when an id is on rows of two partitions."""
        if not self.keys:
            self.repeated = False if self.active else None
            return
        keys = pl.concat(self.keys).sort().to_numpy()  # Polars sorts on every core
        self.keys = []
        hashes = np.bitwise_and(keys, np.uint64(self.high))  # one temporary of 8 bytes a touch
        # the same hash from two partitions: equal high bits, other low bits (an id twice in
        # one partition gives equal keys)
        same = hashes[1:] == hashes[:-1]
        self.repeated = bool(same.any())  # some id (or hash) twice, on one partition or two
        if not self.repeated:
            return
        same &= keys[1:] != keys[:-1]
        twice = np.flatnonzero(same)
        del same
        if not twice.size:
            return
        parts = keys[np.concatenate([twice, twice + 1])] & np.uint64(self.low)
        suspects = pl.Series(np.unique(hashes[twice]), dtype=pl.UInt64).implode()
        del keys, hashes
        scans = [
            scan.filter(
                (_id_hash(pl.col("__touch_id")) & pl.lit(self.high, pl.UInt64)).is_in(suspects)
            ).with_columns(pl.lit(p, pl.UInt32).alias("__part"))
            for p in sorted({int(x) for x in np.unique(parts)})
            if (scan := self._scan(p)) is not None
        ]
        found = pl.concat(scans).collect()
        shared = found.filter(pl.col("__part").n_unique().over("__touch_id") > 1)
        rows = shared.get_column(GLOBAL_ROW).sort()
        if rows.len():
            raise touch_id_conflict(rows.len(), self.source, rows)
