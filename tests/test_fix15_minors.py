"""New-user report 13 minors: #3 epoch timestamps named, #11 a date with no month, #4 'LI
ad', #7 the CLI says the top channel changes with the model, #8 the payback answer names
its default assumptions, #14 a duration parameter shown as written."""

from __future__ import annotations

import polars as pl

from attribution.cli._output import top_channel_line
from attribution.inputs._timestamp_hints import timestamp_hint
from attribution.report._answer_words import defaults_said
from attribution.report._format import params_text
from attribution.surveys._coding import normalise_answer
from attribution.surveys._rules import load_survey_rules, rule_channel, rule_number_expr


def test_epoch_times_are_named_with_their_unit_and_a_conversion() -> None:
    assert "epoch time in microseconds (16 digits, 2025-06-20T17:46:41Z" in timestamp_hint(
        "1750441601532619"
    )
    assert "time_unit='ms'" in timestamp_hint("1750441601532")
    assert "epoch time in seconds" in timestamp_hint("1750441601")
    assert "epoch" not in timestamp_hint("20250620")  # 8 digits: a date, not an epoch time


def test_a_date_with_no_month_is_not_called_day_first() -> None:
    hint = timestamp_hint("13/25/2025 10:00")
    assert "names no month" in hint
    assert "day-first" not in hint


def test_li_ad_is_linkedin() -> None:
    rules = load_survey_rules()
    answers = pl.DataFrame({"a": ["LI ad", "LI", "li sponsored", "lisa"]})
    coded = answers.select(rule_channel(rules, rule_number_expr(rules, normalise_answer(
        pl.col("a")))))  # fmt: skip
    assert coded.to_series().to_list() == ["linkedin", "linkedin", "linkedin", None]


def test_the_cli_says_when_the_top_channel_changes_with_the_model() -> None:
    cc = pl.DataFrame(
        {
            "model": ["first_touch", "first_touch", "last_touch", "last_touch", "linear", "linear"],
            "channel": ["linkedin", "ads", "linkedin", "ads", "linkedin", "ads"],
            "share": [0.6, 0.4, 0.3, 0.7, 0.45, 0.55],
        }
    )
    assert top_channel_line(cc) == (
        "The top channel depends on the model: ads (last_touch, linear), linkedin (first_touch)."
    )
    assert top_channel_line(cc.filter(pl.col("model") != "first_touch")) == (
        "Top channel under every model: ads."
    )
    # a tie at a model's top is not a leader (review: table order decided it)
    tied = cc.with_columns(pl.when(pl.col("model") == "linear").then(0.5)
                           .otherwise(pl.col("share")).alias("share"))
    assert top_channel_line(tied.filter(pl.col("model") != "first_touch")) == (
        "The top channel depends on the model: ads (last_touch), ads = linkedin (linear)."
    )
    assert top_channel_line(tied.filter(pl.col("model") == "linear")) == (
        "Top channels tied under every model: ads = linkedin."
    )


def test_payback_names_its_default_assumptions_and_durations_read_as_written() -> None:
    params = {
        "annual_churn": {"value": 0.15, "source": "default assumption"},
        "gross_margin": {"value": 0.8, "source": "config"},
    }
    assert defaults_said(params) == ", on the default 15% annual churn (give yours in [economics])"
    assert params_text({"half_life": "604800.0s"}) == '{"half_life": "7d"}'


def test_the_dark_funnel_counts_answers_on_conversions_without_a_journey() -> None:
    """#5: an answer naming a tracked channel on a conversion with no touch at all is an
    identity gap (an anonymous visitor), counted apart from the untracked channels."""
    from attribution.surveys._dark_funnel import dark_funnel_table

    joined = pl.DataFrame(
        {"conversion_id": ["c1", "c2", "c3"], "compare_channel": ["search", "search", "podcast"]}
    )
    credit = pl.DataFrame({"conversion_id": ["c1"], "channel": ["search"]})
    dark = dark_funnel_table(joined, credit, {}, {"search"})
    rows = {r["channel"]: r for r in dark.iter_rows(named=True)}
    assert (rows["search"]["without_touch"], rows["search"]["without_journey"]) == (1, 1)
    assert (rows["podcast"]["without_touch"], rows["podcast"]["without_journey"]) == (1, 1)
    assert rows["(all)"]["without_journey"] == 2


def test_conversions_without_touches_name_the_anonymous_visits() -> None:
    """#10: the warning names the touches dropped for no contact id beside the key check."""
    import attribution

    touches = pl.DataFrame(
        {
            "contact_id": ["a", None, None, "b"],
            "channel": ["ads", "ads", "ads", "ads"],
            "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"],
        }
    )
    stages = pl.DataFrame(
        {
            "contact_id": ["a", "x", "y", "z"],
            "stage": ["closed_won"] * 4,
            "timestamp": ["2025-01-20"] * 4,
            "value": [100.0] * 4,
        }
    )
    spend = pl.DataFrame({"channel": ["ads"], "month": ["2025-01-01"], "amount": [1000.0]})
    result = attribution.attribute(touches, stages, models=["linear"])
    econ = attribution.unit_economics(result, spend, annual_churn=0.2)
    assert econ.parameters["unattributed"]["anonymous_touches"] == 2
    assert "Anonymous visits? 2 touches have no contact id" in econ.summary()


def test_an_ad_report_title_above_the_header_is_named(tmp_path) -> None:
    """#2: Google Ads' 'Campaign report' and its date range above the header: read past
    (tests/test_report_titles.py); where the header holds a value (a year), it is not read
    past, and the hint names the line the header seems to be on."""
    import pytest

    from attribution.exceptions import InputError
    from attribution.inputs._schema import SPEND, load

    path = tmp_path / "gads.csv"
    path.write_text(
        'Campaign report\n"January 1, 2025 - December 31, 2025"\n'
        "Day,Campaign,Cost\n2025-01-01,brand,68.90\n"
    )
    with pytest.raises(InputError, match=r"available: 'Campaign', 'Cost', 'Day'"):
        load(path, SPEND)  # read from its header: the spend's channel is still missing
    path.write_text(
        'Campaign report\n"January 1, 2025 - December 31, 2025"\n'
        "Day,Campaign,2025\n2025-01-01,brand,68.90\n"
    )
    with pytest.raises(InputError, match=r"the header seems to be line 3 \('Day,Campaign"):
        load(path, SPEND)
