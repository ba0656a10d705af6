"""New-user report 11 serious #3 and minors: a night that fails or is stopped leaves its
state as it was (the state is committed after the run directory and the write-back, never
on exit 3); SIGTERM stops a run as Ctrl-C does (exit 143); a killed run's temporary run
directory is removed by a later run; a damaged state.json names the remedy; the state's
tables are in visible directories."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from attribution import attribute_incremental

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture
def split(tmp_path: Path) -> Path:
    """The sample's history before its last 10 days in ``old/``, everything in ``all/``."""
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    cut = touches.get_column("timestamp").max() - pl.duration(days=10)  # type: ignore[operator]
    for name, keep in (("old", True), ("all", False)):
        (tmp_path / name).mkdir()
        t = touches.filter(pl.col("timestamp") <= cut) if keep else touches
        s = stages.filter(pl.col("timestamp") <= cut) if keep else stages
        t.write_parquet(tmp_path / name / "touches.parquet")
        s.write_parquet(tmp_path / name / "stages.parquet")
    return tmp_path


def _run(where: Path, data: str, *more: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "attribution.cli", "run", "--touches",
               f"{data}/touches.parquet", "--stages", f"{data}/stages.parquet", "-m", "linear",
               "--state", "state", "--out", "runs", *more]  # fmt: skip
    return subprocess.run(command, cwd=where, capture_output=True, text=True, timeout=300)


def _state(where: Path) -> bytes:
    return (where / "state" / "state.json").read_bytes()


def test_the_library_commits_only_when_asked(split: Path) -> None:
    state = split / "state"
    first = attribute_incremental(
        split / "old/touches.parquet", split / "old/stages.parquet", models=["linear"],
        state=state, commit=False,
    )  # fmt: skip
    assert not (state / "state.json").exists()  # written beside, not committed
    first.commit_state()
    before = (state / "state.json").read_bytes()
    night = attribute_incremental(
        split / "all/touches.parquet", split / "all/stages.parquet", models=["linear"],
        state=state, commit=False,
    )  # fmt: skip
    assert night.manifest["parameters"]["incremental"]["mode"] == "incremental"
    assert (state / "state.json").read_bytes() == before
    night.commit_state()
    assert (state / "state.json").read_bytes() != before
    night.commit_state()  # once only
    # the default commits before returning, as before
    again = attribute_incremental(
        split / "all/touches.parquet", split / "all/stages.parquet", models=["linear"],
        state=state,
    )  # fmt: skip
    assert again.state_commit is None
    assert again.manifest["parameters"]["incremental"]["rows_read"] == {
        "touches": 0,
        "stages": 0,
    }
    # the state's tables sit in visible directories, the old ones removed
    dirs = [p.name for p in state.iterdir() if p.is_dir()]
    assert dirs
    assert all(d.startswith("tables-") for d in dirs)


def test_a_night_that_exits_3_leaves_the_state_as_it_was(split: Path) -> None:
    assert _run(split, "old").returncode == 0
    before = _state(split)
    bad = _run(split, "all", "--conversion-stage", "closed_wonn")
    assert bad.returncode == 3, bad.stderr
    # what the night did is said once the state took it (new-user report 17, M4): not here
    assert "incremental run:" not in bad.stderr
    assert "error: no conversion" in bad.stderr
    assert _state(split) == before
    good = _run(split, "all")
    assert good.returncode == 0, good.stderr
    assert "incremental run: new rows read:" in good.stderr  # built on the old state
    assert _state(split) != before


def test_a_failed_write_back_leaves_the_state_as_it_was(split: Path) -> None:
    assert _run(split, "old").returncode == 0
    before = _state(split)
    target = split / "bi.duckdb"
    with duckdb.connect(str(target)) as db:  # a table the run cannot append to
        db.execute("CREATE TABLE attribution_channel_credit (run_id BIGINT)")
    failed = _run(split, "all", "--write-to", f"duckdb:///{target}")
    assert failed.returncode == 2, failed.stderr
    assert "the --state is as it was" in failed.stderr
    assert "reads this night's rows again" in failed.stderr
    assert _state(split) == before
    assert len(list((split / "runs").iterdir())) == 2  # the night's directory is written


def test_sigterm_stops_a_night_as_ctrl_c_does(split: Path) -> None:
    assert _run(split, "old").returncode == 0
    before = _state(split)
    proc = subprocess.Popen(
        [sys.executable, "-m", "attribution.cli", "run", "--touches", "all/touches.parquet",
         "--stages", "all/stages.parquet", "-m", "linear", "-m", "markov", "--state", "state",
         "--out", "runs"],
        cwd=split, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # progress: one line a stage when stderr is not a terminal
        seen.append(line)
        if line.startswith("[load]"):
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 143, "".join(seen) + rest
    assert "Traceback" not in rest
    assert rest.strip().splitlines()[-1] == "terminated: nothing was written"
    assert _state(split) == before
    assert len(list((split / "runs").iterdir())) == 1


def test_a_later_run_removes_a_killed_runs_temporary_directory(split: Path) -> None:
    runs = split / "runs"
    runs.mkdir()
    stale = runs / ".20261207T101653Z-cee3dc6b.hscq626_.tmp"
    fresh = runs / ".20261207T111653Z-0123abcd.xx12ab_.tmp"
    other = runs / ".cache.tmp"  # not named after a run id: left alone
    for d in (stale, fresh, other):
        d.mkdir()
        (d / "channel_credit.parquet").write_bytes(b"x")
    hour_ago = time.time() - 3700
    for d in (stale, other):
        os.utime(d, (hour_ago, hour_ago))
    done = _run(split, "old")
    assert done.returncode == 0, done.stderr
    assert not stale.exists()
    assert fresh.exists()  # could be a run writing now
    assert other.exists()
    assert (
        "removed 1 temporary run directory left in runs by a run stopped while writing "
        f"(unchanged for 1 hour): {stale.name}" in done.stderr
    )


def test_a_damaged_state_file_names_the_remedy(split: Path) -> None:
    assert _run(split, "old").returncode == 0
    path = split / "state" / "state.json"
    path.write_bytes(path.read_bytes()[:300])
    bad = _run(split, "all")
    assert bad.returncode == 2
    line = bad.stderr.strip().splitlines()[-1]
    assert "cannot read state.json" in line
    assert "delete it or pass a new --state, and the next run reads everything" in line
    assert "Traceback" not in bad.stderr


def test_an_account_level_first_night_counts_its_rows(tmp_path: Path) -> None:
    from attribution.datasets._synth import synthesize

    synth = synthesize(300, seed=1)
    synth.touches.write_parquet(tmp_path / "t.parquet")
    synth.stages.write_parquet(tmp_path / "s.parquet")
    synth.contacts.write_parquet(tmp_path / "c.parquet")
    done = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches", "t.parquet", "--stages",
         "s.parquet", "--contacts", "c.parquet", "--level", "account", "-m", "linear",
         "--state", "state", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("incremental run:"))
    assert "()" not in line
    assert f"{synth.touches.height:,} touches" in line


def test_a_new_time_zone_is_named_alone(split: Path) -> None:
    """Report 11 minor #10: the time zone rides in the timestamp formats internally; a night
    with another --timezone named `timestamp_formats, timezone`."""
    state = split / "state"
    files = (split / "old/touches.parquet", split / "old/stages.parquet")
    attribute_incremental(*files, models=["linear"], state=state)
    got = attribute_incremental(*files, models=["linear"], state=state, timezone="America/New_York")
    reason = got.manifest["parameters"]["incremental"]["reason"]
    assert reason == "the run options differ from the state's: timezone"


def test_a_wider_late_window_is_named_as_the_reason(tmp_path: Path) -> None:
    """Report 11 minor #3: rows arriving 3-4 days late on a 2-day window, then a night with
    a 7-day window: the full recompute blamed 'an old row was changed or deleted'."""
    import duckdb

    import attribution

    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    end = touches.get_column("timestamp").max()
    late = touches.filter(
        pl.col("timestamp").is_between(end - pl.duration(days=4), end - pl.duration(days=3))  # type: ignore[operator]
    ).head(3)
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("t", touches.join(late, on="touch_id", how="anti").to_arrow())
        con.register("s", stages.to_arrow())
        con.execute("CREATE TABLE touches AS SELECT * FROM t")
        con.execute("CREATE TABLE stages AS SELECT * FROM s")

    def night(window: str) -> dict[str, object]:
        queries = (
            attribution.SqlTable(f"duckdb://{path}", "SELECT * FROM touches"),
            attribution.SqlTable(f"duckdb://{path}", "SELECT * FROM stages"),
        )
        got = attribute_incremental(
            *queries, models=["linear"], state=tmp_path / "state", late_window=window
        )
        return dict(got.manifest["parameters"]["incremental"])

    night("2d")
    with duckdb.connect(str(path)) as con:  # three touches 3-4 days late
        con.register("t", late.to_arrow())
        con.execute("INSERT INTO touches SELECT * FROM t")
    info = night("7d")
    assert info["mode"] == "full"
    reason = str(info["reason"])
    assert "the late window changed since the state's last night" in reason
    assert "rows arrived later than the window the state was built with" in reason


def test_a_postgres_session_in_another_time_zone_keeps_the_night_incremental(
    postgres_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Report 11 minor #12: the PostgreSQL checksum hashes each row's text, and a
    timestamptz prints in the session's time zone: a night with PGTZ set (or a role's,
    a database's timezone) was a full recompute blamed on changed rows."""
    import adbc_driver_postgresql.dbapi as pg

    import attribution

    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    with pg.connect(postgres_uri) as con, con.cursor() as cursor:
        for name, frame in (("night_touches", touches), ("night_stages", stages)):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.adbc_ingest(name, frame.to_arrow(), mode="create")
        con.commit()

    def night() -> dict[str, object]:
        got = attribute_incremental(
            attribution.SqlTable(postgres_uri, "SELECT * FROM night_touches"),
            attribution.SqlTable(postgres_uri, "SELECT * FROM night_stages"),
            models=["linear"],
            state=tmp_path / "state",
        )
        return dict(got.manifest["parameters"]["incremental"])

    monkeypatch.delenv("PGTZ", raising=False)
    night()
    monkeypatch.setenv("PGTZ", "America/New_York")
    info = night()
    assert info["mode"] == "incremental", info
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")
    with pg.connect(postgres_uri) as con, con.cursor() as cursor:  # and a role's own zone
        cursor.execute("ALTER ROLE CURRENT_USER SET timezone = 'Pacific/Auckland'")
        con.commit()
    try:
        info = night()
    finally:
        with pg.connect(postgres_uri) as con, con.cursor() as cursor:
            cursor.execute("ALTER ROLE CURRENT_USER RESET timezone")
            con.commit()
    assert info["mode"] == "incremental", info
