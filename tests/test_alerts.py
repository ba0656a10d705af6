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


def test_spend_has_its_own_default_threshold_under_the_users() -> None:
    assert AlertSettings().thresholds == {"spend": 3.25}
    assert AlertSettings(threshold=4.0).thresholds["spend"] == 3.25  # 'threshold' is the rest's
    assert AlertSettings(thresholds={"lead_volume": 5.0}).thresholds == {
        "spend": 3.25, "lead_volume": 5.0}
    assert AlertSettings(thresholds={"spend": 4.0}).thresholds == {"spend": 4.0}


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


# --- spend by month ------------------------------------------------------------------------
def test_the_common_factor_leaves_the_channel_out() -> None:
    """A channel is judged against the move the other channels share: a season they all
    follow is in its factor, its own spike is not (leave one out), nor one channel's own
    calendar; the overall series gets none."""
    from attribution.b2b._alerts_weekly import common_factor

    season = np.log(np.array([1.0, 1.0, 1.3, 1.3, 1.0, 1.0]))
    levels = np.log(np.array([[100.0], [200.0], [400.0], [50.0], [70.0], [30.0], [900.0]]))
    y = levels + season[None, :]
    y[0, 4] += np.log(1.5)  # channel 0 spikes in week 4
    y[1, :] += np.log(np.array([1, 8, 1, 8, 1, 8]))  # channel 1 has a calendar of its own
    overall = np.array([False] * 6 + [True])
    f = common_factor(y, overall)
    assert np.isnan(f[6]).all()
    for c in range(6):  # every channel's factor is the shared season
        assert f[c] == pytest.approx(season, abs=1e-9), c
    assert np.isnan(common_factor(y[:1], np.array([False]))).all()  # no other channel


def test_a_monthly_series_gets_a_months_share_of_the_false_alerts() -> None:
    from statistics import NormalDist

    from attribution.b2b._alerts_weekly import monthly_threshold

    nd = NormalDist()
    for z in (2.5, 3.5, 4.5):
        m = monthly_threshold(z)
        assert m < z
        # 12 monthly tests a year carry the tail of 104 weekly ones (a week and two pooled)
        assert 12 * (1 - nd.cdf(m)) == pytest.approx(104 * (1 - nd.cdf(z)), rel=1e-9)
    assert monthly_threshold(3.5) == pytest.approx(2.8756, abs=1e-3)


def spend_table(months: list[float], channels: int = 6, seed: int = 3) -> pl.DataFrame:
    """Monthly spend of ``channels`` channels with 5% noise a month, channel 0 scaled by
    ``months`` (1.0: as planned)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(channels):
        for m, factor in enumerate(months):
            amount = 10_000.0 * (c + 1) * rng.lognormal(0.0, 0.05) * (factor if c == 0 else 1.0)
            rows.append((datetime(2025, m + 1, 1).date(), f"ch{c}", amount))
    return pl.DataFrame(rows, schema=["month", "channel", "amount"], orient="row")


def test_a_thirty_five_percent_month_of_spend_alerts_a_plan_month_does_not() -> None:
    """Monthly spend with 5% noise: a month 35% over plan on one channel alerts (its spend,
    dated in that month), the same world without it does not."""
    stages = leads(noisy(300, 52)).with_columns(pl.lit("ch1").alias("channel"))
    touches = stages.select("contact_id", "timestamp", "channel")
    plan = [1.0] * 12
    spiked = [1.0] * 8 + [1.35] + [1.0] * 3  # September
    clean = attribution.funnel(stages, touches, spend_table(plan), alerts={"settle_days": 0})
    assert clean.alerts.filter(pl.col("metric") == "spend").height == 0
    hit = attribution.funnel(stages, touches, spend_table(spiked), alerts={"settle_days": 0})
    spend = hit.alerts.filter(pl.col("metric") == "spend")
    assert spend.get_column("channel").to_list() == ["ch0"]
    assert spend.item(0, "week").month in (8, 9)  # the week holding September 1st, or after
    assert spend.item(0, "kind") == "spike"
    series = hit.weekly.filter((pl.col("metric") == "spend") & (pl.col("channel") == "ch0"))
    assert series.filter(pl.col("alert")).get_column("week").min() == spend.item(0, "week")


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40),
    st.floats(1e8, 1e12),
    st.integers(0, 5),
    st.data(),
)
def test_the_robust_mean_is_a_robust_centre(
    values: list[float], push: float, gaps: int, data: st.DataObject
) -> None:
    """The robust mean lies within the values, is their mean for one or two, ignores NaN,
    and stays within the range of the others when fewer than half of them are pushed
    anywhere far."""
    from attribution.b2b._alerts_stats import robust_mean

    a = np.array(values)
    m = float(robust_mean(a[None, :], 1)[0])
    assert min(values) - 1e-6 <= m <= max(values) + 1e-6
    if a.size <= 2:
        assert m == pytest.approx(float(np.mean(a)), rel=1e-9, abs=1e-6)
    with_nan = np.concatenate([a, np.full(gaps, np.nan)])
    assert float(robust_mean(with_nan[:, None], 0)[0]) == pytest.approx(m, rel=1e-9, abs=1e-6)
    bad = data.draw(st.integers(0, (a.size - 1) // 2))
    if bad:
        moved = a.copy()
        moved[:bad] = push * data.draw(st.sampled_from([-1.0, 1.0]))
        rest = a[bad:]
        r = float(robust_mean(moved[None, :], 1)[0])
        assert rest.min() - 1e-6 <= r <= rest.max() + 1e-6
    assert np.isnan(robust_mean(np.full((1, 3), np.nan), 1)).all()


def test_a_changed_month_does_not_widen_its_own_yardstick() -> None:
    """Spend 60% over plan for two months: the range the channel's spend is judged by in
    those months is (nearly) the one of the same world without the change; the change is
    what is tested, not part of what normal looks like."""
    stages = leads(noisy(300, 52)).with_columns(pl.lit("ch1").alias("channel"))
    touches = stages.select("contact_id", "timestamp", "channel")
    plan = [1.0] * 12
    spiked = [1.0] * 8 + [1.6, 1.6] + [1.0] * 2  # September and October
    width = []
    for months in (plan, spiked):
        f = attribution.funnel(stages, touches, spend_table(months), alerts={"settle_days": 0})
        s = f.weekly.filter(
            (pl.col("metric") == "spend")
            & (pl.col("channel") == "ch0")
            & (pl.col("week").dt.month() == 9)
            & (pl.col("week").dt.day() >= 8)
        )
        width.append((s.get_column("high") / s.get_column("expected")).log().to_numpy())
    assert width[1] == pytest.approx(width[0], rel=0.1)


def test_the_cut_spread_is_corrected_for_the_cut() -> None:
    """Normal errors with those beyond two spreads left out: their median absolute value
    over :func:`truncated_mad` is still the spread."""
    from attribution.b2b._alerts_stats import truncated_mad

    z = np.random.default_rng(5).normal(0.0, 1.0, 400_000)
    for k in (1.5, 2.0, 3.0):
        kept = np.abs(z[np.abs(z) <= k])
        assert np.median(kept) / truncated_mad(k) == pytest.approx(1.0, abs=0.01)
    assert truncated_mad(40.0) == pytest.approx(0.67449, abs=1e-4)


def test_a_budget_month_moves_the_cost_per_lead_within_its_range() -> None:
    """Spend by month: five flat channels and an events budget on the conference calendar
    (3x its mean in September), leads steady. The cost per lead's spend part moves once a
    month, by no more than the spend test allows a month, so the September budget alone
    does not make it alert (judged by its weekly errors, three weeks in four with the spend
    unchanged, it scored z 3.6 in this world); the same leads halved for two weeks do."""
    events = [0.2, 0.4, 2.4, 0.6, 1.8, 1.2, 0.3, 0.3, 3.0, 2.4, 1.2, 0.2]
    rng = np.random.default_rng(3)
    rows = [(datetime(2025, m, 1).date(), f"ch{c}", 5_000.0 * (c + 1) * rng.lognormal(0, 0.05))
            for c in range(5) for m in range(1, 13)]  # fmt: skip
    rows += [(datetime(2025, m, 1).date(), "events", 6_000.0 * f * rng.lognormal(0, 0.05))
             for m, f in enumerate(events, start=1)]  # fmt: skip
    spend = pl.DataFrame(rows, schema=["month", "channel", "amount"], orient="row")
    per_week = noisy(300, 52, seed=3)
    cost = pl.col("metric") == "cost_per_lead"
    for weeks, alerts in (([], 0), ([20, 21], 1)):
        counts = [n // 2 if w in weeks else n for w, n in enumerate(per_week)]
        stages = leads(counts).with_columns(pl.lit("ch1").alias("channel"))
        touches = stages.select("contact_id", "timestamp", "channel")
        f = attribution.funnel(stages, touches, spend, alerts={"settle_days": 0})
        overall = f.alerts.filter(cost & pl.col("channel").is_null())
        assert overall.height == alerts, overall.get_column("message").to_list()
        if alerts:
            assert overall.item(0, "kind") == "spike"
            assert overall.item(0, "week") in (MONDAY.date() + timedelta(weeks=w) for w in weeks)


def test_two_weeks_pooled_halve_the_over_dispersion() -> None:
    """A rate that moves +-3 points from week to week on 300 entrants (over-dispersed) and
    falls 13 points for two weeks: each week alone is within its range, the two weeks
    pooled are not (two independent weeks' deviations average out; judged as one week of
    600 entrants, as before, they did not alert)."""
    share = np.array([0.63, 0.57] * 20)
    share[[30, 31]] = 0.47
    f = attribution.funnel(leads([300] * 40, share.tolist()), alerts={"settle_days": 0})
    rate = f.weekly.filter((pl.col("metric") == "lead_to_mql") & pl.col("channel").is_null())
    assert rate.filter(pl.col("alert")).height > 0
    assert (rate.get_column("score").abs() < 3.5).all()  # no week alone
    alert = f.alerts.filter(pl.col("metric") == "lead_to_mql").row(0, named=True)
    assert alert["window_weeks"] == 2
    assert alert["kind"] == "drop"
    assert alert["week"] == (MONDAY + timedelta(weeks=31)).date()
