"""The split of a partitioned run: each input table written as partition files by a hash of
the journey key, in one streaming pass (``sink_ipc`` to a ``PartitionBy`` target), every row
keeping its global row number (:data:`~attribution.engine._merge.GLOBAL_ROW`).

The partition files are scratch, read back whole once, so they hold what is cheapest to
write and read: Arrow IPC without compression (the columns' own memory layout), and the
text columns of short labels (:data:`LABELS`: channel, campaign, stage...) as integer codes
of one dictionary per table, decoded to the same text when a partition is loaded. Parquet
with lz4 (before) spent most of the split's CPU encoding the id columns, which are text
(10M touches in 8 partitions, CPU seconds on a busy machine, load 8-17, three alternations:
the split stage 7.84 / 8.12 / 8.35 -> 6.31 / 5.28 / 5.38; the files take about twice the
disk: 799 MB for the 10M log's six columns instead of 376 MB). Polars' Parquet writer also
dictionary-encodes the label columns itself, which costs more per value than the codes'
lookup in the stream and gather on the way back (10M touches in 8 partitions, Parquet: the
split of the log 6.41-6.63 -> 5.64-5.99 s of CPU; reading back and validating the
partitions 1.64-1.69 and 1.69-1.75)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from attribution.engine._merge import GLOBAL_ROW, bucket_expr, load_with_rows
from attribution.exceptions import InputError
from attribution.inputs._currency_column import CURRENCY, all_currencies
from attribution.inputs._money import MONEY_COLUMNS, EitherWay
from attribution.inputs._read_errors import check_has_rows, unreadable
from attribution.inputs._reading import parquet_column_statistics
from attribution.inputs._schema import ROW, Table, TableSpec, load
from attribution.inputs._sources import Source, read_source
from attribution.typing import Level, TableLike

__all__ = ["BUCKET", "LABELS", "Split", "partition_files", "raw_column", "split"]

BUCKET = "__bucket"
#: Our text columns of labels (few distinct values, whatever the size of the log): written
#: to the partition files as integer codes.
LABELS = (
    "channel", "campaign", "touch_type", "utm_source", "utm_medium", "owner_team", "stage",
    "lead_source", "event_type",
)  # fmt: skip


def partition_files(directory: Path, part: int) -> list[Path]:
    """The files of partition ``part`` of a split written under ``directory``."""
    return sorted((directory / f"{BUCKET}={part}").glob("*.ipc"))


# --- the split ------------------------------------------------------------------------------


def raw_column(names: Sequence[str], columns: Mapping[str, str], ours: str) -> pl.Expr | None:
    """The user's column that ``load`` will rename to ``ours`` (as text, trimmed as
    ``load`` trims ids: `` c1`` and ``c1`` go to one partition), if there is one."""
    theirs = _their_name(names, columns, ours)
    return None if theirs is None else pl.col(theirs).cast(pl.String).str.strip_chars()


def _their_name(names: Sequence[str], columns: Mapping[str, str], ours: str) -> str | None:
    """The user's column that ``load`` will rename to ``ours``, if there is one."""
    theirs = columns.get(ours)
    if theirs is None:
        # a user column with our name that the config maps to something else makes way
        if ours in columns.values() and ours not in columns:
            return None
        theirs = ours
    return theirs if theirs in names else None


@dataclass
class Split:
    """One input table written as partitions under ``directory``. ``left_out``: the user's
    columns the split did not write (see :func:`split`); ``coded``: the user's text columns
    written as codes of ``labels`` (a code is a row of it)."""

    source: Source
    spec: TableSpec
    columns: Mapping[str, str] | None
    directory: Path
    empty: pl.DataFrame
    formats: Mapping[str, Sequence[str]] | None = None
    left_out: tuple[str, ...] = ()
    coded: tuple[str, ...] = ()
    labels: pl.Series | None = None

    def read(self, part: int) -> pl.DataFrame:
        """Partition ``part`` as the source has it (its columns and types, the coded text
        columns decoded), with :data:`GLOBAL_ROW`."""
        files = partition_files(self.directory, part)
        if not files:
            return self.empty
        if not self.coded or self.labels is None:
            return pl.scan_ipc(files, hive_partitioning=False).collect()
        # decoded in the query, so the text columns keep the chunks of the others (a column
        # of one chunk beside columns of one per row group makes every later step of the
        # validator copy the frame: 10M touches, pass 1 +0.8 s of CPU)
        labels = pl.lit(self.labels)
        return (
            pl.scan_ipc(files, hive_partitioning=False)
            .with_columns(labels.gather(pl.col(c)).alias(c) for c in self.coded)
            .collect()
        )

    def load(self, part: int) -> Table:
        """Partition ``part`` through the library's validator, with global row numbers; an
        error about its rows is the whole file's (:meth:`whole_error`)."""
        frame = self.read(part)
        try:
            return load_with_rows(frame, self.spec, self.columns, self.source, self.formats)
        except EitherWay as exc:  # '4.744': judged on the whole file, never one partition
            whole = self.whole_file(exc)
            if whole is not None or exc.column is None:
                raise (whole or exc) from None
            self.source = replace(self.source, decimal_points=self.source.decimal_points
                                  | {exc.column})  # the file shows its dots: as in memory
            return self.load(part)
        except InputError as exc:
            raise self.whole_error(exc) from None

    def whole_error(
        self,
        exc: InputError,
        check: Callable[[Table], Any] | None = None,
        also: tuple[str, ...] = (),
    ) -> InputError:
        """``exc``, found in one partition's rows, as an in-memory run says it of the whole
        file (every bad line counted, the file's first lines): the file loaded whole, but
        only the column ``exc`` is about (and ``also``, and those the load always reads:
        text to parse, required cells), then ``check`` (the step after the load that
        raised); ``exc`` when that finds nothing (or the source cannot be read twice). The
        error path only: a partitioned run's memory stays a partition's until a file is
        refused."""
        return self.whole_file(exc, check, also) or exc

    def whole_file(
        self,
        exc: InputError,
        check: Callable[[Table], Any] | None = None,
        also: tuple[str, ...] = (),
    ) -> InputError | None:
        """:meth:`whole_error`'s error of the whole file; None when the whole file has none
        (``exc`` when it cannot be told: no rows or column named, a source read once)."""
        if not exc.rows or exc.column is None or not self.source.repeatable:
            return exc
        column = exc.column
        try:
            table = load(self.source, self.spec, columns=self.columns, formats=self.formats,
                         keep=lambda _: {column, *also}, currency_rates=self.source.currency_rates)
        except InputError as whole:
            return whole
        try:
            if check is not None:
                check(table)
        except InputError as whole:
            return table.error(whole)  # the user's lines and column, as build_part says it
        return None


def split(
    data: TableLike,
    spec: TableSpec,
    columns: Mapping[str, str] | None,
    *,
    level: Level,
    contact_map: pl.DataFrame | None,
    partitions: int,
    directory: Path,
    formats: Mapping[str, Sequence[str]] | None = None,
    keep: Callable[[Sequence[str]], Collection[str]] | None = None,
    currency_rates: str | Path | None = None,
) -> Split:
    """``data`` written as ``partitions`` partitions (Arrow IPC files) under ``directory``.

    ``keep``: the columns the run reads (as for :func:`load`). Of a Parquet file whose
    ``timestamp`` column is a datetime without a null (its statistics say so), the split then
    writes only those (and the touch id): the others are checked by type, here, and the
    library reads them only to tell a blank row (every column empty: then the timestamp
    would be missing) or to compare rows that share a touch id (the caller splits again
    with every column when ids repeat: :attr:`Split.left_out`)."""
    # the file's content hash for the manifest, in the background as in memory (at 100M
    # touches 3.2 GB of sha256, about 2 s, was done at the end of the run)
    source = read_source(data, table=spec.name, prehash=True)
    # column and type errors surface here, before any pass over the data (an empty or
    # header-only file too: its first row is read), naming the file
    probe = load(
        replace(source, frame=source.frame.clear()), spec, columns=columns, formats=formats,
        keep=keep,
    )  # fmt: skip
    source = replace(source, decimal_comma=probe.source.decimal_comma,  # said in the manifest
                     unread=probe.source.unread)
    if CURRENCY in probe.frame.columns or spec.name in MONEY_COLUMNS:  # one currency (a
        # currency column, or the amounts' sign: '£2,750.00') or rates over every partition
        source = replace(source, currency_rates=None if currency_rates is None
                         else str(currency_rates),
                         currency=all_currencies(source, spec.name, probe.names,
                                                 currency_rates))  # fmt: skip
    left_out = _left_out(source, spec, probe, columns) if keep is not None else ()
    try:  # a file the reader fails on (not UTF-8, a ragged line): one line naming the line
        return _split_source(source, spec, columns, level, contact_map, partitions, directory,
                             formats, left_out)  # fmt: skip
    except pl.exceptions.PolarsError as exc:
        raise unreadable(source, spec.name, exc) from None


def _split_source(
    source: Source,
    spec: TableSpec,
    columns: Mapping[str, str] | None,
    level: Level,
    contact_map: pl.DataFrame | None,
    partitions: int,
    directory: Path,
    formats: Mapping[str, Sequence[str]] | None,
    left_out: tuple[str, ...] = (),
) -> Split:
    if source.path is not None or source.sql is not None:
        check_has_rows(source, spec.name)
    lazy = source.frame.with_row_index(GLOBAL_ROW).drop(left_out)
    names = lazy.collect_schema().names()
    cols = dict(columns or {})
    contact = raw_column(names, cols, "contact_id")
    if level == "contact":
        key = contact if contact is not None else pl.lit(None, pl.String)
    else:
        account = raw_column(names, cols, "account_id")
        if contact_map is not None and contact is not None:
            lazy = lazy.with_columns(contact.alias("__contact")).join(
                contact_map.lazy(), on="__contact", how="left"
            )
            mapped = pl.col("__account")
            key = pl.coalesce(account, mapped) if account is not None else mapped
        else:
            key = account if account is not None else pl.lit(None, pl.String)
    lazy = lazy.with_columns(bucket_expr(key, partitions).alias(BUCKET)).drop(
        "__contact", "__account", strict=False
    )
    # the label columns as codes of one dictionary: a Categories of this split, whose
    # mapping the empty anchor holds until it is taken as a Series after the sink
    schema = lazy.collect_schema()
    coded = tuple(
        dict.fromkeys(
            theirs
            for ours in LABELS
            if ours in spec.columns
            and (theirs := _their_name(names, cols, ours)) is not None
            and schema[theirs] == pl.String
        )
    )
    categories = pl.Categories.random()
    anchor = pl.Series(dtype=pl.Categorical(categories))
    if coded:
        lazy = lazy.with_columns(pl.col(list(coded)).cast(pl.Categorical(categories)).to_physical())
    # work files, read back whole once: Arrow IPC, uncompressed (see the module's doc)
    lazy.sink_ipc(
        pl.PartitionBy(directory, key=BUCKET, include_key=False, approximate_bytes_per_file=None),
        mkdir=True,
        compression="uncompressed",
    )
    empty = source.frame.with_row_index(GLOBAL_ROW).drop(left_out).clear().collect()
    kept = {ours: theirs for ours, theirs in (columns or {}).items() if theirs not in left_out}
    labels = categories.to_series() if coded else None
    del anchor
    return Split(
        source, spec, kept if columns is not None else None, directory, empty, formats, left_out,
        coded, labels,
    )  # fmt: skip


def _left_out(
    source: Source, spec: TableSpec, probe: Table, columns: Mapping[str, str] | None
) -> tuple[str, ...]:
    """The user's columns of a Parquet file that a run need not read (``probe``: the file's
    empty frame loaded with the run's ``keep``): every column but those it loads, when the
    file's statistics show a datetime ``timestamp`` without a null (so no row is blank in
    every column the run reads) and, for touches, a ``touch_id`` without a null."""
    if source.path is None or source.path.suffix.lower() not in (".parquet", ".pq"):
        return ()
    theirs = dict(columns or {})
    loaded = [c for c in probe.frame.columns if c != ROW]
    wanted = {theirs.get(c, c) for c in loaded}
    names = source.frame.collect_schema()
    stamp = theirs.get("timestamp", "timestamp")
    if not isinstance(names.get(stamp), pl.Datetime):
        return ()
    counted = _null_counts(source.path, [stamp, theirs.get("touch_id", "touch_id")])
    if counted.get(stamp) != 0:
        return ()
    if "touch_id" in spec.columns:
        if "touch_id" not in loaded or counted.get(theirs.get("touch_id", "touch_id")) != 0:
            return ()
    return tuple(n for n in names.names() if n not in wanted)


def _null_counts(path: Path, columns: Sequence[str]) -> dict[str, int]:
    """Nulls in each of ``columns`` by the Parquet file's statistics (the footer only); a
    column without statistics in some row group is left out."""
    counts: dict[str, int] = {}
    unknown: set[str] = set()
    for name, stats in parquet_column_statistics(path, columns):
        if name in unknown:
            continue
        if stats is None or stats.null_count is None:
            unknown.add(name)
            counts.pop(name, None)
            continue
        counts[name] = counts.get(name, 0) + stats.null_count
    return counts
