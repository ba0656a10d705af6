"""New-user report 16, S2: campaign CAC and ROI when the touches carry no campaign (or some
touches of a paid channel none) while the spend names campaigns. No paid channel's row reads
``unpaid`` with CAC 0 and no campaign ROI -1 that the data cannot support."""

from __future__ import annotations

import polars as pl
import pytest

import attribution
from attribution.b2b._campaigns import NOT_MEASURED, campaign_economics

#: paid channels' spend by campaign (the shape of an ads import), organic channels none
SPEND = pl.DataFrame(
    {
        "channel": ["linkedin", "linkedin", "google_ads", "google_ads", "email"],
        "campaign": ["CFO Persona", "Retargeting", "Brand", "Generic", None],
        "month": ["2025-01-01"] * 5,
        "amount": [600.0, 400.0, 300.0, 100.0, 0.0],
    }
)


def _result(make_touches, make_stages, campaigns: list[str | None]):
    touches = make_touches(
        [
            ("t1", "c1", "linkedin", 1),
            ("t2", "c1", "organic_search", 2),
            ("t3", "c2", "google_ads", 3),
            ("t4", "c2", "linkedin", 4),
            ("t5", "c3", "email", 5),
            ("t6", "c3", "linkedin", 6),
        ]
    ).with_columns(pl.Series("campaign", campaigns, pl.String))
    stages = make_stages(
        [
            ("c1", "closed_won", 10, 100.0),
            ("c2", "closed_won", 10, 50.0),
            ("c3", "closed_won", 10, 80.0),
        ]
    )
    return attribution.attribute(touches, stages, models=["linear", "first_touch"])


def test_no_campaign_in_the_touches_measures_no_campaign(make_touches, make_stages) -> None:
    result = _result(make_touches, make_stages, [None] * 6)
    econ = campaign_economics(result, SPEND)
    table = econ.table
    paid = pl.col("channel").is_in(["linkedin", "google_ads"])
    # nothing a BI tool would read as a fact: no CAC 0, no ROI -1, no 'unpaid' paid channel
    assert table.filter(paid & (pl.col("status") != NOT_MEASURED)).height == 0
    assert table.filter(paid).get_column("cac").null_count() == table.filter(paid).height
    assert table.filter(paid).get_column("roi").null_count() == table.filter(paid).height
    assert table.filter(pl.col("roi") == -1.0).height == 0
    # the credit rows keep the customers (spend unknown); the spend rows keep the spend
    # (customers unknown): the sums stay the run's figures
    for model in ("linear", "first_touch"):
        rows = table.filter(pl.col("model") == model)
        assert rows.get_column("conversions").sum() == pytest.approx(3.0)
        assert rows.get_column("spend").sum() == pytest.approx(1400.0)
        none = rows.filter(paid & (pl.col("campaign") == "(none)"))
        assert none.get_column("spend").null_count() == none.height
    spend_rows = table.filter(pl.col("campaign") != "(none)")
    assert spend_rows.height == 8  # 4 campaigns x 2 models, kept with their spend
    assert spend_rows.get_column("conversions").null_count() == 8
    # an organic channel without spend is unpaid (CAC 0), as the channel economics say
    organic = table.filter((pl.col("channel") == "organic_search") & (pl.col("model") == "linear"))
    assert organic.row(0, named=True)["status"] == "unpaid"
    assert econ.parameters["campaigns_in_touches"] is False
    assert econ.parameters["spend_campaigns_without_credit"] == []
    assert "the touches carry no campaign" in econ.parameters["campaigns_not_measured"]
    text = econ.summary()
    assert text.startswith("Campaign credit: no campaigns in the touches"), text
    assert "Campaign CAC and ROI: not measured" in text
    assert "4 campaign(s) ($1,400 on google_ads, linkedin)" in text
    assert "unpaid" not in text
    assert "Top campaigns" not in text
    assert "(none)" not in text


def test_a_paid_channels_touches_without_a_campaign_are_not_unpaid(
    make_touches, make_stages
) -> None:
    # linkedin's t4 and t6 carry no campaign; google_ads' t3 does; email is unpaid
    result = _result(
        make_touches, make_stages, ["CFO Persona", None, "Brand", None, None, None]
    )
    econ = campaign_economics(result, SPEND)
    rows = {(r["model"], r["channel"], r["campaign"]): r for r in econ.table.iter_rows(named=True)}
    none = rows[("linear", "linkedin", "(none)")]
    assert none["conversions"] == pytest.approx(1 / 2 + 1 / 2)
    assert (none["status"], none["spend"], none["cac"], none["roi"]) == (
        NOT_MEASURED, None, None, None)
    cfo = rows[("linear", "linkedin", "CFO Persona")]  # a measured campaign stays measured
    assert (cfo["status"], cfo["cac"]) == ("paid", pytest.approx(600.0 / 0.5))
    # no customer among linkedin's touches with a campaign, 2/3 of its credit on touches
    # without one: not ROI -1 (b2b21: its customers may be among those)
    assert rows[("linear", "linkedin", "Retargeting")]["status"] == NOT_MEASURED
    assert rows[("linear", "email", "(none)")]["status"] == "unpaid"  # no spend on email
    assert rows[("linear", "organic_search", "(none)")]["status"] == "unpaid"
    assert econ.parameters["campaigns_in_touches"] is True
    assert "(linkedin)" in econ.parameters["campaigns_not_measured"]
    text = econ.summary()
    assert "Top campaigns under linear" in text
    assert "Campaign CAC and ROI not measured ('not_measured')" in text
    line = next(x for x in text.splitlines() if x.strip().startswith("linkedin") and "(none)" in x)
    assert "unpaid" not in line, line
    assert NOT_MEASURED in line, line


def test_spend_rows_without_a_campaign_still_price_the_none_rows(
    make_touches, make_stages
) -> None:
    """A paid channel's spend rows without a campaign are the channel's '(none)' spend: its
    touches without a campaign are paid at it (channel-level CAC), as before."""
    result = _result(make_touches, make_stages, [None] * 6)
    spend = SPEND.with_columns(pl.lit(None, pl.String).alias("campaign"))
    econ = campaign_economics(result, spend)
    assert NOT_MEASURED not in econ.table.get_column("status").to_list()
    assert econ.parameters["campaigns_not_measured"] is None
    row = econ.table.filter(
        (pl.col("model") == "linear") & (pl.col("channel") == "linkedin")
    ).row(0, named=True)
    assert (row["status"], row["cac"]) == ("paid", pytest.approx(1000.0 / (1 / 2 + 1 / 2 + 1 / 2)))
