"""New-user report 16, M2: a hand-kept monthly sheet (rows dated the 1st) merged into a
daily ad-platform spend table fired a 'spend rose' alert in every week holding a 1st. Its
channel's months are now spread over their days and its own weekly tests left out, said in
the alert rule; a table dated once a month throughout is read as one by month."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

import attribution
from tests.test_alerts import MONDAY, leads, noisy, spend_table

DAYS = 364


def _daily(channels: int = 3, seed: int = 5, spike: tuple[int, float] | None = None):
    """Daily spend of ``channels`` channels with 10% noise a day; ``spike``: (week, factor)
    on ch0's days of that week."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(channels):
        for d in range(DAYS):
            factor = spike[1] if spike and c == 0 and d // 7 == spike[0] else 1.0
            day = MONDAY.date() + timedelta(days=d)
            rows.append((day, f"ch{c}", 300.0 * (c + 1) * rng.lognormal(0, 0.1) * factor))
    return pl.DataFrame(rows, schema=["date", "channel", "amount"], orient="row")


def _monthly_sheet(channel: str = "review_sites", amount: float = 4_000.0) -> pl.DataFrame:
    """A hand-kept sheet: one row a month dated the 1st (two vendors on one channel)."""
    rows = [(date(2025, m, 1), channel, amount / 2 + 100.0 * k)
            for m in range(2, 13) for k in (0, 1)]  # fmt: skip
    return pl.DataFrame(rows, schema=["date", "channel", "amount"], orient="row")


def _funnel(spend: pl.DataFrame):
    stages = leads(noisy(200, 52, seed=5)).with_columns(pl.lit("ch1").alias("channel"))
    touches = stages.select("contact_id", "timestamp", "channel")
    return attribution.funnel(stages, touches, spend, alerts={"settle_days": 0})


def _spend_alerts(f) -> pl.DataFrame:
    return f.alerts.filter(pl.col("metric").is_in(["spend", "cost_per_lead", "cost_per_mql"]))


def test_a_monthly_sheet_beside_daily_rows_fires_no_spend_alert() -> None:
    daily = _daily()
    assert _spend_alerts(_funnel(daily)).height == 0  # the daily table alone: quiet
    f = _funnel(pl.concat([daily, _monthly_sheet()]))
    assert _spend_alerts(f).height == 0, _spend_alerts(f).get_column("message").to_list()
    assert f.parameters["alerts"]["spend_read"] == {
        "by_month": ["review_sites"], "dated_by_month": False}
    rule = f.notes["alert_rule_short"]
    assert "by month beside daily rows (one date a month: review_sites)" in rule
    # the overall spend holds the sheet, spread over its days: each week's overall spend is
    # the daily channels' plus the sheet's month / its days x 7 (a week inside one month)
    week = MONDAY.date() + timedelta(weeks=10)  # 2025-03-17..23, inside March
    overall = f.weekly.filter((pl.col("metric") == "spend") & pl.col("channel").is_null()
                              & (pl.col("week") == week)).item(0, "value")  # fmt: skip
    days = daily.filter((pl.col("date") >= week) & (pl.col("date") < week + timedelta(days=7)))
    assert overall == pytest.approx(days.get_column("amount").sum() + 4_100.0 / 31 * 7)


def test_a_daily_channels_spike_still_alerts_beside_a_monthly_sheet() -> None:
    f = _funnel(pl.concat([_daily(spike=(30, 3.0)), _monthly_sheet()]))
    spend = f.alerts.filter(pl.col("metric") == "spend")
    assert spend.height >= 1
    assert set(spend.get_column("channel").drop_nulls()) <= {"ch0"}
    assert MONDAY.date() + timedelta(weeks=30) in spend.get_column("week").to_list()


def test_a_table_dated_once_a_month_is_read_by_month() -> None:
    """The same monthly table with its months in a 'date' column alerts as by 'month' (the
    September spike of tests/test_alerts.py), never in every week holding a 1st."""
    spiked = spend_table([1.0] * 8 + [1.35] + [1.0] * 3)
    by_month = _spend_alerts(_funnel(spiked))
    by_date = _funnel(spiked.rename({"month": "date"}))
    assert by_date.parameters["alerts"]["spend_read"]["dated_by_month"] is True
    assert "spend dated once a month" in by_date.notes["alert_rule_short"]
    same = by_month.select("week", "metric", "channel", "kind")
    assert _spend_alerts(by_date).select("week", "metric", "channel", "kind").equals(same)
    assert by_month.filter(pl.col("metric") == "spend").get_column("channel").to_list() == ["ch0"]
