"""New-user report 5: options that changed nothing or something else in silence --
``exclude_touch_types`` values no touch has (#26), ``lookback="3M"`` (#36), a bool option
given as text (#35)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution import InputError
from attribution.inputs._durations import parse_duration
from tests.test_no_silent_empty import _cli, _error_line

TOUCHES = pl.DataFrame(
    {
        "contact_id": ["c1", "c1", "c2"],
        "channel": ["linkedin", "email", "email"],
        "touch_type": ["click", "Sales_Call", "meeting"],
        "timestamp": ["2025-03-01", "2025-03-02", "2025-03-01"],
    }
)
STAGES = pl.DataFrame(
    {
        "contact_id": ["c1", "c2"],
        "stage": ["closed_won", "closed_won"],
        "timestamp": ["2025-03-05", "2025-03-05"],
    }
)


def test_an_excluded_touch_type_no_touch_has_is_an_error_with_a_did_you_mean(
    tmp_path: Path,
) -> None:
    with pytest.raises(InputError, match="'sales_cal' \\(did you mean 'sales_call'") as caught:
        attribution.attribute(TOUCHES, STAGES, models=["linear"],
                              exclude_touch_types=["sales_cal"])
    assert caught.value.option == "exclude_touch_types"
    result = attribution.attribute(TOUCHES, STAGES, models=["linear"],
                                   exclude_touch_types=["sales_call"])
    assert result.manifest["reconciliation"]["touches_dropped"]["excluded_touch_type"] == 1
    TOUCHES.write_csv(tmp_path / "t.csv")
    STAGES.write_csv(tmp_path / "s.csv")
    for more in ([], ["--partitions", "2"]):
        proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                    "--exclude-touch-types", "sales_call,meetings", "-o", "runs", *more)
        assert proc.returncode == 2, proc.stderr
        assert "'meetings' (did you mean 'meeting'?)" in _error_line(proc)


@pytest.mark.parametrize("text", ["3M", "1.5M", " 2M "])
def test_a_capital_m_is_ambiguous(text: str) -> None:
    with pytest.raises(InputError, match="'M' is ambiguous.*for minutes"):
        parse_duration(text)
    with pytest.raises(InputError, match="ambiguous"):
        attribution.RunOptions(lookback=text)


def test_a_capital_m_says_the_days_of_those_months() -> None:
    with pytest.raises(InputError, match="write '90d' for about 3 months, or '3m' for minutes"):
        parse_duration("3M")
    assert parse_duration("3m").total_seconds() == 180


def test_every_bool_option_must_be_a_bool() -> None:
    switches = [f.name for f in dataclasses.fields(attribution.RunOptions)
                if f.init and f.type in ("bool", bool)]
    assert "select_markov_order" in switches
    for name in switches:
        for wrong in ("false", "yes", 1):
            with pytest.raises(InputError, match=f"{name} must be True or False") as caught:
                attribution.RunOptions(**{name: wrong})
            assert caught.value.option == name
        assert getattr(attribution.RunOptions(**{name: True}), name) is True


def test_a_lookback_segment_no_account_has_is_an_error_with_a_did_you_mean() -> None:
    accounts = pl.DataFrame({"account_id": ["a1", "a2"], "segment": ["SMB", "enterprise"]})
    touches = TOUCHES.with_columns(pl.lit("a1").alias("account_id"))
    with pytest.raises(InputError, match="'enterprize', which no account has; did you mean "
                       "'enterprise'") as caught:
        attribution.attribute(touches, STAGES, models=["linear"], accounts=accounts,
                              lookback={"smb": "30d", "enterprize": "180d"})
    assert caught.value.option == "lookback"
    result = attribution.attribute(touches, STAGES, models=["linear"], accounts=accounts,
                                   lookback="Smb=30d,enterprise=180d,default=60d")
    assert result.manifest["reconciliation"]["conversions_attributed"] == 2
