"""The funnel: step rates, time in stage, weakest stage, velocity and weekly alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import attribution

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
MONDAY = datetime(2025, 1, 6, 12, tzinfo=UTC)


@pytest.fixture
def stages(make_stages) -> pl.DataFrame:
    return make_stages(
        [
            ("a", "lead", 0, None),
            ("a", "mql", 2, None),
            ("a", "sql", 6, None),
            ("a", "opportunity", 10, None),
            ("a", "closed_won", 40, 1000.0),
            ("b", "lead", 1, None),
            ("b", "mql", 5, None),
            ("c", "lead", 3, None),
            ("d", "lead", 4, None),
            ("d", "mql", 4.5, None),
            ("d", "sql", 8, None),
            ("d", "opportunity", 12, None),
            ("d", "closed_lost", 30, 500.0),
            ("e", "lead", 0, None),
            ("e", "opportunity", 20, None),  # skips mql and sql: they count as passed
        ]
    )


@pytest.fixture
def touches(make_touches) -> pl.DataFrame:
    return make_touches(
        [("t1", "a", "email", 1), ("t0", "a", "linkedin", -1), ("t2", "b", "email", 0)]
    )


def test_step_rates_and_time_in_stage(stages) -> None:
    f = attribution.funnel(stages)
    got = f.overall().select("from_stage", "to_stage", "entered", "advanced", "rate").rows()
    assert got == [
        ("lead", "mql", 5, 4, 0.8),
        ("mql", "sql", 4, 3, 0.75),
        ("sql", "opportunity", 3, 3, 1.0),
        ("opportunity", "closed_won", 3, 1, pytest.approx(1 / 3)),
    ]
    days = dict(f.overall().select("from_stage", "median_days_in_stage").rows())
    assert days["lead"] == pytest.approx(2.0)  # a 2, b 4, d 0.5 (e skipped mql: no time)
    assert days["mql"] == pytest.approx(3.75)  # a 4, d 3.5
    assert days["opportunity"] == pytest.approx(30.0)
    assert f.weakest["from_stage"] == "opportunity"
    assert "lowest conversion rate" in f.weakest["judged_against"]


def test_weakest_against_benchmarks(stages) -> None:
    f = attribution.funnel(stages, benchmarks={"mql->sql": 0.95, "opportunity": 0.30})
    assert (f.weakest["from_stage"], f.weakest["to_stage"]) == ("mql", "sql")
    assert f.weakest["benchmark_gap"] == pytest.approx(0.75 / 0.95 - 1)
    with pytest.raises(attribution.ModelParameterError, match="unknown step 'mql->won'"):
        attribution.funnel(stages, benchmarks={"mql->won": 0.5})


def test_by_channel_is_the_first_touch_and_by_cohort(stages, touches) -> None:
    f = attribution.funnel(stages, touches)
    by_channel = f.table.filter(
        (pl.col("dimension") == "channel") & (pl.col("from_stage") == "lead")
    )
    assert dict(by_channel.select("group", "entered").rows()) == {
        "linkedin": 1,  # a's first touch, though a's later touch is email
        "email": 1,
        "(no touch)": 3,
    }
    cohorts = f.table.filter(pl.col("dimension") == "cohort").get_column("group").unique()
    assert cohorts.to_list() == ["2025-01"]


def test_pipeline_velocity_by_hand(stages) -> None:
    v = attribution.funnel(stages).velocity.filter(pl.col("dimension") == "all").row(0, named=True)
    assert (v["opportunities_total"], v["won"], v["lost"]) == (3, 1, 1)
    assert v["win_rate"] == 0.5
    assert v["average_deal"] == 1000.0
    assert v["cycle_days"] == pytest.approx(30.0)
    # open days: a 10->40, d 12->30, e 20->end of data (day 40) = 68, over a 40-day span
    assert v["opportunities"] == pytest.approx(68 / 40)
    assert v["velocity_per_day"] == pytest.approx(68 / 40 * 0.5 * 1000 / 30)


def weekly_leads(per_week: list[int]) -> pl.DataFrame:
    rows = [
        (f"w{w}c{i}", "lead", MONDAY + timedelta(weeks=w))
        for w, n in enumerate(per_week)
        for i in range(n)
    ]
    return pl.DataFrame(rows, schema=["contact_id", "stage", "timestamp"], orient="row")


def test_weekly_series_replace_the_old_z_score_columns() -> None:
    """The weekly series carry the detector's expected range; the old robust-z columns are
    gone (the alerts are in Funnel.alerts / alerts.parquet)."""
    f = attribution.funnel(weekly_leads([20] * 26), alerts={"settle_days": 0})
    leads = f.weekly.filter((pl.col("metric") == "lead_volume") & pl.col("channel").is_null())
    assert leads.height == 24  # the partial first and last weeks are left out
    assert {"expected", "low", "high", "score", "provisional", "alert"} <= set(f.weekly.columns)
    assert "robust_z" not in f.weekly.columns
    assert f.alerts.height == 0
    tested = leads.filter(pl.col("expected").is_not_null())
    assert tested.get_column("expected").to_list() == pytest.approx([20.0] * tested.height)


def test_weekly_cost_per_lead_spreads_monthly_spend() -> None:
    spend = pl.DataFrame({"channel": ["x"], "month": ["2025-01-01"], "amount": [3100.0]})
    f = attribution.funnel(weekly_leads([20] * 5), spend=spend)
    week = datetime(2025, 1, 13).date()
    daily = f.weekly.filter((pl.col("metric") == "spend") & (pl.col("week") == week))
    assert daily.filter(pl.col("channel").is_null()).item(0, "value") == pytest.approx(700.0)
    cpl = f.weekly.filter(
        (pl.col("metric") == "cost_per_lead") & (pl.col("week") == week)
        & pl.col("channel").is_null()
    )  # fmt: skip
    assert cpl.item(0, "value") == pytest.approx(7 * 100.0 / 20)  # 100 a day in January


def test_write_and_summary(stages, touches, tmp_path: Path) -> None:
    f = attribution.funnel(stages, touches)
    f.write(tmp_path)
    table = pl.read_parquet(tmp_path / "funnel.parquet")
    assert {"dimension", "group", "from_stage", "to_stage", "entered", "advanced", "rate",
            "median_days_in_stage"} <= set(table.columns)  # fmt: skip
    assert set(pl.read_parquet(tmp_path / "funnel_weekly.parquet").columns) >= {
        "week", "metric", "channel", "value", "expected", "low", "high", "provisional", "alert"
    }  # fmt: skip
    assert set(pl.read_parquet(tmp_path / "alerts.parquet").columns) >= {
        "week", "metric", "channel", "kind", "value", "expected", "low", "high", "severity",
        "provisional", "message",
    }  # fmt: skip
    meta = json.loads((tmp_path / "funnel.json").read_text())
    assert meta["weakest_stage"]["from_stage"] == "opportunity"
    assert "beta-binomial" in meta["alert_rule"]
    assert meta["pipeline_velocity"]["won"] == 1
    assert "Weakest stage: opportunity -> closed_won" in f.summary()


def test_stage_names_and_errors(stages) -> None:
    renamed = stages.with_columns(pl.col("stage").replace({"closed_won": "Won"}))
    f = attribution.funnel(renamed, stage_names={"closed_won": "Won"})
    assert f.overall().item(3, "advanced") == 1
    with pytest.raises(attribution.InputError, match="no stage matches"):
        attribution.funnel(stages.with_columns(pl.lit("x").alias("stage")))
    with pytest.raises(attribution.ModelParameterError, match="trailing_weeks"):
        attribution.funnel(stages, alerts={"trailing_weeks": 1})


def test_sample_data_funnel() -> None:
    f = attribution.funnel(SAMPLE / "stages.parquet", SAMPLE / "touches.parquet")
    rates = dict(f.overall().select("from_stage", "rate").rows())
    # sample_data/README.md: lead->mql 64.3%, mql->sql 55.2%, sql->opportunity 61.6%,
    # opp->won 18.6% (the injected lead-quality drop included)
    assert rates["lead"] == pytest.approx(0.643, abs=0.001)
    assert rates["mql"] == pytest.approx(0.552, abs=0.001)
    assert rates["sql"] == pytest.approx(0.616, abs=0.001)
    assert rates["opportunity"] == pytest.approx(0.186, abs=0.001)
    assert f.weakest["from_stage"] == "opportunity"
    assert f.overall().item(3, "advanced") == 521
