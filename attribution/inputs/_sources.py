"""Reading inputs: files or in-memory frames, with their content hashes."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import polars as pl
import pyarrow as pa

from attribution.exceptions import InputError
from attribution.inputs._database import SqlTable
from attribution.inputs._ndjson_lines import NdjsonLines
from attribution.inputs._offsets import offsets_to_utc, scan_parquet
from attribution.inputs._preamble import report_title
from attribution.inputs._read_errors import (
    check_text_file,
    csv_separator,
    header_as_written,
    read_failure,
)
from attribution.inputs._utf16 import utf8_copy, utf16_note

#: Anything the library accepts as a table.
TableLike: TypeAlias = (
    pl.DataFrame | pl.LazyFrame | pa.Table | str | os.PathLike[str] | SqlTable
)

_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "ndjson",
}


def table_format(path: str | os.PathLike[str]) -> str | None:
    """The format a table file is read in, told by its extension as :func:`read_source`
    tells it (``'parquet'``, ``'csv'``, ``'tsv'`` or ``'ndjson'``; case-insensitive), or None
    when no table is read from a file of that extension (``README.md``, a workbook): the
    file itself is not opened. The service refuses such an input when the run is requested.

    >>> table_format("exports/Touches.CSV"), table_format("README.md")
    ('csv', None)
    """
    return _FORMATS.get(Path(path).suffix.lower())


_BLOCK = 1 << 20


class _BackgroundHash:
    """The sha256 of a file, computed on a daemon thread at the lowest priority while the run
    goes on (hashlib releases the GIL): 0.15 s for a 226 MB touch log, hidden in the run's
    idle moments instead of slowing its read. One thread per file, started only for files
    whose hash a run will report.

    :meth:`result` never waits on that thread: it stops it and finishes the hash itself, at
    the caller's priority, from the last block the thread published (on a busy machine, or
    beside other runs in the service, a thread at nice 19 gets about 1.5% of a core). In a
    forked child (where the thread does not run) the hash is computed again, synchronously.
    """

    def __init__(self, path: Path) -> None:
        self._path, self._pid = path, os.getpid()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # published by the thread after each block: bytes hashed and a copy of the digest
        self._done: tuple[int, Any] = (0, hashlib.sha256())
        self._value: str | None = None
        self._thread = threading.Thread(target=self._run, name="attribution-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if sys.platform.startswith("linux"):  # elsewhere the id would name a process
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            except OSError:  # pragma: no cover - not allowed here: hash at normal priority
                pass
        try:
            digest, offset = hashlib.sha256(), 0
            with self._path.open("rb") as handle:
                while not self._stop.is_set():
                    block = handle.read(_BLOCK)
                    if not block:
                        with self._lock:
                            self._value = digest.hexdigest()
                        return
                    digest.update(block)
                    offset += len(block)
                    snapshot = digest.copy()  # outside the lock: never make result() wait
                    with self._lock:
                        self._done = (offset, snapshot)
        except OSError:  # result() hashes the file itself and reports the error
            return

    def result(self) -> str:
        if os.getpid() != self._pid:
            return _file_hash(self._path)
        self._stop.set()
        with self._lock:
            value, (offset, digest) = self._value, self._done
        if value is not None:
            return value
        value = _file_hash(self._path, offset, digest.copy())
        with self._lock:
            self._value = value
        return value


@dataclass(frozen=True)
class Source:
    """A table as read: the lazy frame and where it came from.

    ``repeatable`` says that collecting ``frame`` twice gives the same rows in the same order
    (a file or an eager frame; not a user's LazyFrame, whose plan may not fix an order).
    ``numbering`` says how errors show a 0-based row to the user: ``("lines", 2)`` for a CSV
    file (the header is line 1; a quoted cell spanning lines shifts the count), ``("lines",
    1)`` for NDJSON, ``("rows, 1-based", 1)`` for Parquet; None (0-based) for a frame.
    """

    frame: pl.LazyFrame
    name: str  # file path or "<memory>"
    path: Path | None = None
    digest: _BackgroundHash | None = field(default=None, compare=False, repr=False)
    repeatable: bool = True
    numbering: tuple[str, int] | None = None
    sql: SqlTable | None = field(default=None, compare=False, repr=False)
    #: a CSV / TSV file's cell separator (``;`` for an unambiguous semicolon file)
    separator: str | None = None
    #: what the load read as money (``$7,880.74``: :mod:`attribution.inputs._money`): our
    #: column -> (values, the first, the user's column), said where the source is described
    money: Mapping[str, tuple[int, str, str]] = field(default_factory=dict, compare=False)
    #: the run's currency rates file, applied whenever this source is loaded, and the
    #: currency the load found (:mod:`attribution.inputs._currency_column`)
    currency_rates: str | None = field(default=None, compare=False)
    currency: Mapping[str, Any] | None = field(default=None, compare=False)
    #: a CSV's report title lines skipped to reach its header (:mod:`attribution.inputs.
    #: _preamble`): how many, and the first (``Campaign report``)
    title: tuple[int, str] | None = None
    #: its timestamp columns' values as read (:mod:`attribution.inputs._time_zones`): our
    #: column -> (naive, zoned, the first of each, the user's column); {} with --timezone
    zones: Mapping[str, tuple[int, int, str | None, str | None, str]] = field(
        default_factory=dict, compare=False)
    #: the numbers were read with a decimal comma (``decimal_comma``: inputs/_numbers.py)
    decimal_comma: bool = field(default=False, compare=False)
    #: the user's columns the run does not read (a touch table's: inputs/_referrers.py)
    unread: tuple[str, ...] = field(default=(), compare=False)
    #: a stages table's column that looks like the deals' amounts, not read for want of a
    #: ``value`` column (inputs/_column_guess.value_column_guess)
    value_unread: str | None = field(default=None, compare=False)
    #: our number columns whose dots the whole file shows are decimal points (a value such
    #: as ``12.50`` beside ``4.744``): a partition of it reads ``4.744`` as the file does,
    #: never judged on its own values (:class:`attribution.inputs._money.EitherWay`)
    decimal_points: frozenset[str] = field(default=frozenset(), compare=False)
    #: a UTF-16 file's UTF-8 copy, read in its place (:mod:`attribution.inputs._utf16`)
    utf8: Path | None = field(default=None, compare=False)

    @property
    def text_path(self) -> Path | None:
        """The file to read the text of (a UTF-16 file's UTF-8 copy, else ``path``)."""
        return self.utf8 or self.path

    def describe(self, rows: int) -> dict[str, Any]:
        """Manifest entry: path, rows and a content hash (for a query: the redacted URI, the
        query text, rows and a hash of the result)."""
        if self.sql is not None:
            return self.sql.describe(rows)
        if self.digest is not None:
            digest: str | None = self.digest.result()
        else:
            digest = _file_hash(self.path) if self.path else None
        entry = {"source": self.name, "rows": rows, "sha256": digest}
        if self.separator == ";":  # said: the file was read as what it unambiguously is
            entry["separator"] = ";"
        if self.decimal_comma:  # its text numbers read with a decimal comma (the option)
            entry["decimal_comma"] = True
        if self.title is not None:  # said: the lines above the header, skipped
            entry["title_lines_skipped"] = self.describe_title()
        if self.money:  # said: amounts read as money, e.g. '$7,880.74' (inputs/_money.py)
            entry["money_read"] = {
                ours: {"values": n, "example": example, "column": theirs}
                for ours, (n, example, theirs) in self.money.items()
            }
        if self.currency:  # said: the amounts' currency, and what was converted
            entry["currency"] = dict(self.currency)
        if self.unread:  # said: columns the run does not read (a 'referrer' before 2026-12)
            entry["columns_not_read"] = list(self.unread)
        if self.value_unread:  # said: 'Amount' beside no value column (manifest notes too)
            entry["value_column_not_read"] = self.value_unread
        if self.utf8 is not None:  # said: read as UTF-16 text
            entry["encoding"] = "UTF-16"
        return entry

    def notes(self, table: str) -> list[str]:
        """The NOTE lines of what the load of this source (the table ``table``) read: a
        ``;``-separated file (:func:`attribution.inputs._read_errors.semicolon_note`), money
        (:func:`attribution.inputs._money.money_note`), one per column, the report
        title lines it skipped (:func:`attribution.inputs._preamble.title_note`) and of the
        currency of its amounts (:mod:`attribution.inputs._currency_column`)."""
        from attribution.inputs._column_guess import value_note
        from attribution.inputs._currency_column import currency_note
        from attribution.inputs._money import money_note
        from attribution.inputs._preamble import title_note
        from attribution.inputs._read_errors import semicolon_note
        from attribution.inputs._referrers import unread_note

        said = [f"note: {table} '{self.name}': {semicolon_note(self.decimal_comma)}"] if (
            self.separator == ";") else []
        said += [f"NOTE: {table} '{self.name}': {title_note(self.describe_title())}"] if (
            self.title is not None) else []
        said += [unread_note(table, self.name, self.unread)] if self.unread else []
        said += [value_note(table, self.name, self.value_unread)] if self.value_unread else []
        said += [utf16_note(table, self.name)] if self.utf8 is not None else []
        return said + [
            money_note(table, self.name, ours, theirs, (n, example))
            for ours, (n, example, theirs) in self.money.items()
        ] + ([currency_note(table, self.name, self.currency)] if self.currency else [])

    def describe_title(self) -> dict[str, object]:
        """The manifest's ``title_lines_skipped``: how many lines, the first."""
        assert self.title is not None
        return {"lines": self.title[0], "first": self.title[1]}


def _headers_as_written(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` (a CSV scan) with its quoted headers' doubled quotes read as one quote
    (:func:`header_as_written`), unless that names two columns alike."""
    names = frame.collect_schema().names()
    fixed = {c: header_as_written(c) for c in names if '""' in c}
    fixed = {c: new for c, new in fixed.items() if new not in names}
    if not fixed or len(set(fixed.values())) < len(fixed):
        return frame
    return frame.rename(fixed)


def read_source(data: TableLike | Source, *, table: str, prehash: bool = False) -> Source:
    """Open ``data`` lazily, whatever it is: a path (Parquet, CSV, TSV, NDJSON) or a frame
    (a :class:`Source` already open is returned as it is).

    ``prehash`` starts a file's content hash (for :meth:`Source.describe`) in the background.
    """
    if isinstance(data, Source):
        return data
    if isinstance(data, SqlTable):
        return Source(data.frame(table).lazy(), data.name, numbering=("rows, 1-based", 1), sql=data)
    if isinstance(data, pl.LazyFrame):
        return Source(data, "<memory>", repeatable=False)
    if isinstance(data, pl.DataFrame):
        return Source(data.lazy(), "<memory>")
    if isinstance(data, pa.Table):
        table_frame = pl.from_arrow(offsets_to_utc(data))
        assert isinstance(table_frame, pl.DataFrame)
        return Source(table_frame.lazy(), "<memory>")
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.exists():
            raise InputError("file not found", table=table, source=str(path))
        fmt = _FORMATS.get(path.suffix.lower())
        if fmt is None:
            _unread_kind(path, table)
        # UTF-16 text is read from a UTF-8 copy (inputs/_utf16.py), named as the file
        text = utf8_copy(path, table) if fmt in ("csv", "tsv", "ndjson") else None
        if text is None and fmt != "parquet":  # UTF-16 beyond that, CR-only line ends
            check_text_file(path, table)
        read = text or path
        if fmt is None:
            raise InputError(
                f"cannot tell the format from the extension '{path.suffix}'",
                table=table,
                source=str(path),
                hint="use one of " + ", ".join(sorted(_FORMATS)),
            )
        frame: pl.LazyFrame
        separator: str | None = None
        title: tuple[int, str] | None = None
        try:
            if fmt == "parquet":
                frame = scan_parquet(path)
            elif fmt in ("csv", "tsv"):
                # Everything as text: types are checked and converted by the validator, which
                # can then name the offending rows instead of failing inside the CSV reader.
                separator = csv_separator(read, fmt)
                title = report_title(read, separator)
                frame = pl.scan_csv(read, separator=separator, infer_schema=False,
                                    skip_lines=title[0] if title else 0)
                frame = _headers_as_written(frame)
            else:
                frame = pl.scan_ndjson(read)
            frame.collect_schema()
        except OSError as exc:
            raise InputError(
                f"cannot read the file: {exc.strerror or exc}", table=table, source=str(path)
            ) from None
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException) as exc:
            if fmt == "parquet":
                raise InputError(
                    f"cannot read parquet: {str(exc).strip().splitlines()[0]}",
                    table=table,
                    source=str(path),
                ) from None
            failure = read_failure(read, fmt, table, exc, separator)
            raise (failure.replace(source=str(path)) if text else failure) from None
        numbering: tuple[str, int] = {"parquet": ("rows, 1-based", 1)}.get(fmt, ("lines", 2))
        if title is not None:  # the file's own line numbers: the header is below the title
            numbering = ("lines", 2 + title[0])
        if fmt == "ndjson":  # its rows' lines past the blank lines the reader skips
            numbering = NdjsonLines(read)
        digest = _BackgroundHash(path) if prehash else None
        return Source(frame, str(path), path, digest, numbering=numbering, separator=separator,
                      title=title, utf8=text)
    pandas = type(data).__module__.split(".")[0] == "pandas"
    raise InputError(
        f"expected a file path, a Polars DataFrame/LazyFrame, an Arrow table or a SqlTable, "
        f"got {'a pandas ' if pandas else ''}{type(data).__name__}",
        table=table,
        hint="pass pl.from_pandas(df) (Polars reads it through Arrow)" if pandas else None,
    )


#: Spreadsheet files: a workbook, not a table of text
_WORKBOOKS = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".numbers")


def _unread_kind(path: Path, table: str) -> None:
    """An :class:`InputError` saying what ``path`` (of no readable extension) is, when that
    is a directory or a spreadsheet workbook, with what to give instead."""
    if path.is_dir():
        raise InputError(
            "is a directory, not a file",
            table=table,
            source=str(path),
            hint="give one file (" + ", ".join(sorted(_FORMATS)) + "); a folder of Parquet "
            "parts is not read as one table: combine them "
            f"(pl.read_parquet('{path}/*.parquet').write_parquet('{table}.parquet')) or pass "
            f"pl.scan_parquet('{path}/*.parquet') to the library",
        )
    if path.suffix.lower() in _WORKBOOKS:
        raise InputError(
            f"a spreadsheet workbook ('{path.suffix}') is not read",
            table=table,
            source=str(path),
            hint="save the sheet as CSV (Excel: File > Save As > CSV UTF-8 (Comma delimited)) "
            "and give that file",
        )


def check_readable(files: Mapping[str, object]) -> None:
    """Every given file (``{what: path}``; None: not given) exists, is a file and can be read:
    checked before a run starts, so that a missing ``--spend`` is not found after every
    model has run. The error names what the file is for and its path; anything not a path
    (a query, a frame) is not a file and is left alone."""
    for what, given in files.items():
        if given is None or not isinstance(given, str | os.PathLike):
            continue
        path = Path(given)
        if not path.exists():
            raise InputError("file not found", table=what, source=str(path))
        if not path.is_file():
            raise InputError("not a file", table=what, source=str(path))
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as exc:
            raise InputError(
                f"cannot read the file: {exc.strerror or exc}", table=what, source=str(path)
            ) from None


def _file_hash(path: Path, offset: int = 0, digest: Any = None) -> str:
    """The file's sha256; or, given the ``digest`` of its first ``offset`` bytes, the rest."""
    digest = hashlib.sha256() if digest is None else digest
    with path.open("rb") as handle:
        handle.seek(offset)
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return str(digest.hexdigest())
