"""A paid campaign with no credited customer read ROI -1 even when some touches of its
channel carry no campaign: its customers may be among those touches (fix16's leftover of
new-user report 16, S2). Now such a campaign is ``not_measured`` (spend kept, customers
unknown), the reason names the share of the channel's credit without a campaign, and a
campaign in a channel whose every credited touch names its campaign keeps ROI -1."""

from __future__ import annotations

import polars as pl
import pytest

import attribution
from attribution.b2b._campaigns import NOT_MEASURED, campaign_economics

SPEND = pl.DataFrame(
    {
        "channel": ["google_ads", "google_ads", "linkedin", "linkedin"],
        "campaign": ["Brand", "Generic", "CFO Persona", "Retargeting"],
        "month": ["2025-01-01"] * 4,
        "amount": [300.0, 200.0, 600.0, 400.0],
    }
)


def _economics(make_touches, make_stages):
    """c1 and c2 come by google_ads (c1's touch tagged Brand, c2's untagged); c3 and c4 by
    linkedin, both tagged CFO Persona. Generic and Retargeting credit no customer."""
    touches = make_touches(
        [("t1", "c1", "google_ads", 1), ("t2", "c2", "google_ads", 2),
         ("t3", "c3", "linkedin", 3), ("t4", "c4", "linkedin", 4)]  # fmt: skip
    ).with_columns(pl.Series("campaign", ["Brand", None, "CFO Persona", "CFO Persona"]))
    stages = make_stages([(c, "closed_won", 10, 1000.0) for c in ("c1", "c2", "c3", "c4")])
    result = attribution.attribute(touches, stages, models=["linear"])
    econ = campaign_economics(result, SPEND)
    rows = {(r["channel"], r["campaign"]): r for r in econ.table.iter_rows(named=True)}
    return econ, rows


def test_a_campaign_without_customers_beside_untagged_touches_is_not_roi_minus_one(
    make_touches, make_stages
) -> None:
    econ, rows = _economics(make_touches, make_stages)
    generic = rows[("google_ads", "Generic")]
    assert generic["status"] == NOT_MEASURED
    assert (generic["roi"], generic["cac"], generic["conversions"]) == (None, None, None)
    assert generic["spend"] == pytest.approx(200.0)  # the spend is kept: totals reconcile
    assert econ.table.filter(pl.col("roi") == -1.0).get_column("campaign").to_list() == [
        "Retargeting"
    ]
    reason = econ.parameters["campaigns_not_measured"]
    assert "google_ads: 1 campaign(s), 50% of its customers' credit on touches without a" in (
        reason
    )
    assert "so no ROI -1" in reason
    assert "linkedin" not in reason
    # the customers and the spend of the table stay the run's
    assert econ.table.get_column("conversions").sum() == pytest.approx(4.0)
    assert econ.table.get_column("spend").sum() == pytest.approx(1500.0)
    text = econ.summary()
    assert "Campaign CAC and ROI not measured ('not_measured')" in text
    assert "the true CAC is at most the one shown" in text


def test_a_fully_tagged_channels_campaign_without_customers_keeps_roi_minus_one(
    make_touches, make_stages
) -> None:
    econ, rows = _economics(make_touches, make_stages)
    retargeting = rows[("linkedin", "Retargeting")]
    assert (retargeting["status"], retargeting["roi"]) == ("no_customers", -1.0)
    cfo = rows[("linkedin", "CFO Persona")]
    assert (cfo["status"], cfo["cac"]) == ("paid", pytest.approx(600.0 / 2))
    brand = rows[("google_ads", "Brand")]  # measured on the tagged touches: stays paid
    assert (brand["status"], brand["cac"]) == ("paid", pytest.approx(300.0 / 1))
    assert econ.parameters["spend_campaigns_without_credit"] == [["linkedin", "Retargeting"]]


def test_channel_level_spend_reads_no_roi(make_touches, make_stages) -> None:
    """Spend rows without a campaign where no touch without one is credited (agency fees:
    'no_campaign') are channel-level spend, in the channel economics: ROI null, not -1 (the
    sample data's 9 such rows read ROI -1, $66,930 of spend)."""
    touches = make_touches([("t1", "c1", "linkedin", 1)]).with_columns(
        pl.lit("CFO Persona").alias("campaign")
    )
    stages = make_stages([("c1", "closed_won", 10, 1000.0)])
    result = attribution.attribute(touches, stages, models=["linear"])
    spend = pl.DataFrame(
        {"channel": ["linkedin", "linkedin"], "campaign": ["CFO Persona", None],
         "month": ["2025-01-01"] * 2, "amount": [600.0, 150.0]}
    )  # fmt: skip
    econ = campaign_economics(result, spend)
    rows = {r["campaign"]: r for r in econ.table.iter_rows(named=True)}
    fees = rows["(none)"]
    assert (fees["status"], fees["spend"], fees["cac"], fees["roi"]) == (
        "no_campaign", 150.0, None, None)
    assert rows["CFO Persona"]["roi"] == pytest.approx((1000.0 - 600.0) / 600.0)
