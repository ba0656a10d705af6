"""review20 #4, ``import pipedrive``: a deal with a blank Status and a won time was open
(no conversion, no count); the time is the evidence: won (a lost time alone: lost), counted
and noted."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from attribution import import_pipedrive
from tests.test_import_pipedrive import HEADER, export


def _deal(deal_id: str, status: str, won: str, lost: str, email: str, org: str) -> list[str]:
    return [deal_id, f"deal {deal_id}", "1000", "USD", "Proposal Made", status, won, lost,
            "2025-01-10 09:00:00", "Maria K", email, "", org]  # fmt: skip


def test_a_blank_status_with_a_won_time_is_won_counted_and_said(tmp_path: Path) -> None:
    """review20 #4: deal 2 (blank Status, won 2025-03-01) was open: no conversion, no count."""
    deals = export(
        tmp_path / "deals.csv",
        HEADER,
        [_deal("1", "won", "2025-02-01 10:00:00", "", "a@acme.com", "Acme"),
         _deal("2", "", "2025-03-01 10:00:00", "", "b@beta.com", "Beta"),
         _deal("3", "", "", "2025-03-05 10:00:00", "c@gamma.com", "Gamma"),
         _deal("4", "", "", "", "d@delta.com", "Delta")],
    )  # fmt: skip
    result = import_pipedrive(deals)
    closed = result.stages.filter(pl.col("stage") != "opportunity").sort("opportunity_id")
    assert closed.select("opportunity_id", "stage").rows() == [
        ("1", "closed_won"), ("2", "closed_won"), ("3", "closed_lost"),
    ]  # fmt: skip
    assert result.report["conversions_closed_won"] == 2
    assert result.report["counts"]["deals_status_from_times"] == 2
    (note,) = [n for n in result.report["notes"] if "blank 'Deal - Status'" in n]
    assert "2 deal(s)" in note
    assert "won (1) or lost (1)" in note
    assert "file line(s) 3, 4" in note
    # deal 4: blank status, no time: open, as before (one opportunity event)
    assert result.stages.filter(pl.col("opportunity_id") == "4").height == 1
