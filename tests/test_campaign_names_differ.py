"""When a channel's touches and its spend name different campaigns, the campaign CAC is not
measured and the summary says the names differ (new-user report 22, M10: 'google_ads fy25
19.2 customers $0 $0 unpaid' beside 'Brand - US' with spend and no customer, ROI -1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

import attribution
from attribution.b2b._campaigns import campaign_economics

START = datetime(2025, 1, 1, tzinfo=UTC)


def _run(spend_campaign: str) -> tuple[dict[tuple[str, str], dict], str]:
    touches = pl.DataFrame({
        "touch_id": [f"t{k}" for k in range(6)], "contact_id": [f"c{k}" for k in range(6)],
        "channel": ["google_ads"] * 4 + ["email"] * 2,
        "campaign": ["fy25"] * 6, "timestamp": [START + timedelta(days=k) for k in range(6)]})
    stages = pl.DataFrame({"contact_id": [f"c{k}" for k in range(6)], "stage": "closed_won",
                           "value": 1_000.0,
                           "timestamp": [START + timedelta(days=10 + k) for k in range(6)]})
    result = attribution.attribute(touches, stages, models=["linear"])
    spend = pl.DataFrame({"channel": ["google_ads", "google_ads"],
                          "campaign": [spend_campaign, "Non-brand"],
                          "month": ["2025-01-01"] * 2, "amount": [3_000.0, 1_000.0]})
    econ = campaign_economics(result, spend)
    rows = {(r["channel"], r["campaign"]): r for r in econ.table.iter_rows(named=True)}
    return rows, econ.summary()


def test_names_that_differ_are_not_measured_and_said() -> None:
    rows, summary = _run("Brand - US")
    fy25 = rows[("google_ads", "fy25")]
    assert (fy25["status"], fy25["cac"], fy25["roi"]) == ("not_measured", None, None)
    assert fy25["conversions"] == 4.0
    brand = rows[("google_ads", "Brand - US")]
    assert (brand["status"], brand["roi"]) == ("not_measured", None)  # not ROI -1
    assert rows[("email", "fy25")]["status"] == "unpaid"  # a channel without spend
    assert ("campaign names of the touches and of the spend differ (google_ads: touches name "
            "'fy25', the spend 'Brand - US', 'Non-brand')") in summary
    assert "Campaigns with spend and no customer" not in summary


def test_names_that_match_are_measured() -> None:
    rows, summary = _run("fy25")
    fy25 = rows[("google_ads", "fy25")]
    assert (fy25["status"], fy25["cac"]) == ("paid", 3_000.0 / 4.0)
    assert rows[("google_ads", "Non-brand")]["status"] == "no_customers"
    assert "differ" not in summary
