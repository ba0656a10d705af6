"""UTF-16 text files (Excel "Unicode Text", PowerShell's ``>``, LinkedIn Campaign Manager's
"CSV" download) read as they are, by ``run`` and ``import`` alike.

*Decision* (README, "Input formats", session 22): a CSV / TSV / NDJSON file that is UTF-16
(a byte-order mark, or every other byte NUL: :func:`attribution.inputs._read_errors.
text_file_problem`) of at most :data:`UTF16_MAX_BYTES` is decoded in memory (the BOM, else
the NUL bytes, say which byte order) to a UTF-8 copy the reader reads; errors and the
manifest name the user's file and its own lines (decoding keeps the lines), its content
hash is the file's, and the manifest's ``inputs.<table>.encoding`` and a NOTE say it was
UTF-16. A larger file keeps the hint to convert it (``iconv``). ``run`` keeps the copy for
the life of the process (a run reads its tables lazily, a partitioned one again per
partition), one per file version; ``import`` for the read
(:func:`attribution.importers._report_text.utf8_text`).
"""

from __future__ import annotations

import atexit
import codecs
import os
import shutil
import tempfile
import threading
from pathlib import Path

from attribution.exceptions import InputError
from attribution.inputs._read_errors import UTF16_MESSAGE, text_file_problem

__all__ = ["UTF16_MAX_BYTES", "utf8_copy", "utf16_note", "utf16_text"]

#: The largest UTF-16 file decoded in memory.
UTF16_MAX_BYTES = 256 * 1024 * 1024
_HEAD = 1 << 16
_LOCK = threading.Lock()
_COPIES: dict[tuple[str, int, int], Path] = {}
_DIRECTORY: list[Path] = []  # the process's directory of copies, made when first needed


def utf16_note(table: str, source: str) -> str:
    """The one line that says a table's file was read as UTF-16 text."""
    return f"NOTE: {table} '{source}': the file is UTF-16 text: read as such"


def utf16_text(path: Path, table: str) -> str | None:
    """The text of ``path`` when it is a UTF-16 file (None when it is not); an
    :class:`InputError` naming it when it is larger than :data:`UTF16_MAX_BYTES` or does
    not decode."""
    if text_file_problem(path) != UTF16_MESSAGE:
        return None
    size = path.stat().st_size
    if size > UTF16_MAX_BYTES:
        raise InputError(UTF16_MESSAGE + f" (a UTF-16 file is decoded in memory up to "
                         f"{UTF16_MAX_BYTES >> 20} MiB; this one is {size >> 20} MiB)",
                         table=table, source=str(path))  # fmt: skip
    raw = path.read_bytes()
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        encoding = "utf-16"
    else:  # no byte-order mark: the NUL bytes say which half of each pair is zero
        low = raw[1:_HEAD:2].count(0) >= raw[0:_HEAD:2].count(0)  # 'a\0': little-endian
        encoding = "utf-16-le" if low else "utf-16-be"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{UTF16_MESSAGE} (it does not decode as UTF-16 at byte "
                         f"{exc.start:,})", table=table, source=str(path)) from None  # fmt: skip


def utf8_copy(path: Path, table: str) -> Path | None:
    """A UTF-8 copy of ``path`` when it is a UTF-16 file (:func:`utf16_text`), kept for the
    life of the process and made once per version of the file (its size and time); None
    for any other file."""
    try:
        stat = path.stat()
    except OSError:  # the reader reports it
        return None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        copy = _COPIES.get(key)
        if copy is not None and copy.is_file():
            return copy
    text = utf16_text(path, table)
    if text is None:
        return None
    with _LOCK:
        copy = _directory() / f"{len(_COPIES)}-{path.name}"
        copy.write_text(text.removeprefix("\ufeff"), encoding="utf-8", newline="")
        _COPIES[key] = copy
    return copy


def _directory() -> Path:
    if not _DIRECTORY:
        _DIRECTORY.append(Path(tempfile.mkdtemp(prefix="attribution-utf16-")))
        atexit.register(_remove, _DIRECTORY[0], os.getpid())
    return _DIRECTORY[0]


def _remove(directory: Path, owner: int) -> None:
    if os.getpid() == owner:  # not a forked worker's exit
        shutil.rmtree(directory, ignore_errors=True)
