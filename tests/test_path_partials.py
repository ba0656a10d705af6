"""Tests of attribution.engine._path_partials: a partitioned run's path table, merged from
per-partition partials on integer codes, equals the in-memory one."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution.datasets._synth import synthesize
from attribution.engine import _partitioned, _path_partials
from attribution.engine._partitioned import attribute_partitioned
from attribution.engine._path_partials import MergedPaths, PathPartial, merge_path_partials
from tests.conftest import stages_frame, touches_frame

TOL = 1e-12
#: 17 channels: 5 bits a code, so a key holds 12 touches; longer paths are kept as lists
CHANNELS = [f"ch{i:02d}" for i in range(17)]


def _inputs(journeys: list[tuple[list[int], float | None]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Contact ``c<i>`` touches ``CHANNELS[code]`` one day after another; a value: its deal
    closes the day after its last touch."""
    touches, stages = [], []
    for i, (codes, value) in enumerate(journeys):
        for day, code in enumerate(codes):
            touches.append((f"t{i}-{day}", f"c{i}", CHANNELS[code], day))
        if value is not None:
            stages.append((f"c{i}", "closed_won", len(codes), value))
    if not stages:  # the stages table needs a row: a deal of a contact without touches
        stages.append(("nobody", "closed_won", 1, 1.0))
    return touches_frame(touches), stages_frame(stages)


def _same_paths(expected: pl.DataFrame, got: pl.DataFrame) -> None:
    assert_frame_equal(expected.sort("path"), got.sort("path"), rel_tol=TOL)
    # most conversions first, then most nulls, in both
    order = ["conversions", "nulls"]
    assert_frame_equal(expected.select(order), got.select(order))


journey = st.tuples(
    st.lists(st.integers(0, len(CHANNELS) - 1), min_size=1, max_size=20),
    st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(journey, min_size=1, max_size=12), st.integers(2, 5))
def test_merged_partials_equal_the_in_memory_path_table(
    journeys: list[tuple[list[int], float | None]], partitions: int
) -> None:
    touches, stages = _inputs(journeys)
    # drawn journeys may all be non-converting: allow_empty
    expected = attribution.attribute(touches, stages, models=["first_touch"], allow_empty=True)
    got = attribute_partitioned(touches, stages, models=["first_touch"], partitions=partitions,
                                allow_empty=True)
    _same_paths(expected.paths, got.paths)


def test_partitions_with_other_channels_and_long_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partitions see different channels (their codes are recoded to the run's) and some
    paths are longer than a key holds (their lists are summed across partitions)."""
    long = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]  # 15 touches > 12
    journeys: list[tuple[list[int], float | None]] = [
        (long, 100.0),
        (long, 50.0),
        (long, None),
        ([16, 15], 10.0),
        ([15], None),
        ([3, 3, 3], 7.0),
        ([3, 3, 3], 7.5),
        ([0], 1.0),
        ([16], None),
    ] + [([i % 17, (i * 7) % 17], float(i)) for i in range(40)]
    touches, stages = _inputs(journeys)
    seen: list[list[PathPartial]] = []
    merged: list[MergedPaths] = []

    def spy(partials: list[PathPartial]) -> MergedPaths:
        seen.append(partials)
        merged.append(merge_path_partials(partials))
        return merged[-1]

    monkeypatch.setattr(_partitioned, "merge_path_partials", spy)
    expected = attribution.attribute(touches, stages, models=["first_touch", "markov"])
    got = attribute_partitioned(touches, stages, models=["first_touch", "markov"], partitions=4)
    (partials,) = seen
    assert merged[0]._table is None  # the lists are built only when asked for
    stored = merged[0].stored()  # from the keys
    union = sorted({n for p in partials for n in p.names})
    assert any(p.names != union for p in partials)  # recoded
    assert sum(p.long.height for p in partials) >= 3  # the long path from several partitions
    _same_paths(expected.paths, got.paths)
    # the stored form (channels joined, built from the keys without lists), before the
    # lists are built and after, is the table of lists joined, row for row
    assert stored.height == got.paths.height
    joined = got.paths.with_columns(pl.col("path").list.join(" > "))
    assert_frame_equal(stored, joined)
    assert merged[0]._table is not None
    assert_frame_equal(merged[0].stored(), joined)  # from the lists
    # the models fit on the distinct paths as codes: one sequence per row of the table
    sequences = merged[0].sequences()
    assert sequences.paths.height == got.paths.height
    monkeypatch.setattr(_path_partials, "_CHUNK", 5)  # decoded a few keys at a time
    assert_frame_equal(merged[0].sequences().touches, sequences.touches)
    chunked = MergedPaths(merged[0].keyed, merged[0].long, merged[0].names)
    assert_frame_equal(chunked.stored(), joined)  # built a few keys at a time
    assert_frame_equal(chunked(), got.paths)
    assert sequences.paths.get_column("conversions").sum() == got.paths["conversions"].sum()
    row = got.paths.filter(pl.col("path").list.len() == len(long))
    assert row.select("conversions", "nulls", "value").row(0) == (2.0, 1.0, 150.0)
    by = ["model", "channel"]
    assert_frame_equal(
        expected.channel_credit.sort(by), got.channel_credit.sort(by), rel_tol=TOL
    )


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_synthetic_log(partitions: int) -> None:
    data: Any = synthesize(2000, seed=11)
    expected = attribution.attribute(data.touches, data.stages, models=["linear"])
    got = attribute_partitioned(data.touches, data.stages, models=["linear"], partitions=partitions)
    assert expected.paths.height > 100
    _same_paths(expected.paths, got.paths)


def test_no_partials_and_empty_partials() -> None:
    empty = merge_path_partials([])()
    assert empty.height == 0
    assert empty.columns == ["path", "conversions", "nulls", "value"]
