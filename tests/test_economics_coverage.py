"""Economics on inputs that do not line up (new-user report 3, #25-#29): spend of part of the
conversions' months, conversions without touches, subscriptions or accounts keyed by other
ids, won deals without a value."""

from __future__ import annotations

import polars as pl
import pytest

import attribution

MONTHS = [f"2025-{m:02d}" for m in range(1, 11)]


def _run(ids: list[str], wins: list[str], values: list[float | None] | None = None):
    touches = pl.DataFrame(
        {
            "contact_id": ids,
            "account_id": [f"A{c}" for c in ids],
            "channel": ["linkedin"] * len(ids),
            "timestamp": [f"{w}-10" for w in wins],
        }
    )
    stages = pl.DataFrame(
        {
            "contact_id": ids,
            "stage": ["closed_won"] * len(ids),
            "timestamp": [f"{w}-20" for w in wins],
            "value": values if values is not None else [12_000.0] * len(ids),
        },
        schema_overrides={"value": pl.Float64},
    )
    return attribution.attribute(touches, stages, models=["linear"])


@pytest.fixture
def year():
    # one customer a month January to October, and a second in January
    ids = [f"c{i}" for i in range(11)]
    return _run(ids, [*MONTHS, "2025-01"])


def test_spend_of_one_month_against_ten_months_of_customers_is_restricted(year) -> None:
    spend = pl.DataFrame({"channel": ["linkedin"], "month": ["2025-01-01"], "amount": [1_000.0]})
    econ = attribution.unit_economics(year, spend, annual_churn=0.2)
    row = econ.table.row(0, named=True)
    # the 2 January customers, not the 11 of ten months: CAC 500, not 91
    assert row["customers"] == pytest.approx(2.0)
    assert row["cac"] == pytest.approx(500.0)
    cov = econ.parameters["spend_coverage"]
    assert cov["restricted"] is True
    assert (cov["overlap_months"], cov["conversion_months"]) == (1, 10)
    assert (cov["kept_conversions"], cov["conversions"]) == (2, 11)
    text = econ.summary()
    assert "Spend covers 1 of the conversions' 10 months" in text
    assert "2 of 11 conversions" in text


def test_restricted_customers_follow_the_spend_lag(year) -> None:
    # January's spend buys February's customers with a lag of one month
    spend = pl.DataFrame({"channel": ["linkedin"], "month": ["2025-01-01"], "amount": [1_000.0]})
    econ = attribution.unit_economics(year, spend, annual_churn=0.2, monthly_lag_months=1)
    assert econ.table.row(0, named=True)["customers"] == pytest.approx(1.0)
    assert econ.parameters["spend_coverage"]["customer_months"] == ["2025-02", "2025-02"]


def test_spend_of_most_months_is_not_restricted(year) -> None:
    spend = pl.DataFrame(
        {
            "channel": ["linkedin"] * 8,
            "month": [f"{m}-01" for m in MONTHS[:8]],
            "amount": [100.0] * 8,
        }  # fmt: skip
    )
    econ = attribution.unit_economics(year, spend, annual_churn=0.2)
    assert econ.parameters["spend_coverage"] is None
    assert econ.table.row(0, named=True)["customers"] == pytest.approx(11.0)
    assert "Spend covers" not in econ.summary()
