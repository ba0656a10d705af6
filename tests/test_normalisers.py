"""Every accepted model parameter gives a finite, positive normaliser: a conversion with
touches gets credit summing to 1, finite and non-negative, under any parameters the registry
accepts; parameters that would break that are refused, naming the parameter."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution
from attribution.exceptions import InputError, ModelParameterError
from tests.conftest import stages_frame, touches_frame

CHANNELS = ("linkedin", "email", "direct", "webinar")


def _data() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Six contacts, touches up to 80 days before the conversion (short half-lives
    underflow on them), milestones on some; four convert, two do not."""
    rng = np.random.default_rng(11)
    touches, stages = [], []
    for c in range(6):
        days = sorted(rng.uniform(0, 80, size=int(rng.integers(1, 7))).tolist())
        touches += [
            (f"t{c}-{i}", f"c{c}", CHANNELS[int(rng.integers(0, 4))], d) for i, d in enumerate(days)
        ]
        if c < 4:
            stages.append((f"c{c}", "closed_won", 81.0, 100.0 * (c + 1)))
            if c % 2:
                stages += [(f"c{c}", "lead", days[0] + 0.5, None)]
                stages += [(f"c{c}", "opportunity", days[-1] - 0.1, None)]
    return touches_frame(touches), stages_frame(stages)


TOUCHES, STAGES = _data()

weight = st.one_of(
    st.just(0.0),
    st.sampled_from([1e-6, 1e6]),
    st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False),
)
half_life = st.one_of(
    st.none(), st.sampled_from(["1s", "60s", "1h", "1d", "7d", "36500d"])
)
multipliers = st.dictionaries(st.sampled_from(CHANNELS), weight, max_size=4)
ROLES = ("first", "last", "lead", "opportunity", "closed_won", "last_non_direct", "others")


@st.composite
def custom_models(draw: st.DrawFn) -> tuple[str, dict]:
    params: dict = {role: draw(weight) for role in ROLES}
    if sum(params.values()) <= 0:
        params["others"] = 1.0
    params["half_life"] = draw(half_life)
    params["channel_multipliers"] = draw(multipliers)
    return ("custom", params)


@st.composite
def position_based(draw: st.DrawFn) -> tuple[str, dict]:
    first = draw(st.one_of(st.just(0.0), st.floats(1e-6, 1.0)))
    rest = 1.0 - first
    last = draw(st.one_of(st.just(0.0), st.floats(1e-6, rest))) if rest >= 1e-6 else 0.0
    return ("position_based", {"first": first, "last": last})


models = st.one_of(
    custom_models(),
    position_based(),
    st.builds(lambda h: ("time_decay", {"half_life": h}), half_life.filter(bool)),
    st.builds(
        lambda o, c, u: ("markov", {"order": o, "collapse_repeats": c, "use_nulls": u}),
        st.integers(1, 4),
        st.booleans(),
        st.booleans(),
    ),
    st.builds(
        lambda v, m: ("shapley", {"value": v, "max_channels": m}),
        st.sampled_from(["rate", "count"]),
        st.integers(len(CHANNELS), 64),
    ),
    st.builds(
        lambda t: ("counterfactual", {"transform": t}),
        st.sampled_from(["unique", "exposure", "first", "frequency"]),
    ),
)


def _check_credit(result: attribution.AttributionResult) -> None:
    credit = result.touch_credit
    assert credit["credit"].is_finite().all()
    assert (credit["credit"] >= 0).all()
    sums = credit.group_by("model", "conversion_id").agg(pl.col("credit").sum())
    attributed = result.manifest["reconciliation"]["conversions_attributed"]
    assert sums.height == attributed * sums["model"].n_unique()
    assert np.allclose(sums["credit"].to_numpy(), 1.0, atol=1e-9)
    channel = result.channel_credit.group_by("model").agg(pl.col("conversions").sum())
    assert np.allclose(channel["conversions"].to_numpy(), attributed, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(model=models)
def test_any_accepted_parameters_give_credit_summing_to_one(model: tuple[str, dict]) -> None:
    _check_credit(attribution.attribute(TOUCHES, STAGES, models=[model]))


@settings(max_examples=15, deadline=None)
@given(
    model=custom_models(),
    roles=st.dictionaries(st.sampled_from(["user", "champion", "unknown"]), weight, min_size=1),
)
def test_role_multipliers_at_account_level(model: tuple[str, dict], roles: dict) -> None:
    contacts = pl.DataFrame(
        {
            "contact_id": [f"c{c}" for c in range(6)],
            "account_id": ["a1", "a1", "a2", "a3", "a3", "a4"],
            "role": ["user", "champion", "user", "unknown", "user", "champion"],
        }
    )
    result = attribution.attribute(
        TOUCHES,
        STAGES,
        contacts=contacts,
        models=[model, "linear"],
        level="account",
        role_multipliers=roles,
    )
    _check_credit(result)


def test_short_half_life_does_not_move_credit_to_the_last_touch() -> None:
    # first = 1 and nothing else: the first touch takes it all whatever the decay (a 1-hour
    # half-life over 60 days used to underflow every weight to 0 and fall back to the last)
    touches = touches_frame([("a", "c1", "email", 0), ("b", "c1", "direct", 60)])
    stages = stages_frame([("c1", "closed_won", 61, 10.0)])
    result = attribution.attribute(touches, stages, models=["custom:first=1;others=0;half_life=1h"])
    assert result.touch_credit.sort("timestamp")["credit"].to_list() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("custom:first=1e308;last=1e308", "The 'first' parameter of custom must be a float in"),
        ("custom:others=1e-9", "The 'others' parameter of custom must be a float in"),
        ("position_based:first=inf", "The 'first' parameter of position_based must be a finite"),
        ("custom:channel_multipliers=linkedin=nan", "the multiplier of 'linkedin' must be a"),
        ("custom:channel_multipliers=linkedin=1e7", "the multiplier of 'linkedin' must be at"),
        ("custom:channel_multipliers=email=1e-300", "the multiplier of 'email' must be 0 or"),
        ("time_decay:half_life=0s", "'half_life' must be positive"),
    ],
)
def test_parameters_that_break_the_normaliser_are_refused(model: str, message: str) -> None:
    with pytest.raises(ModelParameterError, match=message):
        attribution.RunOptions(models=[model])


def test_role_multipliers_out_of_range_are_refused() -> None:
    for bad in (1e308, float("nan"), 1e-12, -1):
        with pytest.raises(InputError, match=r"role_multipliers\['user'\]") as e:
            attribution.RunOptions(level="account", role_multipliers={"user": bad})
        assert e.value.option == "role_multipliers"


def test_non_finite_credit_is_never_an_answer() -> None:
    from attribution.engine._stages import channel_credit_from_touches, check_finite_credit
    from attribution.exceptions import AttributionError

    touches = pl.DataFrame(
        {
            "model": ["m", "m", "n"],
            "channel": ["a", "b", "a"],
            "credit": [float("nan"), 1.0, 1.0],
            "value": [1.0, 1.0, 1.0],
        }
    )
    with pytest.raises(AttributionError, match=r"model\(s\) m gave non-finite credit"):
        channel_credit_from_touches(touches)
    fine = channel_credit_from_touches(touches.filter(pl.col("model") == "n"))
    assert check_finite_credit(fine).equals(fine)


def test_cut_journeys_are_noted_in_the_manifest(make_touches, make_stages) -> None:
    touches = make_touches([(f"t{i}", "c1", "email", i / 10) for i in range(12)])
    stages = make_stages([("c1", "closed_won", 2, 1.0)])
    result = attribution.attribute(touches, stages, models=["linear"], max_touches_per_journey=5)
    assert any(
        "1 journey(s) over max_touches_per_journey (5)" in note and "7 touches dropped" in note
        for note in result.manifest["notes"]
    )
