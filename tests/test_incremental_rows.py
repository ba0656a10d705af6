"""Incremental runs and their inputs' rows: new rows numbered as a full run numbers them
(the ``row-N`` ids of touches without a ``touch_id``), whatever blank rows the source holds;
a state of an older layout rebuilt, saying so."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution import attribute_incremental
from tests.test_incremental import MODELS, _batches, assert_same

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def sample() -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(SAMPLE / "touches.parquet"), pl.read_parquet(SAMPLE / "stages.parquet")


def _blank(frame: pl.DataFrame, rows: int) -> pl.DataFrame:
    return pl.DataFrame([pl.Series(c, [None] * rows, dtype=t) for c, t in frame.schema.items()])


def _source(frame: pl.DataFrame, kind: str, path: Path) -> pl.DataFrame | Path:
    if kind == "frame":
        return frame
    if kind == "parquet":
        frame.write_parquet(path.with_suffix(".parquet"), row_group_size=400)
        return path.with_suffix(".parquet")
    frame.write_csv(path.with_suffix(".csv"))  # a blank row: a line of separators only
    return path.with_suffix(".csv")


@pytest.mark.parametrize("kind", ["frame", "parquet", "csv"])
def test_trailing_blank_rows_leave_later_row_ids_those_of_a_full_run(
    sample, tmp_path, kind
) -> None:
    """Touches without a ``touch_id`` get ``row-N`` ids by source position. A source whose
    night-1 rows end in blank rows (dropped, counted), then receives rows after them (and a
    blank row among those): the new rows' ids, and so every output, are a full run's --
    read whole (CSV) or filtered as scanned (a frame, Parquet)."""
    touches, stages = sample
    touches = touches.drop("touch_id")
    cut = datetime(2025, 9, 1, tzinfo=UTC)
    first, second = _batches(touches, [cut])
    fresh = second.slice(first.height)
    nights = [
        pl.concat([first, _blank(touches, 3)]),
        pl.concat([first, _blank(touches, 3), fresh.head(7), _blank(touches, 1), fresh.slice(7)]),
    ]
    state = tmp_path / "state"
    for night, (t, s) in enumerate(zip(nights, _batches(stages, [cut]), strict=True)):
        source = _source(t, kind, tmp_path / f"touches-{night}")
        got = attribute_incremental(source, s, models=MODELS, state=state)
        full = attribution.attribute(source, s, models=MODELS)
        assert got.manifest["parameters"]["incremental"]["mode"] == (
            "full" if night == 0 else "incremental"
        )
        assert_same(got, full)
        ids = got.touch_credit.filter(pl.col("model") == "linear").get_column("touch_id")
        assert ids.str.starts_with("row-").all()
    meta = json.loads((state / "state.json").read_text())
    assert meta["inputs"]["touches"]["next_row"] == nights[1].height
    assert meta["inputs"]["touches"]["rows"] == touches.height


def test_a_state_of_an_older_layout_is_rebuilt_saying_so(sample, tmp_path) -> None:
    touches, stages = sample
    state = tmp_path / "state"
    attribute_incremental(touches, stages, models=MODELS, state=state)
    meta = json.loads((state / "state.json").read_text())
    meta["version"] -= 1
    (state / "state.json").write_text(json.dumps(meta))
    got = attribute_incremental(touches, stages, models=MODELS, state=state)
    info = got.manifest["parameters"]["incremental"]
    assert info["mode"] == "full"
    assert f"layout version {meta['version']}" in info["reason"]
    assert any("layout version" in note for note in got.manifest["notes"])
    again = attribute_incremental(touches, stages, models=MODELS, state=state)
    assert again.manifest["parameters"]["incremental"]["mode"] == "incremental"


def test_a_row_without_a_timestamp_appended_to_parquet_is_refused_as_a_full_run_does(
    sample, tmp_path
) -> None:
    """A filtered read skips rows before the cutoff, but a row appended without a timestamp
    (not blank) is read and refused -- a full run's error, not a silent drop."""
    touches, stages = sample
    cut = datetime(2025, 9, 1, tzinfo=UTC)
    first, second = _batches(touches, [cut])
    state = tmp_path / "state"
    path = tmp_path / "touches.parquet"
    first.write_parquet(path)
    attribute_incremental(path, stages, models=MODELS, state=state)
    broken = second.slice(first.height, 1).with_columns(pl.lit(None, pl.Datetime("us", "UTC"))
                                                        .alias("timestamp"))
    pl.concat([second, broken]).write_parquet(path)
    with pytest.raises(attribution.InputError) as full:
        attribution.attribute(path, stages, models=MODELS)
    with pytest.raises(attribution.InputError) as night:
        attribute_incremental(path, stages, models=MODELS, state=state)
    for error in (full.value, night.value):
        assert "column 'timestamp': 1 empty value(s) in a required column" in str(error)
