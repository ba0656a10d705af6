"""A report's title lines above a CSV's header: what ad platforms put first.

Google Ads' downloaded reports start with the report's name and its date range (``Campaign
report``, ``"January 1, 2025 - December 31, 2025"``), LinkedIn Campaign Manager's with six
lines of report facts (``Report Start: 01/01/2025, 12:00 AM``, ``Time Zone: UTC``, a blank
line); the header follows. Read as it is, such a file's header is its title, and every
column is "missing". So a CSV whose first lines each hold one non-blank cell (or two, the
first a ``Name: value`` fact cut at its comma), followed within :data:`_LOOK` lines by a row
of at least :data:`_MIN_COLUMNS` distinct names (no number or date among them) as wide as the
rows after it (the header and its table), is read from that row: the lines above it are
skipped, said in a note and in the manifest (``title_lines_skipped``), and every line number
an error names is still the file's own. A file whose first line is a header (of two columns
or more, or of one column over a one-column table) is read as it always was.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from attribution.inputs._sources import Source

__all__ = ["preamble_hint", "report_title", "title_lines", "title_note"]

#: Lines looked at for the header (LinkedIn's report facts take six).
_LOOK = 20
#: A title line holds at most this many non-blank cells (``Report Start: 01/01/2025, 12:00 AM``
#: is two, split at its comma).
_TITLE_CELLS = 2
#: The header found below a title is a table's: at least this many columns ...
_MIN_COLUMNS = 3
#: ... and the rows after it (up to this many, all there are if fewer) as wide.
_CONFIRM = 3
_BYTES = 64 * 1024
_LINES = 30  # the lines the hint looks at: a preamble is a few lines long
#: A cell that is a value, not a column's name: a number, an amount or a date.
_NUMBERISH = re.compile(r"[-+$€£(]*[\d.,/: -]+[)%]?")


def title_lines(path: Path, separator: str) -> int:
    """How many lines of ``path`` (a CSV / TSV file, cells split by ``separator``) to skip
    to reach its header: 0 unless its first lines are a report's title (module docstring);
    :func:`report_title`'s count."""
    found = report_title(path, separator)
    return found[0] if found else 0


def report_title(path: Path, separator: str) -> tuple[int, str] | None:
    """(how many lines to skip to reach the header, the first of them: ``Campaign
    report``) when the first lines of ``path`` are a report's title; None without. One read
    of the file's head, both from it.

    Lines are counted as the file writes them (``skip_lines``): a title line is never a
    quoted cell spanning lines (such a file is read as it is).
    """
    with path.open("rb") as handle:
        head = handle.read(_BYTES)
    text = head.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if len(head) == _BYTES:
        lines = lines[:-1]  # the last line may be cut
    rows = [_cells(line, separator) for line in lines[: _LOOK + _CONFIRM + 1]]
    if not rows or not _title(rows[0]):
        return None  # the first line is a header (or a table's row): read as it is
    for at, row in enumerate(rows[:_LOOK]):
        if _title(row):
            continue  # a title line, a blank one, a title padded with separators
        after = rows[at + 1 : at + 1 + _CONFIRM]
        if not _names(row) or any(len(other) != len(row) for other in after):
            return None
        first = lines[0].strip().strip(separator).strip().strip('"')
        return at, first[:80]
    return None


def title_note(skipped: dict[str, object]) -> str:
    """The note of a file read below its title (the manifest's ``title_lines_skipped``)."""
    lines = skipped.get("lines")
    return (f"its first {lines} line(s) ({skipped.get('first')!r}, ...) are a report's title, "
            f"not a table: read from line {int(str(lines)) + 1}, its header")


def _title(row: list[str]) -> bool:
    """A title line: one non-blank cell (padded with separators or not), none, or a report
    fact cut at its comma (``Report Start: 01/01/2025, 12:00 AM``): a header of two columns
    (``answer,channel``) is not one."""
    filled = [cell for cell in row if cell.strip()]
    return len(filled) <= 1 or (len(filled) == _TITLE_CELLS and ":" in filled[0])


def _names(row: list[str]) -> bool:
    """Whether ``row`` reads as a header: at least :data:`_MIN_COLUMNS` named cells, no two
    alike, none a number or a date (a data row under a narrower first line is not one)."""
    named = [cell.strip() for cell in row if cell.strip()]
    if len(named) < _MIN_COLUMNS or len(set(named)) < len(named):
        return False
    return not any(_NUMBERISH.fullmatch(cell) for cell in named)


def _cells(line: str, separator: str) -> list[str]:
    """One physical line's cells (a quote left open: the line as one cell)."""
    if '"' in line and line.count('"') % 2:
        return [line]
    return next(csv.reader(io.StringIO(line), delimiter=separator), [])


def preamble_hint(source: Source, available: Sequence[str]) -> str | None:
    """The hint for a CSV / TSV file whose first line has one or two cells and a later one
    of the first ``_LINES`` has three or more (the header, after a report's title), when
    :func:`title_lines` did not read it from there (its header row holds a number, say);
    None otherwise."""
    path = source.text_path
    if path is None or path.suffix.lower() not in (".csv", ".tsv") or len(available) > 2:
        return None
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            lines = [line for _, line in zip(range(_LINES), handle, strict=False)]
    except OSError:
        return None
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    from attribution.inputs._read_errors import titled_separator_hint  # it reads titles

    if (other := titled_separator_hint(path, source.separator or delimiter)) is not None:
        return other  # LinkedIn's "CSV": tabs below its title
    cells = [len(next(csv.reader([line], delimiter=delimiter), [])) for line in lines]
    header = next((i for i, n in enumerate(cells) if n >= 3), None)
    if not header:  # none, or the first line itself
        return None
    return (
        f"the first line ({lines[0].strip()[:50]!r}) looks like a report's title, not a "
        f"header: the header seems to be line {header + 1} "
        f"({lines[header].strip()[:70]!r}); delete the {header} line(s) above it (and any "
        "total rows at the end) and read the file again"
    )
