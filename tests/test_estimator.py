"""Tests of attribution.models._estimator: the declared contract of the learned path models
(parameters from the registry entry, NotFittedError, what the engine reads)."""

from __future__ import annotations

import copy
import inspect
import pickle
import re

import networkx as nx
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution.exceptions import ModelParameterError, NotFittedError
from attribution.models import CounterfactualModel, MarkovModel, ShapleyModel
from attribution.models._estimator import PathModel
from attribution.models._registry import resolve

PATHS = pl.DataFrame(
    {
        "path": [["a", "b"], ["b"], ["a"], ["c", "a", "b"]],
        "conversions": [2.0, 1.0, 0.0, 1.0],
        "nulls": [1.0, 2.0, 2.0, 0.0],
        "value": [200.0, 50.0, 0.0, 100.0],
    }
)
CLASSES = [MarkovModel, ShapleyModel, CounterfactualModel]
DATA_MODELS = [n for n, s in attribution.available_models().items() if s.family == "data"]
TOUCHES = pl.DataFrame({"conversion_id": [1, 1], "position": [0, 1], "channel": ["a", "b"]})


def test_every_data_model_in_the_registry_is_a_path_model_naming_its_entry() -> None:
    assert sorted(DATA_MODELS) == sorted(c.registry_name for c in CLASSES)
    for name in DATA_MODELS:
        model = resolve(name).build()
        assert isinstance(model, PathModel)
        assert model.registry_name == name


@pytest.mark.parametrize("cls", CLASSES)
def test_init_takes_exactly_the_registry_parameters_with_their_defaults(
    cls: type[PathModel],
) -> None:
    params = attribution.get_model(cls.registry_name).params
    signature = inspect.signature(cls)
    assert list(signature.parameters) == [p.name for p in params]
    for p in params:
        assert signature.parameters[p.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert signature.parameters[p.name].default == p.default
    assert cls().get_params() == {p.name: p.default for p in params}


@pytest.mark.parametrize("cls", CLASSES)
def test_fit_errors_are_the_registry_params_constraints(cls: type[PathModel]) -> None:
    for param in attribution.get_model(cls.registry_name).params:
        bad = "nonsense" if param.kind != "choice" else "not-a-choice"
        model = cls(**{param.name: bad})  # type: ignore[call-arg]
        message = (
            f"The '{param.name}' parameter of {cls.__name__} must be {param.constraint()}. "
            f"Got {bad!r} instead."
        )
        with pytest.raises(ModelParameterError, match=re.escape(message)):
            model.fit(PATHS)


def test_fit_accepts_numpy_ints_and_refuses_floats_and_bools() -> None:
    import numpy as np

    assert MarkovModel(order=np.int64(2)).fit(PATHS).n_states_ > 0
    with pytest.raises(ModelParameterError, match=r"Got 2\.0 instead"):
        MarkovModel(order=2.0).fit(PATHS)  # type: ignore[arg-type]
    with pytest.raises(ModelParameterError, match="Got True instead"):
        ShapleyModel(max_channels=True).fit(PATHS)


def test_registry_requests_use_the_same_messages() -> None:
    with pytest.raises(
        ModelParameterError,
        match=re.escape(
            "The 'order' parameter of markov must be an int in [1, 4]. Got '0' instead."
        ),
    ):
        resolve("markov:order=0")
    with pytest.raises(
        ModelParameterError,
        match=re.escape(
            "The 'value' parameter of shapley must be a str among {'rate', 'count'}. "
            "Got 'share' instead."
        ),
    ):
        resolve(("shapley", {"value": "share"}))
    with pytest.raises(ModelParameterError, match="must be of kind int"):
        resolve("shapley:max_channels=many")
    assert resolve("markov:order=2").build().get_params()["order"] == 2


@pytest.mark.parametrize("cls", CLASSES)
def test_not_fitted(cls: type[PathModel]) -> None:
    model = cls()
    calls = [
        lambda: model.allocate(TOUCHES),  # type: ignore[attr-defined]
        lambda: model.channel_credit_,  # type: ignore[attr-defined]
        lambda: model.notes_,
        model.extra_tables,
        model.graph,
        model.fit_notes,
    ]
    for call in calls:
        with pytest.raises(NotFittedError, match=f"This {cls.__name__} instance is not fitted yet"):
            call()
    with pytest.raises(ValueError, match="not fitted yet"):  # NotFittedError is a ValueError
        model.fit_notes()
    with pytest.raises(AttributeError):  # not a fitted attribute: the usual error
        model.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_markov_not_fitted_graph_and_property() -> None:
    with pytest.raises(NotFittedError):
        MarkovModel().to_networkx()
    with pytest.raises(NotFittedError):
        _ = MarkovModel().n_states_


@pytest.mark.parametrize("cls", CLASSES)
def test_after_fit_unknown_attributes_are_attribute_errors(cls: type[PathModel]) -> None:
    model = cls().fit(PATHS)  # type: ignore[attr-defined]
    assert not hasattr(model, "no_such_attribute_")
    with pytest.raises(AttributeError, match="no_such_attribute_"):
        model.no_such_attribute_  # noqa: B018


@pytest.mark.parametrize("cls", CLASSES)
def test_unfitted_and_fitted_models_copy_and_pickle(cls: type[PathModel]) -> None:
    unfitted = pickle.loads(pickle.dumps(cls()))
    assert repr(unfitted) == repr(cls())
    with pytest.raises(NotFittedError):
        unfitted.fit_notes()
    fitted = cls().fit(PATHS)  # type: ignore[attr-defined]
    for clone in (pickle.loads(pickle.dumps(fitted)), copy.deepcopy(fitted)):
        assert_frame_equal(clone.channel_credit_, fitted.channel_credit_)
        assert clone.fit_notes() == fitted.fit_notes()


# ------------------------------------------------------------- what the engine reads
def test_extra_tables() -> None:
    markov = MarkovModel().fit(PATHS)
    tables = markov.extra_tables()
    assert list(tables) == ["removal_effects", "transition_matrix"]
    assert_frame_equal(tables["removal_effects"], markov.removal_effects_)
    assert_frame_equal(tables["transition_matrix"], markov.transition_matrix_)
    shapley = ShapleyModel().fit(PATHS)
    assert list(shapley.extra_tables()) == ["shapley_values"]
    assert_frame_equal(shapley.extra_tables()["shapley_values"], shapley.shapley_values_)
    assert CounterfactualModel().fit(PATHS).extra_tables() == {}


@pytest.mark.parametrize("cls", CLASSES)
def test_extra_tables_are_what_the_engine_used_to_collect(cls: type[PathModel]) -> None:
    model = cls().fit(PATHS)  # type: ignore[attr-defined]
    before = {}
    for attr in ("removal_effects_", "transition_matrix_", "shapley_values_"):
        frame = getattr(model, attr, None)
        if isinstance(frame, pl.DataFrame):
            before[attr.rstrip("_")] = frame
    after = model.extra_tables()
    assert list(after) == list(before)
    for name, frame in before.items():
        assert_frame_equal(after[name], frame)


def test_graph() -> None:
    markov = MarkovModel(order=2).fit(PATHS)
    graph = markov.graph()
    assert isinstance(graph, nx.DiGraph)
    expected = markov.to_networkx()
    assert dict(graph.nodes(data=True)) == dict(expected.nodes(data=True))
    assert list(graph.edges(data=True)) == list(expected.edges(data=True))
    assert graph.graph == {"order": 2, "conversion_probability": markov.conversion_probability_}
    assert ShapleyModel().fit(PATHS).graph() is None
    assert CounterfactualModel().fit(PATHS).graph() is None


def test_fit_notes() -> None:
    markov = MarkovModel(use_nulls=False).fit(PATHS)
    assert markov.fit_notes() == [*markov.notes_, "solved with sparse LU"]
    assert markov.notes_
    assert "solved with" not in markov.notes_[-1]
    empty = MarkovModel().fit(PATHS.head(0))
    assert empty.fit_notes()[-1] == "solved with none"
    shapley = ShapleyModel().fit(PATHS.with_columns(conversions=pl.lit(0.0), value=pl.lit(0.0)))
    assert shapley.fit_notes() == shapley.notes_
    assert any("all Shapley values are 0" in n for n in shapley.fit_notes())
    counterfactual = CounterfactualModel().fit(PATHS)
    assert counterfactual.fit_notes() == counterfactual.notes_
    notes = markov.fit_notes()
    notes.append("mine")  # a copy: the model's notes are not changed through it
    assert "mine" not in markov.notes_


def test_fits_sequences() -> None:
    assert MarkovModel.fits_sequences
    assert ShapleyModel.fits_sequences
    assert not CounterfactualModel.fits_sequences
