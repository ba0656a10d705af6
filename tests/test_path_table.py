"""The path table (attribution/journeys/_paths.py): paths grouped on packed integer keys,
long paths on their lists, against grouping the lists of channel names directly."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from attribution.engine._result import PATH_TABLE_SCHEMA
from attribution.journeys._paths import path_table_of


def _reference(paths: list[list[int]], converted: list[bool], values: list[float],
               names: list[str]) -> pl.DataFrame:
    """Group the lists of names as they are (what the engine did before the keys)."""
    frame = pl.DataFrame(
        {
            "path": [[names[c] for c in p] for p in paths],
            "conversions": [1.0 if c else 0.0 for c in converted],
            "nulls": [0.0 if c else 1.0 for c in converted],
            "value": [v if c else 0.0 for v, c in zip(values, converted, strict=True)],
        },
        schema=PATH_TABLE_SCHEMA,
    )
    return frame.group_by("path").agg(pl.col("conversions", "nulls", "value").sum())


def _touches(paths: list[list[int]], values: list[float] | None) -> pl.DataFrame:
    rows = [(pid, c) for pid, p in enumerate(paths) for c in p]
    frame = pl.DataFrame({"pid": [r[0] for r in rows], "ch": [r[1] for r in rows]},
                         schema={"pid": pl.UInt32, "ch": pl.UInt8})
    if values is not None:
        frame = frame.with_columns(pl.Series("value", [values[pid] for pid, _ in rows],
                                             dtype=pl.Float64))
    return frame


@settings(max_examples=60, deadline=None)
@given(
    n_names=st.integers(1, 40),
    data=st.data(),
)
def test_keyed_paths_equal_grouping_the_lists(n_names: int, data: st.DataObject) -> None:
    """Any number of channels (1 to 6 bits a code) and paths up to 3x longer than a key
    holds (those grouped on their lists): the same paths, sums and order of sums."""
    names = [f"ch{i:02d}" for i in range(n_names)]
    fits = 64 // max(1, n_names.bit_length())
    path = st.lists(st.integers(0, n_names - 1), min_size=1, max_size=3 * fits)
    # few distinct paths, so that grouping matters: draw from a small pool
    pool = data.draw(st.lists(path, min_size=1, max_size=6))
    picks = data.draw(st.lists(st.integers(0, len(pool) - 1), max_size=30))
    converted = data.draw(st.lists(st.booleans(), min_size=len(picks), max_size=len(picks)))
    values = data.draw(st.lists(st.floats(0, 1e6), min_size=len(picks), max_size=len(picks)))
    paths = [pool[i] for i in picks]
    conv = [p for p, c in zip(paths, converted, strict=True) if c]
    conv_values = [v for v, c in zip(values, converted, strict=True) if c]
    nulls = [p for p, c in zip(paths, converted, strict=True) if not c]
    got = path_table_of(_touches(conv, conv_values), _touches(nulls, None), names,
                        PATH_TABLE_SCHEMA)
    expected = _reference(paths, converted, values, names)
    assert got.schema == PATH_TABLE_SCHEMA
    key = pl.col("path").list.join("|")
    assert_frame_equal(got.sort(key), expected.sort(key), check_exact=False, rel_tol=1e-12)
    sums = got.select("conversions", "nulls").rows()
    assert sums == sorted(sums, reverse=True)  # most conversions first, then most nulls


@settings(max_examples=60, deadline=None)
@given(n_names=st.integers(1, 300), data=st.data())
def test_joined_paths_equal_the_lists_joined(n_names: int, data: st.DataObject) -> None:
    """``joined=">"`` (the run directory's form, decoded from the keys a chunk of codes at
    a time, 1 to 9 bits a code): the same rows as the lists joined, paths longer than a key
    holds included."""
    names = [f"c{i}" * (1 + i % 3) for i in range(n_names)]  # names of different lengths
    fits = 64 // max(1, n_names.bit_length())
    path = st.lists(st.integers(0, n_names - 1), min_size=1, max_size=2 * fits)
    pool = data.draw(st.lists(path, min_size=1, max_size=6))
    picks = data.draw(st.lists(st.integers(0, len(pool) - 1), max_size=30))
    converted = data.draw(st.lists(st.booleans(), min_size=len(picks), max_size=len(picks)))
    paths = [pool[i] for i in picks]
    conv = [p for p, c in zip(paths, converted, strict=True) if c]
    nulls = [p for p, c in zip(paths, converted, strict=True) if not c]
    def touches(paths: list[list[int]]) -> pl.DataFrame:  # u16 codes: past 255 with 9 bits
        rows = [(pid, c) for pid, p in enumerate(paths) for c in p]
        return pl.DataFrame({"pid": [r[0] for r in rows], "ch": [r[1] for r in rows]},
                            schema={"pid": pl.UInt32, "ch": pl.UInt16})

    args = (touches(conv).with_columns(value=pl.lit(1.0)), touches(nulls), names,
            PATH_TABLE_SCHEMA)
    lists = path_table_of(*args)
    joined = path_table_of(*args, joined=">")
    assert joined.schema == pl.Schema({**PATH_TABLE_SCHEMA, "path": pl.String()})
    expected = lists.with_columns(pl.col("path").list.join(">"))
    assert_frame_equal(joined.sort(pl.all()), expected.sort(pl.all()))
    assert joined.select("conversions", "nulls").rows() == lists.select(
        "conversions", "nulls").rows()
