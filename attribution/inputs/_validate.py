"""Row checks and filters of the validate stage: touch types left out of a run
(``RunOptions.exclude_touch_types``: the option's check and the filter) and deal values.

Marketing attribution usually leaves the sales team's own follow-ups (``sales_call``,
``sales_email``, ``meeting``) out of the journeys: they come after the MQL, so
position-based models would give them much of the credit. The SLA step reads them from the
touches file, whatever the run leaves out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._schema import ROW, Table

__all__ = ["check_touch_types", "check_values", "exclude_touch_types"]


def check_touch_types(value: object) -> tuple[str, ...]:
    """``exclude_touch_types``: a list of non-empty names, trimmed and lower-cased (as the
    touches' values are compared), duplicates removed.

    >>> check_touch_types(["Sales_Call ", "meeting", "sales_call"])
    ('sales_call', 'meeting')
    """
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InputError(
            f"exclude_touch_types must be a list of touch_type values; got {value!r}"
        )
    names: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise InputError(
                f"exclude_touch_types must be a list of touch_type values; got {item!r} in it"
            )
        name = item.strip().lower()
        if name not in names:
            names.append(name)
    return tuple(names)


def exclude_touch_types(touch_table: Table, excluded: Sequence[str]) -> tuple[Table, int]:
    """The touches whose ``touch_type`` (trimmed, lower case) is not in ``excluded``, and how
    many were left out (``touches_dropped.excluded_touch_type``). A run that excludes touch
    types needs the column: without it the error names the option and the file."""
    frame = touch_table.frame
    if not excluded:
        return touch_table, 0
    if "touch_type" not in frame.columns:
        raise InputError(
            f"exclude_touch_types ({', '.join(excluded)}) needs a touch_type column; the "
            "touches have none",
            table="touches",
            source=touch_table.source.name,
            hint="map your column to touch_type ([columns.touches]), or drop the option",
        )
    kept = frame.filter(
        ~pl.col("touch_type")
        .str.strip_chars()
        .str.to_lowercase()
        .is_in(list(excluded))
        .fill_null(value=False)
    )
    return dataclasses.replace(touch_table, frame=kept), frame.height - kept.height


def check_values(stage_table: Table) -> None:
    """Deal values (``value`` of the stage events) must be finite and >= 0, whatever the
    models: a negative amount would take credited revenue away under every rule-based model.
    The error names the file, the user's column and the lines."""
    frame = stage_table.frame
    if "value" not in frame.columns:
        return
    value = pl.col("value")
    bad = value.is_not_null() & (~value.is_finite() | (value < 0))
    rows = frame.filter(bad).get_column(ROW)
    if rows.len():
        example = frame.filter(bad).get_column("value").head(3).to_list()
        raise stage_table.error(
            InputError(
                f"{rows.len()} stage event(s) have a negative or non-finite deal value, e.g. "
                f"{example}",
                table=stage_table.spec.name if stage_table.spec else "stages",
                source=stage_table.source.name,
                column="value",
                rows=rows.sort().head(5).to_list(),
                hint="a deal value is an amount >= 0 (a refund or a lost deal is not a "
                "negative deal: mark lost deals with the closed_lost stage); leave it blank "
                "when unknown",
            )
        )
