"""An account's second or later won deal (a renewal, an upsell) is counted as a customer by
CAC, and said with the CAC without them (new-user report 22, S4: 26 renewal deals of
customers who came back through Google Ads lowered google_ads' CAC from $7,244 to $3,087,
exit 0, nothing said)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

import attribution
from attribution.b2b._economics import UnitEconomics
from attribution.b2b._economics_joins import join_lines

START = datetime(2025, 3, 1, tzinfo=UTC)
SPEND = pl.DataFrame({"channel": ["google_ads", "linkedin"], "month": [date(2025, 3, 1)] * 2,
                      "amount": [12_000.0, 6_000.0]})


def _economics(renewals: bool) -> UnitEconomics:
    """Six accounts won through linkedin (one touch each); with ``renewals``, three of them
    come back through google_ads and win a second deal."""
    touches, stages = [], []
    for a in range(6):
        touches.append({"touch_id": f"l{a}", "account_id": f"A{a}", "channel": "linkedin",
                        "timestamp": START + timedelta(days=a)})
        stages.append({"account_id": f"A{a}", "stage": "closed_won", "value": 1_000.0,
                       "timestamp": START + timedelta(days=10 + a)})
        touches.append({"touch_id": f"g{a}", "account_id": f"A{a}", "channel": "google_ads",
                        "timestamp": START + timedelta(days=20 + a)})
        if renewals and a < 3:
            stages.append({"account_id": f"A{a}", "stage": "closed_won", "value": 1_000.0,
                           "timestamp": START + timedelta(days=25 + a)})
    touches_frame, stages_frame = pl.DataFrame(touches), pl.DataFrame(stages)
    options = attribution.RunOptions(level="account", models=["linear"])
    result = attribution.attribute(touches_frame, stages_frame, options=options)
    inputs = attribution.B2BInputs(touches=touches_frame, stages=stages_frame, spend=SPEND)
    extras = attribution.analyse(result, inputs, options=options).extras
    (econ,) = [x for x in extras if isinstance(x, UnitEconomics)]
    return econ


def test_repeat_wins_are_counted_and_said() -> None:
    econ = _economics(True)
    found = econ.parameters["customers_repeat_wins"]
    assert (found["customers"], found["repeat"]) == (9, 3)
    # 18,000 of spend over 9 customers, or over the 6 new ones
    assert found["blended_cac"] == pytest.approx(2_000.0)
    assert found["blended_cac_without"] == pytest.approx(3_000.0)
    (google,) = found["by_channel"]  # the renewals' only touches: google_ads
    assert google["channel"] == "google_ads"
    assert google["customers"] == pytest.approx(3.0)
    assert google["cac"] == pytest.approx(12_000.0 / 3.0)
    assert google["cac_without"] is None  # every google_ads customer is a repeat win
    (line,) = [x for x in join_lines(econ.parameters) if "second or later" in x]
    assert line.startswith("NOTE: 3 of 9 credited customers (33%) are an account's or "
                           "contact's second or later won deal")
    assert "Blended CAC under linear: $2,000 with them (9 customers), $3,000 without them (6)" \
        in line
    assert "google_ads 3.0 (CAC $4,000 with them, none left without)" in line


def test_no_note_without_repeat_wins() -> None:
    econ = _economics(False)
    assert econ.parameters["customers_repeat_wins"] is None
    assert not [x for x in join_lines(econ.parameters) if "second or later" in x]
