"""The input of :func:`attribution.attribute_paths`: a pre-aggregated path table read,
checked and split into channel lists.

Every check names the table, its source, the user's own column and the 1-based lines of a
file (0-based rows of a frame in memory), whatever the models: ``conversions`` and ``nulls``
are finite counts >= 0, ``value`` a finite amount >= 0 (as a stage event's deal value: a
negative amount would take credited revenue away under every rule-based model, a NaN would
make the credit NaN); a blank ``value`` is 0 in revenue and its row's conversions are
counted as ``conversions_without_value``, as the touch-log runs count theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._channels import spell_path_channels
from attribution.inputs._schema import PATHS, ROW, Table, load
from attribution.inputs._separator import check_channels, split_paths
from attribution.typing import TableLike

__all__ = ["PathInput", "read_path_table"]


@dataclass
class PathInput:
    """A path table as :func:`read_path_table` gives it."""

    table: Table
    #: the table's rows, ``nulls`` and ``value`` filled (0 where blank), ``path`` as text
    frame: pl.DataFrame
    #: the same rows, ``path`` a list of channels in their one spelling
    split: pl.DataFrame
    #: channel values renamed to their one spelling: ``{as written: as used}``
    renamed: dict[str, str]
    #: conversions on rows whose ``value`` is blank (0 in revenue)
    conversions_without_value: float


def read_path_table(
    paths: TableLike, *, sep: str = ">", columns: Mapping[str, str] | None = None
) -> PathInput:
    """Load ``paths`` (``path``, ``conversions``, optional ``nulls`` and ``value``) and
    check it; see the module docstring."""
    table = load(paths, PATHS, columns=columns)
    frame = table.frame
    for col in ("nulls", "value"):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(0.0).alias(col))

    def refuse(
        frame: pl.DataFrame, bad: pl.Expr, message: str, column: str, hint: str | None = None
    ) -> None:
        """An InputError naming the first rows of the path table where ``bad`` holds."""
        found = frame.filter(bad)
        if found.height:
            raise table.error(
                InputError(
                    message.format(n=found.height),
                    table="paths",
                    source=table.source.name,
                    column=column,
                    rows=found.get_column(ROW).head(5).to_list(),
                    hint=hint,
                )
            )

    for col in ("conversions", "nulls"):
        number = pl.col(col)
        refuse(
            frame,
            number.is_not_null() & (~number.is_finite() | (number < 0)),
            f"{col} must be finite and non-negative: {{n}} row(s) are not",
            col,
            hint=f"'{col}' counts journeys: a number >= 0",
        )
    value = pl.col("value")
    refuse(
        frame,
        value.is_not_null() & (~value.is_finite() | (value < 0)),
        "a path's value must be finite and non-negative (an amount): {n} row(s) are not",
        "value",
        hint="a path's value is the deal amount of its conversions, >= 0 (a refund or a lost "
        "deal is not a negative amount); leave it blank when unknown",
    )
    without_value = float(
        frame.select(
            pl.col("conversions").filter(value.is_null() & (pl.col("conversions") > 0)).sum()
        ).item()
        or 0.0
    )
    frame = frame.with_columns(pl.col("nulls", "value").fill_null(0.0))
    # 'a >  > b' or 'a >': an empty channel is a broken path, not a shorter one
    pieces = pl.col("path").str.split(sep).list.eval(pl.element().str.strip_chars() == "")
    refuse(
        frame,
        (pl.col("path").str.strip_chars() != "") & pieces.list.any(),
        "path(s) with an empty channel (nothing between two separators, or a separator at "
        "an end)",
        "path",
        hint=f"paths are channels joined by {sep!r}: remove the extra separator or name the "
        "channel",
    )
    split = frame.with_columns(split_paths(pl.col("path"), sep).alias("path"))
    try:
        check_channels(
            split.get_column("path").explode().unique(),
            split,
            table="paths",
            column="path",
            row=ROW,
        )
    except InputError as exc:
        raise table.error(exc) from None
    empty = pl.col("path").list.len() == 0
    refuse(split, empty, "empty path", "path", hint=f"paths are channels joined by {sep!r}")
    split, renamed = spell_path_channels(split)  # one spelling per channel, as in touch logs
    return PathInput(table, frame, split, renamed, without_value)
