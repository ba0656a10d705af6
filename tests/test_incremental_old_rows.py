"""An old row changed in place (same row count) under ``--state``: noticed, and the night is
a full recompute saying why (manifest, notes, stderr) -- a Parquet file's row groups, a text
file's bytes read before, a database's checksum of its old rows, any source's rows inside
the late window -- so the answer is a full run's, never one built from the old row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution
from attribution import attribute_incremental
from attribution.engine._old_rows import CHUNK, _checksums, check_file, file_mark
from attribution.inputs._database import redacted
from tests.test_incremental import MODELS, _batches, assert_same

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
CUT = datetime(2025, 9, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def sample() -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(SAMPLE / "touches.parquet"), pl.read_parquet(SAMPLE / "stages.parquet")


def _edited(frame: pl.DataFrame, row: int) -> pl.DataFrame:
    """``frame`` with the channel of one row changed (as an UPDATE would)."""
    channel = frame.get_column("channel")[row]
    other = next(c for c in frame.get_column("channel").unique().sort() if c != channel)
    index = pl.int_range(pl.len())
    return frame.with_columns(
        pl.when(index == row).then(pl.lit(other)).otherwise(pl.col("channel")).alias("channel")
    )


def _full_because(result: attribution.AttributionResult, words: str) -> None:
    info = result.manifest["parameters"]["incremental"]
    assert info["mode"] == "full", info
    assert words in info["reason"]
    assert "an old row was changed or deleted" in info["reason"]
    assert any(words in note for note in result.manifest["notes"])


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_an_old_row_edited_in_a_file_forces_a_full_recompute(sample, tmp_path, kind) -> None:
    touches, stages = sample
    first, second = _batches(touches, [CUT])
    path = tmp_path / f"touches.{kind}"

    def write(frame: pl.DataFrame) -> None:
        if kind == "parquet":
            frame.write_parquet(path, row_group_size=300)
        else:
            frame.write_csv(path)

    state = tmp_path / "state"
    write(first)
    attribute_incremental(path, stages, models=MODELS, state=state)
    write(second)  # appended: a night as usual
    night = attribute_incremental(path, stages, models=MODELS, state=state)
    assert night.manifest["parameters"]["incremental"]["mode"] == "incremental"
    write(_edited(second, 10))  # an old row's channel corrected in place: same row count
    got = attribute_incremental(path, stages, models=MODELS, state=state)
    _full_because(got, "of the Parquet file" if kind == "parquet" else "bytes of the file")
    assert_same(got, attribution.attribute(path, stages, models=MODELS))
    again = attribute_incremental(path, stages, models=MODELS, state=state)
    assert again.manifest["parameters"]["incremental"]["mode"] == "incremental"


def test_a_row_inside_the_late_window_edited_forces_a_full_recompute(sample, tmp_path) -> None:
    """A frame's old rows are only counted, but those inside the late window are read again
    and must be there as read."""
    touches, stages = sample
    first, second = _batches(touches, [CUT])
    state = tmp_path / "state"
    attribute_incremental(first, stages, models=MODELS, state=state, late_window="10d")
    inside = first.with_row_index("i").filter(pl.col("timestamp") >= CUT - timedelta(days=5))
    edited = _edited(second, int(inside.get_column("i")[0]))
    got = attribute_incremental(edited, stages, models=MODELS, state=state, late_window="10d")
    _full_because(got, "no longer in the input as read")
    assert_same(got, attribution.attribute(edited, stages, models=MODELS))


def test_a_database_row_updated_forces_a_full_recompute(sample, tmp_path) -> None:
    """The database sums a hash of the rows before the previous cutoff in the query that
    counts them: an UPDATE of one is noticed from the second incremental night on."""
    touches, stages = sample
    cuts = [datetime(2025, 8, 1, tzinfo=UTC), CUT]
    path = tmp_path / "crm.duckdb"
    uri = f"duckdb://{path}"
    state = tmp_path / "state"
    with duckdb.connect(str(path)) as con:
        con.register("s", stages.to_arrow())
        con.execute("CREATE TABLE stages AS SELECT * FROM s")
        con.execute("CREATE TABLE touches AS SELECT * FROM s LIMIT 0")  # replaced below
    for night, frame in enumerate(_batches(touches, cuts)):
        with duckdb.connect(str(path)) as con:
            con.register("t", frame.to_arrow())
            con.execute("CREATE OR REPLACE TABLE touches AS SELECT * FROM t")
        queries = (attribution.SqlTable(uri, "SELECT * FROM touches"),
                   attribution.SqlTable(uri, "SELECT * FROM stages"))  # fmt: skip
        got = attribute_incremental(*queries, models=MODELS, state=state)
        assert got.manifest["parameters"]["incremental"]["mode"] == (
            "full" if night == 0 else "incremental"
        )
    with duckdb.connect(str(path)) as con:  # an old row's channel corrected
        con.execute(
            "UPDATE touches SET channel = 'email' WHERE touch_id = (SELECT touch_id FROM "
            "touches WHERE channel <> 'email' AND timestamp < TIMESTAMPTZ '2025-06-01' "
            "ORDER BY touch_id LIMIT 1)"
        )
    queries = (attribution.SqlTable(uri, "SELECT * FROM touches"),
               attribution.SqlTable(uri, "SELECT * FROM stages"))  # fmt: skip
    got = attribute_incremental(*queries, models=MODELS, state=state)
    _full_because(got, "the database's checksum of the rows before")
    updated = attribution.SqlTable(uri, "SELECT * FROM touches").frame()
    assert_same(got, attribution.attribute(updated, stages, models=MODELS))


def test_a_database_row_updated_the_first_night_after_a_full_one_is_seen(sample, tmp_path):
    """A full night (the first, or any recompute) has the database sum its old rows too, so
    an UPDATE made before the very next night is noticed (new-user report 4, defect 1:
    the night after a full one compared nothing, and its wrong answer then stayed)."""
    touches, stages = sample
    path = tmp_path / "crm.duckdb"
    uri = f"duckdb://{path}"
    state = tmp_path / "state"
    early = touches.filter(pl.col("timestamp") < CUT)
    with duckdb.connect(str(path)) as con:
        con.register("s", stages.to_arrow())
        con.execute("CREATE TABLE stages AS SELECT * FROM s")
        con.register("t", early.to_arrow())
        con.execute("CREATE TABLE touches AS SELECT * FROM t")

    def night() -> attribution.AttributionResult:
        queries = (attribution.SqlTable(uri, "SELECT * FROM touches"),
                   attribution.SqlTable(uri, "SELECT * FROM stages"))  # fmt: skip
        return attribute_incremental(*queries, models=MODELS, state=state)

    assert night().manifest["parameters"]["incremental"]["mode"] == "full"
    with duckdb.connect(str(path)) as con:  # the new rows, and an old row corrected
        con.register("t", touches.filter(pl.col("timestamp") >= CUT).to_arrow())
        con.execute("INSERT INTO touches SELECT * FROM t")
        con.execute(
            "UPDATE touches SET channel = 'email' WHERE touch_id = (SELECT touch_id FROM "
            "touches WHERE channel <> 'email' AND timestamp < TIMESTAMPTZ '2025-06-01' "
            "ORDER BY touch_id LIMIT 1)"
        )
    got = night()
    _full_because(got, "the database's checksum of the rows before")
    updated = attribution.SqlTable(uri, "SELECT * FROM touches").frame()
    assert_same(got, attribution.attribute(updated, stages, models=MODELS))


def test_the_cli_says_why_on_stderr(sample, tmp_path) -> None:
    touches, stages = sample
    first, second = _batches(touches, [CUT])
    first.write_parquet(tmp_path / "touches.parquet", row_group_size=300)
    stages.write_parquet(tmp_path / "stages.parquet")
    command = [
        sys.executable, "-m", "attribution.cli", "run", "--touches", "touches.parquet",
        "--stages", "stages.parquet", "-m", "linear", "--state", "state", "--out", "runs",
    ]  # fmt: skip
    env = dict(os.environ, COLUMNS="200")
    first_night = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                                 env=env, timeout=300)  # fmt: skip
    assert first_night.returncode == 0, first_night.stderr
    assert "full recompute" not in first_night.stderr  # the first night: nothing to say
    _edited(second, 3).write_parquet(tmp_path / "touches.parquet", row_group_size=300)
    edited = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env,
                            timeout=300)  # fmt: skip
    assert edited.returncode == 0, edited.stderr
    assert "incremental run: full recompute (touches: the bytes of row groups 1-" in (
        edited.stderr
    )


def test_a_text_files_hash_covers_the_bytes_read_before(tmp_path) -> None:
    """The bytes read before are hashed as the same chunks whatever the file holds after
    them: appended bytes leave the check passing; one byte changed anywhere before, or the
    file cut, fails it -- across chunk boundaries too."""
    import attribution.engine._old_rows as old_rows

    path = tmp_path / "t.csv"
    body = b"".join(b"row %d,abc\n" % i for i in range(3000))
    path.write_bytes(body)
    original = old_rows.CHUNK
    try:
        old_rows.CHUNK = 1000  # many chunks, the prefix ending inside one
        mark = file_mark(path)
        assert mark is not None
        assert mark["size"] == len(body)
        path.write_bytes(body + b"row x,new\n")
        assert check_file(path, mark)[0] is None
        for spot in (0, 999, 1000, len(body) - 1):
            changed = bytearray(body)
            changed[spot] ^= 1
            path.write_bytes(bytes(changed) + b"row x,new\n")
            assert "bytes of the file" in (check_file(path, mark)[0] or "")
        path.write_bytes(body[:-5])
        assert "bytes where" in (check_file(path, mark)[0] or "")
        assert _checksums(path, [10, 20])[10] == _checksums(path, [10])[10]
    finally:
        old_rows.CHUNK = original
    assert CHUNK == original


def test_a_nights_manifest_names_its_sources_and_the_rows_it_read(sample, tmp_path) -> None:
    """New-user report 4, defect 6: a --state run's manifest had only rows and watermark per
    input. Now, as a full run's, where each came from (a query: the redacted URI and the
    query text), and the rows read that night with a sha256 of them."""
    touches, stages = sample
    path = tmp_path / "crm.duckdb"
    uri = f"duckdb://{path}"
    with duckdb.connect(str(path)) as con:
        con.register("s", stages.to_arrow())
        con.execute("CREATE TABLE stages AS SELECT * FROM s")
        con.register("t", touches.filter(pl.col("timestamp") < CUT).to_arrow())
        con.execute("CREATE TABLE touches AS SELECT * FROM t")
    queries = (attribution.SqlTable(uri, "SELECT * FROM touches"),
               attribution.SqlTable(uri, "SELECT * FROM stages"))  # fmt: skip
    first = attribute_incremental(*queries, models=["linear"], state=tmp_path / "state")
    with duckdb.connect(str(path)) as con:
        con.register("t", touches.filter(pl.col("timestamp") >= CUT).to_arrow())
        con.execute("INSERT INTO touches SELECT * FROM t")
    second = attribute_incremental(*queries, models=["linear"], state=tmp_path / "state")
    assert second.manifest["parameters"]["incremental"]["mode"] == "incremental"
    early = touches.filter(pl.col("timestamp") < CUT)
    old, new = early.height, touches.height - early.height
    # a night reads from the watermark on (no late window): the rows at it are read again
    again = early.filter(pl.col("timestamp") == early.get_column("timestamp").max()).height
    for result, read, held in ((first, old, old), (second, again + new, old + new)):
        entry = result.manifest["inputs"]["touches"]
        assert entry["source"] == redacted(uri)
        assert entry["query"] == "SELECT * FROM touches"
        assert entry["rows_read"] == read
        assert len(entry["sha256_rows_read"]) == 64
        assert entry["rows"] == held
        assert "watermark" in entry
        assert result.manifest["inputs"]["stages"]["query"] == "SELECT * FROM stages"
    assert (first.manifest["inputs"]["touches"]["sha256_rows_read"]
            != second.manifest["inputs"]["touches"]["sha256_rows_read"])  # fmt: skip


def test_a_row_dated_in_the_future_does_not_move_the_watermark(sample, tmp_path) -> None:
    """New-user report 4, defect 10: one touch dated months ahead (a scheduled meeting)
    moved the watermark there, and every later night was a full recompute blaming late or
    deleted rows. Rows dated after the run's time leave the watermark where it was, said in
    a note; the next nights stay incremental and equal a full run."""
    touches, stages = sample
    first, second, third = _batches(touches, [datetime(2025, 8, 1, tzinfo=UTC), CUT])
    ahead = datetime.now(UTC) + timedelta(days=200)
    meeting = second.head(1).with_columns(
        pl.lit(ahead).dt.cast_time_unit("us").alias("timestamp"),
        pl.lit("T-FUTURE").alias("touch_id"),
    )
    state = tmp_path / "state"
    # each batch holds the one before it, then its new rows (an append-only table)
    later = third[second.height :]
    nights = [first, pl.concat([second, meeting]), pl.concat([second, meeting, later])]
    got = [attribute_incremental(rows, stages, models=MODELS, state=state) for rows in nights]
    modes = [g.manifest["parameters"]["incremental"]["mode"] for g in got]
    assert modes == ["full", "incremental", "incremental"]
    note = [n for n in got[1].manifest["notes"] if "watermark stays" in n]
    assert len(note) == 1
    assert "1 row(s) read tonight are dated after this run's time" in note[0]
    watermark = got[1].manifest["inputs"]["touches"]["watermark"]
    assert datetime.fromisoformat(watermark) == second.get_column("timestamp").max()
    assert_same(got[2], attribution.attribute(nights[2], stages, models=MODELS))


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/New_York"])
def test_a_column_without_a_time_zone_stays_incremental_off_utc(sample, tmp_path, zone) -> None:
    """New-user report 4, defect 13: a DuckDB TIMESTAMP column (no time zone) compared with
    the wrapper's TIMESTAMPTZ literal in the machine's local zone: every night off UTC was a
    full recompute blamed on late or deleted rows. The literal now has the column's type."""
    touches, stages = sample
    path = tmp_path / "crm.duckdb"
    with duckdb.connect(str(path)) as con:
        for name, frame in (("t", touches.filter(pl.col("timestamp") < CUT)), ("s", stages)):
            naive = frame.with_columns(pl.col("timestamp").dt.replace_time_zone(None))
            con.register(name, naive.to_arrow())
        con.execute("CREATE TABLE touches AS SELECT * FROM t")
        con.execute("CREATE TABLE stages AS SELECT * FROM s")
    later = touches.filter(pl.col("timestamp") >= CUT)
    later.with_columns(pl.col("timestamp").dt.replace_time_zone(None)).write_parquet(
        tmp_path / "later.parquet"
    )
    code = f"""
import duckdb, json, sys, attribution
uri = "duckdb://{path}"
def night():
    q = (attribution.SqlTable(uri, "SELECT * FROM touches"),
         attribution.SqlTable(uri, "SELECT * FROM stages"))
    r = attribution.attribute_incremental(*q, models=["linear"], state="{tmp_path / "state"}")
    return r.manifest["parameters"]["incremental"]
modes = [night()]
with duckdb.connect("{path}") as con:
    con.execute("INSERT INTO touches SELECT * FROM read_parquet('{tmp_path / "later.parquet"}')")
modes.append(night())
print(json.dumps(modes))
"""
    env = dict(os.environ, TZ=zone)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    first, second = json.loads(proc.stdout.strip().splitlines()[-1])
    assert first["mode"] == "full"
    assert second["mode"] == "incremental", second


def test_a_growing_contacts_table_keeps_the_night_incremental(sample, tmp_path) -> None:
    """New-user report 4, defect 14: a contacts table that grew by 10 contacts made every
    night a full recompute ('the run options or the contacts table differ'). A night's
    contact-level journeys do not read it; other options are named when they differ."""
    touches, stages = sample
    first, second = _batches(touches, [CUT])
    contacts = pl.read_parquet(SAMPLE / "contacts.parquet")
    state = tmp_path / "state"
    attribute_incremental(first, stages, contacts=contacts.head(100), models=MODELS, state=state)
    got = attribute_incremental(second, stages, contacts=contacts, models=MODELS, state=state)
    assert got.manifest["parameters"]["incremental"]["mode"] == "incremental"
    assert_same(got, attribution.attribute(second, stages, contacts=contacts, models=MODELS))
    other = attribute_incremental(
        second, stages, contacts=contacts, models=["linear"], lookback="30d", state=state
    )
    reason = other.manifest["parameters"]["incremental"]["reason"]
    assert reason == "the run options differ from the state's: lookback, models"


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=300),
    ends=st.lists(st.integers(0, 330), min_size=1, max_size=3),
    chunk=st.sampled_from([8, 16, 24, 64]),
)
def test_the_mapped_checksum_is_the_read_one(tmp_path_factory, data, ends, chunk) -> None:
    """The sums over the memory-mapped file equal those of reading it into a buffer (what
    earlier states stored), whatever the chunks, the ends (inside a word, past the file's
    end) and the file's size (empty, under one word)."""
    import attribution.engine._old_rows as old_rows

    path = tmp_path_factory.mktemp("sums") / "f.bin"
    path.write_bytes(data)
    original = old_rows.CHUNK
    try:
        old_rows.CHUNK = chunk
        wanted = sorted(set(ends))
        assert _checksums(path, wanted) == old_rows._checksums_read(path, wanted)
    finally:
        old_rows.CHUNK = original
