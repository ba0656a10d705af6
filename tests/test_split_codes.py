"""The split of a partitioned run writes label columns (channel, campaign, stage...) as
integer codes and reads them back as the same text: what the library validates and
attributes is what the source holds, cell for cell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_partitioned import assert_same

import attribution
from attribution.datasets._synth import synthesize
from attribution.engine._merge import GLOBAL_ROW
from attribution.engine._partitioned import attribute_partitioned
from attribution.engine._split import BUCKET, split
from attribution.inputs._schema import STAGES, TOUCHES


@pytest.fixture(scope="module")
def synth() -> Any:
    return synthesize(1500, seed=11)


def _messy(touches: pl.DataFrame) -> pl.DataFrame:
    """Label cells a validator must see as they are: padded, blank, null, non-ASCII."""
    n = pl.int_range(pl.len())
    return touches.with_columns(
        pl.when(n % 11 == 0).then(pl.lit(" ") + pl.col("channel") + pl.lit("  "))
        .otherwise("channel").alias("channel"),
        pl.when(n % 5 == 0).then(pl.lit(""))
        .when(n % 7 == 0).then(pl.lit(None, pl.String))
        .when(n % 13 == 0).then(pl.lit("Frühjahr – ünïcode"))
        .otherwise("campaign").alias("campaign"),
    )  # fmt: skip


def test_split_files_hold_codes_and_read_back_as_the_source(synth: Any, tmp_path: Path) -> None:
    touches = _messy(synth.touches)
    path = tmp_path / "touches.parquet"
    touches.write_parquet(path)
    done = split(path, TOUCHES, None, level="contact", contact_map=None, partitions=4,
                 directory=tmp_path / "split")  # fmt: skip
    assert set(done.coded) >= {"channel", "campaign"}
    files = sorted((tmp_path / "split").glob(f"{BUCKET}=*/*.ipc"))
    assert files
    schema = pl.read_ipc_schema(files[0])
    assert schema["channel"] == pl.UInt32
    assert schema["campaign"] == pl.UInt32
    assert schema["touch_id"] == pl.String  # ids stay text
    back = pl.concat([done.read(p) for p in range(4)]).sort(GLOBAL_ROW)
    assert back.schema == done.empty.schema
    expected = touches.with_row_index(GLOBAL_ROW).select(back.columns)
    assert_frame_equal(back, expected)  # every cell, padding, blanks and nulls included


def test_messy_labels_equal_in_memory(synth: Any, tmp_path: Path) -> None:
    touches = _messy(synth.touches)
    touches.write_parquet(tmp_path / "touches.parquet")
    synth.stages.write_parquet(tmp_path / "stages.parquet")
    kwargs: dict[str, Any] = {"models": ["linear", "position_based", "markov", "shapley"]}
    expected = attribution.attribute(
        tmp_path / "touches.parquet", tmp_path / "stages.parquet", **kwargs
    )
    got = attribute_partitioned(
        tmp_path / "touches.parquet", tmp_path / "stages.parquet", partitions=3, **kwargs
    )
    assert_same(expected, got, level="contact")
    got = attribute_partitioned(touches, synth.stages, partitions=4, **kwargs)
    assert_same(attribution.attribute(touches, synth.stages, **kwargs), got, level="contact")


def test_renamed_and_typed_label_columns(synth: Any) -> None:
    """A label column the config maps from the user's name is coded under that name (ours
    of the same name makes way); one that is not text (an Enum) is written as it is."""
    touches = synth.touches.rename({"channel": "source_channel"}).with_columns(
        pl.lit("ignored").alias("channel"),
        pl.col("campaign").cast(pl.Categorical),
    )
    stages = synth.stages.with_columns(pl.col("stage").cast(pl.Enum(sorted(
        synth.stages.get_column("stage").unique().to_list()))))  # fmt: skip
    kwargs: dict[str, Any] = {
        "models": ["linear", "markov"],
        "columns": {"touches": {"channel": "source_channel"}},
    }
    expected = attribution.attribute(touches, stages, **kwargs)
    assert "ignored" not in expected.channel_credit.get_column("channel").to_list()
    got = attribute_partitioned(touches, stages, partitions=3, **kwargs)
    assert_same(expected, got, level="contact")


def test_blank_stage_named_on_its_global_row(synth: Any) -> None:
    """A label the run requires (a stage) left empty: the error names the same row."""
    stages = synth.stages.with_columns(
        pl.when(pl.int_range(pl.len()) == 40).then(pl.lit("  "))
        .otherwise("stage").alias("stage")
    )  # fmt: skip
    with pytest.raises(attribution.InputError) as in_memory:
        attribution.attribute(synth.touches, stages, models=["linear"])
    with pytest.raises(attribution.InputError) as partitioned:
        attribute_partitioned(synth.touches, stages, models=["linear"], partitions=3)
    assert partitioned.value.rows == in_memory.value.rows == [40]
    assert type(partitioned.value) is type(in_memory.value)


def test_stage_codes_in_the_stage_split(synth: Any, tmp_path: Path) -> None:
    path = tmp_path / "stages.parquet"
    synth.stages.write_parquet(path)
    done = split(path, STAGES, None, level="contact", contact_map=None, partitions=2,
                 directory=tmp_path / "split")  # fmt: skip
    assert "stage" in done.coded
    back = pl.concat([done.read(p) for p in range(2)]).sort(GLOBAL_ROW)
    assert_frame_equal(back, synth.stages.with_row_index(GLOBAL_ROW).select(back.columns))
