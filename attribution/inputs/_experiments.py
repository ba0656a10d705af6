"""The ``experiments`` input table: lift tests a run calibrates its credit with.

One row per test: the ``channel`` tested, the ``start`` and ``end`` dates of the window whose
conversions it measured (both included), what it measured the channel to add in that window
(``incremental_conversions``, or ``incremental_pipeline`` in USD: exactly one per row), its
``standard_error`` (same unit, > 0) and its ``test_type``: ``account_holdout``, ``geo`` or
``time_split`` (case, spaces and hyphens are forgiven: ``Account Holdout`` is
``account_holdout``). Read through the one load stage (:func:`attribution.inputs._schema.load`
with the spec ``EXPERIMENTS``), so a bad file gets the errors every table gets: the file, the
user's column (``[columns.experiments]``) and its 1-based lines.

Examples
--------
>>> import polars as pl
>>> exp = load_experiments(pl.DataFrame({"channel": [" LinkedIn "], "start": ["2025-03-01"],
...     "end": ["2025-12-31"], "incremental_conversions": [21.5], "standard_error": [9.0],
...     "test_type": ["Account Holdout"]}))
>>> exp.frame.select("channel", "measure", "incremental", "test_type").row(0)
('linkedin', 'conversions', 21.5, 'account_holdout')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._channels import channel_spelling
from attribution.inputs._schema import EXPERIMENTS, ROW, Table, load
from attribution.inputs._sources import TableLike

__all__ = ["TEST_TYPES", "Experiments", "load_experiments"]

#: The kinds of lift test the table takes.
TEST_TYPES: Final = ("account_holdout", "geo", "time_split")


@dataclass(frozen=True)
class Experiments:
    """The experiments table, checked.

    Attributes
    ----------
    frame : pl.DataFrame
        ``_row`` (the source row), ``channel`` (trimmed, lower case), ``start``, ``end``
        (dates, both in the window), ``measure`` (``conversions`` or ``pipeline``),
        ``incremental`` (what the test measured, in the measure's unit), ``standard_error``
        and ``test_type`` (one of :data:`TEST_TYPES`).
    table : Table
        The loaded table (source, the user's column names) for errors about its rows.
    """

    frame: pl.DataFrame
    table: Table

    @property
    def source(self) -> str:
        """The file (or ``<DataFrame>``) the table came from."""
        return self.table.source.name

    def error(self, message: str, rows: pl.Series, *, column: str, hint: str) -> InputError:
        """An :class:`InputError` on ``column`` naming this table's file and the source
        ``rows`` (``_row`` values) as its lines."""
        return self.table.error(
            InputError(
                message,
                table="experiments",
                source=self.table.source.name,
                column=column,
                rows=rows.head(5).to_list(),
                hint=hint,
            )
        )


def load_experiments(
    data: TableLike | Experiments,
    *,
    columns: Mapping[str, str] | None = None,
    formats: Mapping[str, Sequence[str]] | None = None,
) -> Experiments:
    """Read and check the experiments table (see the module docstring).

    Errors (an :class:`~attribution.InputError` naming the file, the user's column and the
    lines): a missing column, an unreadable date or number, an empty required cell, a row
    with both or neither of ``incremental_conversions`` / ``incremental_pipeline``, a
    standard error that is not above 0, an ``end`` before its ``start``, an unknown
    ``test_type``, and a table without rows.
    """
    if isinstance(data, Experiments):
        return data
    table = load(data, EXPERIMENTS, columns=columns, formats=formats, require_rows=True)
    f = table.frame
    for col in ("incremental_conversions", "incremental_pipeline"):
        if col not in f.columns:
            f = f.with_columns(pl.lit(None, pl.Float64).alias(col))
    conv, pipe = pl.col("incremental_conversions"), pl.col("incremental_pipeline")
    f = f.with_columns(
        channel_spelling(pl.col("channel")),  # as the run's channels are spelled
        pl.col("test_type")
        .str.strip_chars()
        .str.to_lowercase()
        .str.replace_all(r"[\s\-]+", "_")
        .alias("test_type"),
    )
    out = Experiments(f, table)

    def check(bad: pl.Expr, message: str, column: str, hint: str) -> None:
        rows = f.filter(bad).get_column(ROW)
        if rows.len():
            raise out.error(f"{rows.len()} row(s) {message}", rows, column=column, hint=hint)

    check(
        conv.is_null() == pipe.is_null(),
        "give both or neither of incremental_conversions and incremental_pipeline",
        "incremental_conversions",
        "each test measured one thing: conversions or pipeline (USD); leave the other empty",
    )
    check(
        ~conv.is_finite().fill_null(True) | ~pipe.is_finite().fill_null(True),
        "have a measured increment that is not a finite number",
        "incremental_conversions"
        if "incremental_conversions" in table.frame.columns
        else "incremental_pipeline",
        "the increment may be negative or 0, not inf or NaN",
    )
    se = pl.col("standard_error")
    check(
        ~(se.is_finite() & (se > 0)),
        "have a standard error that is not a number above 0",
        "standard_error",
        "the test's standard error, in the unit of its increment (a test without one cannot "
        "be weighed against the models)",
    )
    check(pl.col("end") < pl.col("start"), "end before they start", "end", "end >= start")
    check(
        ~pl.col("test_type").is_in(list(TEST_TYPES)),
        f"have a test_type other than {', '.join(TEST_TYPES)}",
        "test_type",
        f"one of {', '.join(TEST_TYPES)}",
    )
    frame = f.select(
        ROW,
        "channel",
        "start",
        "end",
        pl.when(conv.is_not_null())
        .then(pl.lit("conversions"))
        .otherwise(pl.lit("pipeline"))
        .alias("measure"),
        pl.coalesce(conv, pipe).alias("incremental"),
        "standard_error",
        "test_type",
    )
    return Experiments(frame, table)
