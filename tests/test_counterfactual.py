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


def _with_paths(model: CounterfactualModel) -> pl.DataFrame:
    """``path_credit_`` with each row's path (and counts) joined from its ``path_id``."""
    paths = model.path_probabilities_.drop("conversions", "probability").with_row_index("path_id")
    return model.path_credit_.join(
        paths.drop("nulls", "value"), on="path_id", how="left", maintain_order="left"
    )


def _credits(model: CounterfactualModel, path: list[str]) -> list[float]:
    rows = _with_paths(model).filter(pl.col("path") == pl.lit(path, dtype=pl.List(pl.String)))
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
    row = _with_paths(model).filter(pl.col("path").list.len() == 2).row(0, named=True)
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
    row = _with_paths(model).filter(pl.col("position") == 1, pl.col("path").list.len() == 3)
    assert row["counterfactual_probability"].item() == pytest.approx(0.4)
    # a (first): 1 - p(b > a) = 0.5; b: 1 - 0.4 = 0.6; a (last): 1 - p(a > b) = 1 - 0 = 1.
    assert _credits(model, ["a", "b", "a"]) == pytest.approx([0.5 / 2.1, 0.6 / 2.1, 1 / 2.1])


def test_frequency_removes_the_whole_entry() -> None:
    # a a b -> a(2) b(1); without a: b(1) (p 0.25); without b: a(2) (p 0.5).
    paths = _paths([(["a", "a", "b"], 1, 0, 0), (["b"], 1, 3, 0), (["a", "a"], 1, 1, 0)])
    model = CounterfactualModel(transform="frequency").fit(paths)
    rows = _with_paths(model).filter(pl.col("path").list.len() == 2).sort("position")
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
    credit = _with_paths(model)
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


def _quadratic_reference(probabilities: pl.DataFrame, transform: str) -> pl.DataFrame:
    """The previous implementation's position credits: every path without each position
    built as a list and looked up (memory the square of the path length; exact)."""
    key = ["path", "counts"] if transform == "frequency" else ["path"]
    positions = (
        probabilities.lazy()
        .filter(pl.col("conversions") > 0)
        .with_row_index("kid")
        .with_columns(pl.col("path").list.len().alias("length"))
        .with_columns(pl.int_ranges(0, pl.col("length")).alias("position"))
        .explode("position")
    )
    j = pl.col("position")
    skip = pl.lit(1)
    if transform == "exposure":
        merges = pl.col("path").list.get(j - 1, null_on_oob=True) == pl.col("path").list.get(
            j + 1, null_on_oob=True
        )
        skip = pl.when((j > 0) & merges.fill_null(False)).then(2).otherwise(1)
    counterfactual = positions.with_columns(
        *[
            pl.concat_list(pl.col(c).list.slice(0, j), pl.col(c).list.slice(j + skip)).alias(
                f"cf_{c}"
            )
            for c in key
        ],
    )
    lookup = probabilities.lazy().select(
        *[pl.col(c).alias(f"cf_{c}") for c in key],
        pl.col("probability").alias("counterfactual_probability"),
    )
    return (
        counterfactual.join(lookup, on=[f"cf_{c}" for c in key], how="left", maintain_order="left")
        .with_columns(pl.col("counterfactual_probability").fill_null(0.0))
        .with_columns(
            (pl.col("probability") - pl.col("counterfactual_probability"))
            .clip(lower_bound=0.0)
            .alias("contribution")
        )
        .with_columns(pl.col("contribution").sum().over("kid").alias("__total"))
        .with_columns(
            pl.when(pl.col("__total") > 0)
            .then(pl.col("contribution") / pl.col("__total"))
            .otherwise((j == pl.col("length") - 1).cast(pl.Float64))
            .alias("credit")
        )
        .sort("kid", "position")
        .select(*key, "position", "counterfactual_probability", "contribution", "credit")
        .collect()
    )


# long paths over few channels: many shortened paths exist in the table, including ones that
# differ from each other only by where a repeat sits (the fingerprint must tell them apart)
long_rows = st.lists(
    st.tuples(
        st.lists(st.sampled_from("abc"), min_size=1, max_size=30),
        st.integers(0, 3),
        st.integers(0, 3),
    ).map(lambda t: (t[0], float(t[1]), float(t[2]), 10.0 * t[1])),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(
    rows=long_rows,
    transform=st.sampled_from(["unique", "exposure", "first", "frequency"]),
    shortened=st.integers(0, 3),
)
def test_same_credit_as_the_quadratic_reference(
    rows: list[tuple[list[str], float, float, float]], transform: str, shortened: int
) -> None:
    # add every path of the first rows with one position removed, so lookups do hit
    extra = [
        (r[0][:j] + r[0][j + 1 :], 1.0, 1.0, 10.0)
        for r in rows[:shortened]
        for j in range(len(r[0]))
        if len(r[0]) > 1
    ]
    model = CounterfactualModel(transform=transform).fit(_paths(rows + extra))  # type: ignore[arg-type]
    expected = _quadratic_reference(model.path_probabilities_, transform)
    got = _with_paths(model).select(expected.columns)
    assert got.height == expected.height
    assert_frame_equal(got, expected, check_dtypes=False, abs_tol=1e-12)


@pytest.mark.parametrize("transform", ["unique", "exposure", "first", "frequency"])
def test_same_credit_as_the_reference_with_many_hits(transform: str) -> None:
    rng = np.random.default_rng(3)
    rows = [(rng.choice(list("abcd"), size=40).tolist(), 2.0, 1.0, 0.0) for _ in range(5)]
    # one touch removed (unique, exposure) and every touch of one channel removed (first,
    # frequency: that is the transformed path without one position)
    rows += [(r[0][:j] + r[0][j + 1 :], 1.0, 2.0, 0.0) for r in rows for j in range(40)]
    rows += [([c for c in r[0] if c != x], 1.0, 3.0, 0.0) for r in rows[:5] for x in "abcd"]
    model = CounterfactualModel(transform=transform).fit(_paths(rows))  # type: ignore[arg-type]
    expected = _quadratic_reference(model.path_probabilities_, transform)
    assert (expected["counterfactual_probability"] > 0).sum() > 20  # lookups do hit
    assert_frame_equal(
        _with_paths(model).select(expected.columns), expected, check_dtypes=False, abs_tol=1e-12
    )


def test_long_journey_memory_is_linear() -> None:
    """A 20,000-position path: the quadratic version built 400 million list elements."""
    rng = np.random.default_rng(7)
    long = rng.choice(list("abcdef"), size=20_000).tolist()
    rows = [(long, 1.0, 0.0, 5.0), (long[:-1], 1.0, 1.0, 0.0), (long[1:], 0.0, 2.0, 0.0)]
    model = CounterfactualModel().fit(_paths(rows))
    ids = model.path_probabilities_.with_row_index("path_id")
    path_id = ids.filter(pl.col("path").list.len() == 20_000)["path_id"].item()
    credit = model.path_credit_.filter(pl.col("path_id") == path_id).sort("position")
    assert credit.height == 20_000
    # removing the last touch leaves long[:-1] (p 0.5); removing the first leaves long[1:]
    # (p 0); every other removal leaves an unobserved path (p 0)
    assert credit["counterfactual_probability"][-1] == pytest.approx(0.5)
    assert credit["counterfactual_probability"][0] == 0.0
    assert credit["credit"].sum() == pytest.approx(1.0)
    # every position of the last run of repeats leaves long[:-1] (0.5 each); the rest 1 each
    last_run = next(i for i, c in enumerate(reversed(long)) if c != long[-1])
    total = 0.5 * last_run + (20_000 - last_run)
    assert credit["credit"][-1] == pytest.approx(0.5 / total, rel=1e-9)
    assert credit["credit"][0] == pytest.approx(1 / total, rel=1e-9)
