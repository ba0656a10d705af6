"""A channel whose spend rows are by month inside a daily spend table (a hand-kept sheet
beside an ads import: new-user report 16, M2) is spread over its months' days and left out
of the weekly spend tests; its own overspend was then never tested. Now its months are tested
against its own months, as a spend table by month is: a month far above the channel's own
alerts, a flat sheet does not."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from tests.test_newuser_report16_spend_by_month import _daily, _funnel


def _sheet(factors: dict[int, float] | None = None, seed: int = 7) -> pl.DataFrame:
    """One row a month dated the 1st, February to December, 5% noise; ``factors``: month ->
    its amount times this."""
    rng = np.random.default_rng(seed)
    rows = [(date(2025, m, 1), "review_sites",
             4_000.0 * rng.lognormal(0, 0.05) * (factors or {}).get(m, 1.0))
            for m in range(2, 13)]  # fmt: skip
    return pl.DataFrame(rows, schema=["date", "channel", "amount"], orient="row")


def _spend_alerts(factors: dict[int, float] | None) -> pl.DataFrame:
    f = _funnel(pl.concat([_daily(), _sheet(factors)]))
    assert f.parameters["alerts"]["spend_read"]["by_month"] == ["review_sites"]
    return f.alerts.filter(pl.col("metric") == "spend")


def test_a_month_far_above_the_channels_own_months_alerts() -> None:
    alerts = _spend_alerts({9: 2.0})  # September: twice the sheet's usual month
    mine = alerts.filter(pl.col("channel") == "review_sites")
    assert mine.height == 1, alerts.get_column("message").to_list()
    assert mine.item(0, "kind") == "spike"
    assert mine.item(0, "week").month in (8, 9)  # the week holding September 1st, or after
    assert "rose" in mine.item(0, "message")
    assert set(alerts.get_column("channel").drop_nulls()) <= {"review_sites"}


def test_a_flat_monthly_channel_fires_none() -> None:
    alerts = _spend_alerts(None)
    assert alerts.height == 0, alerts.get_column("message").to_list()


def test_a_daily_channels_spike_is_still_tested_by_the_week() -> None:
    f = _funnel(pl.concat([_daily(spike=(30, 3.0)), _sheet()]))
    spend = f.alerts.filter(pl.col("metric") == "spend")
    assert set(spend.get_column("channel").drop_nulls()) == {"ch0"}
