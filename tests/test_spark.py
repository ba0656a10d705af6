"""Tests of attribution.spark on a real local Spark session: equal to the single machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import spark_missing  # noqa: E402
from polars.testing import assert_frame_equal

import attribution
from attribution.datasets._synth import synthesize
from attribution.models._registry import available_models

if (_why := spark_missing()) is not None:
    pytest.skip(_why, allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402

from attribution.engine._spark import _to_polars, _to_spark  # noqa: E402
from attribution.spark import attribute_spark, main  # noqa: E402

TOL = 1e-12


@pytest.fixture(scope="module")
def synth() -> Any:
    return synthesize(3000, seed=3)


def every_model() -> list[Any]:
    models: list[Any] = [name for name in available_models() if name != "custom"]
    models.append(("custom", {"first": 0.3, "lead": 0.2, "others": 0.5, "half_life": "5d"}))
    models.append(("markov", {"order": 2}))
    return models


@pytest.mark.parametrize("level", ["contact", "account"])
def test_every_model_equals_single_machine(spark: SparkSession, synth: Any, level: str) -> None:
    models = every_model()
    expected = attribution.attribute(
        synth.touches, synth.stages, models=models, level=level, contacts=synth.contacts
    )
    result = attribute_spark(
        _to_spark(spark, synth.touches),
        _to_spark(spark, synth.stages),
        models=models,
        level=level,
        contacts=synth.contacts,
        partitions=3,
    )
    by = ["model", "channel"]
    assert_frame_equal(
        expected.channel_credit.sort(by), _to_polars(result.channel_credit).sort(by), rel_tol=TOL
    )
    by = ["model", "conversion_id", "touch_id"]
    touch_credit = _to_polars(result.touch_credit)
    assert touch_credit.height == expected.touch_credit.height > 0
    assert_frame_equal(expected.touch_credit.sort(by), touch_credit.sort(by), rel_tol=TOL)
    assert result.manifest["reconciliation"] == expected.manifest["reconciliation"]
    if level == "account":  # new-user report 6 #8: the account options recorded on Spark too
        for key in ("contact_scope", "role_multipliers", "required_roles", "pipeline_deals"):
            assert result.manifest["parameters"][key] == expected.manifest["parameters"][key]
    # integer path counts are bit-identical; values to float rounding
    assert_frame_equal(expected.paths.sort("path"), result.paths.sort("path"), rel_tol=TOL)
    for name, frame in expected.extras.items():
        assert_frame_equal(frame, result.extras[name], rel_tol=TOL)
    campaigns = result.campaign_credit()
    assert campaigns is not None
    assert expected.campaign_credit.height > 0
    by = ["model", "channel", "campaign"]
    assert_frame_equal(expected.campaign_credit.sort(by), campaigns.sort(by), rel_tol=1e-9)


def test_campaign_key_equals_single_machine(spark: SparkSession, synth: Any) -> None:
    models = ["linear", "time_decay", "markov", "shapley:max_channels=64"]
    expected = attribution.attribute(
        synth.touches, synth.stages, models=models, key="channel/campaign"
    )
    result = attribute_spark(
        _to_spark(spark, synth.touches),
        _to_spark(spark, synth.stages),
        models=models,
        key="channel/campaign",
        partitions=3,
    )
    by = ["model", "channel"]
    channel = _to_polars(result.channel_credit)
    assert channel.get_column("channel").str.contains("/").all()
    assert_frame_equal(expected.channel_credit.sort(by), channel.sort(by), rel_tol=TOL)
    assert result.manifest["parameters"]["key"] == "channel/campaign"
    campaigns = result.campaign_credit()
    assert campaigns is not None
    by = ["model", "channel", "campaign"]
    assert_frame_equal(expected.campaign_credit.sort(by), campaigns.sort(by), rel_tol=1e-9)


def test_job_reads_and_writes_parquet(spark: SparkSession, synth: Any, tmp_path: Path) -> None:
    synth.touches.write_parquet(tmp_path / "touches.parquet")
    synth.stages.write_parquet(tmp_path / "stages.parquet")
    out = tmp_path / "run"
    code = main(
        [
            "--touches",
            str(tmp_path / "touches.parquet"),
            "--stages",
            str(tmp_path / "stages.parquet"),
            "--out",
            str(out),
            "--model",
            "linear",
            "--model",
            "markov:order=2",
            "--partitions",
            "2",
        ]
    )
    assert code == 0
    expected = attribution.attribute(
        synth.touches, synth.stages, models=["linear", ("markov", {"order": 2})]
    )
    # a local --out is a run directory (newuser-report3 #13): the driver's files are single
    # files, the touch credit Spark's directory of part files, and the report beside them
    channel = pl.read_parquet(out / "channel_credit.parquet")
    by = ["model", "channel"]
    assert_frame_equal(expected.channel_credit.sort(by), channel.sort(by), rel_tol=TOL)
    touches = pl.read_parquet(out / "touch_credit.parquet" / "*.parquet")
    assert touches.height == expected.touch_credit.height
    campaigns = pl.read_parquet(out / "campaign_credit.parquet")
    by = ["model", "channel", "campaign"]
    assert_frame_equal(
        expected.campaign_credit.sort(by), campaigns.sort(by), rel_tol=1e-9
    )
    paths = pl.read_parquet(out / "paths.parquet")
    assert paths.get_column("conversions").sum() == expected.paths.get_column("conversions").sum()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reconciliation"] == expected.manifest["reconciliation"]
    assert manifest["run_id"] in (out / "report.html").read_text()
    # so a Spark run can be published for scoring (#13b)
    snapshot = attribution.SnapshotStore(tmp_path / "store").publish(out)
    assert snapshot.conversions == pytest.approx(
        expected.paths.get_column("conversions").sum())
    assert_frame_equal(attribution.read_run_paths(out).sort("path"),
                       attribution.read_run_paths(expected.write(tmp_path / "mem")).sort("path"),
                       rel_tol=1e-9)


def test_touch_id_on_two_journey_keys_is_an_error(spark: SparkSession) -> None:
    touches = pl.DataFrame(
        {
            "touch_id": ["dup", "dup", "t3"],
            "contact_id": ["c1", "c2", "c3"],
            "channel": ["email"] * 3,
            "timestamp": ["2025-01-01T00:00:00"] * 3,
        }
    ).with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
    stages = pl.DataFrame(
        {"contact_id": ["c1"], "stage": ["closed_won"], "timestamp": touches["timestamp"][:1]}
    )
    with pytest.raises(attribution.DuplicateKeyError, match="dup"):
        attribute_spark(
            _to_spark(spark, touches), _to_spark(spark, stages), models=["linear"], partitions=2
        )


# --------------------------------------------------------------- the B2B stage on Spark
SAMPLE_PLAN = Path(__file__).resolve().parents[1] / "sample_data" / "plan.toml"


def test_b2b_stage_is_the_one_of_every_executor(spark: SparkSession, synth: Any) -> None:
    """attribute_spark(..., b2b=B2BInputs) runs attribution.analyse on the run gathered on
    the driver: the same outputs as the in-memory run's analyse, figure for figure."""
    models = ["linear", "last_touch", "w_shaped", "markov"]
    inputs = attribution.B2BInputs(
        touches=synth.touches, stages=synth.stages, contacts=synth.contacts,
        spend=synth.spend, accounts=synth.accounts, subscriptions=synth.subscriptions,
        surveys=synth.surveys, plan=SAMPLE_PLAN, sla=True,
    )  # fmt: skip
    options = attribution.RunOptions(models=models)
    expected = attribution.attribute(synth.touches, synth.stages, options=options)
    analysis = attribution.analyse(expected, inputs, options=options)
    result = attribute_spark(
        _to_spark(spark, synth.touches), _to_spark(spark, synth.stages),
        options=options, partitions=3, b2b=inputs,
    )  # fmt: skip
    assert result.analysis is not None
    names = [type(o).__name__ for o in analysis.outputs]
    assert [type(o).__name__ for o in result.analysis.outputs] == names
    assert {"SurveyBenchmark", "UnitEconomics", "Funnel", "PlanCheck"} <= set(names)
    for got, want in zip(result.analysis.summaries(), analysis.summaries(), strict=True):
        assert got == want
    assert result.manifest["decision_model"] == expected.manifest["decision_model"]
    assert result.manifest["totals"] == pytest.approx(expected.manifest["totals"])
    shared = expected.manifest.get("shared_opportunities")
    assert result.manifest.get("shared_opportunities") == shared
    econ = {type(o).__name__: o for o in result.analysis.outputs}["UnitEconomics"]
    want = {type(o).__name__: o for o in analysis.outputs}["UnitEconomics"]
    assert_frame_equal(econ.table, want.table, rel_tol=1e-9)
    assert econ.table.height > 0


def test_job_with_b2b_inputs_writes_their_outputs(
    spark: SparkSession, synth: Any, tmp_path: Path
) -> None:
    for name in ("touches", "stages", "spend"):
        getattr(synth, name).write_parquet(tmp_path / f"{name}.parquet")
    out = tmp_path / "run"
    args = ["--touches", str(tmp_path / "touches.parquet"), "--stages",
            str(tmp_path / "stages.parquet"), "--out", str(out), "--model", "linear",
            "--partitions", "2"]  # fmt: skip
    assert main([*args, "--spend", str(tmp_path / "spend.parquet")]) == 0
    expected = attribution.attribute(synth.touches, synth.stages, models=["linear"])
    analysis = attribution.analyse(
        expected, attribution.B2BInputs(touches=synth.touches, stages=synth.stages,
                                        spend=synth.spend),
    )  # fmt: skip
    written = pl.read_parquet(out / "economics.parquet")
    econ = {type(o).__name__: o for o in analysis.outputs}["UnitEconomics"]
    assert_frame_equal(written, econ.table, rel_tol=1e-9)
    assert (out / "funnel.parquet").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["decision_model"] == "linear"
    report = (out / "report.html").read_text()  # newuser-report3 #13c: the report too
    assert "The answers" in report
    # B2B outputs need a local --out: refused before Spark starts, one line, exit 2
    assert main([*args[:5], "s3a://bucket/run", *args[6:], "--spend", "x.parquet"]) == 2


def test_a_rerun_into_the_same_out_replaces_an_older_spark_layout(
        spark: SparkSession, synth: Any, tmp_path: Path) -> None:
    """An --out written by an earlier version (each file a Spark directory) is replaced by
    the run directory's single files."""
    synth.touches.write_parquet(tmp_path / "touches.parquet")
    synth.stages.write_parquet(tmp_path / "stages.parquet")
    out = tmp_path / "run"
    for name in ("manifest.json", "channel_credit.parquet", "paths.parquet"):
        (out / name).mkdir(parents=True)
        (out / name / "part-00000").write_text("old")
    assert main(["--touches", str(tmp_path / "touches.parquet"), "--stages",
                 str(tmp_path / "stages.parquet"), "--out", str(out), "--model",
                 "linear"]) == 0
    assert json.loads((out / "manifest.json").read_text())["models"][0]["label"] == "linear"
    assert pl.read_parquet(out / "channel_credit.parquet").height > 0


def test_an_input_spark_cannot_read_is_one_line_exit_2(
        spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """newuser-report3 #19: an input the local check lets through (an empty directory, or
    a remote URI) that Spark cannot read: one line, exit 2, no traceback."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "stages").mkdir()
    code = main(["--touches", str(tmp_path / "empty"), "--stages", str(tmp_path / "stages"),
                 "--out", str(tmp_path / "run"), "--model", "linear"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Spark cannot read the inputs:")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_a_truncated_parquet_part_read_during_the_job_is_one_line_exit_2(
        spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """new-user report 6 #16: a part file that starts as Parquet but is cut short passes
    the check before Spark starts and fails when a task reads it: one line, exit 2."""
    small = synthesize(100, seed=5)
    (tmp_path / "touches").mkdir()
    small.touches.write_parquet(tmp_path / "touches" / "part-0.parquet")
    whole = (tmp_path / "touches" / "part-0.parquet").read_bytes()
    (tmp_path / "touches" / "part-1.parquet").write_bytes(whole[: len(whole) // 2])
    small.stages.write_parquet(tmp_path / "stages.parquet")
    code = main(["--touches", str(tmp_path / "touches"), "--stages",
                 str(tmp_path / "stages.parquet"), "--out", str(tmp_path / "run"),
                 "--model", "linear"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: Spark cannot read the inputs:")
    assert "part-1.parquet" in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_lookback_per_segment_with_campaigns_equals_single_machine(
        spark: SparkSession, synth: Any) -> None:
    """new-user report 6 #19: the campaign pass rebuilt the journeys without the accounts'
    segments (an InputError in every task) whenever the touches had a campaign column."""
    options = {"models": ["linear", "markov"], "level": "account", "lookback": "segments",
               "contacts": synth.contacts, "accounts": synth.accounts}
    expected = attribution.attribute(synth.touches, synth.stages, **options)
    result = attribute_spark(_to_spark(spark, synth.touches), _to_spark(spark, synth.stages),
                             partitions=2, **options)
    campaigns = result.campaign_credit()
    assert campaigns is not None
    assert campaigns.height > 0
    by = ["model", "channel", "campaign"]
    assert_frame_equal(expected.campaign_credit.sort(by), campaigns.sort(by), rel_tol=1e-9)
    by = ["model", "channel"]
    assert_frame_equal(expected.channel_credit.sort(by),
                       _to_polars(result.channel_credit).sort(by), rel_tol=1e-9)
    # what Spark writes, whatever the in-memory default (report 6 #8)
    assert result.manifest["parameters"]["touch_credit_layout"] == "long"
    result.unpersist()


def test_a_write_spark_cannot_do_is_one_line_exit_2(
        spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """new-user report 6 #13: a write failure after the job was a Java traceback, exit 1."""
    small = synthesize(100, seed=5)
    small.touches.write_parquet(tmp_path / "touches.parquet")
    small.stages.write_parquet(tmp_path / "stages.parquet")
    out = "nosuchfs://bucket/run"
    code = main(["--touches", str(tmp_path / "touches.parquet"), "--stages",
                 str(tmp_path / "stages.parquet"), "--out", out, "--model", "linear"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write the run into --out {out!r}: ")
    assert len(err.strip().splitlines()) == 1


def test_parallel_deals_share_equals_single_machine(spark: SparkSession, synth: Any) -> None:
    """``parallel_deals="share"`` on Spark: the deal opened while another was open takes
    that one's touches there too (the synthetic accounts hold one such deal)."""
    models = ["linear", "w_shaped", "markov"]
    kwargs: dict[str, Any] = {
        "models": models, "level": "account", "contacts": synth.contacts,
        "parallel_deals": "share",
    }  # fmt: skip
    expected = attribution.attribute(synth.touches, synth.stages, **kwargs)
    assert expected.manifest["reconciliation"]["journey_touches_shared"] > 0
    result = attribute_spark(
        _to_spark(spark, synth.touches), _to_spark(spark, synth.stages), partitions=3, **kwargs
    )
    by = ["model", "channel"]
    assert_frame_equal(
        expected.channel_credit.sort(by), _to_polars(result.channel_credit).sort(by), rel_tol=TOL
    )
    assert result.manifest["reconciliation"] == expected.manifest["reconciliation"]
    assert result.manifest["parameters"]["parallel_deals"] == "share"
