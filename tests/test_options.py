"""RunOptions: one validated description of a run, read by every executor."""

from __future__ import annotations

import pickle
from datetime import timedelta

import polars as pl
import pytest

import attribution
from attribution import RunOptions

TOUCHES = pl.DataFrame({"contact_id": ["c1", "c1", "c2"], "channel": ["linkedin", "email", "ads"],
                        "timestamp": ["2025-01-01", "2025-01-05", "2025-01-02"]})
STAGES = pl.DataFrame({"contact_id": ["c1"], "stage": ["closed_won"],
                       "timestamp": ["2025-01-10"], "value": [1000.0]})


def test_defaults_are_the_registry_defaults_and_the_level_window() -> None:
    options = RunOptions()
    assert list(options.models or ()) == attribution.default_models()
    assert options.window == timedelta(days=90)
    assert RunOptions(level="account").window == timedelta(days=180)


@pytest.mark.parametrize(("kwargs", "option"), [
    ({"lookback": "ninety days"}, "lookback"),
    ({"level": "acount"}, "level"),
    ({"contact_scope": "everyone", "level": "account"}, "contact_scope"),
    ({"role_multipliers": {"champion": 2}}, "role_multipliers"),
    ({"level": "account", "role_multipliers": {"champion": -1}}, "role_multipliers"),
    ({"required_roles": []}, "required_roles"),
    ({"conversion_stage": ""}, "conversion_stage"),
])
def test_a_bad_option_is_an_input_error_naming_it(kwargs: dict, option: str) -> None:
    with pytest.raises(attribution.InputError) as info:
        RunOptions(**kwargs)
    assert info.value.option == option


def test_unknown_models_and_options_are_refused() -> None:
    with pytest.raises(attribution.ModelNotFoundError, match="did you mean 'linear'"):
        RunOptions(models=["lineer"])
    with pytest.raises(TypeError, match="did you mean 'lookback'"):
        RunOptions.of(look_back="9d")


def test_keywords_update_given_options_and_are_checked_again() -> None:
    base = RunOptions(models=["linear"], lookback="30d")
    assert RunOptions.of(base) is base
    changed = RunOptions.of(base, level="account")
    assert (changed.level, changed.window, list(changed.models or ())) == (
        "account", timedelta(days=30), ["linear"])
    with pytest.raises(attribution.InputError):
        RunOptions.of(base, lookback=-1)


def test_options_pickle_with_their_checked_values() -> None:
    options = RunOptions(models=["linear", "markov:order=2"], level="account",
                         role_multipliers={"Decision Maker": 2})
    back = pickle.loads(pickle.dumps(options))
    assert [r.label for r in back.runs] == ["linear", "markov(order=2)"]
    assert back.multipliers == {"decision_maker": 2.0}
    assert back.window == options.window


def test_unpickled_options_do_not_resolve_their_models_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import attribution.models._registry as registry
    import attribution.options

    options = RunOptions(models=["linear", "markov:order=2", ("time_decay", {"half_life": "3d"})])
    data = pickle.dumps(options)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("models resolved again")

    for name in ("resolve", "resolve_all", "_coerce", "_parse"):
        monkeypatch.setattr(registry, name, refuse)
    monkeypatch.setattr(attribution.options, "resolve_all", refuse)
    back = pickle.loads(data)
    assert back.runs == options.runs
    assert [r.spec for r in back.runs] == [r.spec for r in options.runs]
    assert back.runs[1].params == {"order": 2, "collapse_repeats": True, "use_nulls": True}
    assert back.runs[2].params["half_life"] == timedelta(days=3)


def test_a_model_spec_pickles_as_its_name() -> None:
    spec = attribution.get_model("time_decay")
    data = pickle.dumps(spec)
    assert pickle.loads(data) is spec
    assert b"time_decay" in data
    assert b"lambda" not in data
    assert len(data) < 200
    # a spec that is not the registered one is not swapped for it
    import copy
    import dataclasses

    other = dataclasses.replace(spec, summary="not the registered one")
    assert copy.deepcopy(other).summary == "not the registered one"


def test_the_options_are_a_private_copy() -> None:
    names = {"closed_won": ["Won"]}
    options = RunOptions(stage_names=names)
    names["closed_won"].append("Closed Won")
    assert options.stage_names == {"closed_won": ["Won"]}


@pytest.mark.parametrize(("models", "level", "select"), [
    (["linear", "markov", "w_shaped"], "contact", False),
    (["markov"], "account", False),
    (["linear"], "contact", True),
])
def test_progress_stages_are_the_stages_attribute_reports(models, level, select) -> None:
    seen: list[str] = []
    extra = {"contacts": pl.DataFrame({"contact_id": ["c1", "c2"], "account_id": ["a", "b"]})}
    options = RunOptions(models=models, level=level, select_markov_order=select)
    if select:  # order selection needs converting and non-converting journeys: more data
        touches = pl.concat([TOUCHES.with_columns(pl.col("contact_id") + str(i))
                             for i in range(20)])
        stages = pl.concat([STAGES.with_columns(pl.col("contact_id") + str(i))
                            for i in range(20)])
    else:
        touches, stages = TOUCHES, STAGES
    contacts = extra["contacts"] if level == "account" else None
    attribution.attribute(touches, stages, contacts=contacts, options=options,
                          progress=seen.append)
    assert seen == [*options.progress_stages, "done"]


def test_attribute_takes_options_or_keywords_alike() -> None:
    by_keywords = attribution.attribute(TOUCHES, STAGES, models=["linear"], lookback="30d")
    by_options = attribution.attribute(TOUCHES, STAGES,
                                       options=RunOptions(models=["linear"], lookback="30d"))
    assert by_keywords.touch_credit.equals(by_options.touch_credit)
    assert by_keywords.manifest["parameters"] == by_options.manifest["parameters"]


# --- one description of the options for the command line, the Spark job and config files ---


def test_every_flagged_option_is_a_flag_of_run_and_of_the_spark_job() -> None:
    import typer.main

    from attribution.cli import app
    from attribution.engine._spark import NOT_ON_SPARK
    from attribution.engine._spark_job import job_parser
    from attribution.options import option_flags

    run = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    cli = {p.name: tuple(p.opts) for p in run.params}
    spark = {a.dest: tuple(a.option_strings) for a in job_parser()._actions}
    flagged = dict(option_flags())
    assert set(flagged) <= set(RunOptions.names())
    assert {"models", "level", "lookback", "role_multipliers"} <= set(flagged)
    for name, flag in flagged.items():
        assert cli[name] == flag.flags
        assert spark.get(name) == (None if name in NOT_ON_SPARK else flag.flags)


def test_flags_are_read_into_options_and_errors_name_the_flag() -> None:
    from attribution.options import read_flags

    given = read_flags({"models": ["linear"], "level": "account", "select_markov_order": False,
                        "role_multipliers": "default", "required_roles": "champion|user",
                        "lookback": None})
    assert given["level"] == ("account", "--level")
    assert "select_markov_order" not in given
    assert "lookback" not in given
    options = RunOptions.written(given)
    assert options == RunOptions(models=["linear"], level="account",
                                 required_roles=["champion", "user"],
                                 role_multipliers=attribution.DEFAULT_ROLE_MULTIPLIERS)
    with pytest.raises(attribution.InputError, match="^--level: level must be") as info:
        RunOptions.written(read_flags({"level": "acount"}))
    assert info.value.option == "level"
    with pytest.raises(attribution.InputError, match="^--role-multipliers: takes role=number"):
        read_flags({"role_multipliers": "champion=two"})
    with pytest.raises(attribution.ModelNotFoundError, match="^--model: unknown model 'lineer'"):
        RunOptions.written(read_flags({"models": ["lineer"]}))


def test_a_config_file_gives_every_run_key_and_errors_name_the_key(tmp_path) -> None:
    from attribution.inputs._config import load_config

    path = tmp_path / "run.toml"
    path.write_text('[run]\nmodels = ["linear"]\nlevel = "account"\nlookback = "30d"\n'
                    'select_markov_order = true\ncontact_scope = "primary"\n'
                    'required_roles = ["champion"]\nrole_multipliers = {champion = 2}\n'
                    '[stage_names]\nclosed_won = "Won"\n')
    cfg = load_config(path)
    assert cfg.options() == RunOptions(
        models=["linear"], level="account", lookback="30d", select_markov_order=True,
        contact_scope="primary", required_roles=["champion"], role_multipliers={"champion": 2},
        stage_names={"closed_won": "Won"})
    # a flag wins over the file's key
    assert cfg.options({"lookback": ("9d", "--lookback")}).window == timedelta(days=9)
    path.write_text('[run]\nlevel = "account"\ncontact_scope = "everyone"\n')
    with pytest.raises(attribution.InputError,
                       match=r"^config '.*run\.toml': \[run\] contact_scope: contact_scope must"):
        load_config(path).options()
