"""Markov's and Shapley's touch credit is split by global channel weights (new-user report
5, defect 1): the per-touch split as README's Model definitions gives it, and campaign
economics rescaled to the channel credit, never dividing spend by the touch-level sums."""

from __future__ import annotations

import polars as pl
import pytest

import attribution

TOUCHES = pl.DataFrame({
    "contact_id": ["a", "a", "b", "c"],
    "channel": ["linkedin", "email", "email", "linkedin"],
    "campaign": ["li_spring", "nurture", "nurture", "li_spring"],
    "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"],
})
STAGES = pl.DataFrame({
    "contact_id": ["a", "b"],
    "stage": ["closed_won", "closed_won"],
    "timestamp": ["2025-02-01", "2025-02-01"],
    "value": [100.0, 300.0],
})


def _by_channel(frame: pl.DataFrame, model: str, column: str = "credit") -> dict[str, float]:
    rows = frame.filter(pl.col("model") == model).group_by("channel").agg(pl.col(column).sum())
    return {channel: round(value, 9) for channel, value in rows.iter_rows()}


def test_the_shapley_touch_split_of_the_readme_example() -> None:
    result = attribution.attribute(TOUCHES, STAGES, models=["shapley", "linear"])
    assert _by_channel(result.channel_credit, "shapley", "conversions") == {
        "linkedin": 0.5, "email": 1.5}
    touch = result.touch_credit.filter(pl.col("model") == "shapley")
    split = {(c, ch): round(v, 9) for c, ch, v in touch.select(
        "conversion_id", "channel", "credit").iter_rows()}
    assert split == {("a#1", "linkedin"): 0.25, ("a#1", "email"): 0.75, ("b#1", "email"): 1.0}
    assert _by_channel(result.touch_credit, "shapley") == {"linkedin": 0.25, "email": 1.75}
    # rule-based: the touch sums are the channel credit
    assert _by_channel(result.touch_credit, "linear") == _by_channel(
        result.channel_credit, "linear", "conversions")


def test_campaign_economics_divide_spend_by_the_channel_credit() -> None:
    result = attribution.attribute(TOUCHES, STAGES, models=["shapley", "markov", "linear"])
    spend = pl.DataFrame({"channel": ["linkedin", "email"], "campaign": ["li_spring", "nurture"],
                          "month": ["2025-01-01", "2025-01-01"], "amount": [1000.0, 3000.0]})
    economics = attribution.campaign_economics(result, spend)
    assert economics.parameters["reconciled_to_channel_credit"] == ["shapley", "markov"]
    table = economics.table
    for model in ("shapley", "markov", "linear"):
        assert _by_channel(table, model, "conversions") == pytest.approx(
            _by_channel(result.channel_credit, model, "conversions"))
        assert _by_channel(table, model, "value") == pytest.approx(
            _by_channel(result.channel_credit, model, "value"))
    linkedin = table.filter(model="shapley", channel="linkedin").row(0, named=True)
    assert linkedin["conversions"] == pytest.approx(0.5)  # not the touch sum, 0.25
    assert linkedin["cac"] == pytest.approx(2000.0)  # 1000 / 0.5, the channel CAC
    # the run's own campaign credit stays the touch split (influence shares come from it)
    assert _by_channel(result.campaign_credit, "shapley", "conversions") == {
        "linkedin": 0.25, "email": 1.75}


def test_a_channel_whose_campaigns_have_no_value_gets_its_value_by_their_credit() -> None:
    # 'a' only touches the deal without a value, yet Markov's value removal effect (a leads
    # to b, whose other deal has one) and Shapley give it value: split by credit, not 0/0
    touches = pl.DataFrame({
        "contact_id": ["c1", "c1", "c2"],
        "channel": ["a", "b", "b"],
        "campaign": ["x", "y", "z"],
        "timestamp": ["2025-03-01", "2025-03-02", "2025-03-01"],
    })
    stages = pl.DataFrame({
        "contact_id": ["c1", "c2"],
        "stage": ["closed_won", "closed_won"],
        "timestamp": ["2025-03-05", "2025-03-05"],
        "value": [0.0, 100.0],
    })
    result = attribution.attribute(touches, stages, models=["markov", "shapley"])
    spend = pl.DataFrame({"channel": ["a", "b"], "campaign": ["x", "y"],
                          "month": ["2025-03-01", "2025-03-01"], "amount": [100.0, 100.0]})
    table = attribution.campaign_economics(result, spend).table
    assert table.select(pl.col("conversions", "value").is_nan().any()).row(0) == (False, False)
    for model in ("markov", "shapley"):
        expected = _by_channel(result.channel_credit, model, "value")
        assert expected["a"] > 0  # the case: value credited to a channel of valueless deals
        assert _by_channel(table, model, "value") == pytest.approx(expected)
        assert _by_channel(table, model, "conversions") == pytest.approx(
            _by_channel(result.channel_credit, model, "conversions"))
        assert table.filter(model=model, campaign="x").item(0, "roi") is not None
