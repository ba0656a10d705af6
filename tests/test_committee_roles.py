"""A buying-committee role the run is given (``required_roles``, ``role_multipliers``) that no
contact holds is an error naming the option, with a did-you-mean and the roles the contacts
hold (new-user report 4, defect 11: a one-letter typo made every deal "0 of 2")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import at

import attribution
from attribution.exceptions import InputError


def _data(roles: list[str | None] | None = None) -> tuple[pl.DataFrame, ...]:
    roles = roles if roles is not None else ["decision_maker", "Champion ", "user", None]
    n = len(roles)
    touches = pl.DataFrame(
        {
            "touch_id": [f"t{i}" for i in range(n)],
            "contact_id": [f"c{i}" for i in range(n)],
            "channel": ["email", "linkedin", "webinar", "direct"][:n],
            "timestamp": [at(i) for i in range(n)],
        }
    )
    stages = pl.DataFrame(
        {"contact_id": ["c0"], "stage": ["closed_won"], "timestamp": [at(10)], "value": [5.0]}
    )
    contacts = pl.DataFrame(
        {"contact_id": [f"c{i}" for i in range(n)], "account_id": ["A"] * n, "role": roles},
        schema={"contact_id": pl.String, "account_id": pl.String, "role": pl.String},
    )
    return touches, stages, contacts


def _run(data, partitions: int | None = None, **options):
    touches, stages, contacts = data
    kw = dict(contacts=contacts, models=["linear"], level="account", **options)
    if partitions:
        return attribution.attribute_partitioned(touches, stages, partitions=partitions, **kw)
    return attribution.attribute(touches, stages, **kw)


@pytest.mark.parametrize("partitions", [None, 2])
@pytest.mark.parametrize(
    ("options", "option", "flag"),
    [
        ({"required_roles": ["decison_maker", "Champion"]}, "required_roles", "--required-roles"),
        (
            {"role_multipliers": {"decison_maker": 3, "champion": 2}},
            "role_multipliers",
            "--role-multipliers",
        ),
    ],
)
def test_a_role_no_contact_holds_is_an_error(options, option, flag, partitions) -> None:
    with pytest.raises(InputError) as caught:
        _run(_data(), partitions, **options)
    text = str(caught.value)
    assert caught.value.option == option
    assert text.startswith(f"{flag} / {option}: role 'decison_maker' is held by no contact")
    assert "did you mean 'decision_maker'?" in text
    assert "roles there: champion, decision_maker, user" in text


def test_roles_as_written_in_the_crm_and_unknown_are_accepted() -> None:
    result = _run(
        _data(),
        required_roles=["Decision Maker", "champion"],
        role_multipliers={"decision-maker": 2, "unknown": 1, "USER": 0.5},
    )
    assert result.conversions.get_column("coverage").to_list() == ["2 of 2"]


def test_the_defaults_are_not_checked_against_the_contacts() -> None:
    """The default committee names finance, which these contacts lack; a contacts table
    without roles at all runs too (coverage counted against the defaults, as before)."""
    result = _run(_data(), role_multipliers=dict(attribution.DEFAULT_ROLE_MULTIPLIERS))
    assert result.conversions.get_column("coverage").to_list() == ["3 of 4"]
    no_roles = _data()[:2] + (_data()[2].drop("role"),)
    assert _run(no_roles).conversions.get_column("coverage").to_list() == ["0 of 4"]


def test_a_given_role_without_any_contact_role_names_the_missing_column() -> None:
    with pytest.raises(InputError, match="gives no contact a role") as caught:
        _run(_data([None, None]), required_roles=["finance"])
    assert caught.value.option == "required_roles"


def test_cli_names_the_flag_and_exits_2(tmp_path: Path) -> None:
    for name, frame in zip("tsc", _data(), strict=True):
        frame.write_parquet(tmp_path / f"{name}.parquet")
    done = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches", "t.parquet",
         "--stages", "s.parquet", "--contacts", "c.parquet", "--level", "account",
         "-m", "linear", "--required-roles", "decison_maker|Champion", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--required-roles / required_roles: role 'decison_maker'" in done.stderr
    assert "did you mean 'decision_maker'?" in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
