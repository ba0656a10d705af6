"""``attribution.retention()`` called alone runs the subscriptions' cents check a run does
(b2b20's ``subscriptions_amount_check``) when given the run (``result=``), and says it did
not check when it has no won deals to compare."""

from __future__ import annotations

import polars as pl
import pytest

import attribution

N = 12
CHANNELS = ("google_ads", "linkedin", "email")


def _run() -> attribution.AttributionResult:
    touches = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(N)],
            "account_id": [f"a{i}" for i in range(N)],
            "timestamp": [f"2025-01-{1 + i:02d}" for i in range(N)],
            "channel": [CHANNELS[i % 3] for i in range(N)],
        }
    )
    stages = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(N)],
            "account_id": [f"a{i}" for i in range(N)],
            "stage": ["closed_won"] * N,
            "timestamp": ["2025-02-20"] * N,
            "value": [1200.0 * (1 + i % 3) for i in range(N)],  # ARR
        }
    )
    return attribution.attribute(touches, stages, models=["linear"])


def _subscriptions(scale: float) -> pl.DataFrame:
    """Each account's MRR = its deal's ARR / 12, times ``scale`` (100: in cents)."""
    return pl.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(N) for _ in range(3)],
            "month": [f"2025-0{m}-01" for _ in range(N) for m in (3, 4, 5)],
            "mrr": [100.0 * (1 + i % 3) * scale for i in range(N) for _ in range(3)],
        }
    )


def test_retention_given_the_run_warns_of_subscriptions_in_cents() -> None:
    kept = attribution.retention(_subscriptions(100.0), result=_run())
    check = kept.notes["amount_check"]
    assert check["verdict"] == "subscriptions_in_cents"
    assert check["median_ratio"] == pytest.approx(100.0)
    assert (check["accounts_compared"], check["accounts_in_band"]) == (N, N)
    assert kept.summary().startswith("WARNING: the subscriptions' amounts look like cents")
    # the cohorts start at the run's close months, as close_months=... makes them
    assert kept.cohorts.get_column("accounts_by_close").max() == N


def test_retention_given_the_run_in_dollars_raises_no_warning() -> None:
    kept = attribution.retention(_subscriptions(1.0), result=_run())
    assert kept.notes["amount_check"]["verdict"] == "same_unit"
    assert "WARNING" not in kept.summary()


def test_retention_alone_says_it_did_not_check() -> None:
    kept = attribution.retention(_subscriptions(100.0))
    check = kept.notes["amount_check"]
    assert check["verdict"] == "not_checked"
    assert check["warning"] is None
    assert "result=" in check["reason"]
    assert "WARNING" not in kept.summary()
