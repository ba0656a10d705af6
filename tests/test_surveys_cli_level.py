"""``attribution surveys`` describes its run as ``attribution run`` does: ``--level account``
with ``--contacts`` makes account journeys, and an answer keyed by a contact joins its
contact's account, as in ``run --surveys`` (the benchmark is the same)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from typer.testing import CliRunner

from attribution.cli._app import app

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TOUCHES = pl.DataFrame(
    {
        "contact_id": ["C1", "C1", "C2", "C3", "C5"],
        "channel": ["linkedin", "email", "webinar", "google_ads", "linkedin"],
        "timestamp": [T0 + timedelta(days=d) for d in (1, 5, 2, 3, 4)],
    }
)
STAGES = pl.DataFrame(
    {
        "contact_id": ["C1", "C2", "C3"],
        "stage": ["closed_won"] * 3,
        "timestamp": [T0 + timedelta(days=20)] * 3,
    }
)
# C5 (no deal of their own) is in C1's account: at account level A1's journey has 3 touches
CONTACTS = pl.DataFrame(
    {"contact_id": ["C1", "C2", "C3", "C4", "C5"], "account_id": ["A1", "A2", "A3", None, "A1"]}
)
ANSWERS = pl.DataFrame(
    {"contact_id": ["C1", "C2", "C3", "C4"], "response": ["LinkedIn", "a webinar", "google",
                                                          "LinkedIn"]}
)  # fmt: skip


def _files(tmp_path: Path) -> list[str]:
    for name, frame in (("touches", TOUCHES), ("stages", STAGES), ("contacts", CONTACTS),
                        ("surveys", ANSWERS)):  # fmt: skip
        frame.write_csv(tmp_path / f"{name}.csv")
    return [
        "--touches", str(tmp_path / "touches.csv"), "--stages", str(tmp_path / "stages.csv"),
        "--surveys", str(tmp_path / "surveys.csv"), "-m", "linear", "-m", "last_touch",
    ]  # fmt: skip


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _bench(runs: Path) -> dict[str, Any]:
    (run,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    meta = json.loads((run / "survey_benchmark.json").read_text())
    meta["leaderboard"] = pl.read_parquet(run / "survey_leaderboard.parquet").select(
        "model", "agreement"
    ).rows()
    meta["manifest"] = json.loads((run / "manifest.json").read_text())
    return meta


def test_surveys_at_account_level_joins_contact_answers_through_the_contacts(
    tmp_path: Path,
) -> None:
    common = _files(tmp_path)
    contacts = ["--contacts", str(tmp_path / "contacts.csv")]
    got = _invoke("surveys", *common, *contacts, "--level", "account",
                  "--out", str(tmp_path / "s"))  # fmt: skip
    assert got.exit_code == 0, got.output
    bench = _bench(tmp_path / "s")
    assert bench["manifest"]["parameters"]["level"] == "account"
    assert bench["counts"]["answers_account_from_contact"] == 3
    assert bench["counts"]["answers_contact_without_account"] == 1  # C4 has no account
    assert bench["counts"]["answers_joined"] == 3
    assert bench["parameters"]["contacts"] is True

    ran = _invoke("run", *common, *contacts, "--level", "account", "--out", str(tmp_path / "r"))
    assert ran.exit_code == 0, ran.output
    same = _bench(tmp_path / "r")
    for key in ("counts", "parameters", "leaderboard"):
        assert bench[key] == same[key], key
    assert bench["manifest"]["decision_model"] == same["manifest"]["decision_model"]


def test_surveys_level_is_checked_as_run_checks_it(tmp_path: Path) -> None:
    got = _invoke("surveys", *_files(tmp_path), "--level", "acount", "--out", str(tmp_path / "s"))
    assert got.exit_code == 2
    assert "--level: level must be 'contact' or 'account'; got 'acount'" in got.output
    assert not (tmp_path / "s").exists()
