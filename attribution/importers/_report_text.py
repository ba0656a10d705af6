"""An ad platform's report as its platform writes it (new-user report 16, M5): LinkedIn
Campaign Manager's "CSV" download is UTF-16 text, tab-separated, with seven lines of report
facts above its header.

*Decision* (README, "Ad platforms"): ``attribution import ads`` reads such a report as it is:

- UTF-16 text (a byte-order mark, or every other byte NUL) is decoded in memory when the
  file is at most :data:`UTF16_MAX_BYTES` (a larger one keeps the hint to convert it with
  ``iconv``), said in a note; line numbers are the file's own;
- the cells are separated by tabs when the extension says ``.tsv``, or when the report's
  header (below its title lines, if any) holds tabs and no comma; else by commas (``;`` as
  every import reads an Excel semicolon file);
- the title lines above the header are skipped in a ``.tsv`` as in a ``.csv``.

``run`` keeps its rule (a tab-separated file needs the ``.tsv`` extension) and says "tabs"
when a ``.csv`` below a report's title is tab-separated
(:func:`attribution.inputs._read_errors.read_failure`).
"""

from __future__ import annotations

import codecs
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from attribution.exceptions import InputError
from attribution.inputs._preamble import title_lines
from attribution.inputs._read_errors import UTF16_MESSAGE, csv_separator, text_file_problem

__all__ = ["UTF16_MAX_BYTES", "report_layout", "utf8_text"]

#: The largest UTF-16 file decoded in memory (an ad report is a few MB).
UTF16_MAX_BYTES = 256 * 1024 * 1024
_HEAD = 1 << 16


@contextlib.contextmanager
def utf8_text(path: Path, label: str, notes: list[str]) -> Iterator[Path]:
    """``path``, or (a UTF-16 file of at most :data:`UTF16_MAX_BYTES`) a UTF-8 copy of it
    in a temporary directory for the body of the ``with``, a note added; an
    :class:`InputError` raised inside names ``path``, never the copy."""
    if not path.is_file() or text_file_problem(path) != UTF16_MESSAGE:
        yield path
        return
    size = path.stat().st_size
    if size > UTF16_MAX_BYTES:
        raise InputError(UTF16_MESSAGE + f" (a UTF-16 file is decoded in memory up to "
                         f"{UTF16_MAX_BYTES >> 20} MiB; this one is {size >> 20} MiB)",
                         table=label, source=str(path))  # fmt: skip
    raw = path.read_bytes()
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        encoding = "utf-16"
    else:  # no byte-order mark: the NUL bytes say which half of each pair is zero
        low = raw[1:_HEAD:2].count(0) >= raw[0:_HEAD:2].count(0)  # 'a\0': little-endian
        encoding = "utf-16-le" if low else "utf-16-be"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{UTF16_MESSAGE} (it does not decode as UTF-16 at byte "
                         f"{exc.start:,})", table=label, source=str(path)) from None  # fmt: skip
    del raw
    with tempfile.TemporaryDirectory(prefix="attribution-utf16-") as directory:
        copy = Path(directory) / f"{path.stem}{path.suffix}"
        copy.write_text(text, encoding="utf-8", newline="")
        del text
        try:
            yield copy
        except InputError as exc:
            raise exc.replace(source=str(path)) from None
    notes.append(f"{label}: the file is UTF-16 text ({size:,} bytes): read as such")


def report_layout(path: Path) -> tuple[str, int]:
    """(the cell separator, how many title lines to skip) of an ad report (see the module)."""
    if path.suffix.lower() == ".tsv":
        return "\t", title_lines(path, "\t")
    separator = csv_separator(path, "csv")
    skip = title_lines(path, separator)
    if skip or separator != ",":
        return separator, skip
    tabbed = title_lines(path, "\t")  # LinkedIn's "CSV": tabs below its title
    if tabbed:
        return "\t", tabbed
    try:
        with path.open("rb") as handle:
            head = handle.readline(_HEAD).decode("utf-8", errors="replace")
    except OSError:  # the reader reports it
        return separator, 0
    return ("\t", 0) if "\t" in head and "," not in head else (separator, 0)
