"""The per-journey touch cap (``RunOptions.max_touches_per_journey``): the excess of a long
journey is dropped by the stated rule (keep the last touches), counted and listed."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

import attribution
from attribution.exceptions import InputError


def _long_data(make_touches, make_stages, day):
    """c1 converts on day 60 after 30 touches (one an hour from day 50); c2 converts after 3;
    c3 never converts and has 25 touches; c1 also touches after its conversion (null)."""
    t0 = day(50)
    rows = [(f"a{i:02d}", "c1", "abc"[i % 3], t0 + timedelta(hours=i)) for i in range(30)]
    rows += [(f"b{i}", "c2", "x", day(10 + i)) for i in range(3)]
    rows += [(f"n{i:02d}", "c3", "yz"[i % 2], t0 + timedelta(hours=i)) for i in range(25)]
    touches = make_touches(rows)
    stages = make_stages([("c1", "closed_won", day(60), 100.0), ("c2", "closed_won", day(20), 5.0)])
    return touches, stages


def test_cap_keeps_the_last_touches_and_counts_the_rest(make_touches, make_stages, day) -> None:
    touches, stages = _long_data(make_touches, make_stages, day)
    result = attribution.attribute(
        touches, stages, models=["linear", "first_touch"], max_touches_per_journey=10
    )
    credit = result.touch_credit.filter(pl.col("model") == "linear")
    c1 = credit.filter(pl.col("conversion_id") == "c1#1").sort("timestamp")
    # the 10 touches closest to the conversion survive: a20..a29
    assert c1["touch_id"].to_list() == [f"a{i:02d}" for i in range(20, 30)]
    assert c1["credit"].sum() == pytest.approx(1.0)
    first = result.touch_credit.filter(pl.col("model") == "first_touch", pl.col("credit") > 0)
    assert dict(first.select("conversion_id", "touch_id").iter_rows())["c1#1"] == "a20"
    assert credit.filter(pl.col("conversion_id") == "c2#1").height == 3  # under the cap

    rec = result.manifest["reconciliation"]
    assert rec["touches_dropped"]["journey_too_long"] == 20 + 15
    assert rec["touches_in_journeys"] == 13
    assert rec["touches_in_null_paths"] == 10
    dropped = sum(rec["touches_dropped"].values())
    assert rec["touches_in"] == rec["touches_in_journeys"] + rec["touches_in_null_paths"] + dropped
    assert rec["journeys_too_long"] == 2
    assert rec["journeys_too_long_list"] == [
        {"conversion_id": "c1#1", "contact_id": "c1", "touches": 30},
        {"conversion_id": None, "contact_id": "c3", "touches": 25},
    ]
    assert result.manifest["parameters"]["max_touches_per_journey"] == 10
    # the null path kept its 10 most recent touches
    null_paths = result.paths.filter(pl.col("nulls") > 0)
    assert null_paths["path"].list.len().to_list() == [10]


def test_default_cap_and_none(make_touches, make_stages, day) -> None:
    touches, stages = _long_data(make_touches, make_stages, day)
    assert attribution.RunOptions().max_touches_per_journey == 5_000
    default = attribution.attribute(touches, stages, models=["linear"])
    rec = default.manifest["reconciliation"]
    assert "journey_too_long" not in rec["touches_dropped"]
    assert "journeys_too_long" not in rec
    lifted = attribution.attribute(touches, stages, models=["linear"], max_touches_per_journey=None)
    assert lifted.manifest["reconciliation"]["touches_in_journeys"] == 33
    assert lifted.manifest["parameters"]["max_touches_per_journey"] is None
    assert attribution.RunOptions(max_touches_per_journey="none").max_touches_per_journey is None
    assert attribution.RunOptions(max_touches_per_journey="2000").max_touches_per_journey == 2000


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "lots"])
def test_bad_cap_names_the_option(bad) -> None:
    with pytest.raises(InputError, match="max_touches_per_journey must be a whole number") as e:
        attribution.RunOptions(max_touches_per_journey=bad)
    assert e.value.option == "max_touches_per_journey"


def test_cap_partitioned_matches_in_memory(make_touches, make_stages, day, tmp_path) -> None:
    touches, stages = _long_data(make_touches, make_stages, day)
    memory = attribution.attribute(touches, stages, models=["linear"], max_touches_per_journey=10)
    touches.write_parquet(tmp_path / "t.parquet")
    stages.write_parquet(tmp_path / "s.parquet")
    parts = attribution.attribute_partitioned(
        tmp_path / "t.parquet",
        tmp_path / "s.parquet",
        models=["linear"],
        partitions=3,
        max_touches_per_journey=10,
    )
    for key in ("touches_dropped", "journeys_too_long", "journeys_too_long_list"):
        assert parts.manifest["reconciliation"][key] == memory.manifest["reconciliation"][key]


def test_cap_from_the_config_file(tmp_path) -> None:
    from attribution.inputs._config import load_config

    (tmp_path / "run.toml").write_text("[run]\nmax_touches_per_journey = 25\n")
    assert load_config(tmp_path / "run.toml").options().max_touches_per_journey == 25
    (tmp_path / "none.toml").write_text('[run]\nmax_touches_per_journey = "none"\n')
    assert load_config(tmp_path / "none.toml").options().max_touches_per_journey is None
    (tmp_path / "bad.toml").write_text("[run]\nmax_touches_per_journey = 0\n")
    with pytest.raises(InputError, match="max_touches_per_journey") as e:
        load_config(tmp_path / "bad.toml").options()
    assert "bad.toml" in str(e.value)


def test_cap_on_the_command_line(make_touches, make_stages, day, tmp_path) -> None:
    import json
    import subprocess
    import sys

    touches, stages = _long_data(make_touches, make_stages, day)
    touches.write_parquet(tmp_path / "t.parquet")
    stages.write_parquet(tmp_path / "s.parquet")
    base = [sys.executable, "-m", "attribution.cli", "run", "-m", "linear"]
    base += ["--touches", str(tmp_path / "t.parquet"), "--stages", str(tmp_path / "s.parquet")]
    done = subprocess.run(
        [*base, "--max-touches-per-journey", "10", "--out", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["reconciliation"]["touches_dropped"]["journey_too_long"] == 35
    assert manifest["parameters"]["max_touches_per_journey"] == 10
    bad = subprocess.run(
        [*base, "--max-touches-per-journey", "0", "--out", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0
    out = bad.stderr + bad.stdout
    assert "--max-touches-per-journey" in out
    assert "Traceback" not in out
