"""A CAC target below the published ranges is not flagged optimistic when the data already
measures one of the plan's channels at or below it (new-user report 22, M14: "$150 is 9.3x
below $1,389, the lowest CAC the published ranges imply" beside a measured google_ads CAC of
$105 and a verdict that the reallocation meets the target)."""

from __future__ import annotations

import polars as pl

from attribution.b2b._plan_flags import FLAG_SCHEMA
from attribution.b2b._plan_measured import with_measured_cac

FLAGS = pl.DataFrame([{
    "assumption": "cac", "channel": None, "plan_value": 150.0, "data_value": None,
    "ratio": 0.108, "flagged": True, "direction": "optimistic",
    "note": "The CAC target $150 is 9.3x below $1,389", "against": "benchmark",
    "range_low": 1389.0, "range_high": 62500.0}], schema=FLAG_SCHEMA)


def _table(google: float) -> pl.DataFrame:
    return pl.DataFrame({"model": ["linear", "linear", "first_touch"],
                         "segment": ["all"] * 3, "channel": ["google_ads", "linkedin",
                                                             "google_ads"],
                         "cac": [google, 278.0, 50.0]})


def test_a_target_the_data_beats_is_not_flagged() -> None:
    out = with_measured_cac(FLAGS, _table(105.0), "linear", {"google_ads": 1.0, "linkedin": 1.0})
    row = out.row(0, named=True)
    assert (row["flagged"], row["direction"], row["data_value"]) == (False, None, 105.0)
    assert row["note"].endswith("; the data measures google_ads at $105 under linear, at or "
                                "below it: the published range does not bind here, so not "
                                "flagged")


def test_a_target_below_every_measured_cac_stays_flagged() -> None:
    out = with_measured_cac(FLAGS, _table(180.0), "linear", {"google_ads": 1.0, "linkedin": 1.0})
    assert out.row(0, named=True)["flagged"] is True
    # a channel the plan does not buy does not count
    out = with_measured_cac(FLAGS, _table(105.0), "linear", {"google_ads": 0.0, "linkedin": 1.0})
    assert out.row(0, named=True)["flagged"] is True
