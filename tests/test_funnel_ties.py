"""The funnel's sourced channel breaks a tie in time as the journeys do (new-user report 17,
S3): two touches of one contact at the same time (a date-only campaign response, common in
Salesforce) -- the first is the one with the smaller touch_id, then the earlier row, as the
credit's journeys order them; the same rows in another order (a re-sync) give the same
created pipeline per channel."""

from __future__ import annotations

import polars as pl

import attribution
from attribution.b2b._funnel_channels import sourced_channels


def _touches(order: list[int]) -> pl.DataFrame:
    rows = pl.DataFrame(
        {
            "touch_id": ["m-002", "m-001", "w-003"],
            "contact_id": ["c1", "c1", "c1"],
            "channel": ["events", "webinar", "email"],
            "timestamp": ["2026-01-08", "2026-01-08", "2026-01-20"],
        }
    ).with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
    return rows[order]


def test_the_first_touch_of_a_tie_is_the_journeys(tmp_path) -> None:
    firsts = []
    for order in ([0, 1, 2], [1, 0, 2], [2, 1, 0]):
        sourced, _ = sourced_channels(_touches(order), "contact_id", None)
        assert sourced is not None
        firsts.append(sourced.get_column("channel").to_list())
    assert firsts == [["webinar"]] * 3  # m-001 < m-002: the journeys' first touch
    stages = pl.DataFrame(
        {"contact_id": ["c1"], "stage": ["closed_won"], "timestamp": ["2026-02-01"],
         "value": [30814.0]}
    ).with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))  # fmt: skip
    credit = attribution.attribute(_touches([0, 1, 2]), stages, models=["first_touch"])
    first = credit.touch_credit.filter(pl.col("credit") > 0).get_column("channel").to_list()
    assert first == ["webinar"]
