"""How an error shows the rows of an NDJSON file: as its 1-based lines.

The NDJSON reader skips blank lines (empty, or spaces and tabs only), so a row's index is
its line less one only in a file without them. :class:`NdjsonLines` is the file's
``numbering`` (``("lines", 1)``, as :class:`~attribution.exceptions.InputError` expects),
and when an error is raised, and only then, it reads the file's lines once to give each
row its own line: the happy path reads nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

__all__ = ["NdjsonLines"]


class NdjsonLines(tuple[str, int]):
    """``("lines", 1)`` for the NDJSON file ``path``, with :meth:`lines_of`."""

    path: Path
    _numbers: pl.Series | None

    def __new__(cls, path: Path) -> NdjsonLines:
        self = super().__new__(cls, ("lines", 1))
        self.path = path
        self._numbers = None
        return self

    def __getnewargs__(self) -> tuple[Path]:  # pickled by its path
        return (self.path,)

    def lines_of(self, rows: Sequence[int]) -> list[int]:
        """The 1-based file lines of the 0-based rows ``rows`` (blank lines skipped, as the
        reader skips them); a row the file no longer has (it changed since): row + 1."""
        if not rows:
            return []
        if self._numbers is None:
            try:
                text = self.path.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                return [r + 1 for r in rows]
            lines = pl.Series("line", [text]).str.split("\n").explode()
            self._numbers = (
                lines.to_frame()
                .with_row_index("n", offset=1)
                .filter(pl.col("line").str.strip_chars().str.len_bytes() > 0)
                .get_column("n")
            )
        numbers = self._numbers
        return [int(numbers[r]) if 0 <= r < numbers.len() else r + 1 for r in rows]
