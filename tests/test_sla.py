"""Sales and marketing SLAs: speed to lead, follow-up, SQL acceptance, hand-off times, per
owner team, the breaches list, the settings and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import at
from hypothesis import given
from hypothesis import strategies as st

import attribution
from attribution.b2b._sla import SLA_SCHEMA
from attribution.exceptions import ConfigError, InputError
from attribution.inputs._config import load_config

ROOT = Path(__file__).resolve().parents[1]
HOUR = 1 / 24


def stages_of(rows: list[tuple[str, str, float, str | None]]) -> pl.DataFrame:
    """(contact, stage, day, owner_team) rows."""
    return pl.DataFrame(
        [(c, s, at(d), t) for c, s, d, t in rows],
        schema={
            "contact_id": pl.String,
            "stage": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "owner_team": pl.String,
        },
        orient="row",
    )


def touches_of(rows: list[tuple[str, str, float, str | None]]) -> pl.DataFrame:
    """(contact, touch_type, day, owner_team) rows."""
    return pl.DataFrame(
        [(f"t{i}", c, "sales", k, at(d), t) for i, (c, k, d, t) in enumerate(rows)],
        schema={
            "touch_id": pl.String,
            "contact_id": pl.String,
            "channel": pl.String,
            "touch_type": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "owner_team": pl.String,
        },
        orient="row",
    )


@pytest.fixture
def world() -> tuple[pl.DataFrame, pl.DataFrame]:
    stages = stages_of(
        [
            ("a", "mql", 0, None),  # touched after 3 h by east, 3 touches in the week
            ("a", "sql", 4, None),
            ("a", "opportunity", 30, None),  # 26 days: a late hand-off
            ("b", "mql", 1, "west"),  # the stage names the team; touched after 2 days
            ("b", "sql", 10, None),
            ("c", "mql", 2, None),  # never touched: a breach with no completion
            ("d", "mql", 59.9, None),  # 2.4 h before the data's end: not yet due
            ("e", "lead", 60, None),  # the data's end
        ]
    )
    touches = touches_of(
        [
            ("a", "web_visit", -1, None),  # not a sales touch
            ("a", "sales_call", -0.5, "east"),  # before the MQL: not a response
            ("a", "Sales_Call ", 3 * HOUR, "east"),  # trimmed, lower-cased
            ("a", "sales_email", 2, "east"),
            ("a", "meeting", 7, "east"),  # exactly at the window's end: counts
            ("b", "sales_email", 3, "east"),  # the stage's team wins: west
            ("b", "sales_call", 8.5, "east"),
            ("b", "sales_call", 9, "east"),  # b's third: a day after its window
        ]
    )
    return stages, touches


def rows_by_metric(result: attribution.SLA) -> dict[str, dict]:
    return {r["metric"]: r for r in result.overall().iter_rows(named=True)}


def test_speed_to_lead_follow_up_and_hand_offs(world) -> None:
    stages, touches = world
    result = attribution.sla(stages, touches)
    rows = rows_by_metric(result)
    speed = rows["speed_to_lead"]
    # a 3 h (met), b 48 h (late), c never (breach), d not yet due
    assert (speed["entered"], speed["judged"], speed["not_judged"]) == (4, 3, 1)
    assert (speed["compliant"], speed["breaches"]) == (1, 2)
    assert speed["value"] == pytest.approx(25.5)  # median of 3 h and 48 h (touched MQLs)
    assert speed["compliance_share"] == pytest.approx(1 / 3)
    follow = rows["follow_up"]
    # a: 3 touches in [0, 7] (met); b: 1 in [1, 8]; c: 0
    assert (follow["compliant"], follow["breaches"], follow["not_judged"]) == (1, 2, 1)
    accept = rows["sql_acceptance"]
    # a and b reached SQL within 30 days; c did not; d's window is open
    assert (accept["judged"], accept["compliant"]) == (3, 2)
    assert accept["value"] == pytest.approx(2 / 3)
    assert accept["meets_target"] is True
    assert accept["breaches"] is None
    m2s = rows["mql_to_sql"]
    assert (m2s["judged"], m2s["compliant"], m2s["breaches"]) == (2, 2, 0)
    assert m2s["value"] == pytest.approx(6.5)  # 4 and 9 days
    s2o = rows["sql_to_opportunity"]
    assert (s2o["entered"], s2o["judged"], s2o["breaches"]) == (2, 1, 1)
    assert s2o["value"] == pytest.approx(26.0)


def test_breaches_are_listed_with_how_late(world) -> None:
    stages, touches = world
    result = attribution.sla(stages, touches)
    b = result.breaches
    assert b.height == int(result.overall().get_column("breaches").sum())
    speed = b.filter(pl.col("metric") == "speed_to_lead").sort("contact_id")
    assert speed.get_column("contact_id").to_list() == ["b", "c"]
    late = dict(speed.select("contact_id", "late_hours").iter_rows())
    assert late["b"] == pytest.approx(24.0)  # touched at 48 h, 24 h late
    assert late["c"] == pytest.approx((60 - 3) * 24)  # never: the data's end - deadline
    assert speed.filter(pl.col("contact_id") == "c").get_column("completed_at").item() is None
    follow = b.filter(pl.col("metric") == "follow_up").sort("contact_id")
    assert follow.select("contact_id", "sales_touches").rows() == [("b", 1), ("c", 0)]
    # b's third sales touch came a day after its window closed; c has none
    assert follow.get_column("late_hours").to_list() == pytest.approx([24.0, (60 - 9) * 24])
    opp = b.filter(pl.col("metric") == "sql_to_opportunity")
    assert opp.get_column("late_hours").item() == pytest.approx(12 * 24)
    assert (b.get_column("late_hours") > 0).all()


def test_per_owner_team_rows_sum_to_the_whole(world) -> None:
    stages, touches = world
    table = attribution.sla(stages, touches).table
    speed = table.filter(pl.col("metric") == "speed_to_lead")
    teams = dict(speed.select("owner_team", "entered").iter_rows())
    # a: east (its first sales touch); b: west (its stage); c, d: no team
    assert teams == {None: 4, "east": 1, "west": 1, "(no team)": 2}
    per_team = speed.filter(pl.col("owner_team").is_not_null())
    for column in ("entered", "judged", "compliant", "breaches"):
        assert per_team.get_column(column).sum() == speed.get_column(column)[0]


def test_no_team_in_the_data_gives_only_the_overall_rows(world) -> None:
    stages, touches = world
    result = attribution.sla(stages.drop("owner_team"), touches.drop("owner_team"))
    assert result.table.get_column("owner_team").null_count() == result.table.height
    assert result.counts["teams"] == []


def test_sales_touch_types_are_configurable(world) -> None:
    stages, touches = world
    only_calls = attribution.sla(stages, touches, settings={"sales_touch_types": ["SALES_CALL"]})
    assert only_calls.settings["sales_touch_types"] == ("sales_call",)
    speed = rows_by_metric(only_calls)["speed_to_lead"]
    # b's first sales call is at day 8.5 (the email no longer counts)
    late = only_calls.breaches.filter(
        (pl.col("metric") == "speed_to_lead") & (pl.col("contact_id") == "b")
    )
    assert late.get_column("late_hours").item() == pytest.approx((7.5 - 1) * 24)
    assert speed["compliant"] == 1


def test_targets_change_the_verdicts(world) -> None:
    stages, touches = world
    strict = attribution.sla(
        stages,
        touches,
        settings={"speed_to_lead_hours": 1, "sql_acceptance_rate": 0.9, "follow_up_touches": 2},
    )
    rows = rows_by_metric(strict)
    assert rows["speed_to_lead"]["compliant"] == 0
    assert rows["speed_to_lead"]["target"] == 1.0
    assert rows["sql_acceptance"]["meets_target"] is False
    assert rows["follow_up"]["compliant"] == 1  # a has 3 in its week, b 1
    assert "within 1 h" in rows["speed_to_lead"]["target_rule"]


def test_without_sales_touches_the_touch_metrics_are_skipped_and_said(world) -> None:
    stages, touches = world
    result = attribution.sla(stages, touches.with_columns(pl.lit("web").alias("touch_type")))
    metrics = set(result.overall().get_column("metric"))
    assert metrics == {"sql_acceptance", "mql_to_sql", "sql_to_opportunity"}
    assert any("no sales touch" in note for note in result.notes["skipped"])
    assert "no sales touch" in result.summary()


def test_account_keyed_stages(world) -> None:
    stages, touches = world
    stages = stages.rename({"contact_id": "account_id"})
    touches = touches.rename({"contact_id": "account_id"})
    result = attribution.sla(stages, touches)
    speed = result.breaches.filter(pl.col("metric") == "speed_to_lead")
    assert sorted(speed.get_column("account_id").to_list()) == ["b", "c"]
    assert speed.get_column("contact_id").null_count() == speed.height


def test_stages_without_mql_or_sql_are_an_error_naming_the_column(world) -> None:
    stages, touches = world
    only_leads = stages.with_columns(pl.lit("lead").alias("stage"))
    with pytest.raises(InputError, match="'mql' or 'sql'") as info:
        attribution.sla(only_leads, touches)
    assert info.value.column == "stage"
    mapped = attribution.sla(
        stages.with_columns(pl.col("stage").replace({"mql": "Marketing Qualified"})),
        touches,
        stage_names={"mql": "Marketing Qualified"},
    )
    assert rows_by_metric(mapped)["speed_to_lead"]["entered"] == 4


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"speed_to_lead_hours": 0}, "speed_to_lead_hours"),
        ({"follow_up_touches": 1.5}, "follow_up_touches"),
        ({"sql_acceptance_rate": 15}, "sql_acceptance_rate"),
        ({"sales_touch_types": []}, "sales_touch_types"),
        ({"speed_to_lead": 24}, "speed_to_lead_hours"),  # unknown key: did you mean
    ],
)
def test_bad_settings_name_the_key(world, settings, named) -> None:
    stages, touches = world
    with pytest.raises(InputError, match=named):
        attribution.sla(stages, touches, settings=settings)


def test_config_section_is_checked_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[inputs]\ntouches = "t.csv"\n[sla]\nspeed_to_lead_hours = 4\n')
    assert load_config(path).sla == {"speed_to_lead_hours": 4}
    path.write_text('[inputs]\ntouches = "t.csv"\n')
    assert load_config(path).sla is None
    path.write_text('[inputs]\ntouches = "t.csv"\n[sla]\nfollow_up_days = -1\n')
    with pytest.raises(ConfigError, match=r"\[sla\] follow_up_days must be a number > 0"):
        load_config(path)


def test_write_files(world, tmp_path: Path) -> None:
    stages, touches = world
    result = attribution.sla(stages, touches)
    result.write(tmp_path)
    table = pl.read_parquet(tmp_path / attribution.RunFiles.SLA)
    assert table.schema == SLA_SCHEMA
    assert table.equals(result.table)
    assert pl.read_parquet(tmp_path / attribution.RunFiles.SLA_BREACHES).height == 5
    doc = json.loads((tmp_path / attribution.RunFiles.SLA_JSON).read_text())
    assert doc["settings"]["speed_to_lead_hours"] == 24.0
    assert set(doc["notes"]["defaults_from"]) == set(attribution.SLA_DEFAULTS)


_events = st.lists(
    st.tuples(
        st.sampled_from("abcdef"),
        st.sampled_from(["mql", "sql", "opportunity", "lead"]),
        st.floats(0, 40, allow_nan=False),
        st.sampled_from([None, "x", "y"]),
    ),
    min_size=1,
    max_size=25,
)
_touches = st.lists(
    st.tuples(
        st.sampled_from("abcdefg"),
        st.sampled_from(["sales_call", "meeting", "visit"]),
        st.floats(-5, 45, allow_nan=False),
        st.sampled_from([None, "x", "z"]),
    ),
    max_size=40,
)


@given(events=_events, touch_rows=_touches, hours=st.sampled_from([1.0, 24.0, 200.0]))
def test_every_hand_off_is_counted_once(events, touch_rows, hours) -> None:
    stages = stages_of([("m0", "mql", 0, None), *events])
    touches = touches_of([("m0", "meeting", 1, None), *touch_rows])
    result = attribution.sla(stages, touches, settings={"speed_to_lead_hours": hours})
    table = result.table
    for row in table.iter_rows(named=True):
        assert row["judged"] + row["not_judged"] == row["entered"]
        if row["metric"] != "sql_acceptance":
            assert row["compliant"] + row["breaches"] == row["judged"]
    overall = result.overall()
    mqls = stages.filter(pl.col("stage") == "mql").get_column("contact_id").n_unique()
    speed = overall.filter(pl.col("metric") == "speed_to_lead").row(0, named=True)
    assert speed["entered"] == mqls
    teams = table.filter(pl.col("owner_team").is_not_null())
    if teams.height:
        summed = teams.group_by("metric").agg(pl.col("entered", "judged", "compliant").sum())
        joined = summed.join(overall, on="metric", suffix="_all")
        for column in ("entered", "judged", "compliant"):
            assert (joined.get_column(column) == joined.get_column(f"{column}_all")).all()
    assert result.breaches.height == int(overall.get_column("breaches").fill_null(0).sum())
    assert (result.breaches.get_column("late_hours") > 0).all()
    # a speed-to-lead breach is never touched within the target
    first = result.breaches.filter(pl.col("metric") == "speed_to_lead")
    late = first.filter(pl.col("completed_at").is_not_null())
    gap = late.select(pl.col("completed_at") - pl.col("started_at")).to_series()
    assert (gap > timedelta(hours=hours)).all()


CLI = [sys.executable, "-m", "attribution.cli"]


@pytest.mark.slow
def test_cli_run_with_sla(world, tmp_path: Path) -> None:
    stages, touches = world
    # one closed_won so the run attributes a conversion
    stages = pl.concat([stages, stages_of([("a", "closed_won", 40, None)])])
    stages.write_parquet(tmp_path / "stages.parquet")
    touches.write_parquet(tmp_path / "touches.parquet")
    env = dict(os.environ, COLUMNS="200")
    base = [*CLI, "run", "--touches", "touches.parquet", "--stages", "stages.parquet"]
    proc = subprocess.run(
        [*base, "-m", "linear", "--sla", "--out", "runs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "speed to lead: median 25.5 h, 33.3% within the 24 h target; 2 breaches" in proc.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert pl.read_parquet(run_dir / "sla_breaches.parquet").height == 5
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {"sla.parquet", "sla_breaches.parquet", "sla.json"} <= set(manifest["files"])
    # an [sla] section turns them on, with its targets
    (tmp_path / "run.toml").write_text(
        '[inputs]\ntouches = "touches.parquet"\nstages = "stages.parquet"\n'
        '[run]\nmodels = ["linear"]\nout = "runs2"\n[sla]\nspeed_to_lead_hours = 72\n'
    )
    proc = subprocess.run(
        [*CLI, "run", "--config", "run.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "66.7% within the 72 h target" in proc.stdout
    # the unified event log: the same SLAs from its touch and stage rows
    events = pl.concat(
        [
            touches.with_columns(pl.lit("touch").alias("event_type")),
            stages.with_columns(pl.lit("stage").alias("event_type")),
        ],
        how="diagonal",
    )
    events.write_parquet(tmp_path / "events.parquet")
    proc = subprocess.run(
        [*CLI, "run", "--events", "events.parquet", "-m", "linear", "--sla", "--out", "runs3"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "speed to lead: median 25.5 h, 33.3% within the 24 h target; 2 breaches" in proc.stdout
    # a bad [sla] value: one line naming the file and the key, exit 2
    (tmp_path / "bad.toml").write_text(
        '[inputs]\ntouches = "touches.parquet"\nstages = "stages.parquet"\n'
        "[sla]\nsql_acceptance_rate = 2\n"
    )
    proc = subprocess.run(
        [*CLI, "run", "--config", "bad.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "[sla] sql_acceptance_rate must be a share" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_report_section(world, tmp_path: Path) -> None:
    stages, touches = world
    touches = touches.with_columns(pl.col("owner_team").replace({"east": "<b>east</b>"}))
    stages = pl.concat([stages, stages_of([("a", "closed_won", 40, None)])])
    result = attribution.attribute(touches, stages, models=["linear"])
    run = result.write(tmp_path / "runs", also=[attribution.sla(stages, touches)])
    page = (run / "report.html").read_text()
    assert '<section id="sla"' in page
    assert (
        "Speed to lead: <b>33.3%</b> of MQLs got a first sales touch within the 24 h target "
        "(median 25.5 h); 2 breaches." in page
    )
    assert "&lt;b&gt;east&lt;/b&gt;" in page  # a team name from the data stays text
    assert "<b>east</b>" not in page
    # without SLA files, no section
    bare = attribution.attribute(touches, stages, models=["linear"]).write(tmp_path / "bare")
    assert '<section id="sla"' not in (bare / "report.html").read_text()
