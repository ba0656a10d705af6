"""Timestamps zoned by a fixed UTC offset (pandas' ``datetime64[ns, UTC+05:30]``, written
by ``to_parquet`` as Arrow ``timestamp[ns, tz=+05:30]``) are read as their UTC instants
(new-user report 22b, S3: a Rust panic, ``pyo3_runtime.PanicException``, which ``except
Exception`` does not catch; the command line exited 1 with 246 lines of traceback)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import attribution
from attribution.inputs._offsets import scan_parquet


def _touches(zone: str) -> pa.Table:
    # 2025-01-01 10:00 and 2025-01-05 10:00 at the offset, as nanoseconds since the epoch
    instants = [datetime(2025, 1, 1, 4, 30, tzinfo=UTC), datetime(2025, 1, 5, 4, 30, tzinfo=UTC)]
    ns = [int(t.timestamp()) * 1_000_000_000 for t in instants]
    return pa.table({"contact_id": ["c1", "c1"], "channel": ["linkedin", "email"],
                     "timestamp": pa.array(ns, pa.timestamp("ns", tz=zone))})


STAGES = pl.DataFrame({"contact_id": ["c1"], "stage": ["closed_won"], "value": [10.0],
                       "timestamp": [datetime(2025, 1, 10, tzinfo=UTC)]})


@pytest.mark.parametrize("zone", ["+05:30", "-03:30", "+05:45", "+01:00", "UTC"])
def test_an_offset_zoned_parquet_file_is_read_as_utc(tmp_path: Path, zone: str) -> None:
    path = tmp_path / "touches.parquet"
    pq.write_table(_touches(zone), path)
    result = attribution.attribute(path, STAGES, models=["first_touch"])
    rows = result.touch_credit.sort("timestamp").select("channel", "timestamp", "credit")
    assert rows.rows() == [("linkedin", datetime(2025, 1, 1, 4, 30, tzinfo=UTC), 1.0),
                           ("email", datetime(2025, 1, 5, 4, 30, tzinfo=UTC), 0.0)]
    # an Arrow table in memory too
    table = attribution.attribute(_touches(zone), STAGES, models=["first_touch"])
    assert table.touch_credit.sort("timestamp").select("credit").to_series().to_list() == [
        1.0, 0.0]


def test_the_row_index_of_a_nightly_read_survives(tmp_path: Path) -> None:
    path = tmp_path / "touches.parquet"
    pq.write_table(_touches("+05:30"), path)
    frame = scan_parquet(path, row_index_name="_at").collect()
    assert frame.get_column("_at").to_list() == [0, 1]
    assert frame.schema["timestamp"] == pl.Datetime("ns", "UTC")
