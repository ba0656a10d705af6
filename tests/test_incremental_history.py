"""The incremental state's history index (:mod:`attribution.engine._history`): files sorted
by a hash of the entity key, from which a night gathers only the re-opened entities' rows --
the same rows a scan of the whole history finds, with colliding hashes, null keys and many
files; merged past the file limit without changing any night's answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution import attribute_incremental
from attribution.engine import _history
from attribution.engine._history import (
    HASH,
    LATEST,
    index_path,
    rows_of,
    rows_since,
    write_history,
)
from attribution.inputs._schema import ROW

KEYS = ["a", "b", "c", "d", "e", None]
START = datetime(2025, 1, 1, tzinfo=UTC)


def _history_frame(keys: list[str | None], days: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            ROW: range(len(keys)),
            "contact_id": keys,
            "timestamp": [START + timedelta(days=d) for d in days],
            "channel": [f"ch{i % 3}" for i in range(len(keys))],
        },
        schema={ROW: pl.Int64, "contact_id": pl.String,
                "timestamp": pl.Datetime("us", "UTC"), "channel": pl.String},
    )  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 30)), max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=3),
    wanted=st.lists(st.sampled_from(KEYS), min_size=1, max_size=4),
    coarse=st.booleans(),
    day=st.integers(0, 31),
)
def test_the_index_finds_what_a_scan_finds(
    tmp_path_factory, rows, cuts, wanted, coarse, day
) -> None:
    """Rows of the wanted entities (a null among them: the rows without a key), counts and
    rows around a cutoff: equal to filtering the whole history, whatever the files and
    with every key's hash colliding (``coarse``: the hash taken modulo 2) and files of many
    record batches."""
    directory = tmp_path_factory.mktemp("history")
    frame = _history_frame([k for k, _ in rows], [d for _, d in rows])
    bounds = sorted({0, *(c for c in cuts if c < frame.height), frame.height})
    files = []
    original, batch_rows = _history._key_hash, _history.BATCH_ROWS
    try:
        _history.BATCH_ROWS = 4  # many record batches: rows gathered across them
        if coarse:
            _history._key_hash = lambda keys: original(keys) % 2  # type: ignore[assignment]
        for i, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
            files.append(directory / f"h{i}.arrow")
            write_history(files[-1], frame.slice(lo, hi - lo), "contact_id")
        entities = pl.Series("contact_id", wanted, dtype=pl.String).unique()
        got = rows_of(files, "contact_id", entities)
    finally:
        _history._key_hash = original  # type: ignore[assignment]
        _history.BATCH_ROWS = batch_rows
    if not files:
        assert got is None
        return
    inside = pl.col("contact_id").is_in(entities.drop_nulls().implode())
    if entities.null_count():
        inside = inside | pl.col("contact_id").is_null()
    assert got is not None
    assert_frame_equal(got, frame.filter(inside))
    cutoff = START + timedelta(days=day)
    since = rows_since(files, cutoff)
    assert since is not None
    # what a night counts as the history's rows before the cutoff: all of them less these
    assert frame.height - since.height == frame.filter(pl.col("timestamp") < cutoff).height
    assert_frame_equal(since.sort(ROW), frame.filter(pl.col("timestamp") >= cutoff))


def test_history_files_hold_each_entity_together_by_latest_time(tmp_path) -> None:
    """A history file holds each entity's rows together, in row order, entities by their
    latest time (the recently active ones at the end); its index gives each key hash's row
    range; every row is kept."""
    frame = _history_frame(["b", "a", None, "b", "c", "a"], [5, 4, 3, 2, 9, 0])
    write_history(tmp_path / "h.arrow", frame, "contact_id")
    stored = pl.read_ipc(tmp_path / "h.arrow")
    assert HASH not in stored.columns
    assert stored.get_column(LATEST).is_sorted()
    assert_frame_equal(stored.drop(LATEST).sort(ROW), frame)
    # latest times: None 3, a 4, b 5, c 9 -> None's row, then a's, b's, c's
    assert stored.get_column("contact_id").to_list() == [None, "a", "a", "b", "b", "c"]
    assert stored.get_column(ROW).to_list() == [2, 1, 5, 0, 3, 4]
    index = pl.read_ipc(index_path(tmp_path / "h.arrow"))
    assert index.get_column(HASH).is_sorted()
    assert index.height == 4
    for start, end in index.select("start", "end").iter_rows():
        keys = stored.get_column("contact_id").slice(start, end - start).unique()
        assert keys.len() == 1  # one entity per range (no collision here)
    assert sorted((e - s for s, e in index.select("start", "end").iter_rows())) == [1, 1, 2, 2]


def test_many_nights_merge_history_files_and_equal_full_runs(tmp_path, monkeypatch) -> None:
    """Past the file limit a night merges the later history files into one; every night
    still equals a full run (a touch table without touch ids: ``row-N`` ids follow the
    global row order)."""
    from attribution.engine import _generations
    from tests.test_incremental import SAMPLE, _batches, assert_same

    monkeypatch.setattr(_generations, "MAX_FILES", 2)
    touches = pl.read_parquet(SAMPLE / "touches.parquet").drop("touch_id")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    cuts = [datetime(2025, m, 1, tzinfo=UTC) for m in (7, 8, 9, 10)]
    state = tmp_path / "state"
    files = []
    models = ["linear", "time_decay", "markov", "shapley"]
    for t, s in zip(_batches(touches, cuts), _batches(stages, cuts), strict=True):
        got = attribute_incremental(t, s, models=models, state=state)
        meta = json.loads((state / "state.json").read_text())
        files.append(len(meta["history"]["touches"]))
        assert_same(got, attribution.attribute(t, s, models=models))
    assert files == [1, 2, 2, 2, 2]
    assert any(f.endswith("-merged.arrow") for f in meta["history"]["touches"])
    stored = sorted(p.name for p in state.rglob("history-touches-*"))
    # the merged files' parts are gone (and their indexes)
    assert len([n for n in stored if not n.endswith(".index.arrow")]) == 2
    assert len([n for n in stored if n.endswith(".index.arrow")]) == 2


def test_a_table_without_the_key_is_kept_unindexed(tmp_path) -> None:
    frame = _history_frame(["a", "b"], [1, 0])
    write_history(tmp_path / "h.arrow", frame.drop("contact_id"), "contact_id")
    assert_frame_equal(pl.read_ipc(tmp_path / "h.arrow"), frame.drop("contact_id"))
    got = rows_of([tmp_path / "h.arrow"], "contact_id", pl.Series("contact_id", ["a"]))
    assert got is None  # no index: the night reads none of its rows (as before the index)


# --- the data-driven models' statistics ---------------------------------------------------------


def test_nights_refit_markov_and_shapley_from_their_statistics(tmp_path, monkeypatch) -> None:
    """After the first night the data-driven models are fitted from the statistics the
    state keeps (the coded paths are never exploded: that would fail here), and every
    night still equals a full run -- Markov of order 1 and 2, without repeats collapsed or
    null paths, Shapley by rate and by count."""
    from attribution.engine import _state_answer
    from tests.test_incremental import SAMPLE, _batches, assert_same

    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    models = ["linear", "markov", "markov:order=2", "markov:collapse_repeats=false",
              "markov:use_nulls=false", "shapley", "shapley:value=count"]  # fmt: skip
    cuts = [datetime(2025, m, 1, tzinfo=UTC) for m in (8, 10)]
    state = tmp_path / "state"
    for night, (t, s) in enumerate(zip(_batches(touches, cuts), _batches(stages, cuts),
                                       strict=True)):  # fmt: skip
        if night:

            def exploded(*_: object) -> None:
                raise AssertionError("the models were fitted on the exploded path table")

            monkeypatch.setattr(_state_answer, "coded_sequences", exploded)
        got = attribute_incremental(t, s, models=models, state=state)
        assert_same(got, attribution.attribute(t, s, models=models))
        meta = json.loads((state / "state.json").read_text())
        stored = sorted(n for n in meta["files"] if n.startswith("fit-"))
        assert stored == ["fit-markov-1-0-1-edges", "fit-markov-1-0-1-ends",
                          "fit-markov-1-1-0-edges", "fit-markov-1-1-0-ends",
                          "fit-markov-1-1-1-edges", "fit-markov-1-1-1-ends",
                          "fit-markov-2-1-1-edges", "fit-markov-2-1-1-ends",
                          "fit-presence", "fit-shapley"]  # fmt: skip


CODES = st.lists(st.integers(0, 3), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None)
@given(
    start=st.lists(st.tuples(CODES, st.integers(0, 3), st.integers(0, 3), st.integers(0, 9)),
                   min_size=1, max_size=12),
    changes=st.lists(st.tuples(CODES, st.integers(-2, 2), st.integers(-2, 2),
                               st.integers(-5, 5)), max_size=12),
)  # fmt: skip
def test_statistics_updated_by_changes_equal_statistics_from_scratch(start, changes) -> None:
    """The statistics plus those of a signed change equal those of the changed table (rows
    whose journeys net to zero are gone; a change that moves only value is kept)."""
    from attribution.engine._fit_stats import statistics, update_statistics
    from attribution.options import RunOptions

    def table(rows: list) -> pl.DataFrame:
        return pl.DataFrame(
            {"codes": [r[0] for r in rows], "_h": [0] * len(rows),
             "conversions": [float(r[1]) for r in rows], "nulls": [float(r[2]) for r in rows],
             "value": [float(r[3]) * (r[1] != 0) for r in rows]},
            schema={"codes": pl.List(pl.UInt32), "_h": pl.UInt64, "conversions": pl.Float64,
                    "nulls": pl.Float64, "value": pl.Float64},
        )  # fmt: skip

    channels = ["a", "b", "c", "d"]
    options = RunOptions.of(None, models=["markov", "markov:order=2", "shapley"])
    total, change = table(start), table(changes)
    combined = (
        pl.concat([total, change])
        .group_by("codes")
        .agg(pl.col("_h").first(), pl.col("conversions", "nulls", "value").sum())
    )
    if (combined.get_column("conversions") < 0).any() or (combined["nulls"] < 0).any():
        return  # not a table a state can hold
    combined = combined.filter((pl.col("conversions") != 0) | (pl.col("nulls") != 0))
    got = update_statistics(
        statistics(total, channels, options), statistics(change, channels, options, delta=True)
    )
    want = statistics(combined, channels, options)
    assert got.keys() == want.keys()
    for name, frame in want.items():
        assert_frame_equal(got[name], frame, check_dtypes=False, abs_tol=1e-9)


def test_categorical_columns_are_kept_as_text_and_read_back(tmp_path, monkeypatch) -> None:
    """A categorical column of the user's (kept as it came) is stored as text -- record
    batches of an IPC file cannot each bring their dictionary -- and nights still equal
    full runs."""
    from tests.test_incremental import SAMPLE, _batches, assert_same

    monkeypatch.setattr(_history, "BATCH_ROWS", 500)  # several record batches
    touches = pl.read_parquet(SAMPLE / "touches.parquet").with_columns(
        pl.col("channel").alias("segment_label").cast(pl.Categorical)
    )
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    cuts = [datetime(2025, 9, 1, tzinfo=UTC)]
    state = tmp_path / "state"
    modes = []
    for t, s in zip(_batches(touches, cuts), _batches(stages, cuts), strict=True):
        got = attribute_incremental(t, s, models=["linear", "markov"], state=state)
        assert_same(got, attribution.attribute(t, s, models=["linear", "markov"]))
        modes.append(got.manifest["parameters"]["incremental"]["mode"])
    assert modes == ["full", "incremental"]


def test_text_with_few_values_is_stored_as_a_dictionary(tmp_path) -> None:
    """A text column with few distinct values (a channel) is kept as one dictionary per file
    (smaller to page in and gather); a column of distinct values (the key, an id) stays text;
    what a night reads back is the text as read, nulls kept."""
    n = 64
    frame = _history_frame([f"c{i % 9}" for i in range(n)], list(range(n))).with_columns(
        pl.Series("channel", [None if i % 5 == 0 else f"ch{i % 2}" for i in range(n)]),
        pl.Series("touch_id", [f"t{i}" for i in range(n)]),
        pl.lit(None, pl.String).alias("owner"),
    )
    path = tmp_path / "h.arrow"
    write_history(path, frame, "contact_id")
    import pyarrow as pa

    schema = pa.ipc.open_file(pa.memory_map(str(path))).schema
    assert pa.types.is_dictionary(schema.field("channel").type)
    assert pa.types.is_dictionary(schema.field("owner").type)
    for name in ("contact_id", "touch_id"):
        assert not pa.types.is_dictionary(schema.field(name).type)
    got = rows_of([path], "contact_id", pl.Series(["c1", "c4"]))
    assert got is not None
    assert_frame_equal(got, frame.filter(pl.col("contact_id").is_in(["c1", "c4"])))
    since = rows_since([path], START + timedelta(days=40))
    assert since is not None
    assert_frame_equal(since.sort(ROW), frame.filter(pl.col(ROW) >= 40))
