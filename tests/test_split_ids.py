"""The split's partition files (Arrow IPC) carry the user's id text exactly: ids longer than
a string view's inline 12 bytes, non-ASCII, padded, blank and missing; rows keyed by a
contact whose account id is missing (account level); the results equal the in-memory run."""

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
from attribution.engine._split import partition_files, split
from attribution.inputs._schema import TOUCHES


@pytest.fixture(scope="module")
def synth() -> Any:
    return synthesize(1200, seed=5)


def _unusual(frame: pl.DataFrame, column: str) -> pl.Expr:
    """``column``'s ids rewritten: one in three long (40 bytes, not inline in a view),
    one in five non-ASCII, one in seven padded with spaces; the same id always the same
    way, so contacts keep their touches."""
    h = pl.col(column).hash(seed=1)
    return (
        pl.when(h % 3 == 0).then(pl.lit("long-id-0123456789-0123456789-") + pl.col(column))
        .when(h % 5 == 0).then(pl.lit("Zoë·ünïcødé–") + pl.col(column))
        .when(h % 7 == 0).then(pl.lit("  ") + pl.col(column) + pl.lit(" "))
        .otherwise(pl.col(column))
        .alias(column)
    )  # fmt: skip


def _touches(synth: Any) -> pl.DataFrame:
    touches = synth.touches
    n = pl.int_range(pl.len())
    return touches.with_columns(
        _unusual(touches, "touch_id"),
        _unusual(touches, "contact_id"),
        _unusual(touches, "account_id"),
    ).with_columns(
        # some rows without a touch id (row-N ids) or an account id (the contacts table's)
        pl.when(n % 17 == 0).then(pl.lit(None, pl.String)).otherwise("touch_id").alias("touch_id"),
        pl.when(n % 4 == 0).then(pl.lit(None, pl.String)).otherwise("account_id")
        .alias("account_id"),
    )  # fmt: skip


def _stages_contacts(synth: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    stages = synth.stages.with_columns(_unusual(synth.stages, "contact_id"),
                                       _unusual(synth.stages, "account_id"))  # fmt: skip
    contacts = synth.contacts.with_columns(_unusual(synth.contacts, "contact_id"),
                                           _unusual(synth.contacts, "account_id"))  # fmt: skip
    return stages, contacts


def test_split_reads_back_every_id_cell(synth: Any, tmp_path: Path) -> None:
    touches = _touches(synth)
    path = tmp_path / "touches.parquet"
    touches.write_parquet(path)
    done = split(path, TOUCHES, None, level="contact", contact_map=None, partitions=5,
                 directory=tmp_path / "split")  # fmt: skip
    assert all(f.suffix == ".ipc" for p in range(5) for f in partition_files(done.directory, p))
    back = pl.concat([done.read(p) for p in range(5)]).sort(GLOBAL_ROW)
    expected = touches.with_row_index(GLOBAL_ROW).select(back.columns)
    assert_frame_equal(back, expected)
    long = back.get_column("touch_id").str.len_bytes() > 12
    assert long.sum() > 0  # ids past a view's inline bytes made the round trip


@pytest.mark.parametrize("level", ["contact", "account"])
def test_unusual_ids_equal_in_memory(synth: Any, tmp_path: Path, level: str) -> None:
    touches = _touches(synth)
    stages, contacts = _stages_contacts(synth)
    touches.write_parquet(tmp_path / "touches.parquet")
    stages.write_parquet(tmp_path / "stages.parquet")
    kwargs: dict[str, Any] = {
        "models": ["linear", "position_based", "markov", "shapley"],
        "level": level,
        "contacts": contacts,
    }
    files = (tmp_path / "touches.parquet", tmp_path / "stages.parquet")
    expected = attribution.attribute(*files, **kwargs)
    assert expected.touch_credit.height > 0
    credited = expected.touch_credit.get_column("touch_id")
    assert credited.str.contains("ü").any()
    assert credited.str.starts_with("long-id").any()
    for partitions in (2, 6):
        got = attribute_partitioned(*files, partitions=partitions, workdir=tmp_path, **kwargs)
        assert_same(expected, got, level=level)
    # the work directory is removed at the end
    assert not list(tmp_path.glob("attribution-partitioned-*"))
