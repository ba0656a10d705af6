"""A won deal's opportunity milestone is its own opportunity's creation, not an earlier lost
or parallel deal's of the same entity (new-user report 9 #4: at account level W-shaped put
the opportunity-created credit on the touch nearest another deal's creation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

import attribution

T0 = datetime(2025, 1, 1, 9, tzinfo=UTC)


def _day(d: int) -> datetime:
    return T0 + timedelta(days=d)


TOUCHES = pl.DataFrame(
    {
        "touch_id": ["t1", "t2", "t3", "t4", "t5"],
        "contact_id": ["a1", "a1", "a2", "a2", "a1"],
        "account_id": ["A"] * 5,
        "channel": ["ads", "webinar", "events", "linkedin", "email"],
        "timestamp": [_day(0), _day(5), _day(12), _day(25), _day(35)],
    }
)
WON = [("a2", "o2", "opportunity", 30, None), ("a2", "o2", "closed_won", 40, 900.0)]
LOST = [("a1", "o1", "opportunity", 3, None), ("a1", "o1", "closed_lost", 10, 400.0)]


def _stages(rows: list[tuple[str, str, str, int, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "contact_id": [r[0] for r in rows],
            "account_id": ["A"] * len(rows),
            "opportunity_id": [r[1] for r in rows],
            "stage": [r[2] for r in rows],
            "timestamp": [_day(r[3]) for r in rows],
            "value": [r[4] for r in rows],
        }
    )


@pytest.mark.parametrize("level", ["account", "contact"])
def test_an_earlier_lost_deal_does_not_move_the_won_deals_opportunity_milestone(level) -> None:
    options = attribution.RunOptions(level=level, models=["w_shaped"], lookback="120d")
    touches = TOUCHES if level == "account" else TOUCHES.with_columns(contact_id=pl.lit("a2"))
    stages = _stages(LOST + WON)
    if level == "contact":
        stages = stages.with_columns(contact_id=pl.lit("a2"))
    with_lost = attribution.attribute(touches, stages, options=options)
    only_won = attribution.attribute(touches, _stages(WON).with_columns(
        contact_id=pl.lit("a2")) if level == "contact" else _stages(WON), options=options)
    (conv,) = with_lost.conversions.iter_rows(named=True)
    assert conv["opportunity_at"] == _day(30)  # o2's own creation, not o1's (day 3)
    credit = dict(with_lost.channel_credit.select("channel", "conversions").iter_rows())
    assert credit == pytest.approx(
        dict(only_won.channel_credit.select("channel", "conversions").iter_rows())
    )
    # W-shaped: first 30% (ads), lead none here, opportunity 30% on the last touch at or
    # before day 30 (linkedin), the won milestone's touch (email, last) 30%
    assert credit["linkedin"] > credit["webinar"]


def test_a_conversion_without_an_opportunity_id_keeps_the_entity_rule() -> None:
    options = attribution.RunOptions(level="account", models=["w_shaped"], lookback="120d")
    stages = _stages(LOST + WON).with_columns(
        pl.when(pl.col("stage") == "closed_won").then(None).otherwise(pl.col("opportunity_id"))
        .alias("opportunity_id")
    )  # fmt: skip
    result = attribution.attribute(TOUCHES, stages, options=options)
    (conv,) = result.conversions.iter_rows(named=True)
    assert conv["opportunity_at"] == _day(3)  # the first opportunity event of the account


def test_a_parallel_deal_left_without_touches_is_counted_and_said(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """New-user report 10 #1: an expansion deal opened before the account's new-business
    deal closed got no touches (a touch belongs to the earliest conversion at or after it),
    said only as 'without touches 1'. Counted as a parallel deal and said."""
    import subprocess
    import sys

    stages = _stages(
        [("a1", "o1", "opportunity", 3, None), ("a1", "o1", "closed_won", 20, 500.0),
         ("a2", "o2", "opportunity", 10, None), ("a2", "o2", "closed_won", 30, 900.0)]
    )  # fmt: skip
    touches = TOUCHES.filter(pl.col("timestamp") <= _day(12))  # none after the first close
    options = attribution.RunOptions(level="account", models=["linear"], lookback="120d")
    result = attribution.attribute(touches, stages, options=options)
    rec = result.manifest["reconciliation"]
    assert (rec["conversions_unattributed"], rec["conversions_parallel_without_touches"]) == (1, 1)
    touches.write_parquet(tmp_path / "t.parquet")
    stages.write_parquet(tmp_path / "s.parquet")
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches", "t.parquet", "--stages",
         "s.parquet", "--level", "account", "-m", "linear", "--lookback", "120d", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "of them 1 parallel deal(s), opened before the entity's previous conversion" in (
        proc.stdout
    )
