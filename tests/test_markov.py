"""Tests of attribution.models._markov (and of the shared per-touch allocation it uses)."""

from __future__ import annotations

import itertools
import re
from collections import defaultdict

import networkx as nx
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution.models import _markov
from attribution.models._allocation import allocate_by_channel_weights
from attribution.models._markov import NO_NULLS_NOTE, MarkovModel, select_order

WORKED = pl.DataFrame(
    {
        "path": [["a", "b"], ["b"], ["a"], ["c", "a", "b"]],
        "conversions": [2.0, 1.0, 0.0, 1.0],
        "nulls": [1.0, 2.0, 2.0, 0.0],
        "value": [200.0, 50.0, 0.0, 100.0],
    }
)


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


# --------------------------------------------------------------------------- worked example
def test_worked_example_matches_models_md() -> None:
    model = MarkovModel().fit(WORKED)
    assert model.conversion_probability_ == pytest.approx(4 / 9, abs=1e-12)
    re = dict(model.removal_effects_.select("channel", "removal_effect").iter_rows())
    assert re["a"] == pytest.approx(0.571429, abs=1e-6)
    assert re["b"] == pytest.approx(1.0, abs=1e-12)
    assert re["c"] == pytest.approx(0.095238, abs=1e-6)
    conv = dict(model.channel_credit_.select("channel", "conversions").iter_rows())
    assert conv["a"] == pytest.approx(1.371429, abs=1e-6)
    assert conv["b"] == pytest.approx(2.4, abs=1e-12)
    assert conv["c"] == pytest.approx(0.228571, abs=1e-6)
    assert model.channel_credit_["conversions"].sum() == pytest.approx(4.0, abs=1e-12)
    assert model.channel_credit_["value"].sum() == pytest.approx(350.0, abs=1e-9)
    assert model.channel_weights_ == pytest.approx({"a": 4 / 7, "b": 1.0, "c": 2 / 21})
    assert model.notes_ == []


def test_worked_example_order_2_by_hand() -> None:
    # Order 2: c > a > b ends in state "a > b" like a > b, so "a > b" converts 3 of 4 with
    # mean value 300 / 3 = 100; "b" converts 1 of 3 with mean value 50.
    # P = 5/9 * 0.6 * 3/4 + 3/9 * 1/3 + 1/9 * 3/4 = 4/9;  V = 25 + 50/9 + 75/9 = 350/9.
    # Without c: P' = 1/4 + 1/9 = 13/36 -> RE 0.1875;  V' = 25 + 50/9 -> REv 3/14.
    model = MarkovModel(order=2).fit(WORKED)
    assert model.conversion_probability_ == pytest.approx(4 / 9, abs=1e-12)
    assert model.expected_value_ == pytest.approx(350 / 9, abs=1e-9)
    effects = model.removal_effects_.filter(pl.col("channel") == "c").row(0, named=True)
    assert effects["removal_effect"] == pytest.approx(0.1875, abs=1e-12)
    assert effects["value_removal_effect"] == pytest.approx(3 / 14, abs=1e-12)
    assert model.channel_credit_["value"].sum() == pytest.approx(350.0, abs=1e-9)


def test_transition_tables() -> None:
    model = MarkovModel().fit(WORKED)
    counts = {(f, t): c for f, t, c in model.transition_counts_.iter_rows()}
    assert counts[("start", "a")] == 5.0  # a>b (3) + a (2)
    assert counts[("start", "c")] == 1.0
    assert counts[("a", "b")] == 4.0  # a>b (3) + c>a>b (1)
    assert counts[("b", "conversion")] == 4.0
    assert counts[("b", "null")] == 3.0
    assert ("c", "null") not in counts  # zero-count edges are not listed
    sums = model.transition_matrix_.group_by("from").agg(pl.col("probability").sum())
    assert np.allclose(sums["probability"].to_numpy(), 1.0, atol=1e-12)
    states = model.states_
    assert states["state"].to_list() == ["start", "a", "b", "c", "conversion", "null"]
    assert states.filter(pl.col("state") == "start")["conversion_probability"].item() == (
        pytest.approx(4 / 9)
    )


# --------------------------------------------------------------------- dense reference
def _dense_reference(
    rows: list[tuple[list[str], float, float, float]],
    order: int,
    collapse: bool,
    use_nulls: bool,
) -> dict[str, object]:
    """An independent exact solve: dict-built full matrix, removal by redirecting rows."""
    counts: dict[tuple[object, object], float] = defaultdict(float)
    end_conv: dict[object, float] = defaultdict(float)
    end_value: dict[object, float] = defaultdict(float)
    total_conv = total_value = 0.0
    for path, conv, nulls, value in rows:
        if collapse:
            path = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        nulls = nulls if use_nulls else 0.0
        if not path or conv + nulls == 0:
            continue
        total_conv += conv
        total_value += value
        prev: object = "<start>"
        for i in range(len(path)):
            state = tuple(path[max(0, i - order + 1) : i + 1])
            counts[(prev, state)] += conv + nulls
            prev = state
        counts[(prev, "<conv>")] += conv
        counts[(prev, "<null>")] += nulls
        end_conv[prev] += conv
        end_value[prev] += value
    counts = {k: v for k, v in counts.items() if v > 0}
    if not counts:
        return {"counts": {}}
    states = sorted({s for k in counts for s in k} - {"<conv>", "<null>"}, key=repr)
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    full = np.zeros((n + 2, n + 2))  # last two: conversion, null
    ext = {**index, "<conv>": n, "<null>": n + 1}
    for (f, t), c in counts.items():
        full[ext[f], ext[t]] += c
    full[:n] /= full[:n].sum(axis=1, keepdims=True)
    full[n, n] = full[n + 1, n + 1] = 1.0
    mean_value = np.array(
        [end_value[s] / end_conv[s] if end_conv.get(s, 0) > 0 else 0.0 for s in states]
    )

    def solve(matrix: np.ndarray) -> tuple[float, float]:
        q = matrix[:n, :n]
        r = matrix[:n, n]
        x = np.linalg.solve(np.eye(n) - q, np.column_stack([r, r * mean_value]))
        return x[index["<start>"], 0], x[index["<start>"], 1]

    p, v = solve(full)
    channels = sorted({c for path, *_ in rows for c in path})
    re, rev = {}, {}
    for c in channels:
        redirected = full.copy()
        for s in states:
            if s != "<start>" and c in s:
                redirected[index[s]] = 0.0
                redirected[index[s], n + 1] = 1.0
        p_c, v_c = solve(redirected)
        re[c] = 1 - p_c / p if p > 0 else 0.0
        rev[c] = 1 - v_c / v if v > 0 else 0.0
    return {
        "p": p,
        "v": v,
        "re": re,
        "rev": rev,
        "counts": counts,
        "total_conv": total_conv,
        "total_value": total_value,
    }


def _label(state: object) -> str:
    return {"<start>": "start", "<conv>": "conversion", "<null>": "null"}.get(
        state,  # type: ignore[arg-type]
        " > ".join(state) if isinstance(state, tuple) else str(state),
    )


path_rows = st.lists(
    st.tuples(
        st.lists(st.sampled_from("abcd"), min_size=1, max_size=6),
        st.integers(0, 3),
        st.integers(0, 3),
        st.floats(0, 100, allow_nan=False),
    ).map(lambda t: (t[0], float(t[1]), float(t[2]), t[3] if t[1] > 0 else 0.0)),
    min_size=1,
    max_size=12,
)


@pytest.mark.parametrize("direct_max_states", [2000, 0], ids=["sparse-lu", "gmres"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=path_rows, collapse=st.booleans(), use_nulls=st.booleans())
def test_removal_effects_match_dense_solve(
    direct_max_states: int,
    order: int,
    rows: list[tuple[list[str], float, float, float]],
    collapse: bool,
    use_nulls: bool,
) -> None:
    model = MarkovModel(order=order, collapse_repeats=collapse, use_nulls=use_nulls)
    saved = _markov._DIRECT_MAX_STATES
    _markov._DIRECT_MAX_STATES = direct_max_states  # 0 forces the certified GMRES path
    try:
        model.fit(_paths(rows))
    finally:
        _markov._DIRECT_MAX_STATES = saved
    ref = _dense_reference(rows, order, collapse, use_nulls)
    if not ref["counts"]:  # every row weighs 0: an empty chain, no credit
        assert model.conversion_probability_ == 0.0
        assert model.transition_counts_.height == 0
        assert (model.channel_credit_["conversions"] == 0).all()
        return
    assert model.conversion_probability_ == pytest.approx(ref["p"], abs=1e-12)
    assert model.expected_value_ == pytest.approx(ref["v"], rel=1e-9, abs=1e-9)
    re = dict(model.removal_effects_.select("channel", "removal_effect").iter_rows())
    rev = dict(model.removal_effects_.select("channel", "value_removal_effect").iter_rows())
    for c, expected in ref["re"].items():  # type: ignore[attr-defined]
        assert re[c] == pytest.approx(expected, abs=1e-9)
        assert rev[c] == pytest.approx(ref["rev"][c], abs=1e-9)  # type: ignore[index]
    counts = {(f, t): c for f, t, c in model.transition_counts_.iter_rows()}
    expected_counts = {(_label(f), _label(t)): c for (f, t), c in ref["counts"].items()}  # type: ignore[attr-defined]
    assert counts == pytest.approx(expected_counts)
    sums = model.transition_matrix_.group_by("from").agg(pl.col("probability").sum())
    assert np.allclose(sums["probability"].to_numpy(), 1.0, atol=1e-12)
    if ref["total_conv"] > 0:  # type: ignore[operator]
        credit = model.channel_credit_
        assert credit["conversions"].sum() == pytest.approx(ref["total_conv"], abs=1e-9)
        assert credit["value"].sum() == pytest.approx(ref["total_value"], abs=1e-6)
        assert (credit["conversions"] >= 0).all()


def test_row_order_and_duplicate_rows_do_not_matter() -> None:
    shuffled = WORKED.sample(fraction=1.0, shuffle=True, seed=3)
    split = pl.concat([WORKED, WORKED]).with_columns(pl.col("conversions", "nulls", "value") / 2)
    base = MarkovModel(order=2).fit(WORKED)
    for other in (shuffled, split):
        fitted = MarkovModel(order=2).fit(other)
        assert_frame_equal(fitted.channel_credit_, base.channel_credit_, abs_tol=1e-12)
        assert_frame_equal(fitted.transition_matrix_, base.transition_matrix_, abs_tol=1e-12)


def test_lazy_input_equals_eager() -> None:
    eager = MarkovModel().fit(WORKED)
    lazy = MarkovModel().fit(WORKED.lazy())
    assert_frame_equal(eager.channel_credit_, lazy.channel_credit_)


# ------------------------------------------------------------------------- edge cases
def test_empty_input() -> None:
    model = MarkovModel(order=3).fit(WORKED.head(0))
    assert model.conversion_probability_ == 0.0
    assert model.channel_credit_.height == 0
    assert model.removal_effects_.columns == ["channel", "removal_effect", "value_removal_effect"]
    assert model.transition_counts_.height == 0
    assert model.channel_weights_ == {}
    assert model.states_["state"].to_list() == ["start", "conversion", "null"]
    assert model.to_networkx().number_of_edges() == 0


def test_single_channel_paths_and_channel_only_in_null_paths() -> None:
    paths = _paths([(["a"], 1, 1, 10), (["b"], 0, 2, 0), (["a", "a"], 1, 0, 5)])
    model = MarkovModel().fit(paths)
    re = dict(model.removal_effects_.select("channel", "removal_effect").iter_rows())
    assert re == {"a": 1.0, "b": 0.0}  # exact zero, not a rounding residue
    credit = dict(model.channel_credit_.select("channel", "conversions").iter_rows())
    assert credit == {"a": 2.0, "b": 0.0}


def test_collapse_repeats_changes_the_chain() -> None:
    paths = _paths([(["a", "a", "b"], 1, 0, 0), (["a"], 0, 1, 0)])
    collapsed = MarkovModel().fit(paths).transition_counts_
    kept = MarkovModel(collapse_repeats=False).fit(paths).transition_counts_
    assert ("a", "a") not in {(f, t) for f, t, _ in collapsed.iter_rows()}
    assert ("a", "a") in {(f, t) for f, t, _ in kept.iter_rows()}


def test_without_nulls_measures_visit_probability() -> None:
    model = MarkovModel(use_nulls=False).fit(WORKED)
    assert model.conversion_probability_ == pytest.approx(1.0)
    assert any(NO_NULLS_NOTE in note for note in model.notes_)
    re = dict(model.removal_effects_.select("channel", "removal_effect").iter_rows())
    # Converting journeys: a>b (2), b (1), c>a>b (1): a is visited by 3 of 4, c by 1 of 4.
    assert re == pytest.approx({"a": 0.75, "b": 1.0, "c": 0.25})
    no_nulls = MarkovModel().fit(WORKED.with_columns(nulls=pl.lit(0.0)))
    assert any(NO_NULLS_NOTE in note for note in no_nulls.notes_)


def test_nothing_converts_gives_zero_credit_and_equal_allocation() -> None:
    paths = _paths([(["a", "b"], 0, 3, 0), (["b"], 0, 1, 0)])
    model = MarkovModel().fit(paths)
    assert model.channel_weights_ == {"a": 0.0, "b": 0.0}
    assert model.channel_credit_["conversions"].to_list() == [0.0, 0.0]
    assert any("all removal effects are 0" in note for note in model.notes_)
    touches = pl.DataFrame(
        {"conversion_id": [1, 1, 1], "position": [0, 1, 2], "channel": ["a", "b", "b"]}
    )
    assert model.allocate(touches)["credit"].to_list() == [0.5, 0.25, 0.25]


def test_null_value_counts_as_zero_with_a_note() -> None:
    paths = WORKED.with_columns(value=pl.Series([None, 50.0, 0.0, 100.0]))
    model = MarkovModel().fit(paths)
    assert model.channel_credit_["value"].sum() == pytest.approx(150.0)
    assert any("null 'value' were given value 0" in note for note in model.notes_)
    with pytest.raises(ValueError, match=r"'conversions' column given to MarkovModel.fit holds"):
        MarkovModel().fit(WORKED.with_columns(conversions=pl.Series([None, 1.0, 0.0, 1.0])))


def test_empty_paths_are_dropped_with_a_note() -> None:
    paths = pl.concat([WORKED, _paths([([], 2, 0, 0)])])
    model = MarkovModel().fit(paths)
    assert model.channel_credit_["conversions"].sum() == pytest.approx(4.0)
    assert any("no touch were dropped" in note for note in model.notes_)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"order": 0},
            "The 'order' parameter of MarkovModel must be an int in [1, 4]. Got 0 instead.",
        ),
        ({"order": 5}, "Got 5 instead."),
        ({"order": True}, "Got True instead."),
        ({"order": 1.0}, "Got 1.0 instead."),
        (
            {"collapse_repeats": "yes"},
            "The 'collapse_repeats' parameter of MarkovModel must be a bool. Got 'yes' instead.",
        ),
        ({"use_nulls": None}, "The 'use_nulls' parameter"),
    ],
)
def test_parameter_errors(params: dict[str, object], message: str) -> None:
    model = MarkovModel(**params)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape(message)):
        model.fit(WORKED)


def test_init_only_stores() -> None:
    model = MarkovModel(order=9)  # invalid, but __init__ does not validate
    assert model.get_params() == {"order": 9, "collapse_repeats": True, "use_nulls": True}
    assert repr(model) == "MarkovModel(order=9, collapse_repeats=True, use_nulls=True)"


def test_input_errors() -> None:
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['conversions'\]"):
        MarkovModel().fit(WORKED.drop("conversions"))
    with pytest.raises(ValueError, match="must be list\\[str\\]"):
        MarkovModel().fit(WORKED.with_columns(pl.col("path").list.join(" > ")))
    with pytest.raises(ValueError, match=r"non-negative numbers; rows \[1\]"):
        MarkovModel().fit(WORKED.with_columns(nulls=pl.Series([1.0, -1.0, 0.0, 0.0])))
    with pytest.raises(ValueError, match="reserves the state names"):
        MarkovModel().fit(_paths([(["null", "a"], 1, 0, 0)]))
    with pytest.raises(ValueError, match="contain it"):
        MarkovModel(order=2).fit(_paths([(["x > y", "a"], 1, 0, 0)]))
    with pytest.raises(ValueError, match="value belongs to conversions"):
        MarkovModel().fit(_paths([(["a"], 0, 1, 5)]))
    with pytest.raises(ValueError, match="null channels in rows \\[0\\]"):
        MarkovModel().fit(
            pl.DataFrame(
                {"path": [["a", None]], "conversions": [1.0]},
                schema={"path": pl.List(pl.String), "conversions": pl.Float64},
            )
        )


def test_not_fitted() -> None:
    with pytest.raises(ValueError, match="not fitted yet"):
        MarkovModel().allocate(pl.DataFrame({"conversion_id": [1], "channel": ["a"]}))
    with pytest.raises(ValueError, match="not fitted yet"):
        MarkovModel().to_networkx()


# ------------------------------------------------------------------------- networkx
def test_to_networkx(tmp_path: object) -> None:
    model = MarkovModel(order=2).fit(WORKED)
    graph = model.to_networkx()
    assert isinstance(graph, nx.DiGraph)
    assert set(graph.nodes) == set(model.states_["state"].to_list())
    assert graph.nodes["start"]["kind"] == "start"
    assert graph.nodes["conversion"]["conversion_probability"] == 1.0
    # "a > b" is left 4 times (a > b: 3, c > a > b: 1) and converts 3 times.
    assert graph.edges["a > b", "conversion"]["probability"] == pytest.approx(3 / 4)
    assert graph.edges["a > b", "conversion"]["count"] == 3.0
    for node in graph.nodes:
        out = sum(d["probability"] for _, _, d in graph.out_edges(node, data=True))
        assert out == pytest.approx(1.0) or graph.nodes[node]["kind"] in ("conversion", "null")
    nx.write_graphml(graph, str(tmp_path) + "/chain.graphml")  # scalar attributes only


# --------------------------------------------------------------------- order selection
def _second_order_journeys(n: int, seed: int) -> pl.DataFrame:
    """Conversion depends on the second-to-last channel only, which order 1 cannot see."""
    rng = np.random.default_rng(seed)
    channels = np.array(["x", "y", "z"])
    lengths = rng.integers(2, 6, size=n)
    paths = [channels[rng.integers(0, 3, size=k)].tolist() for k in lengths]
    # The journey set is generated by a test loop; the model code has none.
    signal = np.array([p[-2] == "x" for p in paths])
    converted = rng.random(n) < np.where(signal, 0.7, 0.1)
    return pl.DataFrame({"path": paths, "converted": converted})


def test_select_order_prefers_the_true_order() -> None:
    journeys = _second_order_journeys(3000, seed=1)
    table, best = select_order(journeys, orders=(1, 2, 3), seed=0)
    assert table.columns == ["order", "auc", "n_states"]
    assert table["order"].to_list() == [1, 2, 3]
    aucs = dict(table.select("order", "auc").iter_rows())
    assert aucs[2] > aucs[1] + 0.2
    assert best == 2
    assert table["n_states"].to_list() == sorted(table["n_states"].to_list())
    _, best_absorption = select_order(journeys, orders=(1, 2), score="absorption")
    assert best_absorption == 2


def test_select_order_ties_go_to_lower_order() -> None:
    # One channel per journey: every order gives the same chain and the same AUC.
    rng = np.random.default_rng(0)
    channel = rng.choice(["a", "b"], size=400)
    converted = rng.random(400) < np.where(channel == "a", 0.7, 0.2)
    journeys = pl.DataFrame({"path": [[c] for c in channel], "converted": converted})
    table, best = select_order(journeys, orders=(3, 1, 2))
    assert table["auc"].n_unique() == 1
    assert best == 1


def test_select_order_errors() -> None:
    journeys = pl.DataFrame({"path": [["a"], ["b"], ["a"]], "converted": [True, True, True]})
    with pytest.raises(ValueError, match="at least 2 converting and 2 non-converting"):
        select_order(journeys)
    with pytest.raises(ValueError, match="'orders' parameter of select_order"):
        select_order(journeys, orders=(0,))
    with pytest.raises(ValueError, match="'converted' column given to select_order must be"):
        select_order(journeys.with_columns(pl.col("converted").cast(pl.Int8)))


# ---------------------------------------------------------------- per-touch allocation
def test_allocate_hand_computed() -> None:
    touches = pl.DataFrame(
        {
            "conversion_id": [7, 7, 7, 7, 8, 9, 9],
            "position": [0, 1, 2, 3, 0, 0, 1],
            "channel": ["a", "b", "a", "c", "b", "q", "r"],
            "touch_id": ["t1", "t2", "t3", "t4", "t5", "t6", "t7"],
        }
    )
    out = allocate_by_channel_weights(touches, {"a": 1.0, "b": 2.0, "c": 1.0})
    assert out.columns == [*touches.columns, "credit"]
    assert_frame_equal(out.drop("credit"), touches)
    # conversion 7: weights a 1, b 2, c 1 -> a 0.25 over 2 touches, b 0.5, c 0.25.
    # conversion 9: unknown channels weigh 0 -> equal split over distinct channels.
    assert out["credit"].to_list() == pytest.approx([0.125, 0.5, 0.125, 0.25, 1.0, 0.5, 0.5])


def test_allocate_same_credit_whether_conversions_are_contiguous_or_interleaved() -> None:
    """Contiguous conversions are windowed by run number, interleaved ones by id: the same."""
    touches = pl.DataFrame(
        {
            "conversion_id": ["k", "k", "k", "m", "m", "z"],
            "channel": ["a", "b", "a", "b", "c", "a"],
            "touch_id": [f"t{i}" for i in range(6)],
        }
    )
    weights = {"a": 1.0, "b": 3.0}
    contiguous = allocate_by_channel_weights(touches, weights)
    interleaved = touches.sample(fraction=1.0, shuffle=True, seed=1)
    assert interleaved.get_column("conversion_id").rle_id().max() + 1 > 3  # really interleaved
    for frame in (interleaved, interleaved.lazy()):
        got = allocate_by_channel_weights(frame, weights)
        assert_frame_equal(got.sort("touch_id"), contiguous.sort("touch_id"))
    assert contiguous["credit"].to_list() == pytest.approx([1 / 8, 3 / 4, 1 / 8, 1.0, 0.0, 1.0])
    # all weights 0: equal split over distinct channels (counted from the group sizes)
    zero = {"a": 0.0, "b": 0.0}
    got = allocate_by_channel_weights(interleaved, zero).sort("touch_id")["credit"].to_list()
    assert got == pytest.approx([1 / 4, 1 / 2, 1 / 4, 1 / 2, 1 / 2, 1.0])


def test_allocate_keeps_user_columns_named_like_its_temporaries() -> None:
    touches = pl.DataFrame(
        {
            "conversion_id": [1, 1],
            "channel": ["a", "b"],
            "__k": ["mine", "too"],
            "__alloc_w": [7, 8],
        }
    )
    out = allocate_by_channel_weights(touches, {"a": 1.0, "b": 1.0})
    assert out.columns == [*touches.columns, "credit"]
    assert_frame_equal(out.drop("credit"), touches)
    assert out["credit"].to_list() == [0.5, 0.5]


def test_allocate_zero_weights_split_equally_over_channels_then_touches() -> None:
    touches = pl.DataFrame({"conversion_id": [1, 1, 1], "channel": ["a", "a", "b"]})
    out = allocate_by_channel_weights(touches, {"a": 0.0, "b": 0.0})
    assert out["credit"].to_list() == [0.25, 0.25, 0.5]


def test_allocate_errors() -> None:
    touches = pl.DataFrame({"conversion_id": [1], "channel": ["a"]})
    with pytest.raises(ValueError, match="finite and non-negative"):
        allocate_by_channel_weights(touches, {"a": -1.0})
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['conversion_id'\]"):
        allocate_by_channel_weights(touches.drop("conversion_id"), {"a": 1.0})
    with pytest.raises(ValueError, match="already has a 'credit' column"):
        allocate_by_channel_weights(touches.with_columns(credit=pl.lit(1.0)), {"a": 1.0})


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        # A subnormal weight alone: all its credit, and no 0/0 for the zero-weight touches.
        ({"a": 0.0, "b": 0.0, "c": 5e-324}, [0.0, 0.0, 1.0]),
        # Beside a normal weight, a subnormal one is negligible.
        ({"a": 1.0, "c": 5e-324}, [0.5, 0.5, 0.0]),
        ({"a": 2e-300, "c": 1e-300}, [1 / 3, 1 / 3, 1 / 3]),
    ],
)
def test_allocate_tiny_weights(weights: dict[str, float], expected: list[float]) -> None:
    touches = pl.DataFrame({"conversion_id": [0, 0, 0], "channel": ["a", "a", "c"]})
    credit = allocate_by_channel_weights(touches, weights)["credit"].to_list()
    assert credit == pytest.approx(expected, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(
    journeys=st.lists(
        st.lists(st.sampled_from("abcde"), min_size=1, max_size=8), min_size=1, max_size=10
    ),
    weights=st.dictionaries(st.sampled_from("abcdef"), st.floats(0, 10, allow_nan=False)),
)
def test_allocate_credit_sums_to_one(journeys: list[list[str]], weights: dict[str, float]) -> None:
    touches = pl.DataFrame({"conversion_id": list(range(len(journeys))), "channel": journeys})
    touches = (
        touches.explode("channel")
        .with_columns(pl.int_range(pl.len()).over("conversion_id").alias("position"))
        .sample(fraction=1.0, shuffle=True, seed=0)
    )
    out = allocate_by_channel_weights(touches.lazy(), weights)
    assert_frame_equal(out.drop("credit"), touches)
    assert (out["credit"] >= 0).all()
    sums = out.group_by("conversion_id").agg(pl.col("credit").sum())["credit"].to_numpy()
    assert np.allclose(sums, 1.0, atol=1e-9)
    eager = allocate_by_channel_weights(touches, weights)
    assert_frame_equal(out, eager)


def test_markov_allocate_uses_removal_effects() -> None:
    model = MarkovModel().fit(WORKED)
    touches = pl.DataFrame({"conversion_id": [1, 1], "position": [0, 1], "channel": ["a", "c"]})
    credit = model.allocate(touches)["credit"].to_list()
    assert credit == pytest.approx([(4 / 7) / (4 / 7 + 2 / 21), (2 / 21) / (4 / 7 + 2 / 21)])


def test_orders_enumerated_once() -> None:
    # Guard against silently dropping states: every transition of every order is counted.
    for order, collapse in itertools.product(range(1, 5), (True, False)):
        model = MarkovModel(order=order, collapse_repeats=collapse).fit(WORKED)
        starts = model.transition_counts_.filter(pl.col("from") == "start")["count"].sum()
        assert starts == pytest.approx(WORKED["conversions"].sum() + WORKED["nulls"].sum())


@pytest.mark.parametrize("value", [5e-324, 1e-310])
def test_gmres_path_handles_subnormal_values(value: float) -> None:
    # Found by hypothesis in a fresh clone: with subnormal values GMRES returned x = 0 and
    # the relative certificate, scaled by that 0, accepted it (value removal effects 0).
    rows = [(["a", "b"], 1.0, 1.0, value), (["b"], 1.0, 0.0, value)]
    saved = _markov._DIRECT_MAX_STATES
    _markov._DIRECT_MAX_STATES = 0  # force the GMRES path
    try:
        model = MarkovModel(order=1).fit(_paths(rows))
    finally:
        _markov._DIRECT_MAX_STATES = saved
    ref = _dense_reference(rows, 1, True, True)
    rev = dict(model.removal_effects_.select("channel", "value_removal_effect").iter_rows())
    for c, expected in ref["rev"].items():  # type: ignore[attr-defined]
        assert rev[c] == pytest.approx(expected, abs=1e-9)


# ------------------------------------------------ fitting on coded journeys (PathSequences)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("collapse", [True, False])
def test_journey_sequences_fit_equals_the_path_table_fit(order, collapse) -> None:
    """attribute() fits Markov on the coded journeys; the same chain as on its path table."""
    from attribution.datasets._synth import synthesize

    data = synthesize(4000, seed=11, conversion_rate=0.1)
    request = ("markov", {"order": order, "collapse_repeats": collapse})
    res = attribution.attribute(data.touches, data.stages, models=[request])
    from_table = MarkovModel(order=order, collapse_repeats=collapse).fit(res.paths)
    label = res.channel_credit.get_column("model").unique().item()
    extras = {k.removeprefix(_safe_label(label) + "_"): v for k, v in res.extras.items()}
    assert_frame_equal(
        extras["transition_matrix"].sort("from", "to"),
        from_table.transition_matrix_.sort("from", "to"),
        rel_tol=1e-12,
    )
    assert_frame_equal(extras["removal_effects"], from_table.removal_effects_, rel_tol=1e-12)
    ours = res.channel_credit.select("channel", "conversions", "value").sort("channel")
    assert_frame_equal(
        ours,
        from_table.channel_credit_.filter(pl.col("conversions") > 0).sort("channel"),
        rel_tol=1e-12,
    )


def _safe_label(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-=" else "_" for ch in label)


def test_journey_sequences_keep_only_channels_in_paths() -> None:
    """A channel seen only outside every window is no state of the chain."""
    touches = pl.DataFrame(
        {
            "contact_id": ["c1", "c1", "c1", "c1"],
            "channel": ["old", "a", "b", "b"],
            "timestamp": ["2024-01-01", "2025-01-01", "2025-01-02", "2025-03-01"],
        }
    )
    stages = pl.DataFrame(
        {"contact_id": ["c1"], "stage": ["closed_won"], "timestamp": ["2025-01-05"]}
    )
    res = attribution.attribute(touches, stages, models=["markov", "shapley"], lookback="30d")
    assert res.manifest["reconciliation"]["touches_dropped"] == {"outside_lookback": 1}
    effects = next(v for k, v in res.extras.items() if k.endswith("removal_effects"))
    assert effects.get_column("channel").to_list() == ["a", "b"]
    values = next(v for k, v in res.extras.items() if k.endswith("shapley_values"))
    assert values.get_column("channel").to_list() == ["a", "b"]


def test_negative_deal_value_is_an_error_for_markov() -> None:
    touches = pl.DataFrame(
        {"contact_id": ["c1", "c2"], "channel": ["a", "b"],
         "timestamp": ["2025-01-01", "2025-01-02"]}
    )
    stages = pl.DataFrame(
        {"contact_id": ["c1"], "stage": ["closed_won"], "timestamp": ["2025-01-05"],
         "value": [-5.0]}
    )
    # an input error naming the column and rows, before any model runs (issue 14)
    with pytest.raises(attribution.InputError, match=r"column 'value'.*negative.*rows, 0-based: 0"):
        attribution.attribute(touches, stages, models=["markov"])
