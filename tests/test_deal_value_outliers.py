"""A credited deal worth over 100x the median deal is named before the figures it moves
(new-user report 22, M16: her 46,500 typed 4650000000 gave LTV/CAC 37,920 and payback 0.0
months, exit 0, no word)."""

from __future__ import annotations

import polars as pl

from attribution.b2b._economics_joins import join_items
from attribution.b2b._economics_outliers import deal_value_outliers


def _conversions(*values: float) -> pl.DataFrame:
    return pl.DataFrame({"conversion_id": [f"a{k}#1" for k in range(len(values))],
                         "value": [float(v) for v in values], "n_touches": [3] * len(values)})


def test_a_typo_deal_is_named() -> None:
    found = deal_value_outliers(_conversions(46_500, 40_000, 52_000, 4_650_000_000, 0.0))
    assert found is not None
    assert (found["deals"], found["median"]) == (1, 49_250.0)
    assert found["listed"] == [{"conversion_id": "a3#1", "value": 4_650_000_000.0}]
    ((metric, text),) = join_items({"deal_value_outliers": found})
    assert metric == "deal_value_outliers"  # an alert too
    assert text.startswith("WARNING: 1 credited deal(s) worth over 100x the median deal "
                           "($49,250): a3#1 $4,650,000,000, 100% of the credited revenue.")


def test_ordinary_spreads_are_not_named() -> None:
    assert deal_value_outliers(_conversions(1_000, 50_000, 90_000, 99_000)) is None
    # a deal without touches is not a credited customer
    uncredited = _conversions(46_500, 40_000, 52_000, 4_650_000_000).with_columns(
        pl.Series("n_touches", [3, 3, 3, 0]))
    assert deal_value_outliers(uncredited) is None
