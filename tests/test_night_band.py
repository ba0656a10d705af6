"""An edit of a query's row dated between two nights' cutoffs is seen (new-user report 17,
S4). A night checks the rows before the previous night's bound by the database's checksum
and the rows inside its window by reading them again; the rows between the previous
night's bound and its own cutoff (one watermark advance: a day's rows, aged late_window to
late_window + a day, for a nightly job) were checked by neither, so an UPDATE there was
never seen and the next night's checksum took it as read: the nights then differed from a
full run for good. A night now reads a query from the previous night's bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

import attribution
from attribution import attribute_incremental
from tests.test_incremental import MODELS, assert_same

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
NIGHTS = [datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 10, 11, tzinfo=UTC)]


def _queries(uri: str) -> tuple[attribution.SqlTable, attribution.SqlTable]:
    """The two queries; one object per night as a nightly job makes them (a SqlTable runs
    its query once, then keeps the result; attribute_incremental runs them again)."""
    return (attribution.SqlTable(uri, "SELECT * FROM touches"),
            attribution.SqlTable(uri, "SELECT * FROM stages"))  # fmt: skip


def _database(tmp_path: Path) -> tuple[pl.DataFrame, pl.DataFrame, Path, str]:
    """The sample's touches and stages, and a DuckDB file holding the stages (its touches
    table is loaded night by night, :func:`_load`)."""
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    path = tmp_path / "crm.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("s", stages.to_arrow())
        con.execute("CREATE TABLE stages AS SELECT * FROM s")
    return touches, stages, path, f"duckdb://{path}"


def _load(path: Path, touches: pl.DataFrame) -> None:
    with duckdb.connect(str(path)) as con:
        con.register("t", touches.to_arrow())
        con.execute("CREATE OR REPLACE TABLE touches AS SELECT * FROM t")


def test_an_edit_between_two_nights_cutoffs_is_seen(tmp_path) -> None:
    touches, stages, path, uri = _database(tmp_path)
    state = tmp_path / "state"
    queries = _queries(uri)
    for night, cut in enumerate(NIGHTS):
        _load(path, touches.filter(pl.col("timestamp") < cut))
        got = attribute_incremental(*queries, models=MODELS, state=state, late_window="2d")
        assert got.manifest["parameters"]["incremental"]["mode"] == (
            "full" if night == 0 else "incremental"
        )
    # a touch dated after the first night's cutoff (its watermark less 2 days) and before
    # the second's: read by the second night, inside neither checksum nor the third night's
    # window as it was
    seen = touches.filter(pl.col("timestamp") < NIGHTS[1])
    first_cut = touches.filter(pl.col("timestamp") < NIGHTS[0]).get_column("timestamp").max()
    second_cut = seen.get_column("timestamp").max()
    assert isinstance(first_cut, datetime)
    assert isinstance(second_cut, datetime)
    band = seen.filter(
        pl.col("timestamp") >= first_cut - timedelta(days=2),
        pl.col("timestamp") < second_cut - timedelta(days=2),
        pl.col("channel") != "email",
    )
    before = attribution.attribute(seen, stages, models=MODELS)
    credited = before.touch_credit.filter(pl.col("touch_id").is_in(band.get_column("touch_id")))
    edited_id = credited.get_column("touch_id").sort()[0]
    with duckdb.connect(str(path)) as con:  # the web pipeline re-classifies the session
        con.execute("UPDATE touches SET channel = 'email' WHERE touch_id = ?", [edited_id])
    got = attribute_incremental(*queries, models=MODELS, state=state, late_window="2d")
    full = attribution.attribute(*_queries(uri), models=MODELS)
    assert full.manifest["reconciliation"]["touches_in"] == seen.height
    assert_same(got, full)
    row = got.touch_credit.filter(pl.col("touch_id") == edited_id)
    assert set(row.get_column("channel")) == {"email"}  # the edit reached the answer
    info = got.manifest["parameters"]["incremental"]
    assert info["mode"] == "full"
    assert "no longer in the input as read" in info["reason"]
    # the night after (no new rows) stays equal: its checksum starts from the edited rows
    again = attribute_incremental(*queries, models=MODELS, state=state, late_window="2d")
    assert again.manifest["parameters"]["incremental"]["mode"] == "incremental"
    assert_same(again, full)


def test_a_row_added_late_between_two_cutoffs_is_read_not_recomputed(tmp_path) -> None:
    """A row added late, dated between the previous night's bound and tonight's cutoff, is
    read as the window's rows are (it forced a full recompute by the counts before)."""
    touches, stages, path, uri = _database(tmp_path)
    state = tmp_path / "state"
    queries = _queries(uri)
    first_cut = touches.filter(pl.col("timestamp") < NIGHTS[0]).get_column("timestamp").max()
    assert isinstance(first_cut, datetime)
    late = touches.filter(
        pl.col("timestamp") >= first_cut, pl.col("timestamp") < first_cut + timedelta(days=3)
    ).head(1)
    on_time = touches.join(late, on="touch_id", how="anti")
    for cut in NIGHTS:
        _load(path, on_time.filter(pl.col("timestamp") < cut))
        attribute_incremental(*queries, models=MODELS, state=state, late_window="2d")
    _load(path, pl.concat([on_time.filter(pl.col("timestamp") < NIGHTS[1]), late]))
    got = attribute_incremental(*queries, models=MODELS, state=state, late_window="2d")
    info = got.manifest["parameters"]["incremental"]
    assert info["mode"] == "incremental", info
    assert info["rows_read"]["touches"] == 1
    full = attribution.attribute(*_queries(uri), models=MODELS)
    assert full.manifest["reconciliation"]["touches_in"] == on_time.height + 1 - (
        on_time.filter(pl.col("timestamp") >= NIGHTS[1]).height
    )
    assert_same(got, full)


def test_a_job_that_keeps_its_query_objects_reads_each_night_anew(tmp_path) -> None:
    """A SqlTable runs its query once and keeps the result; a long-lived job that makes its
    queries once and runs a night a day would read the first night's rows again in a night
    that recomputes in full (a wrong answer, exit 0): every night runs the queries anew."""
    touches, stages, path, uri = _database(tmp_path)
    state = tmp_path / "state"
    queries = _queries(uri)  # made once, as a scheduler's process would
    for cut in NIGHTS:
        _load(path, touches.filter(pl.col("timestamp") < cut))
        got = attribute_incremental(*queries, models=MODELS, state=state, full=True)
        assert_same(got, attribution.attribute(*_queries(uri), models=MODELS))
