"""The public API: a sorted ``__all__`` of importable names, one error family, the registry."""

from __future__ import annotations

import importlib
import inspect

import pytest

import attribution


def test_all_is_sorted_and_unique() -> None:
    assert attribution.__all__ == sorted(attribution.__all__)
    assert len(set(attribution.__all__)) == len(attribution.__all__)


@pytest.mark.parametrize("name", attribution.__all__)
def test_every_public_name_is_importable(name: str) -> None:
    module = importlib.import_module("attribution")
    assert getattr(module, name) is not None
    exec(f"from attribution import {name}", {})


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from attribution import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == attribution.__all__


def test_public_callables_and_classes_are_exported() -> None:
    public = {
        name
        for name, obj in vars(attribution).items()
        if not name.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
    }
    assert public <= set(attribution.__all__)


def test_learned_models_are_public_and_load_on_first_use() -> None:
    import subprocess
    import sys

    from attribution.models import CounterfactualModel, MarkovModel, ShapleyModel

    for cls in (CounterfactualModel, MarkovModel, ShapleyModel):
        assert cls.__name__ in attribution.__all__
        assert getattr(attribution, cls.__name__) is cls
        with pytest.raises(attribution.NotFittedError):
            _ = cls().channel_credit_  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="no attribute 'NoSuchModel'"):
        _ = attribution.NoSuchModel  # type: ignore[attr-defined]
    code = (
        "import sys, attribution; assert 'scipy' not in sys.modules; "
        "attribution.MarkovModel; assert 'scipy' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_package_ships_its_types() -> None:
    import tomllib
    from pathlib import Path

    assert (Path(attribution.__file__).parent / "py.typed").is_file()
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["attribution"]
    assert pyproject["tool"]["mypy"]["strict"] is True
    pytest_options = pyproject["tool"]["pytest"]["ini_options"]
    assert pytest_options["xfail_strict"] is True
    assert {"--strict-config", "--doctest-modules"} <= set(pytest_options["addopts"].split())
    assert "attribution" in pytest_options["testpaths"]


def test_version() -> None:
    assert isinstance(attribution.__version__, str)
    assert attribution.__version__[0].isdigit()


ERRORS = [
    attribution.InputError,
    attribution.ColumnNotFoundError,
    attribution.SchemaError,
    attribution.NullValueError,
    attribution.DuplicateKeyError,
    attribution.ConfigError,
    attribution.EmptyResultError,
    attribution.ModelNotFoundError,
    attribution.ModelParameterError,
]


@pytest.mark.parametrize("error", ERRORS)
def test_one_error_family(error: type[Exception]) -> None:
    assert issubclass(error, attribution.AttributionError)
    assert error.__module__ == "attribution.exceptions"


def test_input_errors_carry_context() -> None:
    err = attribution.SchemaError(
        "bad", table="touches", source="t.csv", column="ts", rows=[3, 9], hint="fix it"
    )
    assert isinstance(err, attribution.InputError)
    assert isinstance(err, ValueError)
    assert str(err) == (
        "table 'touches', source 't.csv', column 'ts': bad "
        "(first offending rows, 0-based: 3, 9). Hint: fix it"
    )
    assert (err.table, err.source, err.column, err.rows, err.hint, err.message) == (
        "touches",
        "t.csv",
        "ts",
        [3, 9],
        "fix it",
        "bad",
    )
    assert str(attribution.InputError("plain")) == "plain"


def test_model_not_found_is_a_readable_key_error() -> None:
    with pytest.raises(KeyError) as info:
        attribution.get_model("nope")
    assert str(info.value).startswith("unknown model 'nope'")


def test_registry() -> None:
    models = attribution.available_models()
    assert list(models)[:3] == ["first_touch", "last_touch", "last_non_direct"]
    for name, spec in models.items():
        assert isinstance(spec, attribution.ModelSpec)
        assert spec.name == name
        assert attribution.get_model(name) is spec
        assert spec.family in ("rule", "data")
        assert spec.summary
        described = spec.describe()
        assert described["name"] == name
        assert all(isinstance(p, attribution.Param) for p in spec.params)
    # a copy: callers cannot change the registry
    models.clear()
    assert attribution.available_models()


def test_rule_specs_flag_what_they_need() -> None:
    models = attribution.available_models()
    needs_milestones = {n for n, s in models.items() if s.needs_milestones}
    needs_timestamps = {n for n, s in models.items() if s.needs_timestamps}
    assert {"u_shaped", "w_shaped", "full_path"} <= needs_milestones
    assert "time_decay" in needs_timestamps
    assert not {"linear", "first_touch", "last_touch", "position_based"} & (
        needs_milestones | needs_timestamps
    )
