"""A night reads the history without ``pyarrow.compute`` (:mod:`attribution.engine._history_take`):
the NumPy gather of a mapped record batch equals Arrow's ``take`` for every layout the
history holds (with nulls, sliced arrays, any order of positions), the Parquet footer's
timestamp bounds read from their raw values equal pyarrow's text of them, and a whole
night (files on disk, every model) never imports pandas or ``pyarrow.compute``."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.engine._history_take import numbers, take_array, take_batch
from attribution.engine._old_rows import _bound, _timestamp_unit

ROOT = Path(__file__).resolve().parents[1]
TEXT = st.one_of(st.none(), st.text(max_size=6))
START = datetime(2025, 1, 1, tzinfo=UTC)


def _arrays(values: list[str | None], numbers_: list[int | None]) -> list[pa.Array]:
    stamps = [None if n is None else START + timedelta(microseconds=n) for n in numbers_]
    return [
        pa.array(values, pa.large_string()),
        pa.array(values, pa.string()),
        pa.array(values, pa.large_string())
        .dictionary_encode()
        .cast(pa.dictionary(pa.uint8(), pa.large_string(), ordered=True)),
        pa.array(numbers_, pa.int64()),
        pa.array([None if n is None else n / 7 for n in numbers_], pa.float64()),
        pa.array(stamps, pa.timestamp("us", tz="UTC")),
        pa.array([None if n is None else n % 2 == 0 for n in numbers_], pa.bool_()),
    ]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(TEXT, st.one_of(st.none(), st.integers(-(2**40), 2**40))),
                  min_size=1, max_size=40),
    offset=st.integers(0, 5),
    picks=st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 6)), max_size=12),
)  # fmt: skip
def test_the_gather_is_arrows_take(rows, offset, picks) -> None:
    """Positions in runs (a contact's rows), single, repeated, descending."""
    values = [r[0] for r in rows]
    ints = [r[1] for r in rows]
    for array in _arrays(values, ints):
        sliced = array.slice(min(offset, len(array) - 1))
        n = len(sliced)
        positions = np.array(
            [(p + i) % n for p, length in picks for i in range(length)], dtype=np.int64
        )
        got = take_array(sliced, positions)
        assert got.type == sliced.type
        assert got.equals(sliced.take(pa.array(positions))), (array.type, got)
        assert got.validate(full=True) is None
    batch = pa.RecordBatch.from_arrays(_arrays(values, ints), names=list("abcdefg"))
    positions = np.array(
        [(p + i) % batch.num_rows for p, length in picks for i in range(length)], dtype=np.int64
    )
    assert take_batch(batch, positions).equals(batch.take(pa.array(positions)))


def test_numbers_reads_the_buffer() -> None:
    array = pa.array(np.arange(10, dtype=np.uint64)).slice(3, 4)
    assert numbers(array).tolist() == [3, 4, 5, 6]
    assert numbers(pa.array([], pa.int64())).size == 0
    with pytest.raises(TypeError):
        numbers(pa.array([1, None]))


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
@pytest.mark.parametrize("zone", [None, "UTC", "Europe/Paris"])
def test_timestamp_bounds_are_pyarrows_text(tmp_path, unit, zone) -> None:
    moments = [datetime(2024, 3, 1, 12, 30, 1, 123456), datetime(1969, 12, 31, 23, 59, 59, 1),
               datetime(2024, 3, 1, 12, 30, 1)]  # fmt: skip
    path = tmp_path / "t.parquet"
    pl.DataFrame({"t": moments, "n": [1, 2, 3]}).with_columns(
        pl.col("t").cast(pl.Datetime(unit)).dt.replace_time_zone(zone)
    ).write_parquet(path)
    group = pq.ParquetFile(path).metadata.row_group(0)
    for j in range(group.num_columns):
        stats = group.column(j).statistics
        kind = _timestamp_unit(stats)
        assert _bound(stats, "min", kind) == str(stats.min)
        assert _bound(stats, "max", kind) == str(stats.max)


_RUN = """
import sys
from pathlib import Path
import attribution
work = Path(sys.argv[1])
out = attribution.attribute_incremental(
    work / "touches.parquet", work / "stages.parquet", state=work / "state",
    models=["first_touch", "linear", "markov", "shapley"],
)
print(out.manifest["parameters"]["incremental"]["mode"])
print(sorted(m for m in ("pandas", "pyarrow.compute") if m in sys.modules))
"""


def test_a_night_imports_neither_pandas_nor_pyarrow_compute(tmp_path) -> None:
    """The night of a Parquet source (its footer checked, its history gathered and written)
    leaves pandas and pyarrow.compute unimported (their import cost a night 0.3 s)."""
    frames = {n: pl.read_parquet(ROOT / "sample_data" / f"{n}.parquet")
              for n in ("touches", "stages")}  # fmt: skip
    cut = frames["touches"].get_column("timestamp").quantile(0.9, "nearest")
    said = []
    for night in (0, 1):
        for name, frame in frames.items():
            early = frame.filter(pl.col("timestamp") < cut)
            late = frame.filter(pl.col("timestamp") >= cut)
            (early if night == 0 else pl.concat([early, late])).write_parquet(
                tmp_path / f"{name}.parquet"
            )
        done = subprocess.run(
            [sys.executable, "-c", _RUN, str(tmp_path)],
            capture_output=True, text=True, check=False, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        said.append(done.stdout.strip().splitlines()[-2:])
    assert said[0][0] == "full"
    assert said[1] == ["incremental", "[]"]
