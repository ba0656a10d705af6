"""Tests of attribution.models._counterfactual."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from attribution.models._counterfactual import CounterfactualModel


def _paths(rows: list[tuple[list[str], float, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "path": [r[0] for r in rows],
            "conversions": [float(r[1]) for r in rows],
            "nulls": [float(r[2]) for r in rows],
            "value": [float(r[3]) for r in rows],
        },
        schema={
            "path": pl.List(pl.String),
            "conversions": pl.Float64,
            "nulls": pl.Float64,
            "value": pl.Float64,
        },
    )


# p(a > b) = 0.8, p(b) = 0.2, p(a) = 0.4.
HAND = _paths([(["a", "b"], 4, 1, 400), (["b"], 1, 4, 10), (["a"], 2, 3, 20)])


def _credits(model: CounterfactualModel, path: list[str]) -> list[float]:
    rows = model.path_credit_.filter(pl.col("path") == pl.lit(path, dtype=pl.List(pl.String)))
    return rows.sort("position")["credit"].to_list()


def test_hand_computed_example() -> None:
    model = CounterfactualModel().fit(HAND)
    # a: 0.8 - p(b) = 0.6; b: 0.8 - p(a) = 0.4; single-touch paths: p - p(empty) = p.
    assert _credits(model, ["a", "b"]) == pytest.approx([0.6, 0.4], abs=1e-12)
    assert _credits(model, ["a"]) == [1.0]
    credit = dict(model.channel_credit_.select("channel", "conversions").iter_rows())
    assert credit == pytest.approx({"a": 4 * 0.6 + 2, "b": 4 * 0.4 + 1}, abs=1e-12)
    value = dict(model.channel_credit_.select("channel", "value").iter_rows())
    assert value == pytest.approx({"a": 400 * 0.6 + 20, "b": 400 * 0.4 + 10}, abs=1e-9)
    row = model.path_credit_.filter(pl.col("path").list.len() == 2).row(0, named=True)
    assert row["probability"] == pytest.approx(0.8)
    assert row["counterfactual_probability"] == pytest.approx(0.2)
    assert row["contribution"] == pytest.approx(0.6)


def test_all_zero_contributions_give_the_last_touch_everything() -> None:
    paths = _paths([(["a", "b"], 1, 9, 0), (["a"], 1, 1, 0), (["b"], 1, 1, 0)])
    model = CounterfactualModel().fit(paths)
    assert _credits(model, ["a", "b"]) == [0.0, 1.0]
    assert any("last position took all the credit" in note for note in model.notes_)


def test_unobserved_shorter_path_counts_as_zero() -> None:
    model = CounterfactualModel().fit(_paths([(["a", "b", "c"], 1, 1, 0), (["a", "b"], 1, 3, 0)]))
    # Removing a or b leaves an unobserved path (p 0): 0.5 each; removing c leaves a > b.
    assert _credits(model, ["a", "b", "c"]) == pytest.approx([0.5 / 1.25, 0.5 / 1.25, 0.25 / 1.25])


RAW = ["d", "a", "b", "b", "c", "d", "c", "c"]


@pytest.mark.parametrize(
    ("transform", "path", "counts"),
    [
        ("unique", RAW, None),
        ("exposure", ["d", "a", "b", "c", "d", "c"], None),
        ("first", ["d", "a", "b", "c"], None),
        ("frequency", ["d", "a", "b", "c"], [2, 1, 2, 3]),
    ],
)
def test_transforms(transform: str, path: list[str], counts: list[int] | None) -> None:
    model = CounterfactualModel(transform=transform).fit(_paths([(RAW, 1, 0, 0)]))  # type: ignore[arg-type]
    table = model.path_probabilities_
    assert table["path"].to_list() == [path]
    if counts is None:
        assert "counts" not in table.columns
    else:
        assert table["counts"].to_list() == [counts]


def test_transforms_merge_paths_before_probabilities() -> None:
    paths = _paths([(["a", "a", "b"], 1, 0, 0), (["a", "b"], 0, 1, 0), (["a", "b", "a"], 1, 1, 0)])
    probability = {
        t: dict(
            CounterfactualModel(transform=t)  # type: ignore[arg-type]
            .fit(paths)
            .path_probabilities_.select(pl.col("path").list.join(">"), "probability")
            .iter_rows()
        )
        for t in ("unique", "exposure", "first")
    }
    assert probability["unique"] == {"a>a>b": 1.0, "a>b": 0.0, "a>b>a": 0.5}
    assert probability["exposure"] == {"a>b": 0.5, "a>b>a": 0.5}
    assert probability["first"] == {"a>b": 0.5}
    frequency = CounterfactualModel(transform="frequency").fit(paths).path_probabilities_
    assert frequency.select("counts", "probability").sort("counts").rows() == [
        ([1, 1], 0.0),
        ([2, 1], pytest.approx(2 / 3)),  # a a b (1, 0) and a b a (1, 1): both a(2) b(1)
    ]


def test_exposure_counterfactual_merges_neighbours() -> None:
    # Removing b from a > b > a leaves a > a, which is the exposure path a (p = 0.4).
    paths = _paths([(["a", "b", "a"], 1, 0, 0), (["a"], 2, 3, 0), (["b", "a"], 1, 1, 0)])
    model = CounterfactualModel(transform="exposure").fit(paths)
    row = model.path_credit_.filter(pl.col("position") == 1, pl.col("path").list.len() == 3)
    assert row["counterfactual_probability"].item() == pytest.approx(0.4)
    # a (first): 1 - p(b > a) = 0.5; b: 1 - 0.4 = 0.6; a (last): 1 - p(a > b) = 1 - 0 = 1.
    assert _credits(model, ["a", "b", "a"]) == pytest.approx([0.5 / 2.1, 0.6 / 2.1, 1 / 2.1])


def test_frequency_removes_the_whole_entry() -> None:
    # a a b -> a(2) b(1); without a: b(1) (p 0.25); without b: a(2) (p 0.5).
    paths = _paths([(["a", "a", "b"], 1, 0, 0), (["b"], 1, 3, 0), (["a", "a"], 1, 1, 0)])
    model = CounterfactualModel(transform="frequency").fit(paths)
    rows = model.path_credit_.filter(pl.col("path").list.len() == 2).sort("position")
    assert rows["counterfactual_probability"].to_list() == pytest.approx([0.25, 0.5])
    assert rows["credit"].to_list() == pytest.approx([0.75 / 1.25, 0.5 / 1.25])


def test_allocate_maps_positions_back_to_touches() -> None:
    paths = _paths([(["a", "b"], 4, 1, 0), (["b"], 1, 4, 0), (["a"], 2, 3, 0)])
    touches = pl.DataFrame(
        {
            "conversion_id": [1, 1, 1, 2, 2, 3, 3],
            "position": [2, 0, 1, 0, 1, 0, 1],
            "channel": ["b", "a", "a", "a", "b", "z", "y"],
            "touch_id": list("tuvwxyz"),
        }
    )
    exposure = CounterfactualModel(transform="exposure").fit(paths).allocate(touches)
    assert_frame_equal(exposure.drop("credit"), touches)
    # Conversion 1 is a a b -> exposure a > b (a 0.6 shared by two touches, b 0.4);
    # conversion 3 (z > y) was never seen converting: its last touch takes 1.
    assert exposure["credit"].to_list() == pytest.approx([0.4, 0.3, 0.3, 0.6, 0.4, 0.0, 1.0])
    unique = CounterfactualModel().fit(paths).allocate(touches.lazy())
    # Under "unique", a > a > b was never observed: last touch (position 2) takes 1.
    assert unique["credit"].to_list() == pytest.approx([1.0, 0.0, 0.0, 0.6, 0.4, 0.0, 1.0])


path_rows = st.lists(
    st.tuples(
        st.lists(st.sampled_from("abcd"), min_size=1, max_size=6),
        st.integers(0, 3),
        st.integers(0, 3),
    ).map(lambda t: (t[0], float(t[1]), float(t[2]), 10.0 * t[1])),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None)
@given(
    rows=path_rows,
    transform=st.sampled_from(["unique", "exposure", "first", "frequency"]),
)
def test_credits_per_path_and_per_touch_sum_to_one(
    rows: list[tuple[list[str], float, float, float]], transform: str
) -> None:
    model = CounterfactualModel(transform=transform).fit(_paths(rows))  # type: ignore[arg-type]
    key = ["path", "counts"] if transform == "frequency" else ["path"]
    credit = model.path_credit_
    assert (credit["credit"] >= 0).all()
    assert (credit["contribution"] >= 0).all()
    sums = credit.group_by(key).agg(pl.col("credit").sum())["credit"].to_numpy()
    assert np.allclose(sums, 1.0, atol=1e-9)
    total = sum(r[1] for r in rows if r[1] + r[2] > 0)
    assert model.channel_credit_["conversions"].sum() == pytest.approx(total, abs=1e-9)
    assert model.channel_credit_["value"].sum() == pytest.approx(10 * total, abs=1e-9)

    touches = (
        pl.DataFrame({"conversion_id": list(range(len(rows))), "channel": [r[0] for r in rows]})
        .explode("channel")
        .with_columns(pl.int_range(pl.len()).over("conversion_id").alias("position"))
    )
    out = model.allocate(touches.sample(fraction=1.0, shuffle=True, seed=0))
    assert (out["credit"] >= 0).all()
    per_conversion = out.group_by("conversion_id").agg(pl.col("credit").sum())
    assert np.allclose(per_conversion["credit"].to_numpy(), 1.0, atol=1e-9)


def test_empty_input() -> None:
    model = CounterfactualModel(transform="frequency").fit(HAND.head(0))
    assert model.channel_credit_.height == 0
    assert model.path_credit_.height == 0
    touches = pl.DataFrame({"conversion_id": [1, 1], "position": [0, 1], "channel": ["a", "b"]})
    assert model.allocate(touches)["credit"].to_list() == [0.0, 1.0]


def test_parameter_and_input_errors() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "The 'transform' parameter of CounterfactualModel must be a str among "
            "{'unique', 'exposure', 'first', 'frequency'}. Got 'last' instead."
        ),
    ):
        CounterfactualModel(transform="last").fit(HAND)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not fitted yet"):
        CounterfactualModel().allocate(pl.DataFrame({"conversion_id": [1]}))
    model = CounterfactualModel().fit(HAND)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['position'\]"):
        model.allocate(pl.DataFrame({"conversion_id": [1], "channel": ["a"]}))
