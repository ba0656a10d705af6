"""When account engagement is measured (README, Account level: "Engagement as of"): a touch
dated in the future (a scheduled meeting, a mistyped year) does not move every account's
window; the ``as_of`` option sets the time; the touches after it are counted and named."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import at

import attribution
from attribution.exceptions import InputError

ACCOUNTS = 200


def _data(extra: list[tuple[str, str, datetime]] = ()) -> tuple[pl.DataFrame, ...]:
    """200 accounts of one contact each; account i's touches on days 100 - i % 7 * 20 (so some
    are recent and some old), and a won deal for the first contact."""
    rows = [
        (f"t{i}-{k}", f"c{i}", at(300 - (i % 7) * 20 - k)) for i in range(ACCOUNTS) for k in (0, 3)
    ]
    rows += list(extra)
    touches = pl.DataFrame(
        {
            "touch_id": [r[0] for r in rows],
            "contact_id": [r[1] for r in rows],
            "channel": ["email"] * len(rows),
            "timestamp": [r[2] for r in rows],
        }
    )
    stages = pl.DataFrame(
        {"contact_id": ["c0"], "stage": ["closed_won"], "timestamp": [at(301)], "value": [1.0]}
    )
    ids = range(ACCOUNTS)
    contacts = pl.DataFrame(
        {"contact_id": [f"c{i}" for i in ids], "account_id": [f"A{i}" for i in ids]}
    )
    return touches, stages, contacts


def _run(data: tuple[pl.DataFrame, ...], **options: object) -> attribution.AttributionResult:
    touches, stages, contacts = data
    return attribution.attribute(
        touches, stages, contacts=contacts, models=["linear"], level="account", **options
    )


def _scores(result: attribution.AttributionResult) -> dict[str, tuple[float, str]]:
    return {
        r[0]: (r[1], r[2])
        for r in result.accounts.select("account_id", "engagement_score", "tier").rows()
    }


def test_a_future_touch_does_not_move_the_engagement_clock() -> None:
    plain = _run(_data())
    future = datetime.now(UTC) + timedelta(days=400)  # a meeting booked a year ahead
    result = _run(_data([("TFUT", "c5", future)]))
    assert _scores(result) == _scores(plain)
    assert sorted(set(t for _, t in _scores(result).values())) == ["cold", "hot", "warm"]
    engagement = result.manifest["parameters"]["engagement"]
    assert engagement["reference_time"] == at(301).isoformat()  # the won deal, the latest
    assert engagement["touches_after_reference"] == 1
    assert engagement["latest_touch_after_reference"] == future.isoformat()
    (note,) = [n for n in result.manifest["notes"] if n.startswith("engagement as of")]
    assert "1 touch(es) dated after it" in note
    assert future.isoformat() in note
    assert engagement["notes"] == [note]
    assert plain.manifest["parameters"]["engagement"]["touches_after_reference"] == 0
    assert plain.manifest["parameters"]["engagement"]["notes"] == []


@pytest.mark.parametrize("partitions", [None, 3])
def test_as_of_sets_the_time_and_leaves_later_touches_out(tmp_path: Path, partitions) -> None:
    data = _data()
    as_of = at(250)
    if partitions is None:
        result = _run(data, as_of=as_of.isoformat())
    else:
        touches, stages, contacts = data
        result = attribution.attribute_partitioned(
            touches,
            stages,
            contacts=contacts,
            models=["linear"],
            level="account",
            as_of=as_of,
            partitions=partitions,
        )
    touches = data[0]
    later = touches.filter(pl.col("timestamp") > as_of)
    engagement = result.manifest["parameters"]["engagement"]
    assert engagement["reference_time"] == as_of.isoformat()
    assert engagement["as_of"] == "the as_of option"
    assert engagement["touches_after_reference"] == later.height > 0
    # by hand: each account's touches at or before as_of, weight 2^(-age/30 d) within 90 days
    age = (as_of - pl.col("timestamp")).dt.total_seconds() / 86_400
    expected = dict(
        touches.join(data[2], on="contact_id")
        .group_by("account_id")
        .agg(
            pl.when((age >= 0) & (age <= 90)).then(2.0 ** (-age / 30)).otherwise(0.0).sum()
        )
        .rows()
    )
    got = {k: v for k, (v, _) in _scores(result).items()}
    assert got == pytest.approx(expected, abs=1e-12)


def test_a_date_alone_is_the_end_of_that_day() -> None:
    options = attribution.RunOptions(level="account", as_of="2025-12-31")
    assert options.as_of_time == datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    naive = attribution.RunOptions(level="account", as_of=datetime(2025, 6, 1, 12))
    assert naive.as_of_time == datetime(2025, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"level": "account", "as_of": "last tuesday"}, "as_of must be a date or a time"),
        ({"level": "account", "as_of": 20251231}, "as_of must be a date or a time"),
        ({"as_of": "2025-12-31"}, "as_of needs level='account'"),
    ],
)
def test_bad_as_of_is_an_error_naming_it(options, match) -> None:
    with pytest.raises(InputError, match=match) as caught:
        attribution.RunOptions(**options)
    assert caught.value.option == "as_of"


def test_a_clock_far_after_the_data_is_named() -> None:
    """Past the run's time or not, a latest timestamp months after every other leaves almost
    every account cold: a note says so (the as_of option then sets the time)."""
    result = _run(_data([("TLATE", "c5", at(301) + timedelta(days=200))]))
    tiers = result.accounts.get_column("tier").value_counts()
    assert dict(tiers.rows())["cold"] == ACCOUNTS - 1
    (note,) = result.manifest["parameters"]["engagement"]["notes"]
    assert f"only 1 of {ACCOUNTS:,} accounts with touches" in note
    assert note in result.manifest["notes"]


def test_cli_as_of_and_its_line(tmp_path: Path) -> None:
    touches, stages, contacts = _data([("TFUT", "c5", datetime(2099, 1, 1, tzinfo=UTC))])
    for name, frame in (("t", touches), ("s", stages), ("c", contacts)):
        frame.write_parquet(tmp_path / f"{name}.parquet")
    base = [sys.executable, "-m", "attribution.cli", "run", "--touches", "t.parquet",
            "--stages", "s.parquet", "--contacts", "c.parquet", "--level", "account",
            "-m", "linear", "--out", "runs"]  # fmt: skip
    run = subprocess.run(base, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"engagement as of {at(301).isoformat()}" in run.stdout
    assert "1 touch(es) dated after it (latest 2099-01-01T00:00:00+00:00)" in run.stdout
    bad = subprocess.run(
        [*base, "--as-of", "yesterday"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert bad.returncode == 2
    assert "--as-of" in bad.stderr
    assert "Traceback" not in bad.stderr
