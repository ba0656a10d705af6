"""Salesforce OpportunityHistory -> the opportunities' open stage changes."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from attribution.importers._read import Export, parse_timestamps
from attribution.importers._result import ImportReport
from attribution.importers._shared import closed_by_stage, record_mapping, snake


def history_events(
    hist: Export,
    report: ImportReport,
    formats: Sequence[str],
    given: tuple[Sequence[str], Sequence[str], Sequence[str]] = ((), (), ()),
) -> pl.DataFrame:
    """Open stage changes (``StageName`` in snake case at ``CreatedDate``)."""
    oid = hist.require(["OpportunityId", "Opportunity ID"])
    stage = hist.require(["StageName", "Stage", "To Stage"])
    created = hist.require(["CreatedDate", "Created Date", "Last Modified", "Edit Date"])
    report.read(hist, {"opportunity_id": oid, "stage": stage, "timestamp": created})
    frame = hist.frame.select(
        pl.col(oid).alias("opportunity_id"),
        parse_timestamps(hist, created, formats, "timestamp").alias("timestamp"),
        pl.col(stage).alias("_stage_raw"),
        snake(pl.col(stage)).alias("stage"),
        closed_by_stage(hist, stage, *given).alias("_closed"),
    )
    incomplete = frame.select(
        pl.any_horizontal(pl.col("opportunity_id", "timestamp", "stage").is_null()).sum()
    ).item()
    report.drop("opportunity_history", "no OpportunityId, StageName or CreatedDate", incomplete)
    frame = frame.drop_nulls(["opportunity_id", "timestamp", "stage"])
    closed = frame.get_column("_closed").is_not_null()
    report.drop(
        "opportunity_history",
        "closed stage (won/lost come from the Opportunity's CloseDate)",
        int(closed.sum()),
    )
    frame = frame.filter(~closed)
    report.kept("opportunity_history", frame.height)
    record_mapping(report, "opportunity history stage", frame, "_stage_raw", "stage")
    return frame.select("opportunity_id", "timestamp", "stage")
