"""The weekly alerts: counts against robust baselines, rates with their counts, minimum
volumes, provisional weeks, muting, settings, and the outputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution
from attribution import AlertSettings

MONDAY = datetime(2025, 1, 6, 12, tzinfo=UTC)


def leads(per_week: list[int], mql_share: list[float] | None = None) -> pl.DataFrame:
    """Lead events per week (and, with ``mql_share``, that share of each week's leads
    becoming an MQL a day later)."""
    rows = []
    for w, n in enumerate(per_week):
        advance = round(n * mql_share[w]) if mql_share else 0
        for i in range(n):
            at = MONDAY + timedelta(weeks=w, hours=i % 96)
            rows.append((f"w{w}c{i}", "lead", at))
            if i < advance:
                rows.append((f"w{w}c{i}", "mql", at + timedelta(days=1)))
    return pl.DataFrame(rows, schema=["contact_id", "stage", "timestamp"], orient="row")


def noisy(mean: float, weeks: int, seed: int = 1) -> list[int]:
    return np.random.default_rng(seed).poisson(mean, weeks).tolist()


def test_a_planted_drop_in_lead_volume_alerts_and_nothing_else() -> None:
    per_week = noisy(300, 30)
    per_week[20] = 150
    f = attribution.funnel(leads(per_week), alerts={"settle_days": 0})
    a = f.alerts
    assert a.height == 1
    row = a.row(0, named=True)
    assert (row["metric"], row["channel"], row["kind"]) == ("lead_volume", None, "drop")
    assert row["week"] == (MONDAY + timedelta(weeks=20)).date()
    assert row["value"] == 150
    assert row["low"] > 150
    assert row["expected"] == pytest.approx(300, rel=0.05)
    assert row["provisional"] is False
    assert row["severity"] == "high"  # z far beyond the threshold
    assert "lead volume fell 50%" in row["message"]
    assert str(row["week"]) in row["message"]


def test_minimum_volume_and_change_gate_alerts() -> None:
    small = noisy(8, 30)
    small[20] = 0  # a 100% drop, but 8 a week is under min_volume (20)
    assert attribution.funnel(leads(small), alerts={"settle_days": 0}).alerts.height == 0
    gated = attribution.funnel(leads(small), alerts={"settle_days": 0, "min_volume": 5})
    assert gated.alerts.get_column("week").to_list() == [(MONDAY + timedelta(weeks=20)).date()]
    assert "went silent" in gated.alerts.item(0, "message")


def test_a_rate_is_judged_with_its_counts() -> None:
    """The same 15-point fall alerts on 2,000 entrants a week, not on 60."""
    share = [0.5] * 30
    share[20] = 0.35
    for n, fires in ((2000, True), (60, False)):
        f = attribution.funnel(leads([n] * 30, share), alerts={"settle_days": 0})
        rate = f.alerts.filter(pl.col("metric") == "lead_to_mql")
        assert (rate.height == 1) is fires, n
        if fires:
            assert rate.item(0, "kind") == "drop"
            assert rate.item(0, "value") == pytest.approx(0.35)
            assert rate.item(0, "expected") == pytest.approx(0.5)
            assert "15.0 points" in rate.item(0, "message")


def test_immature_weeks_are_provisional_and_never_alert() -> None:
    share = [0.5] * 30
    share[-2] = 0.0  # the last full week: its 7-day horizon ends after the data does
    f = attribution.funnel(leads([2000] * 30, share), alerts={"settle_days": 0})
    assert f.parameters["alerts"]["rate_horizon_days"]["lead"] == 7  # the shortest horizon
    rate = f.weekly.filter((pl.col("metric") == "lead_to_mql") & pl.col("channel").is_null())
    last = rate.sort("week").tail(2)
    assert last.get_column("provisional").to_list() == [False, True]
    assert last.item(1, "value") == 0.0
    assert not last.item(1, "alert")
    assert f.alerts.filter(pl.col("metric") == "lead_to_mql").height == 0
    # the same drop a week earlier is mature, and alerts
    share[-2], share[-3] = 0.5, 0.0
    f = attribution.funnel(leads([2000] * 30, share), alerts={"settle_days": 0})
    assert f.alerts.filter(pl.col("metric") == "lead_to_mql").height == 1


def test_mute_and_per_metric_thresholds() -> None:
    per_week = noisy(300, 30)
    per_week[20] = 150
    data = leads(per_week)
    assert (
        attribution.funnel(data, alerts={"settle_days": 0, "mute": ["lead_volume"]}).alerts.height
        == 0
    )
    high = {"settle_days": 0, "thresholds": {"lead_volume": 50.0}}
    assert attribution.funnel(data, alerts=high).alerts.height == 0


def test_settings_are_checked() -> None:
    with pytest.raises(attribution.ModelParameterError, match="'threshold'"):
        AlertSettings(threshold=0)
    with pytest.raises(attribution.ModelParameterError, match="min_history"):
        AlertSettings(trailing_weeks=4, min_history=6)
    with pytest.raises(attribution.ModelParameterError, match="Unknown alerts setting 'treshold'"):
        AlertSettings.of({"treshold": 3})
    with pytest.raises(attribution.ModelParameterError, match="'mute'"):
        AlertSettings(mute="spend")  # type: ignore[arg-type]


def test_config_alerts_section(tmp_path) -> None:
    from attribution.inputs._config import load_config

    good = tmp_path / "ok.toml"
    good.write_text('[alerts]\nthreshold = 4.0\nmute = ["touches"]\n')
    assert load_config(good).alerts == {"threshold": 4.0, "mute": ["touches"]}
    bad = tmp_path / "bad.toml"
    bad.write_text("[alerts]\nmin_change = -1\n")
    with pytest.raises(attribution.ConfigError, match=r"bad.toml': \[alerts\].*'min_change'"):
        load_config(bad)


@settings(max_examples=25)
@given(
    seed=st.integers(0, 10_000),
    drop_week=st.integers(14, 27),
    factor=st.floats(0.0, 2.0),
)
def test_alerts_are_whole_and_never_provisional(seed: int, drop_week: int, factor: float) -> None:
    per_week = noisy(100, 30, seed)
    per_week[drop_week] = int(per_week[drop_week] * factor)
    share = np.clip(np.random.default_rng(seed).normal(0.5, 0.05, 30), 0, 1).tolist()
    f = attribution.funnel(leads(per_week, share))
    a = f.alerts
    assert not a.get_column("provisional").any()
    assert a.select(pl.all().exclude("channel", "entrants").is_null().any()).row(0) == (False,) * (
        a.width - 2
    )
    assert (a.get_column("low") <= a.get_column("expected")).all()
    assert (a.get_column("expected") <= a.get_column("high")).all()
    assert a.get_column("kind").is_in(["drop", "spike"]).all()
    # every alerting week of the series is out of its range in the alert's direction
    flagged = f.weekly.filter(pl.col("alert"))
    assert not flagged.get_column("provisional").any()
