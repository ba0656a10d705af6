"""The unified event log split into its touches and its stage events (``event_type``)."""

from __future__ import annotations

import polars as pl

from attribution.exceptions import NullValueError, SchemaError
from attribution.inputs._schema import ROW, STAGES, TOUCHES, _rows_where
from attribution.inputs._sources import Source

__all__ = ["split_events"]


def split_events(frame: pl.DataFrame, source: Source) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a unified event log into touches and stage events by ``event_type``.

    ``event_type`` is ``touch`` for touches and ``stage`` for lifecycle events.
    """
    kind = pl.col("event_type").str.to_lowercase().str.strip_chars()
    bad = ~kind.is_in(["touch", "stage"])
    if frame.select(bad.any()).item():
        values = frame.filter(bad).get_column("event_type").unique().head(5).to_list()
        raise SchemaError(
            f"event_type must be 'touch' or 'stage', found {values}",
            table="events",
            source=source.name,
            column="event_type",
            rows=_rows_where(frame, bad),
        )
    touch_cols = [c for c in frame.columns if c in TOUCHES.columns or c == ROW]
    stage_cols = [c for c in frame.columns if c in STAGES.columns or c == ROW]
    touches = frame.filter(kind == "touch").select(touch_cols)
    stages = frame.filter(kind == "stage").select(stage_cols)
    if "stage" in stages.columns and stages.get_column("stage").null_count():
        raise NullValueError(
            "stage rows need a stage name",
            table="events",
            source=source.name,
            column="stage",
            rows=_rows_where(stages, pl.col("stage").is_null()),
        )
    return touches, stages
