"""Run configuration files (attribution.inputs._config)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution.inputs._config import RunConfig, load_config

FULL = """
[inputs]
touches = "data/touches.csv"
stages = "data/stages.parquet"
contacts = "../shared/contacts.csv"

[run]
models = ["linear", "time_decay:half_life=3d"]
level = "account"
conversion_stage = "opportunity"
lookback = "60d"
out = "runs"

[columns.touches]
timestamp = "event_time"
contact_id = "lead_id"

[stage_names]
closed_won = ["Closed Won", "Won"]
opportunity = "SQO"

[milestones]
lead = ["lead", "mql"]

[taxonomy]
rules = "rules/channels.toml"
"""


def _write(tmp_path: Path, text: str, name: str = "job/run.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_full_config_with_relative_paths(tmp_path: Path) -> None:
    path = _write(tmp_path, FULL)
    cfg = load_config(path)
    job = (tmp_path / "job").resolve()
    assert cfg == RunConfig(
        inputs={
            "touches": job / "data" / "touches.csv",
            "stages": job / "data" / "stages.parquet",
            "contacts": (tmp_path / "shared" / "contacts.csv").resolve(),
        },
        run={
            "models": ["linear", "time_decay:half_life=3d"],
            "level": "account",
            "conversion_stage": "opportunity",
            "lookback": "60d",
            "out": str(job / "runs"),
        },
        columns={"touches": {"timestamp": "event_time", "contact_id": "lead_id"}},
        stage_names={"closed_won": ["Closed Won", "Won"], "opportunity": "SQO"},
        milestones={"lead": ["lead", "mql"]},
        channel_rules=job / "rules" / "channels.toml",
        path=path.resolve(),
    )
    assert all(p.is_absolute() for p in cfg.inputs.values())


def test_relative_to_the_file_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, '[inputs]\nevents = "events.ndjson"\n')
    monkeypatch.chdir(tmp_path)
    cfg = load_config(Path("job/run.toml"))
    assert cfg.inputs == {"events": (tmp_path / "job" / "events.ndjson").resolve()}
    assert cfg.path == path.resolve()
    assert cfg.channel_rules is None


def test_empty_config(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, ""))
    assert (cfg.inputs, cfg.run, cfg.columns, cfg.stage_names, cfg.milestones) == (
        {},
        {},
        {},
        {},
        {},
    )


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("[input]\n", "the top level", "did you mean 'inputs'"),
        ('[inputs]\ntouch = "t.csv"\n', r"\[inputs\]", "did you mean 'touches'"),
        ('[run]\nmodel = ["linear"]\n', r"\[run\]", "did you mean 'models'"),
        ('[run]\nlook_back = "9d"\n', r"\[run\]", "did you mean 'lookback'"),
        ('[columns.touch]\ntimestamp = "ts"\n', r"\[columns\]", "did you mean 'touches'"),
        (
            '[columns.touches]\ntimestmp = "ts"\n',
            r"\[columns.touches\]",
            "did you mean 'timestamp'",
        ),
        ('[milestones]\nleads = ["mql"]\n', r"\[milestones\]", "did you mean 'lead'"),
        ('[taxonomy]\nrule = "r.toml"\n', r"\[taxonomy\]", "did you mean 'rules'"),
        (
            "[zzz]\n",
            "the top level",
            "available: 'alerts', 'benchmarks', 'channels', 'columns', 'economics', 'formats', "
            "'inputs'",
        ),
    ],
)
def test_unknown_keys(tmp_path: Path, text: str, where: str, hint: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(attribution.ConfigError, match=f"unknown key .* in {where}; {hint}") as info:
        load_config(path)
    assert str(path.resolve()) in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[inputs\n", "not valid TOML"),
        ('[columns]\ntouches = "ts"\n', "maps our name"),
        ("[columns.touches]\ntimestamp = 3\n", "maps our name"),
        ("run = 5\n", r"\[run\] must be a table"),
        ("[inputs]\ntouches = 5\n", "touches must be a path"),
        ("[stage_names]\nclosed_won = 5\n", "closed_won must be a stage name or a list"),
        ('[milestones]\nlead = ["mql", 3]\n', "lead must be a stage name or a list"),
        ("[taxonomy]\nrules = true\n", "rules must be a path"),
        ("[run]\nout = 5\n", "out must be a path"),
    ],
)
def test_malformed_config(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(attribution.ConfigError, match=message):
        load_config(_write(tmp_path, text))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(attribution.ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.toml")


def test_a_config_drives_attribute(tmp_path: Path, worked) -> None:
    touches, stages = worked
    data = tmp_path / "job" / "data"
    data.mkdir(parents=True)
    touches.rename({"timestamp": "event_time", "contact_id": "lead_id"}).write_csv(
        data / "touches.csv"
    )
    stages.with_columns(pl.col("stage").replace({"closed_won": "Won"})).write_parquet(
        data / "stages.parquet"
    )
    cfg = load_config(
        _write(
            tmp_path,
            '[inputs]\ntouches = "data/touches.csv"\nstages = "data/stages.parquet"\n'
            '[columns.touches]\ntimestamp = "event_time"\ncontact_id = "lead_id"\n'
            '[stage_names]\nclosed_won = ["Closed Won", "Won"]\n',
        )
    )
    result = attribution.attribute(
        cfg.inputs["touches"],
        cfg.inputs["stages"],
        models=["w_shaped"],
        columns=cfg.columns,
        stage_names=cfg.stage_names,
    )
    expected = attribution.attribute(touches, stages, models=["w_shaped"])
    assert_frame_equal(result.touch_credit, expected.touch_credit)
