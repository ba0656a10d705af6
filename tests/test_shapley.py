"""Tests of attribution.models._shapley."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution.models._shapley import ShapleyModel

WORKED = pl.DataFrame(
    {
        "path": [["a", "b"], ["b"], ["a"], ["c", "a", "b"]],
        "conversions": [2.0, 1.0, 0.0, 1.0],
        "nulls": [1.0, 2.0, 2.0, 0.0],
        "value": [200.0, 50.0, 0.0, 100.0],
    }
)


def _paths(rows: list[tuple[list[str], float, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "path": [r[0] for r in rows],
            "conversions": [float(r[1]) for r in rows],
            "nulls": [float(r[2]) for r in rows],
        },
        schema={"path": pl.List(pl.String), "conversions": pl.Float64, "nulls": pl.Float64},
    )


def test_worked_example_matches_models_md() -> None:
    model = ShapleyModel().fit(WORKED)
    phi = dict(model.shapley_values_.iter_rows())
    assert phi == pytest.approx({"a": 2 / 3, "b": 1.0, "c": 1 / 3}, abs=1e-12)
    credit = model.channel_credit_
    assert credit["channel"].to_list() == ["a", "b", "c"]
    assert credit["conversions"].to_list() == pytest.approx([4 / 3, 2.0, 2 / 3], abs=1e-12)
    # Value is shared with the same Shapley shares: 350 * phi / sum(phi).
    assert credit["value"].to_list() == pytest.approx([350 / 3, 175.0, 350 / 6], abs=1e-9)
    worth = dict(model.coalitions_.select(pl.col("channels").list.join(","), "worth").iter_rows())
    assert worth == pytest.approx({"a,b": 2 / 3, "b": 1 / 3, "a": 0.0, "a,b,c": 1.0})
    assert model.coalitions_["mask"].to_list() == [1, 2, 3, 7]
    assert model.channel_weights_ == pytest.approx(phi)


def test_count_worth() -> None:
    # counts {a,b} 2, {b} 1, {a} 0, {a,b,c} 1 -> phi a 1 + 1/3, b 1 + 1 + 1/3, c 1/3.
    model = ShapleyModel(value="count").fit(WORKED)
    phi = dict(model.shapley_values_.iter_rows())
    assert phi == pytest.approx({"a": 4 / 3, "b": 7 / 3, "c": 1 / 3}, abs=1e-12)
    assert model.channel_credit_["conversions"].sum() == pytest.approx(4.0)


def _brute_force(rows: list[tuple[list[str], float, float]], value: str) -> dict[str, float]:
    """Classical Shapley formula over every coalition of v(S) = sum of p(T), T within S."""
    totals: dict[frozenset[str], list[float]] = {}
    for path, conv, nulls in rows:
        if not path or conv + nulls == 0:
            continue
        key = frozenset(path)
        acc = totals.setdefault(key, [0.0, 0.0])
        acc[0] += conv
        acc[1] += nulls
    worth = {s: (c / (c + n) if value == "rate" else c) for s, (c, n) in totals.items()}
    players = sorted({c for s in worth for c in s})
    n = len(players)

    def v(coalition: frozenset[str]) -> float:
        return sum(p for s, p in worth.items() if s <= coalition)

    phi = {}
    for i in players:
        others = [p for p in players if p != i]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                total += weight * (v(s | {i}) - v(s))
        phi[i] = total
    return phi


#: paths of up to 6 touches on 5 channels with small conversion and null counts
_ROWS = st.lists(
    st.tuples(
        st.lists(st.sampled_from("abcde"), min_size=1, max_size=6),
        st.integers(0, 4).map(float),
        st.integers(0, 4).map(float),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(rows=_ROWS, value=st.sampled_from(["rate", "count"]))
def test_fast_formula_equals_brute_force(
    rows: list[tuple[list[str], float, float]], value: str
) -> None:
    model = ShapleyModel(value=value).fit(_paths(rows))  # type: ignore[arg-type]
    expected = _brute_force(rows, value)
    phi = dict(model.shapley_values_.iter_rows())
    assert set(phi) == {c for path, c_, n_ in rows if c_ + n_ > 0 for c in path}
    for channel, p in expected.items():
        assert phi[channel] == pytest.approx(p, abs=1e-9)
    # Efficiency: the values add up to v(all channels) = sum of every coalition's worth.
    assert sum(phi.values()) == pytest.approx(model.coalitions_["worth"].sum(), abs=1e-9)
    credit = model.channel_credit_["conversions"]
    assert (credit >= 0).all()
    if sum(phi.values()) > 0:
        assert credit.sum() == pytest.approx(model.total_conversions_, abs=1e-9)
    else:
        assert credit.sum() == 0.0


def test_many_channels_in_all_are_not_refused() -> None:
    # newuser report 2: 21 channels in the data, one per journey, used to be refused with
    # "max_channels=20 refuses paths with 21 distinct channels"; the exact value needs only
    # the observed coalitions, so there is no limit on the channels of the whole data set
    channels = [f"ch{i:02d}" for i in range(21)]
    paths = _paths([([c], 1, 1) for c in channels])
    model = ShapleyModel().fit(paths)
    assert model.shapley_values_["phi"].to_list() == pytest.approx([0.5] * 21)
    assert model.channel_credit_["conversions"].sum() == pytest.approx(21.0)


def test_max_channels_caps_one_journey() -> None:
    paths = _paths([(["a", "b", "c"], 1, 0), (["a"], 1, 1), (["d"], 0, 1)])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "ShapleyModel(max_channels=2) refuses journeys with more than 2 distinct channels "
            "(the cap is per journey); the widest journey here has 3 (4 channels in all)"
        ),
    ):
        ShapleyModel(max_channels=2).fit(paths)
    fitted = ShapleyModel(max_channels=3).fit(paths)
    assert dict(fitted.shapley_values_.iter_rows()) == pytest.approx(
        {"a": 1 / 3 + 1 / 2, "b": 1 / 3, "c": 1 / 3, "d": 0.0}
    )


def _unanimity(rows: list[tuple[list[str], float, float]], value: str) -> dict[str, float]:
    """phi_i = sum over observed coalitions S containing i of p(S) / |S|, in plain Python
    (equal to the brute force above; it scales to any number of channels)."""
    totals: dict[frozenset[str], list[float]] = {}
    for path, conv, nulls in rows:
        if conv + nulls > 0:
            acc = totals.setdefault(frozenset(path), [0.0, 0.0])
            acc[0] += conv
            acc[1] += nulls
    phi: dict[str, float] = {}
    for s, (c, n) in totals.items():
        worth = c / (c + n) if value == "rate" else c
        for i in s:
            phi[i] = phi.get(i, 0.0) + worth / len(s)
    return phi


@settings(max_examples=40, deadline=None)
@given(rows=_ROWS, value=st.sampled_from(["rate", "count"]))
def test_list_coalitions_equal_brute_force(
    rows: list[tuple[list[str], float, float]], value: str
) -> None:
    # the coalitions as lists (taken above 64 channels) forced on small data: the same
    # values as the brute-force definition and as the bit-mask coalitions
    masks = ShapleyModel(value=value).fit(_paths(rows))  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("attribution.models._shapley._MASK_BITS", 0)
        lists = ShapleyModel(value=value).fit(_paths(rows))  # type: ignore[arg-type]
    expected = _brute_force(rows, value)
    phi = dict(lists.shapley_values_.iter_rows())
    assert set(phi) == set(expected)
    for channel, p in expected.items():
        assert phi[channel] == pytest.approx(p, abs=1e-9)
    assert lists.coalitions_["mask"].null_count() == lists.coalitions_.height
    same = ["channels", "size", "conversions", "nulls", "value", "worth"]
    by_channels = pl.col("channels").list.join(",")
    assert_frame_equal(
        lists.coalitions_.select(same).sort(by_channels),
        masks.coalitions_.select(same).sort(by_channels),
    )
    assert_frame_equal(lists.channel_credit_, masks.channel_credit_, check_exact=False)


#: 65 one-channel journeys: with them any data hold more than 64 channels
_WIDE = [([f"x{i:02d}"], float(i % 3), 1.0) for i in range(65)]


@settings(max_examples=15, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.lists(st.integers(0, 149).map(lambda i: f"ch{i:03d}"), min_size=1, max_size=30),
            st.integers(0, 4).map(float),
            st.integers(0, 4).map(float),
        ),
        min_size=1,
        max_size=40,
    ).map(lambda rows: _WIDE + rows),
    value=st.sampled_from(["rate", "count"]),
)
def test_more_than_64_channels_exact(
    rows: list[tuple[list[str], float, float]], value: str
) -> None:
    model = ShapleyModel(value=value).fit(_paths(rows))  # type: ignore[arg-type]
    expected = _unanimity(rows, value)
    phi = dict(model.shapley_values_.iter_rows())
    assert set(phi) == set(expected)
    for channel, p in expected.items():
        assert phi[channel] == pytest.approx(p, abs=1e-9)
    assert model.coalitions_["mask"].null_count() == model.coalitions_.height
    credit = model.channel_credit_["conversions"]
    assert (credit >= 0).all()
    if sum(phi.values()) > 0:
        assert credit.sum() == pytest.approx(model.total_conversions_, abs=1e-9)


def test_sixty_four_channels_use_the_top_bit() -> None:
    channels = [f"ch{i:02d}" for i in range(64)]
    paths = _paths([(channels, 1, 0), ([channels[-1]], 1, 1)])
    model = ShapleyModel(max_channels=64).fit(paths)
    assert model.coalitions_["mask"].to_list() == sorted([2**63, 2**64 - 1])
    phi = dict(model.shapley_values_.iter_rows())
    assert phi["ch63"] == pytest.approx(1 / 64 + 0.5)
    assert phi["ch00"] == pytest.approx(1 / 64)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"value": "share"},
            "The 'value' parameter of ShapleyModel must be a str among "
            "{'rate', 'count'}. Got 'share' instead.",
        ),
        (
            {"max_channels": 0},
            "The 'max_channels' parameter of ShapleyModel must be an int in "
            "[1, inf]. Got 0 instead.",
        ),
        ({"max_channels": -65}, "Got -65 instead."),
        ({"max_channels": 2.5}, "Got 2.5 instead."),
    ],
)
def test_parameter_errors(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ShapleyModel(**params).fit(WORKED)  # type: ignore[arg-type]


def test_empty_input_and_nothing_converting() -> None:
    empty = ShapleyModel().fit(WORKED.head(0))
    assert empty.shapley_values_.height == 0
    assert empty.channel_weights_ == {}
    nothing = ShapleyModel().fit(_paths([(["a"], 0, 2), (["a", "b"], 0, 1)]))
    assert nothing.channel_credit_["conversions"].to_list() == [0.0, 0.0]
    assert any("all Shapley values are 0" in note for note in nothing.notes_)
    touches = pl.DataFrame({"conversion_id": [1, 1], "position": [0, 1], "channel": ["a", "b"]})
    assert nothing.allocate(touches)["credit"].to_list() == [0.5, 0.5]


def test_row_order_lazy_and_duplicates() -> None:
    base = ShapleyModel().fit(WORKED)
    for other in (
        WORKED.sample(fraction=1.0, shuffle=True, seed=1),
        WORKED.lazy(),
        pl.concat([WORKED, WORKED]),
    ):
        assert_frame_equal(ShapleyModel().fit(other).shapley_values_, base.shapley_values_)


def test_allocate() -> None:
    model = ShapleyModel().fit(WORKED)
    touches = pl.DataFrame(
        {"conversion_id": [1, 1, 1], "position": [0, 1, 2], "channel": ["c", "b", "b"]}
    )
    credit = model.allocate(touches)["credit"].to_numpy()
    assert credit == pytest.approx([0.25, 0.375, 0.375])  # c 1/3 vs b 1 -> 1/4, 3/4
    assert np.isclose(credit.sum(), 1.0)


def test_not_fitted() -> None:
    with pytest.raises(ValueError, match="This ShapleyModel instance is not fitted yet"):
        ShapleyModel().allocate(pl.DataFrame({"conversion_id": [1], "channel": ["a"]}))


@pytest.mark.parametrize("value", ["rate", "count"])
def test_journey_sequences_fit_equals_the_path_table_fit(value) -> None:
    """attribute() fits Shapley on the coded journeys; the same values as on its path table."""
    from attribution.datasets._synth import synthesize

    data = synthesize(4000, seed=12, conversion_rate=0.1)
    res = attribution.attribute(data.touches, data.stages, models=[("shapley", {"value": value})])
    from_table = ShapleyModel(value=value).fit(res.paths)
    got = next(v for k, v in res.extras.items() if k.endswith("shapley_values"))
    assert_frame_equal(got, from_table.shapley_values_, rel_tol=1e-12)
    assert got.height > 3


def test_path_sequences_refuse_rows_out_of_path_order() -> None:
    from attribution.models._allocation import PathSequences

    numbers = pl.DataFrame({"conversions": [1.0, 0.0], "nulls": [0.0, 1.0], "value": [0.0, 0.0]})
    touches = pl.DataFrame(
        {"pid": pl.Series([1, 0], dtype=pl.UInt32), "ch": pl.Series([0, 1], dtype=pl.UInt32)}
    )
    with pytest.raises(ValueError, match="pid 0..n-1 in order"):
        PathSequences(touches, numbers, ["a", "b"])
    with pytest.raises(ValueError, match="codes below 1"):
        PathSequences(touches.sort("pid"), numbers, ["a"])


def test_default_run_over_many_channels_keeps_shapley() -> None:
    # newuser report 2: a default run (no models named) on 21 channels, one touch each,
    # exited 2 "shapley: ShapleyModel(max_channels=20) refuses paths with 21 distinct
    # channels"; now Shapley runs, exact, beside the other default models
    n = 70
    touches = pl.DataFrame(
        {
            "timestamp": ["2025-03-01"] * n,
            "channel": [f"ch{i}" for i in range(n)],
            "contact_id": [f"c{i}" for i in range(n)],
        }
    )
    stages = pl.DataFrame(
        {
            "timestamp": ["2025-03-05"] * n,
            "stage": ["closed_won"] * n,
            "contact_id": [f"c{i}" for i in range(n)],
        }
    )
    result = attribution.attribute(touches, stages)
    shapley = result.channel_credit.filter(pl.col("model") == "shapley")
    assert shapley.height == n
    assert shapley["conversions"].to_list() == pytest.approx([1.0] * n)
    assert result.extras["shapley_shapley_values"]["phi"].to_list() == pytest.approx([1.0] * n)
