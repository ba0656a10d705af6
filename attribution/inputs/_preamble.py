"""An ad platform's report title above its header (Google Ads: ``Campaign report`` and a
date range; LinkedIn: ``Campaign Performance Report (in UTC)`` and five lines of
metadata): the file reads as one column named by the title. The hint says so, and on which
line the header seems to be, instead of listing the title as the columns available."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from attribution.inputs._sources import Source

__all__ = ["preamble_hint"]

_LINES = 30  # the lines looked at: a preamble is a few lines long


def preamble_hint(source: Source, available: Sequence[str]) -> str | None:
    """The hint for a CSV / TSV file whose first line has one or two cells and a later one
    of the first ``_LINES`` has three or more (the header, after a report's title); None
    otherwise."""
    path = source.path
    if path is None or path.suffix.lower() not in (".csv", ".tsv") or len(available) > 2:
        return None
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            lines = [line for _, line in zip(range(_LINES), handle, strict=False)]
    except OSError:
        return None
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
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
