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

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from attribution.exceptions import InputError
from attribution.inputs._preamble import title_lines
from attribution.inputs._read_errors import csv_separator
from attribution.inputs._utf16 import UTF16_MAX_BYTES, utf16_text

__all__ = ["UTF16_MAX_BYTES", "report_layout", "utf8_text"]

_HEAD = 1 << 16


@contextlib.contextmanager
def utf8_text(path: Path, label: str, notes: list[str]) -> Iterator[Path]:
    """``path``, or (a UTF-16 file of at most :data:`UTF16_MAX_BYTES`) a UTF-8 copy of it
    in a temporary directory for the body of the ``with``, a note added; an
    :class:`InputError` raised inside names ``path``, never the copy. The decoding is
    ``run``'s (:func:`attribution.inputs._utf16.utf16_text`)."""
    text = utf16_text(path, label) if path.is_file() else None
    if text is None:
        yield path
        return
    size = path.stat().st_size
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
