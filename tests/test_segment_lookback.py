"""The lookback per account segment: how it is written (options, flags, config), which touches
it lets into each journey, and that it is exact: a segment's journeys are those a run with
that segment's single lookback gives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import at
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution.exceptions import InputError
from attribution.inputs._config import load_config
from attribution.journeys._segment_windows import SEGMENT_LOOKBACK
from attribution.options import read_flags

DAYS = timedelta(days=1)


def test_one_lookback_is_unchanged() -> None:
    options = attribution.RunOptions(lookback="90d")
    assert options.window == 90 * DAYS
    assert options.segment_windows is None
    assert attribution.RunOptions().segment_windows is None


@pytest.mark.parametrize(
    "written",
    [
        {"smb": "30d", "Mid-Market": "120d", "default": "60d"},
        "smb=30d, mid_market=120d,default=60d",
    ],
)
def test_a_lookback_per_segment_over_the_documented_defaults(written) -> None:
    options = attribution.RunOptions(lookback=written)
    assert options.segment_windows == {
        "smb": 30 * DAYS,
        "mid_market": 120 * DAYS,  # 'Mid-Market' in the accounts table's spelling
        "enterprise": 365 * DAYS,
        "strategic": 540 * DAYS,
    }
    assert options.window == 60 * DAYS  # no segment: the default key


def test_segments_keyword_and_the_level_default() -> None:
    contact = attribution.RunOptions(lookback="segments")
    assert contact.segment_windows == dict(SEGMENT_LOOKBACK)
    assert contact.window == 90 * DAYS
    account = attribution.RunOptions(lookback={"smb": "45d"}, level="account")
    assert account.window == 180 * DAYS
    # the options stay a value: replace() checks them again
    assert account.replace(models=["linear"]).segment_windows == account.segment_windows


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ({"smb": "90"}, "'lookback.smb' must be a duration"),
        ({"smb": "-3d"}, "'lookback.smb' must be positive"),
        ("smb=90d,enterprise", "segment=duration"),
        ({"smb": "90d", " SMB ": "30d"}, "twice"),
        ("90", "a number needs a unit"),
    ],
)
def test_bad_lookbacks_name_the_option(written, message) -> None:
    with pytest.raises(InputError, match=message) as info:
        attribution.RunOptions(lookback=written)
    assert info.value.option == "lookback"


def test_flag_and_config_spellings(tmp_path: Path) -> None:
    given_flags = read_flags({"lookback": "smb=30d,enterprise=200d"})
    options = attribution.RunOptions.written(given_flags)
    assert options.segment_windows is not None
    assert options.segment_windows["enterprise"] == 200 * DAYS
    assert attribution.RunOptions.written(read_flags({"lookback": "90d"})).window == 90 * DAYS
    config = tmp_path / "run.toml"
    config.write_text(
        '[inputs]\ntouches = "t.csv"\n[run]\nlookback = {smb = "30d", default = "10d"}\n'
    )
    options = load_config(config).options()
    assert options.segment_windows is not None
    assert options.segment_windows["smb"] == 30 * DAYS
    assert options.window == 10 * DAYS
    config.write_text('[inputs]\ntouches = "t.csv"\n[run]\nlookback = {smb = "30"}\n')
    with pytest.raises(InputError, match=r"\[run\] lookback: 'lookback.smb'"):
        load_config(config).options()


# --- which touches join a journey --------------------------------------------------------


def touches_of(rows: list[tuple[str, str | None, str, float]]) -> pl.DataFrame:
    """(contact, account, channel, day) rows."""
    return pl.DataFrame(
        [(f"t{i}", c, a, ch, at(d)) for i, (c, a, ch, d) in enumerate(rows)],
        schema={
            "touch_id": pl.String,
            "contact_id": pl.String,
            "account_id": pl.String,
            "channel": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )


def stages_of(rows: list[tuple[str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(c, "closed_won", at(d), 100.0) for c, d in rows],
        schema={
            "contact_id": pl.String,
            "stage": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "value": pl.Float64,
        },
        orient="row",
    )


ACCOUNTS = pl.DataFrame({"account_id": ["A", "B", "C"], "segment": ["SMB", "Enterprise", None]})


@pytest.fixture
def world() -> tuple[pl.DataFrame, pl.DataFrame]:
    # every contact converts on day 400; touches 50, 150 and 300 days before it
    rows = []
    for contact, account in (("s", "A"), ("e", "B"), ("n", "C"), ("x", None)):
        rows += [
            (contact, account, ch, 400 - back)
            for ch, back in (("email", 50), ("webinar", 150), ("linkedin", 300))
        ]
    return touches_of(rows), stages_of([(c, 400) for c in "senx"])


def journey_touches(result: attribution.AttributionResult) -> dict[str, set[str]]:
    tc = result.touch_credit
    return {
        cid: set(group.get_column("channel"))
        for (cid,), group in tc.partition_by("conversion_id", as_dict=True).items()
    }


def test_each_journey_takes_its_segment_window(world) -> None:
    touches, stages = world
    result = attribution.attribute(
        touches,
        stages,
        models=["linear"],
        accounts=ACCOUNTS,
        lookback={"smb": "100d", "enterprise": "365d", "default": "200d"},
    )
    got = journey_touches(result)
    assert got["s#1"] == {"email"}  # smb: 100 days
    assert got["e#1"] == {"email", "webinar", "linkedin"}  # enterprise: 365 days
    assert got["n#1"] == {"email", "webinar"}  # an account without a segment: default
    assert got["x#1"] == {"email", "webinar"}  # a contact without an account: default
    params = result.manifest["parameters"]
    assert params["lookback_by_segment"]["smb"] == "100 days"  # was '100 days, 0:00:00'
    assert params["lookback"] == "200 days"
    assert params["lookback_by_segment_seconds"]["enterprise"] == (365 * DAYS).total_seconds()
    assert params["lookback_seconds"] == (200 * DAYS).total_seconds()
    assert "accounts" in result.manifest["inputs"]
    rec = result.manifest["reconciliation"]
    assert rec["touches_in"] == rec["touches_in_journeys"] + rec["touches_in_null_paths"] + sum(
        rec["touches_dropped"].values()
    )


def test_the_contacts_table_gives_the_contacts_account(world) -> None:
    touches, stages = world
    # x's touches name no account: the contacts table puts x in the enterprise account
    contacts = pl.DataFrame({"contact_id": ["x"], "account_id": ["B"]})
    result = attribution.attribute(
        touches,
        stages,
        contacts=contacts,
        models=["linear"],
        accounts=ACCOUNTS,
        lookback={"smb": "100d", "default": "200d"},
    )
    assert journey_touches(result)["x#1"] == {"email", "webinar", "linkedin"}


def test_a_contact_in_accounts_of_two_segments_takes_the_longer_window(world) -> None:
    touches, stages = world
    # one of s's touches names the enterprise account B: s's journey takes B's 365 days
    touches = touches.with_columns(
        pl.when(pl.col("touch_id") == "t0")
        .then(pl.lit("B"))
        .otherwise("account_id")
        .alias("account_id")
    )
    result = attribution.attribute(
        touches, stages, models=["linear"], accounts=ACCOUNTS, lookback={"smb": "100d"}
    )
    assert journey_touches(result)["s#1"] == {"email", "webinar", "linkedin"}


def test_account_level_uses_the_account_segment(world) -> None:
    touches, stages = world
    stages = (
        stages.with_columns(
            pl.col("contact_id")
            .replace_strict({"s": "A", "e": "B", "n": "C", "x": None})
            .alias("account_id")
        )
        .drop("contact_id")
        .drop_nulls("account_id")
    )
    result = attribution.attribute(
        touches.drop_nulls("account_id"),
        stages,
        level="account",
        models=["linear"],
        accounts=ACCOUNTS,
        lookback="smb=100d,default=200d",
    )
    got = journey_touches(result)
    assert got["A#1"] == {"email"}
    assert got["B#1"] == {"email", "webinar", "linkedin"}  # enterprise's documented 365 days
    assert got["C#1"] == {"email", "webinar"}


def test_a_lookback_per_segment_needs_the_accounts_with_a_segment(world) -> None:
    touches, stages = world
    with pytest.raises(InputError, match="needs the accounts table") as info:
        attribution.attribute(touches, stages, models=["linear"], lookback="segments")
    assert info.value.option == "lookback"
    with pytest.raises(InputError, match="no segment column") as info:
        attribution.attribute(
            touches,
            stages,
            models=["linear"],
            lookback="segments",
            accounts=ACCOUNTS.drop("segment"),
        )
    assert info.value.column == "segment"


def test_accounts_are_not_read_for_one_lookback(world, tmp_path: Path) -> None:
    touches, stages = world
    result = attribution.attribute(
        touches, stages, models=["linear"], accounts=tmp_path / "missing.parquet"
    )
    assert "accounts" not in result.manifest["inputs"]
    assert "lookback_by_segment" not in result.manifest["parameters"]


# --- exactness ---------------------------------------------------------------------------

_touch = st.tuples(
    st.sampled_from(["c1", "c2", "c3", "c4", "c5"]),
    st.sampled_from(["linkedin", "email", "webinar", "direct"]),
    st.integers(0, 300),
)
_segments = st.sampled_from(["smb", "mid_market", "enterprise", None])
_windows = st.integers(1, 200)


@settings(max_examples=40)
@given(
    touch_rows=st.lists(_touch, min_size=1, max_size=30),
    wins=st.lists(
        st.tuples(st.sampled_from(["c1", "c2", "c3", "c4", "c5"]), st.integers(100, 320)),
        min_size=1,
        max_size=6,
    ),
    account_segments=st.fixed_dictionaries({a: _segments for a in ("a1", "a2", "a3")}),
    windows=st.fixed_dictionaries(
        {"smb": _windows, "mid_market": _windows, "enterprise": _windows, "default": _windows}
    ),
)
def test_each_segment_equals_a_run_with_its_own_lookback(
    touch_rows, wins, account_segments, windows
) -> None:
    account_of = {"c1": "a1", "c2": "a1", "c3": "a2", "c4": "a3", "c5": None}
    touches = touches_of(
        [(c, account_of[c], ch, d + i / 1000) for i, (c, ch, d) in enumerate(touch_rows)]
    )
    stages = stages_of(list(dict.fromkeys(wins)))
    accounts = pl.DataFrame(
        {"account_id": list(account_segments), "segment": list(account_segments.values())},
        schema={"account_id": pl.String, "segment": pl.String},
    )
    # the segments the accounts have (a segment no account has is an error of its own,
    # tests/test_newuser_report5_options.py)
    present = set(account_segments.values())
    lookback = {k: f"{v}d" for k, v in windows.items() if k == "default" or k in present}
    result = attribution.attribute(  # a drawn case may attribute nothing: allow_empty
        touches, stages, models=["linear", "w_shaped"], accounts=accounts, lookback=lookback,
        allow_empty=True,
    )
    tc = result.touch_credit
    if tc.height:
        sums = tc.group_by("model", "conversion_id").agg(pl.col("credit").sum())
        assert (sums.get_column("credit") - 1).abs().max() < 1e-9
        assert tc.get_column("credit").min() >= 0
    rec = result.manifest["reconciliation"]
    assert rec["touches_in"] == rec["touches_in_journeys"] + rec["touches_in_null_paths"] + sum(
        rec["touches_dropped"].values()
    )
    # each contact's journeys are those of a single-lookback run with its segment's window
    # (one run per distinct window: contacts with the same window compare to the same run)
    single: dict[int, pl.DataFrame] = {}
    for contact, account in account_of.items():
        segment = account_segments.get(account) if account else None
        days = windows.get(segment, windows["default"]) if segment else windows["default"]
        if days not in single:
            single[days] = attribution.attribute(
                touches, stages, models=["linear", "w_shaped"], lookback=f"{days}d",
                allow_empty=True,
            ).touch_credit
        alone = single[days].filter(pl.col("contact_id") == contact)
        mine = tc.filter(pl.col("contact_id") == contact)
        by = ["model", "conversion_id", "touch_id"]
        assert_frame_equal(mine.sort(by), alone.sort(by))


@pytest.mark.slow
def test_command_line(world, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    touches, stages = world
    touches.write_parquet(tmp_path / "touches.parquet")
    stages.write_parquet(tmp_path / "stages.parquet")
    ACCOUNTS.write_csv(tmp_path / "accounts.csv")
    base = [
        sys.executable,
        "-m",
        "attribution.cli",
        "run",
        "--touches",
        "touches.parquet",
        "--stages",
        "stages.parquet",
        "-m",
        "linear",
    ]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=dict(os.environ, COLUMNS="200"),
            timeout=300,
        )

    proc = cli(
        "--accounts",
        "accounts.csv",
        "--lookback",
        "smb=100d,default=200d",
        "--partitions",
        "2",
        "--out",
        "runs",
    )
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    credit = pl.read_parquet(run_dir / "touch_credit.parquet")
    smb = credit.filter(pl.col("conversion_id") == "s#1").get_column("channel").to_list()
    assert smb == ["email"]
    assert credit.filter(pl.col("conversion_id") == "e#1").height == 3  # enterprise 365d
    proc = cli("--lookback", "smb=100d", "--out", "runs2")
    assert proc.returncode == 2
    assert "--lookback" in proc.stderr
    assert "needs the accounts table" in proc.stderr
    assert "Traceback" not in proc.stderr
