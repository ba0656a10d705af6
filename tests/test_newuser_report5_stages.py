"""New-user report 5: stage names the run is given (#28 milestones, #34 the conversion
stage) spelled like the data's stage values and held to them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution import InputError
from tests.test_no_silent_empty import _cli, _error_line

# README worked example: touches days 0, 10, 20, 30, 40; lead day 12, opportunity day 31
TOUCHES = pl.DataFrame(
    {
        "contact_id": ["a"] * 5,
        "channel": ["l", "e", "s", "w", "d"],
        "timestamp": ["2025-01-01", "2025-01-11", "2025-01-21", "2025-01-31", "2025-02-10"],
    }
)
STAGES = pl.DataFrame(
    {
        "contact_id": ["a"] * 3,
        "stage": ["lead", "opportunity", "closed_won"],
        "timestamp": ["2025-01-13", "2025-02-01", "2025-02-10"],
    }
)
W_SHAPED = [0.3, 0.3, 0.05, 0.3, 0.05]


def _w_shaped(**options: object) -> tuple[list[float], list[str]]:
    result = attribution.attribute(TOUCHES, STAGES, models=["w_shaped"], **options)
    credit = result.touch_credit.sort("timestamp").get_column("credit").round(6).to_list()
    return credit, result.manifest["notes"]


def test_a_milestone_stage_is_spelled_like_the_stage_values() -> None:
    assert _w_shaped(milestones={"lead": ["Lead"]})[0] == W_SHAPED
    assert attribution.RunOptions(milestones={"lead": [" LEAD "]}).milestones == {
        "lead": ["lead"]
    }


def test_a_milestone_no_event_has_is_an_error_with_a_did_you_mean() -> None:
    with pytest.raises(InputError, match=r"milestones: lead = \['leed'\].*Did you mean 'lead'"
                       ) as caught:
        _w_shaped(milestones={"lead": ["leed"]})
    assert caught.value.option == "milestones"
    credit, notes = _w_shaped(milestones={"lead": ["lead", "leed"]})
    assert credit == W_SHAPED
    assert any("'leed'" in note for note in notes)


def test_an_unknown_milestone_role_is_refused_as_in_a_config() -> None:
    with pytest.raises(InputError, match="unknown role 'led'; did you mean 'lead'"):
        attribution.RunOptions(milestones={"led": ["lead"]})


def test_a_default_milestone_without_events_is_a_note_when_a_model_weights_it() -> None:
    stages = STAGES.filter(pl.col("stage") != "opportunity")
    weighted = attribution.attribute(TOUCHES, stages, models=["w_shaped"])
    assert any("milestone opportunity" in n for n in weighted.manifest["notes"])
    plain = attribution.attribute(TOUCHES, stages, models=["linear"])
    assert not any("milestone" in n for n in plain.manifest["notes"])


def test_the_conversion_stage_is_compared_case_folded(tmp_path: Path) -> None:
    for spelled in ("Closed_Won", "CLOSED_WON"):
        result = attribution.attribute(
            TOUCHES, STAGES, models=["linear"], conversion_stage=spelled
        )
        assert result.manifest["reconciliation"]["conversions_attributed"] == 1
    TOUCHES.write_csv(tmp_path / "t.csv")
    STAGES.write_csv(tmp_path / "s.csv")
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                "--conversion-stage", "Closed_Won", "-o", "runs")
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "c.toml").write_text('[milestones]\nlead = ["leed"]\n')
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "w_shaped",
                "-c", "c.toml", "-o", "runs")
    assert proc.returncode == 2
    assert "Did you mean 'lead'" in _error_line(proc)
