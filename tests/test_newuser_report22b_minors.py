"""New-user report 22b's minors fixed: the small engine refuses with a library error (M4),
and a conversion stage the data names otherwise is hinted in Python too (M5)."""

from __future__ import annotations

import polars as pl
import pytest

import attribution


def test_the_small_engine_refuses_with_a_library_error() -> None:
    scorer = attribution.JourneyScorer(models=["linear"]).fit()
    odd = [{"conversion": {"id": "k", "timestamp": "2025-02-01"},
            "touches": [{"timestamp": "2025-01-01T00:00:00-0800", "channel": "email"}]}]
    with pytest.raises(attribution.AttributionError, match="small engine does not take this "
                       "request .*a timestamp form"):
        scorer.score(odd, engine="small")
    assert scorer.score(odd).touch_credit.get_column("credit").to_list() == [1.0]


def test_a_stage_named_otherwise_is_hinted_in_python_too() -> None:
    touches = pl.DataFrame({"contact_id": ["c1"], "channel": ["x"],
                            "timestamp": ["2025-01-01"]})
    stages = pl.DataFrame({"contact_id": ["c1"], "stage": [" Closed Won "],
                           "timestamp": ["2025-01-10"]})
    with pytest.raises(attribution.AttributionError) as err:
        attribution.attribute(touches, stages, models=["linear"])
    assert 'In Python: RunOptions(stage_names={"closed_won": [" Closed Won "]})' in str(err.value)
