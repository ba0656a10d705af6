"""Rule-based models (attribution.models._rules): the worked examples of models.md, computed
by hand, and the role-weight edge cases, all run through :func:`attribution.attribute`."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution.models._rules import BUILTIN, RoleWeights, role_multiplier_expr, with_credit

TOUCH_IDS = ["t1", "t2", "t3", "t4", "t5"]
THIRD = 1 / 3


def _decay(days: list[float], conversion_day: float, half_life: float) -> list[float]:
    raw = [2 ** (-(conversion_day - d) / half_life) for d in days]
    return [w / sum(raw) for w in raw]


# --------------------------------------------------------------------------- worked example
WORKED_EXPECTED = {
    "linear": [0.2, 0.2, 0.2, 0.2, 0.2],
    "position_based": [0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4],
    "u_shaped": [0.4, 0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3],
    "w_shaped": [0.3, 0.3, 0.05, 0.3, 0.05],
    "full_path": [0.225, 0.225, 0.1, 0.225, 0.225],
    "time_decay": _decay([0, 10, 20, 30, 40], 40, 7),
    "j_shaped": [0.2, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.6],
    "inverse_j": [0.6, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.2],
    "first_touch": [1.0, 0.0, 0.0, 0.0, 0.0],
    "last_touch": [0.0, 0.0, 0.0, 0.0, 1.0],
    "last_non_direct": [0.0, 0.0, 0.0, 0.0, 1.0],
    "custom": [0.2, 0.2, 0.2, 0.2, 0.2],  # default: others only = linear
}


@pytest.mark.parametrize("model", sorted(WORKED_EXPECTED))
def test_worked_example(model, worked, credits) -> None:
    got = credits(*worked, model)
    assert list(got) == TOUCH_IDS  # in journey order
    assert list(got.values()) == pytest.approx(WORKED_EXPECTED[model], abs=1e-12)


def test_worked_example_time_decay_matches_the_published_figures(worked, credits) -> None:
    got = credits(*worked, "time_decay")
    published = [0.0121, 0.0325, 0.0874, 0.2352, 0.6330]
    assert list(got.values()) == pytest.approx(published, abs=1e-4)


def test_worked_example_every_builtin_is_covered() -> None:
    rule_models = {n for n, s in attribution.available_models().items() if s.family == "rule"}
    assert set(BUILTIN) | {"custom"} == rule_models
    assert rule_models <= set(WORKED_EXPECTED)


def test_worked_example_channel_credit(worked) -> None:
    result = attribution.attribute(*worked, models=["w_shaped"])
    expected = pl.DataFrame(
        {
            "model": ["w_shaped"] * 5,
            "channel": ["google_ads", "linkedin", "webinar", "email", "events"],
            "conversions": [0.3, 0.3, 0.3, 0.05, 0.05],
            "value": [300.0, 300.0, 300.0, 50.0, 50.0],
            "share": [0.3, 0.3, 0.3, 0.05, 0.05],
        }
    )
    assert_frame_equal(result.channel_credit, expected, abs_tol=1e-12)


def test_worked_example_touch_credit_value_is_credit_times_deal(worked) -> None:
    result = attribution.attribute(*worked, models=["full_path"])
    assert result.touch_credit.get_column("value").to_list() == pytest.approx(
        [225.0, 225.0, 100.0, 225.0, 225.0], abs=1e-9
    )


# --------------------------------------------------------------------------- two touches
TWO_TOUCH_EXPECTED = {
    "w_shaped": [0.6 / 0.9, 0.3 / 0.9],
    "u_shaped": [0.8, 0.2],  # t1 first + lead, t2 others
    "full_path": [0.5, 0.5],  # t1 first + lead, t2 opportunity + closed won
    "position_based": [0.5, 0.5],
    "linear": [0.5, 0.5],
    "j_shaped": [0.25, 0.75],
    "inverse_j": [0.75, 0.25],
    "first_touch": [1.0, 0.0],
    "last_touch": [0.0, 1.0],
}


@pytest.fixture
def two_touches(make_touches, make_stages):
    """Lead created before t2 (FT = LC = t1), opportunity after t2 (OC = t2)."""
    touches = make_touches([("t1", "c1", "linkedin", 0), ("t2", "c1", "email", 10)])
    stages = make_stages(
        [
            ("c1", "lead", 5, None),
            ("c1", "opportunity", 11, None),
            ("c1", "closed_won", 12, 500.0),
        ]
    )
    return touches, stages


@pytest.mark.parametrize("model", sorted(TWO_TOUCH_EXPECTED))
def test_two_touches(model, two_touches, credits) -> None:
    got = credits(*two_touches, model)
    assert list(got) == ["t1", "t2"]
    assert list(got.values()) == pytest.approx(TWO_TOUCH_EXPECTED[model], abs=1e-12)


def test_two_touches_w_shaped_published_figures(two_touches, credits) -> None:
    got = credits(*two_touches, "w_shaped")
    assert got["t1"] == pytest.approx(0.6667, abs=1e-4)
    assert got["t2"] == pytest.approx(0.3333, abs=1e-4)


# --------------------------------------------------------------------------- edge cases
@pytest.mark.parametrize("model", list(attribution.available_models()))
def test_one_touch_gets_all_the_credit(model, make_touches, make_stages, credits) -> None:
    touches = make_touches([("t1", "c1", "direct", 3)])
    stages = make_stages([("c1", "lead", 1, None), ("c1", "closed_won", 5, 100.0)])
    assert credits(touches, stages, model) == {"t1": pytest.approx(1.0, abs=1e-12)}


def test_coinciding_milestones(make_touches, make_stages, credits) -> None:
    # lead (day 12) and opportunity (day 15) both fall after t2 and before t3: LC = OC = t2
    touches = make_touches(
        [("t1", "c1", "a", 0), ("t2", "c1", "b", 10), ("t3", "c1", "c", 20), ("t4", "c1", "d", 30)]
    )
    stages = make_stages(
        [("c1", "lead", 12, None), ("c1", "opportunity", 15, None), ("c1", "closed_won", 30, 1.0)]
    )
    w = credits(touches, stages, "w_shaped")
    assert list(w.values()) == pytest.approx([0.3, 0.6, 0.05, 0.05], abs=1e-12)
    z = credits(touches, stages, "full_path")  # t4 is the closed-won touch
    assert list(z.values()) == pytest.approx([0.225, 0.45, 0.1, 0.225], abs=1e-12)


def test_missing_lead_milestone_renormalises(worked, credits) -> None:
    touches, stages = worked
    no_lead = stages.filter(pl.col("stage") != "lead")
    w = credits(touches, no_lead, "w_shaped")
    # first 0.3 (t1), opportunity 0.3 (t4), others 0.1 over t2, t3, t5; total 0.7
    assert list(w.values()) == pytest.approx(
        [0.3 / 0.7, 0.1 / 3 / 0.7, 0.1 / 3 / 0.7, 0.3 / 0.7, 0.1 / 3 / 0.7], abs=1e-12
    )
    u = credits(touches, no_lead, "u_shaped")
    # first 0.4, others 0.2 over four touches; total 0.6
    assert list(u.values()) == pytest.approx([0.4 / 0.6] + [0.05 / 0.6] * 4, abs=1e-12)


def test_milestone_before_the_window_is_dropped(worked, credits) -> None:
    # lead created long before the 90-day window: no touch holds the lead role
    touches, stages = worked
    early = stages.with_columns(
        pl.when(pl.col("stage") == "lead")
        .then(pl.col("timestamp") - timedelta(days=200))
        .otherwise(pl.col("timestamp"))
        .alias("timestamp")
    )
    u = credits(touches, early, "u_shaped")
    assert list(u.values()) == pytest.approx([0.4 / 0.6] + [0.05 / 0.6] * 4, abs=1e-12)


def test_milestone_after_the_conversion_is_not_reached(make_touches, make_stages, credits) -> None:
    # converting on `opportunity` (day 21): the deal closes on day 60, after the conversion, so
    # no touch of this journey is the closed-won touch
    touches = make_touches([("t1", "c1", "a", 0), ("t2", "c1", "b", 10), ("t3", "c1", "c", 20)])
    stages = make_stages(
        [("c1", "lead", 5, None), ("c1", "opportunity", 21, None), ("c1", "closed_won", 60, 9.0)]
    )
    got = credits(touches, stages, "full_path", conversion_stage="opportunity")
    # t1 first + lead 0.45, t2 others 0.1, t3 opportunity 0.225; total 0.775
    assert list(got.values()) == pytest.approx([0.45 / 0.775, 0.1 / 0.775, 0.225 / 0.775])


def test_last_non_direct_all_direct_gives_the_last_touch(
    make_touches, make_stages, credits
) -> None:
    touches = make_touches(
        [("t1", "c1", "direct", 0), ("t2", "c1", "direct", 1), ("t3", "c1", "direct", 2)]
    )
    stages = make_stages([("c1", "closed_won", 3, 1.0)])
    assert credits(touches, stages, "last_non_direct") == {"t1": 0.0, "t2": 0.0, "t3": 1.0}


def test_last_non_direct_mixed(make_touches, make_stages, credits) -> None:
    touches = make_touches(
        [
            ("t1", "c1", "linkedin", 0),
            ("t2", "c1", "direct", 1),
            ("t3", "c1", "email", 2),
            ("t4", "c1", "direct", 3),
        ]
    )
    stages = make_stages([("c1", "closed_won", 4, 1.0)])
    assert credits(touches, stages, "last_non_direct") == {
        "t1": 0.0,
        "t2": 0.0,
        "t3": 1.0,
        "t4": 0.0,
    }
    custom_direct = ("last_non_direct", {"direct_channels": ["direct", "email"]})
    assert credits(touches, stages, custom_direct) == {"t1": 1.0, "t2": 0.0, "t3": 0.0, "t4": 0.0}
    none_direct = ("last_non_direct", {"direct_channels": []})
    assert credits(touches, stages, none_direct) == {"t1": 0.0, "t2": 0.0, "t3": 0.0, "t4": 1.0}


def test_position_based_custom_first_last(make_touches, make_stages, credits) -> None:
    touches = make_touches(
        [("t1", "c1", "a", 0), ("t2", "c1", "b", 1), ("t3", "c1", "c", 2), ("t4", "c1", "d", 3)]
    )
    stages = make_stages([("c1", "closed_won", 4, 1.0)])
    got = credits(touches, stages, ("position_based", {"first": 0.5, "last": 0.3}))
    assert list(got.values()) == pytest.approx([0.5, 0.1, 0.1, 0.3], abs=1e-12)
    # first + last = 1: nothing left for the middle
    got = credits(touches, stages, ("position_based", {"first": 0.7, "last": 0.3}))
    assert list(got.values()) == pytest.approx([0.7, 0.0, 0.0, 0.3], abs=1e-12)


def test_custom_channel_multipliers_and_half_life(make_touches, make_stages, credits) -> None:
    touches = make_touches([("t1", "c1", "a", 0), ("t2", "c1", "b", 7)])
    stages = make_stages([("c1", "closed_won", 7, 1.0)])
    # t1 is one half-life old (x 0.5) and on a channel weighted x 2: equal to t2
    model = ("custom", {"half_life": "7d", "channel_multipliers": {"a": 2.0}})
    assert list(credits(touches, stages, model).values()) == pytest.approx([0.5, 0.5], abs=1e-12)
    # role weights times multipliers, no decay
    model = ("custom", {"first": 1, "last": 1, "others": 0, "channel_multipliers": {"b": 3}})
    assert list(credits(touches, stages, model).values()) == pytest.approx([0.25, 0.75])
    # a multiplier of 0 on every channel: the journey still sums to 1, on its last touch
    model = ("custom", {"channel_multipliers": {"a": 0, "b": 0}})
    assert list(credits(touches, stages, model).values()) == [0.0, 1.0]


def test_custom_half_life_model_string(make_touches, make_stages, credits) -> None:
    touches = make_touches([("t1", "c1", "a", 0), ("t2", "c1", "b", 1)])
    stages = make_stages([("c1", "closed_won", 1, 1.0)])
    got = credits(touches, stages, "time_decay:half_life=1d")
    assert list(got.values()) == pytest.approx([1 / 3, 2 / 3], abs=1e-12)


def test_time_decay_long_window_short_half_life_does_not_underflow(
    make_touches, make_stages, credits
) -> None:
    # both touches are ~128,000 half-lives before T, one half-life apart: 1/3 and 2/3
    touches = make_touches([("t1", "c1", "a", 0), ("t2", "c1", "b", 1 / 1440)])
    stages = make_stages([("c1", "closed_won", 89, 1.0)])
    got = credits(touches, stages, ("time_decay", {"half_life": "1m"}))
    assert list(got.values()) == pytest.approx([1 / 3, 2 / 3], abs=1e-9)


def test_repeated_channel_touches_each_count(make_touches, make_stages) -> None:
    touches = make_touches([("t1", "c1", "a", 0), ("t2", "c1", "a", 1), ("t3", "c1", "b", 2)])
    stages = make_stages([("c1", "closed_won", 3, 30.0)])
    result = attribution.attribute(touches, stages, models=["linear"])
    got = dict(result.channel_credit.select("channel", "conversions").iter_rows())
    assert got == pytest.approx({"a": 2 / 3, "b": 1 / 3}, abs=1e-12)


# --------------------------------------------------------------------------- with_credit
def _journey(flags: dict[str, list[bool]], channels: list[str]) -> pl.DataFrame:
    n = len(channels)
    base = {
        "conversion_id": ["x"] * n,
        "position": list(range(n)),
        "n_touches": [n] * n,
        "channel": channels,
        "is_first": [i == 0 for i in range(n)],
        "is_last": [i == n - 1 for i in range(n)],
        "is_lead": [False] * n,
        "is_opportunity": [False] * n,
        "is_closed_won": [False] * n,
    }
    return pl.DataFrame({**base, **flags})


def test_with_credit_a_touch_holding_two_roles_gets_both() -> None:
    frame = _journey({"is_lead": [True, False, False]}, ["a", "b", "c"])
    out = with_credit(frame, {"credit": RoleWeights(first=0.3, lead=0.3, others=0.4)})
    assert out.get_column("credit").to_list() == pytest.approx([0.6, 0.2, 0.2], abs=1e-12)


def test_with_credit_all_roles_missing_goes_to_last_touch() -> None:
    frame = _journey({}, ["a", "b", "c"])
    out = with_credit(frame, {"credit": RoleWeights(lead=1.0)})
    assert out.get_column("credit").to_list() == [0.0, 0.0, 1.0]


def test_with_credit_groups_are_independent() -> None:
    one = _journey({}, ["a", "b"])
    two = _journey({}, ["a", "b", "c", "d"]).with_columns(pl.lit("y").alias("conversion_id"))
    both = pl.concat([one, two])
    out = with_credit(both, {"credit": BUILTIN["linear"]})
    sums = dict(out.group_by("conversion_id").agg(pl.col("credit").sum()).iter_rows())
    assert sums == pytest.approx({"x": 1.0, "y": 1.0}, abs=1e-12)
    assert out.get_column("credit").to_list() == pytest.approx([0.5, 0.5, 0.25, 0.25, 0.25, 0.25])


def test_with_credit_multiplier_column_renormalises() -> None:
    frame = _journey({}, ["a", "b", "c"]).with_columns(pl.Series("m", [2.0, 1.0, 0.5]))
    linear = with_credit(frame, {"credit": BUILTIN["linear"]}, multiplier="m")
    assert linear.get_column("credit").to_list() == pytest.approx([2 / 3.5, 1 / 3.5, 0.5 / 3.5])
    # position_based: (0.4 * 2, 0.2 * 1, 0.4 * 0.5) renormalised
    pb = with_credit(frame, {"credit": BUILTIN["position_based"]}, multiplier="m")
    assert pb.get_column("credit").to_list() == pytest.approx([0.8 / 1.2, 0.2 / 1.2, 0.2 / 1.2])
    # a model with one weighted touch is unchanged; all-zero multipliers: the last touch
    first = with_credit(frame, {"credit": BUILTIN["first_touch"]}, multiplier="m")
    assert first.get_column("credit").to_list() == [1.0, 0.0, 0.0]
    zero = with_credit(
        frame.with_columns(pl.lit(0.0).alias("m")), {"credit": BUILTIN["linear"]}, multiplier="m"
    )
    assert zero.get_column("credit").to_list() == [0.0, 0.0, 1.0]


def test_role_multiplier_expr_normalises_and_defaults() -> None:
    roles = pl.DataFrame({"role": ["decision_maker", "champion", "intern", None]})
    out = roles.select(role_multiplier_expr({"Decision Maker": 2, "champion": 1.5, "unknown": 0.7}))
    assert out.get_column("role_multiplier").to_list() == [2.0, 1.5, 0.7, 0.7]
    plain = roles.select(role_multiplier_expr({"champion": 3}))
    assert plain.get_column("role_multiplier").to_list() == [1.0, 3.0, 1.0, 1.0]


def test_with_credit_many_models_at_once_equal_one_at_a_time() -> None:
    frame = pl.concat(
        [
            _journey({"is_lead": [False, True, False, False]}, ["direct", "a", "direct", "b"]),
            _journey({}, ["direct", "direct"]).with_columns(pl.lit("y").alias("conversion_id")),
        ]
    ).with_columns(
        (pl.datetime(2025, 1, 1, time_zone="UTC") + pl.duration(days=pl.col("position") * 3)).alias(
            "timestamp"
        )
    )
    together = with_credit(frame, dict(BUILTIN))
    assert together.columns == [*frame.columns, *BUILTIN]  # helper columns dropped
    for name, weights in BUILTIN.items():
        alone = with_credit(frame, {"credit": weights})["credit"]
        assert together[name].to_list() == alone.to_list(), name
