"""Fixed costs of a run and costs of the in-memory path: the library imports no optional
package on its way (pandas, where installed, took 0.3-0.5 s of every run from Parquet), and a
log given in memory is loaded with its columns in the same chunks (realigning them copied)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.inputs._reading import aligned_row_index
from attribution.inputs._schema import ROW, TOUCHES, load

_PROBE = """
import importlib.abc, sys
import attribution
tried = []
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "pandas" or name == "pyarrow.compute":
            tried.append(name)
sys.meta_path.insert(0, Watch())
sys.modules.pop("pandas", None)
res = attribution.attribute(sys.argv[1], sys.argv[2], models=["linear", "markov"])
assert res.channel_credit.height > 0
assert res.paths.get_column("path").list.len().max() == 20  # the long path's list
print("TRIED", sorted(set(tried)))
"""


def test_a_run_from_parquet_imports_neither_pandas_nor_pyarrow_compute(tmp_path: Path) -> None:
    """A log with a journey longer than a path key (20 touches of 13 channels) and one
    short, read from Parquet (timestamps as datetimes: their statistics are in the file),
    through every stage and the path table: no import of pandas or pyarrow.compute is even
    attempted."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    channels = [f"ch{i:02d}" for i in range(13)]
    touches = pl.DataFrame(
        {
            "touch_id": [f"t{i}" for i in range(23)],
            "contact_id": ["long"] * 20 + ["short"] * 3,
            "channel": [channels[i % 13] for i in range(20)] + ["ch00", "ch01", "ch02"],
            "timestamp": [start + timedelta(hours=i) for i in range(23)],
        }
    )
    stages = pl.DataFrame(
        {
            "contact_id": ["long", "short"],
            "stage": ["closed_won", "closed_won"],
            "timestamp": [start + timedelta(days=3), start + timedelta(days=3)],
            "value": [100.0, 50.0],
        }
    )
    touches.write_parquet(tmp_path / "touches.parquet")
    stages.write_parquet(tmp_path / "stages.parquet")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "touches.parquet"),
         str(tmp_path / "stages.parquet")],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert "TRIED []" in done.stdout, done.stdout + done.stderr


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 7), min_size=1, max_size=6),
    row_chunks=st.integers(1, 3),
)
def test_the_row_index_is_cut_like_the_data(lengths: list[int], row_chunks: int) -> None:
    """The row numbers keep their values and take the data columns' chunks; a frame whose
    data columns disagree on their chunks is left as it was."""
    n = sum(lengths)
    parts = [pl.DataFrame({"a": [f"v{i}" for i in range(k)], "b": list(range(k))}) for k in lengths]
    data = pl.concat(parts, rechunk=False)
    cut = [n // row_chunks] * (row_chunks - 1)
    cut.append(n - sum(cut))
    row = pl.concat(
        [pl.Series(ROW, list(range(sum(cut[:i]), sum(cut[: i + 1]))), dtype=pl.Int64)
         for i in range(row_chunks)],
        rechunk=False,
    )  # fmt: skip
    frame = data.with_columns(row)
    out = aligned_row_index(frame, ROW)
    assert out.get_column(ROW).to_list() == list(range(n))
    assert out.drop(ROW).equals(data)
    layout = [c.len() for c in data.get_column("a").get_chunks()]
    if len(layout) > 1:
        assert [c.len() for c in out.get_column(ROW).get_chunks()] == layout
    mixed = frame.with_columns(pl.Series("c", list(range(n))))  # one chunk: layouts differ
    if len(layout) > 1:
        assert aligned_row_index(mixed, ROW).get_column(ROW).n_chunks() == row.n_chunks()


def test_a_frame_in_memory_loads_with_its_chunks_aligned() -> None:
    """A log given in memory comes out of the load stage with every column in the same
    chunks, as a file's read does (misaligned, the validate stage copied them to realign)."""
    hours = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(50)]
    parts = [
        pl.DataFrame(
            {
                "touch_id": [f"t{k}-{i}" for i in range(50)],
                "contact_id": [f"c{i % 7}" for i in range(50)],
                "channel": ["email", "ads"] * 25,
                "campaign": ["x"] * 50,
                "timestamp": hours,
            }
        )
        for k in range(4)
    ]
    touches = pl.concat(parts, rechunk=False)
    table = load(touches, TOUCHES)
    layouts = {tuple(c.len() for c in s.get_chunks()) for s in table.frame.get_columns()}
    assert len(layouts) == 1
    assert table.frame.get_column(ROW).to_list() == list(range(200))
