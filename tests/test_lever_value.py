"""A cut lever says when it cuts the channel of more value per dollar (new-user report 22,
M18: "Cut linkedin: 14 of 14 models agree" where linkedin returned LTV/CAC 10.6 and the
google_ads it grew 5.0: the reallocation buys the cheapest customers first and the plan's
target is a count, and nothing said so)."""

from __future__ import annotations

import polars as pl

from attribution.b2b._plan_extrapolation import lever_caveat
from attribution.b2b._plan_levers import lever_lines, levers_with_value

LEVERS = pl.DataFrame({
    "channel": ["linkedin", "google_ads", "email"], "action": ["cut", "grow", "cut"],
    "models_agreeing": [14, 14, 9], "models": [14, 14, 14], "agreement": [1.0, 1.0, 0.64],
    "status": ["recommended", "recommended", "contested"],
    "decision_action": ["cut", "grow", "cut"], "actions": ["cut 14", "grow 14", "cut 9"],
    "draw_agreement": [None, None, None], "dissenting": [None, None, None],
    "votes": ["", "", ""], "spend_multiple": [None, 1.2, None], "extrapolated": [False] * 3,
})


def _table(linkedin: float) -> pl.DataFrame:
    return pl.DataFrame({"model": ["linear"] * 4 + ["first_touch"],
                         "segment": ["all", "all", "all", "smb", "all"],
                         "channel": ["linkedin", "google_ads", "email", "linkedin", "linkedin"],
                         "ltv_to_cac": [linkedin, 5.0, 20.0, 99.0, 0.1]})


def test_a_cut_of_the_channel_worth_more_says_so() -> None:
    levers = levers_with_value(LEVERS, _table(10.6), "linear")
    rows = {r["channel"]: r for r in levers.iter_rows(named=True)}
    said = ("the plan counts customers, not their value: linkedin returns LTV/CAC 10.6, "
            "google_ads (grown) 5.0; weigh the value before cutting it")
    assert rows["linkedin"]["value_caveat"] == said
    assert lever_caveat(rows["linkedin"]) == said  # the report's lever answer reads it
    assert rows["google_ads"]["value_caveat"] is None
    assert rows["email"]["value_caveat"] is not None  # contested, but worth more: said too
    assert lever_lines(levers)[0] == f"cut linkedin: 14 of 14 models; {said}"


def test_no_caveat_when_the_cut_channel_is_worth_less() -> None:
    levers = levers_with_value(LEVERS, _table(3.0), "linear")
    rows = {r["channel"]: r for r in levers.iter_rows(named=True)}
    assert rows["linkedin"]["value_caveat"] is None
    assert lever_lines(levers)[0] == "cut linkedin: 14 of 14 models"
