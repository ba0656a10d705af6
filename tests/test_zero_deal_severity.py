"""One won deal at $0 among many is a note, not a high alert (new-user report 22, M8: 1 of 83
credited customers at $0, CAC $5,543 vs $5,611 (1.2%), was a ``[high]`` alert and the
largest red block of the report's CAC answer)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from attribution.b2b._alerts import ALERTS_SCHEMA
from attribution.b2b._alerts_data import with_data_alerts

WEEKLY = pl.DataFrame({"week": [date(2025, 3, 3)]})


def _params(share: float) -> dict[str, Any]:
    n = 100
    zero = round(share * n)
    return {"customers_at_zero_value": {"customers": n, "at_zero": zero, "share": zero / n}}


@pytest.mark.parametrize(("share", "severity"), [(0.01, "low"), (0.1, "medium"),
                                                 (0.25, "high")])
def test_a_zero_value_alert_is_as_severe_as_its_share(share: float, severity: str) -> None:
    alerts = with_data_alerts(pl.DataFrame(schema=ALERTS_SCHEMA), _params(share), WEEKLY)
    row = alerts.filter(pl.col("metric") == "deal_values_missing").row(0, named=True)
    assert row["severity"] == severity
    assert row["message"].startswith(f"NOTE: {round(share * 100)} of 100 credited customers")


def test_other_input_alerts_stay_high() -> None:
    params = {"not_measured": "no credited customer carries a deal value"}
    alerts = with_data_alerts(pl.DataFrame(schema=ALERTS_SCHEMA), params, WEEKLY)
    assert alerts.get_column("severity").to_list() == ["high"]
