"""The contract every registered model honours (style.md, 7), run over the whole registry.

Written generically: a model registered later (Markov, Shapley, counterfactual...) is picked up
and held to the same contract by calling ``attribute(..., models=[name])``.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from tests.conftest import ORIGIN

MODELS = list(attribution.available_models())
RULE_MODELS = [n for n, s in attribution.available_models().items() if s.family == "rule"]
PATH_MODELS = [
    n
    for n, s in attribution.available_models().items()
    if not (s.needs_timestamps or s.needs_milestones)
]
CHANNELS = ["linkedin", "google_ads", "email", "webinar", "direct", "g2_capterra"]
TOL = 1e-9


def _dataset(make_touches, make_stages, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Twelve contacts: one or two deals, deals without touches, contacts that never convert,
    touches outside every window, milestones present or not; distinct timestamps."""
    rng = random.Random(seed)
    touches, stages = [], []
    n = 0
    for c in range(12):
        contact = f"c{c:02d}"
        days = sorted(rng.sample(range(0, 400), rng.randint(0 if c == 3 else 1, 9)))
        for d in days:
            n += 1
            touches.append((f"t{n:03d}", contact, rng.choice(CHANNELS), d + c / 100))
        if c % 4 == 3:
            continue  # never converts (c03 has no touches either)
        if c % 3 == 0:
            stages.append((contact, "lead", 150 + c, None))
        if c % 2 == 0:
            stages.append((contact, "opportunity", 200 + c, None))
        stages.append((contact, "closed_won", 240 + c, float(100 * (c + 1))))
        if c % 5 == 0:
            stages.append((contact, "mql", 300 + c, None))
            stages.append((contact, "closed_won", 380 + c, 50.0))
    stages.append(("c99", "closed_won", 100, 70.0))  # a deal without any touch
    return make_touches(touches), make_stages(stages)


@pytest.fixture(scope="module")
def data(make_touches, make_stages) -> tuple[pl.DataFrame, pl.DataFrame]:
    return _dataset(make_touches, make_stages)


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns)


def _run(touches, stages, model: str, **kwargs) -> attribution.AttributionResult:
    return attribution.attribute(touches, stages, models=[model], **kwargs)


def test_dataset_exercises_the_edge_cases(data) -> None:
    result = _run(*data, "linear")
    rec = result.manifest["reconciliation"]
    assert rec["conversions_attributed"] >= 6
    assert rec["conversions_unattributed"] >= 1
    assert rec["touches_in_null_paths"] > 0
    assert rec["touches_dropped"].get("outside_lookback", 0) > 0
    sizes = result.conversions.get_column("n_touches")
    assert sizes.max() > 2
    assert result.conversions.get_column("lead_at").null_count() > 0
    assert result.conversions.get_column("lead_at").is_not_null().any()


@pytest.mark.parametrize("model", MODELS)
def test_credit_sums_to_one_and_is_never_negative(model, data) -> None:
    result = _run(*data, model)
    tc = result.touch_credit
    assert tc.height > 0
    assert tc.get_column("credit").min() >= 0
    assert tc.get_column("credit").is_finite().all()
    sums = tc.group_by("conversion_id").agg(pl.col("credit").sum())
    assert (sums.get_column("credit") - 1).abs().max() <= TOL
    attributed = result.conversions.filter(pl.col("n_touches") > 0)
    assert sorted(sums.get_column("conversion_id")) == sorted(attributed["conversion_id"])
    # a touch is credited at most once
    assert tc.get_column("touch_id").is_unique().all()


@pytest.mark.parametrize("model", MODELS)
def test_channel_totals(model, data) -> None:
    result = _run(*data, model)
    rec = result.manifest["reconciliation"]
    cc = result.channel_credit
    assert set(cc.get_column("model")) == {model}
    assert cc.get_column("channel").is_unique().all()
    assert cc.get_column("conversions").sum() == pytest.approx(
        rec["conversions_attributed"], abs=TOL
    )
    assert cc.get_column("share").sum() == pytest.approx(1.0, abs=TOL)
    assert cc.get_column("conversions").min() >= -TOL
    if attribution.get_model(model).family == "rule":
        total = result.manifest["totals"]["attributed_value"]
        assert total > 0
        assert cc.get_column("value").sum() == pytest.approx(total, rel=1e-12)
        assert result.touch_credit.get_column("value").sum() == pytest.approx(total, rel=1e-12)
        by_channel = (
            result.touch_credit.group_by("channel")
            .agg(pl.col("credit").sum().alias("conversions"))
            .sort("channel")
        )
        assert_frame_equal(
            cc.select("channel", "conversions").sort("channel"), by_channel, abs_tol=TOL
        )


@pytest.mark.parametrize("model", MODELS)
def test_invariant_to_input_row_order(model, data) -> None:
    touches, stages = data
    base = _run(touches, stages, model)
    for seed in (1, 2):
        shuffled = _run(
            touches.sample(fraction=1.0, shuffle=True, seed=seed),
            stages.sample(fraction=1.0, shuffle=True, seed=seed),
            model,
        )
        assert_frame_equal(_sorted(shuffled.touch_credit), _sorted(base.touch_credit), abs_tol=TOL)
        assert_frame_equal(
            _sorted(shuffled.channel_credit), _sorted(base.channel_credit), abs_tol=TOL
        )
        assert_frame_equal(_sorted(shuffled.conversions), _sorted(base.conversions))
        assert shuffled.manifest["reconciliation"] == base.manifest["reconciliation"]


def _as(kind: str, frame: pl.DataFrame, path: Path):
    if kind == "dataframe":
        return frame
    if kind == "lazyframe":
        return frame.lazy()
    if kind == "arrow":
        return frame.to_arrow()
    if kind == "parquet":
        frame.write_parquet(path.with_suffix(".parquet"))
        return path.with_suffix(".parquet")
    if kind == "csv":
        frame.write_csv(path.with_suffix(".csv"))
        return str(path.with_suffix(".csv"))
    if kind == "ndjson":
        frame.write_ndjson(path.with_suffix(".ndjson"))
        return path.with_suffix(".ndjson")
    if kind == "duckdb":  # a query against a DuckDB file
        import duckdb

        database = path.parent / "tables.duckdb"
        with duckdb.connect(str(database)) as con:
            con.register("frame", frame.to_arrow())
            con.execute(f"CREATE OR REPLACE TABLE {path.name} AS SELECT * FROM frame")
        return attribution.SqlTable(f"duckdb://{database}", f"SELECT * FROM {path.name}")
    raise AssertionError(kind)


@pytest.mark.parametrize("model", MODELS)
def test_eager_equals_lazy_equals_files(model, data, tmp_path) -> None:
    touches, stages = data
    base = _run(touches, stages, model)
    for kind in ("lazyframe", "arrow", "parquet", "csv", "ndjson", "duckdb"):
        other = _run(
            _as(kind, touches, tmp_path / "touches"),
            _as(kind, stages, tmp_path / "stages"),
            model,
        )
        assert_frame_equal(other.touch_credit, base.touch_credit, abs_tol=TOL)
        assert_frame_equal(other.channel_credit, base.channel_credit, abs_tol=TOL)
        assert_frame_equal(other.conversions, base.conversions)
        assert other.manifest["reconciliation"] == base.manifest["reconciliation"], kind


@pytest.mark.parametrize("model", MODELS)
def test_empty_touches_give_empty_outputs(model, data) -> None:
    touches, stages = data
    with pytest.raises(attribution.InputError, match="the frame has no rows"):
        _run(touches.clear(), stages, model)  # no answer unless allowed (report 5 #3)
    result = _run(touches.clear(), stages, model, allow_empty=True)
    assert result.touch_credit.height == 0
    assert result.channel_credit.height == 0
    assert result.touch_credit.columns[:3] == ["conversion_id", "touch_id", "contact_id"]
    assert result.channel_credit.columns == ["model", "channel", "conversions", "value", "share"]
    rec = result.manifest["reconciliation"]
    assert rec["touches_in"] == 0
    assert rec["conversions_attributed"] == 0
    assert rec["conversions_unattributed"] == rec["conversions"] > 0


@pytest.mark.parametrize("model", MODELS)
def test_empty_touches_and_stages(model, data) -> None:
    touches, stages = data
    result = _run(touches.clear(), stages.clear(), model, allow_empty=True)
    assert (result.touch_credit.height, result.channel_credit.height) == (0, 0)
    assert result.manifest["reconciliation"]["conversions"] == 0


@pytest.mark.parametrize("model", MODELS)
def test_no_conversions_at_all(model, data) -> None:
    touches, stages = data
    with pytest.raises(attribution.EmptyResultError, match="no conversion"):
        _run(touches, stages.filter(pl.col("stage") != "closed_won"), model)
    result = _run(touches, stages.filter(pl.col("stage") != "closed_won"), model,
                  allow_empty=True)
    assert (result.touch_credit.height, result.channel_credit.height) == (0, 0)
    rec = result.manifest["reconciliation"]
    assert rec["touches_in_null_paths"] + sum(rec["touches_dropped"].values()) == touches.height


def _path_table(result: attribution.AttributionResult) -> pl.DataFrame:
    return result.paths.with_columns(pl.col("path").list.join(" > "))


@pytest.mark.parametrize("model", PATH_MODELS)
def test_attribute_paths(model, data) -> None:
    result = _run(*data, model)
    paths = _path_table(result)
    from_paths = attribution.attribute_paths(paths, models=[model])
    cc = from_paths.channel_credit
    assert cc.get_column("conversions").sum() == pytest.approx(
        paths.get_column("conversions").sum(), abs=TOL
    )
    assert cc.get_column("conversions").min() >= -TOL
    assert from_paths.touch_credit.height == 0
    # the same journeys, aggregated first: the same channel credit
    assert_frame_equal(
        cc.select("channel", "conversions").sort("channel"),
        result.channel_credit.select("channel", "conversions").sort("channel"),
        abs_tol=1e-9,
    )
    if attribution.get_model(model).family == "rule":
        assert cc.get_column("value").sum() == pytest.approx(
            paths.get_column("value").sum(), rel=1e-12
        )
        assert_frame_equal(_sorted(cc), _sorted(result.channel_credit), abs_tol=1e-9)


@pytest.mark.parametrize("model", [n for n in MODELS if n not in PATH_MODELS])
def test_attribute_paths_refuses_models_needing_timestamps_or_milestones(model) -> None:
    paths = pl.DataFrame({"path": ["a > b"], "conversions": [1]})
    with pytest.raises(attribution.ModelParameterError, match="attribute()"):
        attribution.attribute_paths(paths, models=[model])


def test_result_write_is_complete_and_atomic(data, tmp_path) -> None:
    result = attribution.attribute(*data, models=RULE_MODELS[:3])
    run = result.write(tmp_path / "runs", run_id="r1")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["run_id"] == "r1"
    assert manifest["reconciliation"] == result.manifest["reconciliation"]
    assert set(manifest["files"]) == {p.name for p in run.iterdir()}
    # the default layout: one row per journey touch, a credit column per model
    assert_frame_equal(pl.read_parquet(run / "touch_credit.parquet"), result.touch_credit_wide)
    assert manifest["parameters"]["touch_credit_layout"] == "wide"
    long = result.write(tmp_path / "long", run_id="r1", touch_credit_layout="long")
    assert_frame_equal(pl.read_parquet(long / "touch_credit.parquet"), result.touch_credit)
    assert_frame_equal(pl.read_parquet(run / "channel_credit.parquet"), result.channel_credit)
    with pytest.raises(FileExistsError):
        result.write(tmp_path / "runs", run_id="r1")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["r1"]  # no temp left over


# --- every executor: the same credit to 1e-12 on the same data --------------------------------

EXACT = 1e-12
BY = ["model", "conversion_id", "touch_id"]
TOUCH_COLUMNS = ["model", "conversion_id", "touch_id", "channel", "timestamp", "credit", "value"]


@pytest.fixture(scope="module")
def in_memory(data) -> attribution.AttributionResult:
    """Every registered model in memory: what every other executor must give."""
    result = attribution.attribute(*data, models=MODELS)
    assert set(result.touch_credit.get_column("model")) == set(MODELS)
    return result


def _same_touch_credit(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert got.height == expected.height > 0
    assert_frame_equal(got.select(TOUCH_COLUMNS).sort(BY), expected.select(TOUCH_COLUMNS).sort(BY),
                       abs_tol=EXACT, rel_tol=0)


def _same_channel_credit(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    by = ["model", "channel"]
    assert_frame_equal(got.sort(by), expected.sort(by), abs_tol=EXACT, rel_tol=0)


@pytest.mark.parametrize("partitions", [1, 3])
def test_partitioned_executor_gives_the_same_credit(data, in_memory, partitions) -> None:
    got = attribution.attribute_partitioned(*data, models=MODELS, partitions=partitions)
    _same_touch_credit(got.touch_credit, in_memory.touch_credit)
    _same_channel_credit(got.channel_credit, in_memory.channel_credit)
    assert got.manifest["reconciliation"] == in_memory.manifest["reconciliation"]


def test_incremental_executor_gives_the_same_credit(data, in_memory, tmp_path) -> None:
    """Two nights (the rows before day 200, then all of them, appended): the second equals
    the in-memory run on all the rows (their order: the first night's rows first)."""
    touches, stages = data
    first = [f.filter(pl.col("timestamp") < ORIGIN + timedelta(days=200)) for f in data]
    ordered = [
        pl.concat([early, whole.join(early, on=whole.columns, how="anti", nulls_equal=True)])
        for early, whole in zip(first, data, strict=True)
    ]
    attribution.attribute_incremental(*first, models=MODELS, state=tmp_path)
    got = attribution.attribute_incremental(*ordered, models=MODELS, state=tmp_path)
    assert got.manifest["parameters"]["incremental"]["mode"] == "incremental", got.manifest[
        "parameters"
    ]["incremental"]
    expected = attribution.attribute(*ordered, models=MODELS)
    _same_touch_credit(got.touch_credit, expected.touch_credit)
    _same_touch_credit(expected.touch_credit, in_memory.touch_credit)  # order changes nothing
    _same_channel_credit(got.channel_credit, in_memory.channel_credit)
    assert got.manifest["reconciliation"] == in_memory.manifest["reconciliation"]


def test_spark_executor_gives_the_same_credit(data, in_memory, spark) -> None:
    from attribution.engine._spark import _to_polars, _to_spark
    from attribution.spark import attribute_spark

    touches, stages = data
    got = attribute_spark(_to_spark(spark, touches), _to_spark(spark, stages), models=MODELS,
                          partitions=3)
    _same_touch_credit(_to_polars(got.touch_credit), in_memory.touch_credit)
    _same_channel_credit(_to_polars(got.channel_credit), in_memory.channel_credit)
    assert got.manifest["reconciliation"] == in_memory.manifest["reconciliation"]


def _journeys(result: attribution.AttributionResult) -> list[dict]:
    """The attributed conversions of a run as the scoring API's journeys: each conversion with
    its journey's touches and its lead / opportunity times."""
    model = result.touch_credit.get_column("model")[0]
    touches = result.touch_credit.filter(pl.col("model") == model).sort("timestamp", "touch_id")
    by_conversion = touches.partition_by("conversion_id", as_dict=True)
    return [
        {
            "conversion": {"id": c["conversion_id"], "timestamp": c["timestamp"],
                           "value": c["value"]},
            "touches": by_conversion[(c["conversion_id"],)]
            .select("touch_id", "channel", "timestamp").to_dicts(),
            "milestones": {m: c[f"{m}_at"] for m in ("lead", "opportunity")
                           if c[f"{m}_at"] is not None},
        }
        for c in result.conversions.filter(pl.col("n_touches") > 0).iter_rows(named=True)
    ]


@pytest.mark.parametrize("engine", ["small", "fast", "reference"])
def test_scoring_executor_gives_the_same_credit(in_memory, engine) -> None:
    """The HTTP API's scoring engine (``/v1/score``), fitted on the run's path table."""
    journeys = _journeys(in_memory)
    assert len(journeys) == in_memory.manifest["reconciliation"]["conversions_attributed"]
    scorer = attribution.JourneyScorer(models=MODELS).fit(in_memory.paths)
    got = scorer.score(journeys, engine=engine)
    _same_touch_credit(got.touch_credit, in_memory.touch_credit)
    # scoring sums each model's touch credit by channel; a run's channel credit of a
    # data-driven model is the model's own (removal effects, Shapley values), not that sum
    sums = in_memory.touch_credit.group_by("model", "channel").agg(
        pl.col("credit").sum().alias("conversions"), pl.col("value").sum())
    _same_channel_credit(got.channel_credit.select("model", "channel", "conversions", "value"),
                         sums)


# --- a lookback per account segment: every executor, the same credit -------------------------

LOOKBACK_BY_SEGMENT = {"smb": "30d", "enterprise": "365d", "mid_market": "120d", "default": "60d"}
#: contact cNN belongs to account a(NN % 4): smb, enterprise, mid_market, none listed
SEGMENTS = pl.DataFrame({"account_id": ["a0", "a1", "a2"],
                         "segment": ["smb", "enterprise", "mid_market"]})


@pytest.fixture(scope="module")
def segmented(data) -> tuple[pl.DataFrame, pl.DataFrame]:
    touches, stages = data
    account = pl.lit("a") + (pl.col("contact_id").str.slice(1).cast(pl.Int64) % 4).cast(pl.String)
    return touches.with_columns(account.alias("account_id")), stages


@pytest.fixture(scope="module")
def segmented_in_memory(segmented) -> attribution.AttributionResult:
    return attribution.attribute(*segmented, models=MODELS, accounts=SEGMENTS,
                                 lookback=LOOKBACK_BY_SEGMENT)


def test_segment_lookback_is_exact_for_every_model(segmented_in_memory, in_memory) -> None:
    tc = segmented_in_memory.touch_credit
    assert set(tc.get_column("model")) == set(MODELS)
    assert tc.get_column("credit").min() >= 0
    sums = tc.group_by("model", "conversion_id").agg(pl.col("credit").sum())
    assert (sums.get_column("credit") - 1).abs().max() <= TOL
    rec = segmented_in_memory.manifest["reconciliation"]
    assert rec["touches_in"] == (rec["touches_in_journeys"] + rec["touches_in_null_paths"]
                                 + sum(rec["touches_dropped"].values()))
    # the windows differ from the single 90-day one: other journeys (the test can fail)
    assert rec["touches_in_journeys"] != in_memory.manifest["reconciliation"]["touches_in_journeys"]
    params = segmented_in_memory.manifest["parameters"]
    assert params["lookback_by_segment_seconds"]["smb"] == 30 * 86400
    assert params["lookback_seconds"] == 60 * 86400


@pytest.mark.parametrize("partitions", [1, 3])
def test_partitioned_executor_with_a_lookback_per_segment(
    segmented, segmented_in_memory, partitions
) -> None:
    got = attribution.attribute_partitioned(*segmented, models=MODELS, partitions=partitions,
                                            accounts=SEGMENTS, lookback=LOOKBACK_BY_SEGMENT)
    _same_touch_credit(got.touch_credit, segmented_in_memory.touch_credit)
    _same_channel_credit(got.channel_credit, segmented_in_memory.channel_credit)
    assert got.manifest["reconciliation"] == segmented_in_memory.manifest["reconciliation"]
    assert got.manifest["parameters"]["lookback_by_segment"] == (
        segmented_in_memory.manifest["parameters"]["lookback_by_segment"])


def test_spark_executor_with_a_lookback_per_segment(segmented, segmented_in_memory, spark) -> None:
    from attribution.engine._spark import _to_polars, _to_spark
    from attribution.spark import attribute_spark

    touches, stages = segmented
    got = attribute_spark(_to_spark(spark, touches), _to_spark(spark, stages), models=MODELS,
                          partitions=3, accounts=_to_spark(spark, SEGMENTS),
                          lookback=LOOKBACK_BY_SEGMENT)
    _same_touch_credit(_to_polars(got.touch_credit), segmented_in_memory.touch_credit)
    _same_channel_credit(_to_polars(got.channel_credit), segmented_in_memory.channel_credit)
    assert got.manifest["reconciliation"] == segmented_in_memory.manifest["reconciliation"]


def test_scoring_executor_with_a_lookback_per_segment(segmented_in_memory) -> None:
    """Scoring has no window (a request's touches are its journey): the journeys a run with a
    lookback per segment built score to the same credit."""
    journeys = _journeys(segmented_in_memory)
    scorer = attribution.JourneyScorer(models=MODELS).fit(segmented_in_memory.paths)
    got = scorer.score(journeys, engine="fast")
    _same_touch_credit(got.touch_credit, segmented_in_memory.touch_credit)
