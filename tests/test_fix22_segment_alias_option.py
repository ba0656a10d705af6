"""A user's own segment names (``[economics] segment_aliases``) reach the lookback per
segment: the run option ``segment_aliases`` (RunOptions; a config's ``[economics]`` gives
it). Before, only the built-in names (KMU, Konzern, ...) did (e07ed15): an accounts table
segmented ``Gruppe A`` / ``Gruppe C`` with ``smb = ["Gruppe A"]`` took the level's single
window for every account under ``--lookback segments``, and ``enterprise = "200d"`` was an
error ('no account has the segment enterprise')."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from conftest import at
from typer.testing import CliRunner

import attribution
from attribution.cli import app
from attribution.exceptions import InputError

ACCOUNTS = pl.DataFrame({"account_id": ["A", "C"], "segment": ["Gruppe A", "Gruppe C"]})
ALIASES = {"smb": "Gruppe A", "enterprise": ["Gruppe C"]}
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def _world() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Contacts a (Gruppe A) and c (Gruppe C) convert on day 400; their touches 50, 150
    and 300 days before it."""
    rows = [
        (f"{c}{i}", c, a, ch, at(400 - back))
        for c, a in (("a", "A"), ("c", "C"))
        for i, (ch, back) in enumerate((("email", 50), ("webinar", 150), ("linkedin", 300)))
    ]
    touches = pl.DataFrame(
        rows, schema=["touch_id", "contact_id", "account_id", "channel", "timestamp"],
        orient="row",
    )  # fmt: skip
    stages = pl.DataFrame(
        {"contact_id": ["a", "c"], "stage": ["closed_won"] * 2, "timestamp": [at(400)] * 2,
         "value": [100.0] * 2}
    )  # fmt: skip
    return touches, stages


def _journeys(lookback, aliases=ALIASES) -> dict[str, set[str]]:
    touches, stages = _world()
    result = attribution.attribute(
        touches, stages, models=["linear"], accounts=ACCOUNTS, lookback=lookback,
        segment_aliases=aliases,
    )  # fmt: skip
    return {
        cid: set(group.get_column("channel"))
        for (cid,), group in result.touch_credit.partition_by("conversion_id", as_dict=True).items()
    }


def test_the_users_names_take_their_published_segments_windows() -> None:
    got = _journeys("segments")
    assert got["a#1"] == {"email"}  # Gruppe A as smb: 90 days
    assert got["c#1"] == {"email", "webinar", "linkedin"}  # Gruppe C as enterprise: 365


def test_a_published_name_in_the_lookback_reaches_the_users_names() -> None:
    got = _journeys({"enterprise": "200d"})  # was: no account has the segment 'enterprise'
    assert got["c#1"] == {"email", "webinar"}


def test_the_users_own_entry_wins() -> None:
    got = _journeys({"Gruppe C": "100d", "enterprise": "400d"})
    assert got["c#1"] == {"email"}


def test_without_the_option_the_names_are_no_segment_of_the_lookback() -> None:
    """The guard: the windows above come from the option."""
    got = _journeys("segments", aliases=None)
    assert got["c#1"] == {"email"}  # the contact default, 90 days
    with pytest.raises(InputError, match="no account has"):
        _journeys({"enterprise": "200d"}, aliases=None)


@pytest.mark.parametrize("value", ["KMU", {"smb": [1]}, {"smb": [""]}])
def test_a_misshapen_option_names_itself(value: object) -> None:
    with pytest.raises(InputError, match="segment_aliases") as info:
        attribution.RunOptions(segment_aliases=value)
    assert info.value.option == "segment_aliases"


def test_the_config_s_economics_table_gives_the_option(tmp_path: Path) -> None:
    touches, stages = _world()
    touches.write_csv(tmp_path / "touches.csv")
    stages.write_csv(tmp_path / "stages.csv")
    ACCOUNTS.write_csv(tmp_path / "accounts.csv")
    config = tmp_path / "run.toml"
    config.write_text(
        '[inputs]\ntouches = "touches.csv"\nstages = "stages.csv"\naccounts = "accounts.csv"\n'
        '[run]\nmodels = ["linear"]\nlookback = "segments"\nout = "runs"\n'
        '[economics]\nsegment_aliases = {smb = "Gruppe A", enterprise = ["Gruppe C"]}\n'
    )
    done = CliRunner().invoke(app, ["run", "-c", str(config)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    params = manifest["parameters"]
    assert params["segment_aliases"] == {"smb": ["Gruppe A"], "enterprise": ["Gruppe C"]}
    assert params["lookback_by_segment"]["gruppe_c"] == "365 days"
    assert manifest["reconciliation"]["touches_in_journeys"] == 4  # 1 + 3


def test_the_b2b_stage_reads_the_option_and_refuses_two_settings() -> None:
    accounts = pl.read_parquet(SAMPLE / "accounts.parquet").with_columns(
        pl.col("segment").replace({"mid_market": "Gruppe B"})
    )
    result = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=["linear"],
        segment_aliases={"mid_market": ["Gruppe B"]},
    )  # fmt: skip
    inputs = attribution.B2BInputs(spend=SAMPLE / "spend.parquet", accounts=accounts)
    econ = next(
        x for x in attribution.analyse(result, inputs).extras
        if type(x).__name__ == "UnitEconomics"
    )  # fmt: skip
    assert econ.parameters["segment_aliases"]["gruppe_b"] == {  # type: ignore[attr-defined]
        "as": "mid_market", "source": "given"}  # fmt: skip
    other = attribution.B2BInputs(spend=SAMPLE / "spend.parquet", accounts=accounts,
                                  economics={"segment_aliases": {"smb": ["Gruppe B"]}})
    with pytest.raises(attribution.ConfigError, match="differs from the run option"):
        attribution.analyse(result, other)
