"""Tests of attribution.engine._partitioned: the bounded-memory path equals the in-memory one."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution.datasets._synth import synthesize
from attribution.engine._merge import bucket_expr
from attribution.engine._partitioned import attribute_partitioned, run_partitioned
from attribution.models._registry import available_models

TOL = 1e-12


def every_model() -> list[Any]:
    """Every registered model; ``custom`` with weights, and a second-order Markov chain."""
    models: list[Any] = [name for name in available_models() if name != "custom"]
    models.append(
        (
            "custom",
            {
                "first": 0.3,
                "lead": 0.2,
                "others": 0.5,
                "half_life": "5d",
                "channel_multipliers": {"direct": 0.5},
            },
        )
    )
    models.append(("markov", {"order": 2}))
    return models


@pytest.fixture(scope="module")
def synth() -> Any:
    return synthesize(3000, seed=3)


def assert_same(
    a: attribution.AttributionResult, b: attribution.AttributionResult, *, level: str
) -> None:
    by = ["model", "channel"]
    assert_frame_equal(a.channel_credit.sort(by), b.channel_credit.sort(by), rel_tol=TOL)
    by = ["model", "conversion_id", "touch_id"]
    assert_frame_equal(a.touch_credit.sort(by), b.touch_credit.sort(by), rel_tol=TOL)
    assert a.manifest["reconciliation"] == b.manifest["reconciliation"]
    assert a.manifest["totals"] == pytest.approx(b.manifest["totals"], rel=TOL)
    assert_frame_equal(a.conversions, b.conversions, rel_tol=TOL)
    assert_frame_equal(a.paths.sort("path"), b.paths.sort("path"), rel_tol=TOL)
    assert a.extras.keys() == b.extras.keys()
    for name in a.extras:
        assert_frame_equal(a.extras[name], b.extras[name], rel_tol=TOL)
    assert a.graphs.keys() == b.graphs.keys()
    # campaign credit (touches with a campaign column): an aggregate of the touch credit,
    # merged from additive partials
    assert a.campaign_credit.width == b.campaign_credit.width
    if a.campaign_credit.width:
        by = ["model", "channel", "campaign"]
        assert_frame_equal(a.campaign_credit.sort(by), b.campaign_credit.sort(by), rel_tol=TOL)
    # the campaign influence export, in the same order (by opportunity, model, campaign):
    # built by ranges of the opportunity ids, never whole
    assert a.campaign_influence.width == b.campaign_influence.width
    if a.campaign_influence.width:
        assert a.campaign_influence.height > 0
        assert_frame_equal(a.campaign_influence, b.campaign_influence, rel_tol=TOL)
    if level == "account":
        assert a.accounts.height > 0
        assert_frame_equal(a.accounts, b.accounts, rel_tol=TOL)
        assert_frame_equal(a.account_credit, b.account_credit, rel_tol=TOL)
        assert_frame_equal(a.pipeline, b.pipeline, rel_tol=TOL)


@pytest.mark.parametrize("level", ["contact", "account"])
def test_every_model_equals_in_memory(synth: Any, level: str) -> None:
    kwargs: dict[str, Any] = {"models": every_model(), "level": level, "contacts": synth.contacts}
    expected = attribution.attribute(synth.touches, synth.stages, **kwargs)
    assert expected.touch_credit.height > 0
    assert expected.campaign_credit.height > 0
    for partitions in (1, 3, 7):
        got = attribute_partitioned(synth.touches, synth.stages, partitions=partitions, **kwargs)
        assert_same(expected, got, level=level)
        assert got.manifest["parameters"]["partitions"] == partitions


@pytest.mark.parametrize(
    ("key", "level"), [("campaign", "contact"), ("channel/campaign", "account")]
)
def test_campaign_keys_equal_in_memory(synth: Any, key: str, level: str) -> None:
    models = [m for m in every_model() if m != "shapley"] + ["shapley:max_channels=64"]
    kwargs: dict[str, Any] = {
        "models": models,
        "level": level,
        "contacts": synth.contacts,
        "key": key,
    }
    expected = attribution.attribute(synth.touches, synth.stages, **kwargs)
    assert expected.campaign_credit.height > 0
    units = set(expected.channel_credit.get_column("channel"))
    campaigns = set(synth.touches.get_column("campaign").drop_nulls())
    assert len(units) > len(set(synth.touches.get_column("channel")))
    if key == "campaign":
        assert units - campaigns <= {f"{c}/(none)" for c in synth.touches["channel"]}
    else:
        assert all("/" in unit for unit in units)
    for partitions in (1, 3):
        got = attribute_partitioned(synth.touches, synth.stages, partitions=partitions, **kwargs)
        assert_same(expected, got, level=level)
        assert got.manifest["parameters"]["key"] == key


def test_account_options_equal_in_memory(synth: Any) -> None:
    kwargs: dict[str, Any] = {
        "models": ["linear", "w_shaped", "markov", "shapley"],
        "level": "account",
        "contacts": synth.contacts,
        "contact_scope": "opportunity_roles",
        "role_multipliers": attribution.DEFAULT_ROLE_MULTIPLIERS,
        "lookback": "120d",
    }
    expected = attribution.attribute(synth.touches, synth.stages, **kwargs)
    got = attribute_partitioned(synth.touches, synth.stages, partitions=4, **kwargs)
    assert_same(expected, got, level="account")
    assert expected.manifest["notes"] == got.manifest["notes"][1:]


class Note:
    """A run-directory extra: anything with ``.write(directory)``."""

    def __init__(self, name: str, text: str) -> None:
        self.name, self.text = name, text

    def write(self, directory: Path) -> None:
        (directory / self.name).write_text(self.text)


def test_parquet_inputs_and_streamed_run_directory(synth: Any, tmp_path: Path) -> None:
    synth.touches.write_parquet(tmp_path / "touches.parquet")
    synth.stages.write_parquet(tmp_path / "stages.parquet")
    models = ["first_touch", "time_decay", "markov", "counterfactual"]
    expected = attribution.attribute(
        tmp_path / "touches.parquet", tmp_path / "stages.parquet", models=models
    )
    out = run_partitioned(
        tmp_path / "touches.parquet",
        tmp_path / "stages.parquet",
        runs_dir=tmp_path / "runs",
        run_id="r1",
        models=models,
        partitions=5,
        workdir=tmp_path / "work",
        also=[Note("also.txt", "given")],
        extras_for=lambda result: [Note("extra.txt", str(result.channel_credit.height))],
    )
    assert out == tmp_path / "runs" / "r1"
    assert (out / "also.txt").read_text() == "given"
    assert (out / "extra.txt").read_text() == str(expected.channel_credit.height)
    (out / "also.txt").unlink()
    (out / "extra.txt").unlink()
    assert list((tmp_path / "work").iterdir()) == []  # the work files are gone
    in_memory = expected.write(tmp_path / "runs", run_id="r0")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in in_memory.iterdir())
    # the default, wide layout: a row per journey touch, partition after partition
    wide = pl.read_parquet(out / "touch_credit.parquet")
    assert wide.columns[-len(models) :] == [f"credit:{m}" for m in models]
    assert_frame_equal(
        pl.read_parquet(in_memory / "touch_credit.parquet").sort("conversion_id", "touch_id"),
        wide.sort("conversion_id", "touch_id"),
        rel_tol=TOL,
    )
    # the long layout, streamed from the partition files as they are
    long_out = run_partitioned(
        tmp_path / "touches.parquet",
        tmp_path / "stages.parquet",
        runs_dir=tmp_path / "long",
        run_id="r1",
        models=models,
        partitions=5,
        touch_credit_layout="long",
    )
    by = ["model", "conversion_id", "touch_id"]
    assert_frame_equal(
        pl.read_parquet(
            expected.write(tmp_path / "long", run_id="r0", touch_credit_layout="long")
            / "touch_credit.parquet"
        ).sort(by),
        pl.read_parquet(long_out / "touch_credit.parquet").sort(by),
        rel_tol=TOL,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reconciliation"] == expected.manifest["reconciliation"]
    assert manifest["inputs"]["touches"] == expected.manifest["inputs"]["touches"]


def test_hand_made_ties_duplicates_and_missing_ids(
    make_touches: Callable[[Sequence[Any]], pl.DataFrame],
    make_stages: Callable[[Sequence[Any]], pl.DataFrame],
) -> None:
    touches = make_touches(
        [
            ("t1", "c1", "linkedin", 0),
            ("t1", "c1", "linkedin", 0),  # exact duplicate: dropped and counted
            ("t2", "c1", "email", 5),
            ("t3", "c2", "email", 1),
            ("t4", "c2", "direct", 1),  # a tie in time
            ("t5", "c3", "webinar", 2),
            ("t6", "c4", "events", 3),
        ]
    ).with_columns(
        # touches without an id are named after their (global) source row
        pl.when(~pl.col("touch_id").is_in(["t4", "t6"])).then(pl.col("touch_id"))
    )
    stages = make_stages(
        [
            ("c1", "closed_won", 10, 500.0),
            ("c2", "lead", 0, None),
            ("c2", "closed_won", 4, 200.0),
            ("c2", "closed_won", 4, 300.0),  # same time: unattributed, ordered by value
            ("c5", "closed_won", 4, None),  # no touches at all
        ]
    )
    expected = attribution.attribute(touches, stages, models=every_model())
    assert expected.manifest["reconciliation"]["touches_dropped"] == {"exact_duplicate": 1}
    assert "row-4" in expected.touch_credit.get_column("touch_id").to_list()
    for partitions in (1, 2, 3, 7):
        got = attribute_partitioned(touches, stages, models=every_model(), partitions=partitions)
        assert_same(expected, got, level="contact")


def test_unified_event_log(
    make_touches: Callable[[Sequence[Any]], pl.DataFrame],
    make_stages: Callable[[Sequence[Any]], pl.DataFrame],
) -> None:
    touches = make_touches(
        [("t1", "c1", "linkedin", 0), ("t2", "c1", "email", 5), ("t3", "c2", "email", 1)]
    )
    stages = make_stages([("c1", "closed_won", 10, 500.0), ("c2", "closed_won", 3, 100.0)])
    events = pl.concat(
        [
            touches.with_columns(pl.lit("touch").alias("event_type")),
            stages.with_columns(pl.lit("stage").alias("event_type")),
        ],
        how="diagonal",
    )
    expected = attribution.attribute(events, models=["linear", "markov"])
    got = attribute_partitioned(events, models=["linear", "markov"], partitions=3)
    assert_same(expected, got, level="contact")
    assert got.manifest["inputs"]["events"]["rows"] == 5


def test_touch_id_shared_across_partitions_is_an_error(
    make_touches: Callable[[Sequence[Any]], pl.DataFrame],
    make_stages: Callable[[Sequence[Any]], pl.DataFrame],
) -> None:
    # the same touch_id on many contacts: they land in different partitions
    touches = make_touches([("dup", f"c{i}", "email", i) for i in range(8)])
    stages = make_stages([("c0", "closed_won", 10, 1.0)])
    with pytest.raises(attribution.DuplicateKeyError, match="share a touch_id") as in_memory:
        attribution.attribute(touches, stages, models=["linear"])
    with pytest.raises(attribution.DuplicateKeyError, match="share a touch_id") as partitioned:
        attribute_partitioned(touches, stages, models=["linear"], partitions=4)
    assert partitioned.value.rows == in_memory.value.rows == [0, 1, 2, 3, 4]


def test_errors_name_global_rows(make_stages: Callable[[Sequence[Any]], pl.DataFrame]) -> None:
    touches = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(6)],
            "channel": ["email"] * 6,
            "timestamp": ["2025-01-01"] * 5 + ["not a time"],
        }
    )
    stages = make_stages([("c0", "closed_won", 10, 1.0)])
    with pytest.raises(attribution.SchemaError) as in_memory:
        attribution.attribute(touches, stages, models=["linear"])
    with pytest.raises(attribution.SchemaError) as partitioned:
        attribute_partitioned(touches, stages, models=["linear"], partitions=3)
    assert partitioned.value.rows == in_memory.value.rows == [5]


def test_refusals(synth: Any) -> None:
    with pytest.raises(attribution.ModelParameterError, match="not an additive"):
        attribute_partitioned(
            synth.touches, synth.stages, models=["markov"], partitions=2, select_markov_order=True
        )
    for bad in (0, -1, 1.5, True):
        with pytest.raises(attribution.InputError, match="partitions must be a positive"):
            attribute_partitioned(synth.touches, synth.stages, models=["linear"], partitions=bad)
    with pytest.raises(attribution.ColumnNotFoundError, match="timestamp"):
        attribute_partitioned(
            synth.touches.drop("timestamp"), synth.stages, models=["linear"], partitions=2
        )


def test_empty_partitions_and_no_conversions(
    make_touches: Callable[[Sequence[Any]], pl.DataFrame],
    make_stages: Callable[[Sequence[Any]], pl.DataFrame],
) -> None:
    touches = make_touches([("t1", "c1", "email", 0)])
    stages = make_stages([("c1", "lead", 1, None)])
    with pytest.raises(attribution.EmptyResultError, match="no conversion"):
        attribution.attribute(touches, stages, models=every_model())  # report 5 #3
    expected = attribution.attribute(touches, stages, models=every_model(), allow_empty=True)
    got = attribute_partitioned(touches, stages, models=every_model(), partitions=16,
                                allow_empty=True)
    assert got.channel_credit.height == got.touch_credit.height == 0
    assert_same(expected, got, level="contact")


@pytest.mark.parametrize("shared", [False, True])
def test_touch_ids_across_partitions_with_colliding_hashes(
    make_touches: Callable[[Sequence[Any]], pl.DataFrame],
    make_stages: Callable[[Sequence[Any]], pl.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
    shared: bool,
) -> None:
    """The cross-partition check compares hashes of the ids first: with every hash
    colliding, distinct ids still pass (the result is the in-memory one) and a shared id is
    still the in-memory run's error."""
    from attribution.engine import _merge

    monkeypatch.setattr(_merge, "_id_hash", lambda ids: ids.hash(seed=0) % 2)
    rows = [(f"t{i}", f"c{i}", "email", i) for i in range(12)]
    if shared:
        rows[7] = ("t2", "c7", "email", 7)
        keys = pl.DataFrame({"c": ["c2", "c7"]}).select(bucket_expr(pl.col("c"), 4))
        assert keys.to_series().n_unique() == 2  # the shared id is on two partitions
    touches = make_touches(rows)
    stages = make_stages([("c0", "closed_won", 20, 1.0), ("c7", "closed_won", 20, 1.0)])
    if not shared:
        expected = attribution.attribute(touches, stages, models=["linear"])
        got = attribute_partitioned(touches, stages, models=["linear"], partitions=4)
        assert_same(expected, got, level="contact")
        return
    with pytest.raises(attribution.DuplicateKeyError, match="share a touch_id") as in_memory:
        attribution.attribute(touches, stages, models=["linear"])
    with pytest.raises(attribution.DuplicateKeyError, match="share a touch_id") as partitioned:
        attribute_partitioned(touches, stages, models=["linear"], partitions=4)
    assert partitioned.value.rows == in_memory.value.rows == [2, 7]


def test_campaign_influence_built_by_opportunity_ranges(
    synth: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The influence export of a partitioned run is built range by range of the sorted
    opportunity ids (never whole): the ranges' outputs one after the other are the in-memory
    export, row for row, also for opportunities whose conversions are on several partitions;
    run_partitioned streams them into the run directory."""
    from attribution.engine import _partition_outputs

    monkeypatch.setattr(_partition_outputs, "CONVERSIONS_PER_RANGE", 4)
    built: list[int] = []  # each range's rows in the long layout
    influence = _partition_outputs.influence_codes

    def spy(rows: Any, conversions: pl.DataFrame) -> Any:
        out = influence(rows, conversions)
        built.append(len(out.opp) * len(out.models))
        return out

    monkeypatch.setattr(_partition_outputs, "influence_codes", spy)
    models = ["linear", "time_decay", "markov"]
    # every three opportunities made one (as the contacts on a deal each convert)
    stages = synth.stages.with_columns(
        pl.col("opportunity_id").rank("dense").floordiv(3).cast(pl.String).alias("opportunity_id")
    )
    expected = attribution.attribute(synth.touches, stages, models=models)
    whole = expected.campaign_influence
    # conversions sharing an opportunity, on different partitions
    shared = (
        expected.conversions.filter(pl.col("opportunity_id").is_not_null())
        .filter(pl.len().over("opportunity_id") > 1)
        .join(expected.touch_credit.select("conversion_id", "contact_id").unique(),
              on="conversion_id")
        .with_columns(bucket_expr(pl.col("contact_id"), 5).alias("part"))
        .filter(pl.col("part").n_unique().over("opportunity_id") > 1)
    )
    assert shared.height > 0
    got = attribute_partitioned(synth.touches, stages, models=models, partitions=5)
    assert_frame_equal(got.campaign_influence, whole, rel_tol=TOL)
    assert len(built) > 3
    assert max(built) < whole.height
    assert sum(built) == whole.height
    built.clear()
    out = run_partitioned(
        synth.touches, stages, runs_dir=tmp_path, run_id="r", models=models, partitions=5
    )
    written = expected.write(tmp_path, run_id="m")
    assert_frame_equal(
        pl.read_parquet(out / "campaign_influence.parquet"),
        pl.read_parquet(written / "campaign_influence.parquet"),
        rel_tol=TOL,
    )
    assert len(built) > 3
    assert max(built) < whole.height
    # the file in either layout (RunOptions.influence_layout), as the in-memory run writes it
    for layout in ("wide", "long"):
        out = run_partitioned(
            synth.touches, stages, runs_dir=tmp_path / layout, run_id="r", models=models,
            partitions=5, influence_layout=layout,
        )
        written = expected.write(tmp_path / layout, run_id="m", influence_layout=layout)
        file = pl.read_parquet(out / "campaign_influence.parquet")
        assert_frame_equal(file, pl.read_parquet(written / "campaign_influence.parquet"),
                           rel_tol=TOL)
        assert ("model" in file.columns) == (layout == "long")
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["parameters"]["influence_layout"] == layout


def test_touch_credit_streamed_from_partition_files(synth: Any, tmp_path: Path) -> None:
    """run_partitioned writes the touch credit from one wide work file per partition: the
    file equals the in-memory run's, in either layout, and the result handed to
    ``extras_for`` holds no touch credit."""
    models = ["first_touch", "w_shaped", "markov", "shapley"]
    expected = attribution.attribute(synth.touches, synth.stages, models=models)
    seen: list[int] = []
    for layout in ("wide", "long"):
        out = run_partitioned(
            synth.touches, synth.stages, runs_dir=tmp_path / layout, run_id="r",
            models=models, partitions=6, touch_credit_layout=layout,
            extras_for=lambda result: seen.append(result.touch_credit.height) or [],
        )  # fmt: skip
        mine = pl.read_parquet(out / "touch_credit.parquet")
        theirs = pl.read_parquet(
            expected.write(tmp_path / layout, run_id="m", touch_credit_layout=layout)
            / "touch_credit.parquet"
        )
        by = ["conversion_id", "touch_id"] + (["model"] if layout == "long" else [])
        assert mine.height > 0
        assert_frame_equal(mine.sort(by), theirs.sort(by), rel_tol=TOL)
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["parameters"]["touch_credit_layout"] == layout
    assert seen == [0, 0]


def test_parquet_partitions_with_blank_cells(synth: Any, tmp_path: Path) -> None:
    """A partition of a Parquet file is cleaned of blank cells as the whole file is (its
    statistics tell which text columns may hold one): blank campaigns and accounts are
    missing values in both runs."""
    touches = synth.touches.with_columns(
        pl.when(pl.int_range(pl.len()) % 5 == 0).then(pl.lit("")).otherwise("campaign")
        .alias("campaign"),
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(pl.lit("  ")).otherwise("account_id")
        .alias("account_id"),
    )  # fmt: skip
    touches.write_parquet(tmp_path / "touches.parquet")
    synth.stages.write_parquet(tmp_path / "stages.parquet")
    kwargs: dict[str, Any] = {"models": ["linear", "markov"]}
    expected = attribution.attribute(
        tmp_path / "touches.parquet", tmp_path / "stages.parquet", **kwargs
    )
    assert expected.campaign_credit.get_column("campaign").is_in(["", "  "]).sum() == 0
    got = attribute_partitioned(
        tmp_path / "touches.parquet", tmp_path / "stages.parquet", partitions=4, **kwargs
    )
    assert_same(expected, got, level="contact")


def test_split_of_a_parquet_log_leaves_out_unread_columns(
    synth: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Of a Parquet log the split writes only the columns the run reads; when some touch id
    is on two rows it splits again with every column, so exact duplicates (every column
    equal) and rows that differ only in an unread column are told as in memory."""
    from attribution.engine import _split

    left: list[tuple[str, ...]] = []
    split = _split.split

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = split(*args, **kwargs)
        left.append(out.left_out)
        return out

    monkeypatch.setattr(_partitioned_module(), "split_table", spy)
    touches, stages = tmp_path / "touches.parquet", tmp_path / "stages.parquet"
    synth.touches.write_parquet(touches)
    synth.stages.write_parquet(stages)
    models = ["linear", "markov"]
    expected = attribution.attribute(touches, stages, models=models)
    assert_same(expected, attribute_partitioned(touches, stages, models=models, partitions=3),
                level="contact")  # fmt: skip
    assert "cost" in left[0]  # touches: unread columns left out
    assert "touch_id" not in left[0]
    assert left[1] == ("account_id",)  # stages at contact level
    # an exact duplicate row: split again with every column, removed as in memory
    left.clear()
    doubled = pl.concat([synth.touches, synth.touches.slice(10, 3)])
    doubled.write_parquet(touches)
    expected = attribution.attribute(touches, stages, models=models)
    assert expected.manifest["reconciliation"]["touches_dropped"]["exact_duplicate"] == 3
    assert_same(expected, attribute_partitioned(touches, stages, models=models, partitions=3),
                level="contact")  # fmt: skip
    assert [bool(x) for x in left] == [True, True, False]
    # the same touch id, differing only in an unread column: the in-memory run's error
    changed = synth.touches.slice(10, 1).with_columns(pl.col("cost").fill_null(0.0) + 1.0)
    pl.concat([synth.touches, changed]).write_parquet(touches)
    with pytest.raises(attribution.DuplicateKeyError, match="share a touch_id") as in_memory:
        attribution.attribute(touches, stages, models=models)
    with pytest.raises(attribution.DuplicateKeyError, match="share a touch_id") as partitioned:
        attribute_partitioned(touches, stages, models=models, partitions=3)
    assert partitioned.value.rows == in_memory.value.rows


def _partitioned_module() -> Any:
    from attribution.engine import _partitioned

    return _partitioned


def test_campaign_influence_from_long_campaign_rows(
    synth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Campaign rows given long (a row per model, conversion and campaign: the fallback of
    the wide sums) are laid out wide for the influence ranges: the same export."""
    from attribution.engine import _campaign_credit, _partitioned

    wide_rows = _campaign_credit.conversion_campaigns_wide

    def long_rows(table: pl.DataFrame, campaigns: pl.DataFrame) -> Any:
        rows = wide_rows(table, campaigns)
        assert rows.wide is not None
        return _campaign_credit.CampaignRows(rows.codes, rows.models, rows.conversions, rows.pairs)

    monkeypatch.setattr(_partitioned, "conversion_campaigns_wide", long_rows)
    models = ["first_touch", "linear", "shapley"]
    expected = attribution.attribute(synth.touches, synth.stages, models=models)
    got = attribute_partitioned(synth.touches, synth.stages, models=models, partitions=3)
    assert got.campaign_influence.height > 0
    assert_frame_equal(got.campaign_influence, expected.campaign_influence, rel_tol=TOL)


def test_run_directory_written_without_the_path_lists(
    synth: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_partitioned writes paths.parquet from the merged paths' keys: the table of
    channel lists (MergedPaths.__call__) is never built. A copy of the result with
    dataclasses.replace read every field, so it built them (about 21 s and 5 GB at 100M)."""
    from attribution.engine._path_partials import MergedPaths

    def refuse(self: MergedPaths) -> pl.DataFrame:
        raise AssertionError("the path table's lists were built")

    monkeypatch.setattr(MergedPaths, "__call__", refuse)
    out = run_partitioned(
        synth.touches, synth.stages, runs_dir=tmp_path / "runs", run_id="r",
        models=["linear", "markov"], partitions=4,
    )  # fmt: skip
    assert pl.read_parquet(out / "paths.parquet").height > 0
