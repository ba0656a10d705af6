"""New-user report 13, S3 and minor #6: the tool's own reallocation carries the
extrapolation caveat the plan's split gets; a lever names its dissenting models."""

from __future__ import annotations

import polars as pl

from attribution.b2b._plan_extrapolation import (
    MULTIPLE,
    levers_with_multiples,
    with_spend_multiples,
)
from attribution.b2b._plan_levers import lever_lines, lever_sentence, lever_table


def test_a_grow_lever_beyond_the_measured_spend_says_so_and_names_its_dissenter() -> None:
    actions = pl.DataFrame(
        {
            "model": ["linear", "linear", "markov", "markov", "first_touch", "first_touch"],
            "channel": ["ads", "social"] * 3,
            "action": ["grow", "drop", "grow", "cut", "cut", "grow"],
        }
    )
    levers = lever_table(actions, "linear")
    frame = pl.DataFrame(
        {
            "channel": ["ads", "social"],
            "measured_spend": [100_000.0, 180_000.0],
            "reallocated_budget": [441_000.0, 0.0],
        }
    )
    frame = with_spend_multiples(frame, scale=1.0)
    assert frame.get_column(MULTIPLE).to_list() == [4.41, 0.0]
    levers = levers_with_multiples(levers, frame, factor=2.0)
    ads = levers.row(0, named=True)
    assert ads["votes"] == "linear: grow, markov: grow, first_touch: cut"
    assert ads["dissenting"] == "first_touch: cut"
    assert ads["extrapolated"] is True
    assert levers.row(1, named=True)["extrapolated"] is False
    lines = lever_lines(levers.with_columns(pl.lit("recommended").alias("status")))
    assert lines[0] == (
        "grow ads: 2 of 3 models (first_touch: cut); 4.4x the spend its CAC was measured "
        "at: an extrapolation, read as a ceiling, not a forecast"
    )
    assert lines[1] == "cut social: 2 of 3 models (first_touch: grow)"
    sentence = lever_sentence(levers.with_columns(pl.lit("recommended").alias("status")))
    assert "grow ads (2 of 3; 4.4x the spend its CAC was measured at" in sentence
