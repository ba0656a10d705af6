"""A Spark task's input error names the user's file and its 1-based rows, as in memory: a
``>`` in a channel name (refused by the journeys stage) reached the driver as Spark's
PythonException, its rows the ids Spark gave the rows (0-based, and from the second input
partition on, ``partition << 33``), its source ``<spark>``."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import spark_missing

import attribution

if (_why := spark_missing()) is not None:
    pytest.skip(_why, allow_module_level=True)

from attribution.engine._spark import _to_spark  # noqa: E402
from attribution.spark import attribute_spark, main  # noqa: E402

T0 = datetime(2025, 1, 1)
BAD = 22  # the 0-based row of the touch whose channel holds '>'


def _world(bad: int = BAD) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows = [
        (f"t{c}-{i}", f"c{c}", ["email", "webinar", "linkedin"][i], T0 + timedelta(days=c + i))
        for c in range(20)
        for i in range(3)
    ]
    touches = pl.DataFrame(
        rows, schema=["touch_id", "contact_id", "channel", "timestamp"], orient="row"
    ).with_columns(
        pl.when(pl.int_range(pl.len()) == bad).then(pl.lit("linked > in"))
        .otherwise(pl.col("channel")).alias("channel")
    )  # fmt: skip
    stages = pl.DataFrame({
        "contact_id": [f"c{c}" for c in range(20)], "stage": ["closed_won"] * 20,
        "timestamp": [T0 + timedelta(days=c + 10) for c in range(20)], "value": [100.0] * 20,
    })  # fmt: skip
    return touches, stages


def _in_memory(touches: Any, stages: Any) -> attribution.InputError:
    with pytest.raises(attribution.InputError) as info:
        attribution.attribute(touches, stages, models=["linear"])
    return info.value


def test_the_job_names_the_file_and_its_1_based_row(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    touches, stages = _world()
    touches.write_parquet(tmp_path / "touches.parquet")
    stages.write_parquet(tmp_path / "stages.parquet")
    code = main(["--touches", str(tmp_path / "touches.parquet"), "--stages",
                 str(tmp_path / "stages.parquet"), "--out", str(tmp_path / "run"),
                 "-m", "linear", "--partitions", "3"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    memory = _in_memory(tmp_path / "touches.parquet", tmp_path / "stages.parquet")
    assert memory.lines == [BAD + 1]
    assert f"source '{tmp_path / 'touches.parquet'}'" in line
    assert "column 'channel'" in line
    assert f"(first offending rows, 1-based: {BAD + 1})" in line
    assert memory.message in line
    assert "@attribution" not in line
    assert "<spark>" not in line


def test_a_directory_of_part_files_names_the_part_and_its_row(spark: Any, tmp_path: Path) -> None:
    touches, stages = _world(bad=20 + 4)
    folder = tmp_path / "touches"
    folder.mkdir()
    for k in range(3):  # 20 rows a file: the bad row is row 4 (0-based) of part-1
        touches.slice(20 * k, 20).write_parquet(folder / f"part-{k}.parquet")
    with pytest.raises(attribution.InputError) as info:
        attribute_spark(
            spark.read.parquet(str(folder)), _to_spark(spark, stages), models=["linear"],
            partitions=3,
        )  # fmt: skip
    error = info.value
    assert error.source == str(folder / "part-1.parquet")
    assert error.lines == [5]
    assert error.column == "channel"
    assert error.table == "touches"


def test_a_frame_made_in_memory_names_its_0_based_row(spark: Any) -> None:
    touches, stages = _world()
    frame = _to_spark(spark, touches).repartition(4)  # ids of 4 partitions: p << 33 + k
    in_order = pl.from_arrow(frame.toArrow())
    assert isinstance(in_order, pl.DataFrame)
    expected = in_order.with_row_index().filter(pl.col("channel").str.contains(">"))
    with pytest.raises(attribution.InputError) as info:
        attribute_spark(frame, _to_spark(spark, stages), models=["linear"], partitions=3)
    assert info.value.rows == expected.get_column("index").to_list()
    assert info.value.source == "<spark>"
    assert info.value.column == "channel"


def test_a_stage_rows_load_error_names_the_stages_file(spark: Any, tmp_path: Path) -> None:
    """Touches and stages number their rows apart (Spark's ids per input): a stage row's
    unreadable timestamp, its id shared by a touch in the same task, is the stages file's
    row (the event log's load tried on each type's rows alone)."""
    touches, stages = _world(bad=-1)
    text = "%Y-%m-%dT%H:%M:%SZ"
    touches.with_columns(pl.col("timestamp").dt.strftime(text)).write_parquet(
        tmp_path / "touches.parquet")
    stages.with_columns(
        pl.when(pl.int_range(pl.len()) == 6).then(pl.lit("yesterday"))
        .otherwise(pl.col("timestamp").dt.strftime(text)).alias("timestamp")
    ).write_parquet(tmp_path / "stages.parquet")  # fmt: skip
    memory = _in_memory(tmp_path / "touches.parquet", tmp_path / "stages.parquet")
    for partitions in (1, 3):  # one task holds touch 6 and stage 6 both
        with pytest.raises(attribution.InputError) as info:
            attribute_spark(spark.read.parquet(str(tmp_path / "touches.parquet")),
                            spark.read.parquet(str(tmp_path / "stages.parquet")),
                            models=["linear"], partitions=partitions)  # fmt: skip
        error = info.value
        assert (error.table, error.source) == ("stages", str(tmp_path / "stages.parquet"))
        assert error.lines == memory.lines == [7]
        assert error.message == memory.message
