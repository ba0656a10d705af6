"""A won deal without an opportunity event, in stages that have opportunity events (a
self-serve purchase beside sales-assisted deals), is no closed opportunity: the win rate,
the average deal and the velocity are the sales deals' (new-user report 15, S2: 216
self-serve wins made a 37.2% sales win rate read 82.1%), the count is said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from attribution import funnel

START = datetime(2025, 1, 6, tzinfo=UTC)


def _stages(self_serve: int) -> pl.DataFrame:
    rows = []
    # sales: 10 opportunities, 3 won (10,000 each), 5 lost, 2 open
    for i in range(10):
        who, opp = f"s{i}", f"o{i}"
        rows.append((who, "lead", START, None, None))
        rows.append((who, "opportunity", START + timedelta(days=5), opp, None))
        if i < 3:
            rows.append((who, "closed_won", START + timedelta(days=35), opp, 10_000.0))
        elif i < 8:
            rows.append((who, "closed_lost", START + timedelta(days=30), opp, None))
    for i in range(self_serve):  # self-serve: a sign-up and a purchase, no opportunity
        who = f"p{i}"
        rows.append((who, "lead", START + timedelta(days=i % 20), None, None))
        rows.append((who, "closed_won", START + timedelta(days=i % 20 + 3), f"x{i}", 600.0))
    return pl.DataFrame(
        rows,
        schema={"contact_id": pl.String, "stage": pl.String,
                "timestamp": pl.Datetime("us", "UTC"), "opportunity_id": pl.String,
                "value": pl.Float64},
        orient="row",
    )  # fmt: skip


def _kpi(flow, name: str) -> dict:
    row = flow.kpis.filter((pl.col("dimension") == "all") & (pl.col("kpi") == name))
    return row.row(0, named=True)


def test_self_serve_wins_stay_out_of_the_sales_win_rate() -> None:
    flow = funnel(_stages(self_serve=20))
    win = _kpi(flow, "win_rate")
    assert win["value"] == pytest.approx(3 / 8)
    assert "20 won without an opportunity" in win["detail"]
    assert _kpi(flow, "average_deal_size")["value"] == pytest.approx(10_000.0)
    # the same sales deals alone give the same figures
    alone = funnel(_stages(self_serve=0))
    assert _kpi(alone, "win_rate")["value"] == pytest.approx(3 / 8)
    assert "without an opportunity" not in _kpi(alone, "win_rate")["detail"]


def test_without_opportunity_events_a_won_deal_still_counts() -> None:
    """Stages of only won and lost deals: every won deal is a closed one, as before."""
    stages = _stages(self_serve=0).filter(pl.col("stage") != "opportunity")
    flow = funnel(stages)
    assert _kpi(flow, "win_rate")["value"] == pytest.approx(3 / 8)
