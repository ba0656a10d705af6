"""Parallel deals (new-user report 10 serious #1): ``parallel_deals="share"`` gives a deal
opened while another deal of its account was open the touches that went to that deal; the
default (``"earliest"``, models.md) is unchanged. Checked against a brute-force reading of
the rule on generated data, end to end through the CLI, and across executors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution.inputs._schema import ROW
from attribution.journeys._journeys import Journeys, build_journeys

UTC = pl.Datetime("us", "UTC")
DAY0 = datetime(2025, 1, 1)


def _frame(rows: dict[str, list[object]]) -> pl.DataFrame:
    schema = {
        k: pl.Float64 if k == "value" else pl.Datetime("us") if k == "timestamp" else pl.String
        for k in rows
    }
    return (
        pl.DataFrame(rows, schema=schema)
        .with_columns(pl.col("timestamp").cast(UTC))
        .with_row_index(ROW)
    )


def at(day: float) -> datetime:
    return DAY0 + timedelta(days=day)


def expansion_world() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Report 10's company 30000: new business (o1, created day 14, won day 54) and an
    expansion (o2, created day 44 while o1 was open, won day 74)."""
    touches = _frame(
        {
            "touch_id": ["t1", "t2", "t3", "t4", "t5", "t6"],
            "account_id": ["A"] * 6,
            "contact_id": ["c1", "c1", "c2", "c2", "c1", "c2"],
            "channel": ["email", "paid", "webinar", "email", "events", "paid"],
            "timestamp": [at(0), at(14), at(31), at(44), at(50), at(60)],
        }
    )
    stages = _frame(
        {
            "account_id": ["A"] * 4,
            "contact_id": ["c1", "c1", "c2", "c2"],
            "stage": ["opportunity", "closed_won", "opportunity", "closed_won"],
            "opportunity_id": ["o1", "o1", "o2", "o2"],
            "value": [24000.0, 24000.0, 9000.0, 9000.0],
            "timestamp": [at(14.1), at(54), at(44.1), at(74)],
        }
    )
    return touches, stages


def journey_of(j: Journeys, conversion: str) -> list[str]:
    return j.touches.filter(pl.col("conversion_id") == conversion).get_column("touch_id").to_list()


def test_a_parallel_deal_shares_the_earlier_deals_touches_only_when_asked() -> None:
    touches, stages = expansion_world()
    earliest = build_journeys(touches, stages, level="account", lookback=timedelta(days=180))
    share = build_journeys(
        touches, stages, level="account", lookback=timedelta(days=180), parallel_deals="share"
    )
    assert journey_of(earliest, "A#1") == ["t1", "t2", "t3", "t4", "t5"]
    assert journey_of(earliest, "A#2") == ["t6"]  # only the touch after A#1 closed
    assert journey_of(share, "A#1") == ["t1", "t2", "t3", "t4", "t5"]
    assert journey_of(share, "A#2") == ["t1", "t2", "t3", "t4", "t5", "t6"]
    # its own opportunity's creation touch is the expansion's opportunity touch
    oc = share.touches.filter(pl.col("conversion_id") == "A#2", pl.col("is_opportunity"))
    assert oc.get_column("touch_id").to_list() == ["t4"]
    assert share.counts["touches_in_journeys"] == earliest.counts["touches_in_journeys"] == 6
    assert share.counts["journey_touches_shared"] == 5
    assert share.counts["conversions_sharing_touches"] == 1
    assert "journey_touches_shared" not in earliest.counts
    assert share.touches.height == 6 + 5
    n = dict(share.conversions.select("conversion_id", "n_touches").iter_rows())
    assert n == {"A#1": 5, "A#2": 6}


def test_the_lookback_and_the_last_conversion_before_the_deal_bound_what_it_shares() -> None:
    touches, stages = expansion_world()
    # a deal won on day 10 (before o2's creation) starts o2's window after it
    early = _frame(
        {
            "account_id": ["A", "A"],
            "contact_id": ["c1", "c1"],
            "stage": ["opportunity", "closed_won"],
            "opportunity_id": ["o0", "o0"],
            "value": [1.0, 1.0],
            "timestamp": [at(1), at(10)],
        }
    )
    more = pl.concat([stages.drop(ROW), early.drop(ROW)]).with_row_index(ROW)
    share = build_journeys(
        touches, more, level="account", lookback=timedelta(days=180), parallel_deals="share"
    )
    ids = dict(share.conversions.select("opportunity_id", "conversion_id").iter_rows())
    assert journey_of(share, ids["o2"]) == ["t2", "t3", "t4", "t5", "t6"]  # not t1 (<= day 10)
    # a 20-day lookback: o2 (won day 74) reaches back to day 54 only
    short = build_journeys(
        touches, stages, level="account", lookback=timedelta(days=20), parallel_deals="share"
    )
    assert journey_of(short, "A#2") == ["t6"]
    assert short.counts["journey_touches_shared"] == 0


def test_the_cap_keeps_a_deals_own_touches_first_then_the_latest_shared() -> None:
    touches, stages = expansion_world()
    share = build_journeys(
        touches,
        stages,
        level="account",
        lookback=timedelta(days=180),
        parallel_deals="share",
        max_touches_per_journey=3,
    )
    assert journey_of(share, "A#2") == ["t4", "t5", "t6"]
    assert all(n <= 3 for n in share.conversions.get_column("n_touches"))


def test_an_unknown_value_is_refused() -> None:
    touches, stages = expansion_world()
    with pytest.raises(attribution.InputError, match="parallel_deals must be one of"):
        build_journeys(touches, stages, level="account", parallel_deals="both")
    with pytest.raises(attribution.InputError, match="parallel_deals"):
        attribution.RunOptions(parallel_deals="both")  # type: ignore[arg-type]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, int, int | None]:
    accounts = ["A", "B"]
    n_touches = draw(st.integers(0, 25))
    touch_rows = {
        "touch_id": [f"t{i}" for i in range(n_touches)],
        "account_id": [draw(st.sampled_from(accounts)) for _ in range(n_touches)],
        "contact_id": [draw(st.sampled_from(["c1", "c2", "c3"])) for _ in range(n_touches)],
        "channel": [draw(st.sampled_from(["a", "b", "c"])) for _ in range(n_touches)],
        "timestamp": [at(draw(st.integers(0, 40)) / 2) for _ in range(n_touches)],
    }
    stage_rows: dict[str, list[object]] = {
        k: [] for k in ("account_id", "contact_id", "stage", "opportunity_id", "value", "timestamp")
    }
    for d in range(draw(st.integers(1, 5))):
        account = draw(st.sampled_from(accounts))
        opened = draw(st.integers(0, 40)) / 2
        won = opened + draw(st.integers(0, 20)) / 2
        for stage, day in (("opportunity", opened), ("closed_won", won)):
            stage_rows["account_id"].append(account)
            stage_rows["contact_id"].append(draw(st.sampled_from(["c1", "c2", "c3"])))
            stage_rows["stage"].append(stage)
            stage_rows["opportunity_id"].append(f"o{d}")
            stage_rows["value"].append(100.0)
            stage_rows["timestamp"].append(at(day))
    touches = _frame(touch_rows)
    lookback = draw(st.integers(1, 25))
    cap = draw(st.sampled_from([None, 2, 4]))
    return touches, _frame(stage_rows), lookback, cap


def _expected_shared(
    earliest: Journeys, touches: pl.DataFrame, lookback: timedelta, cap: int | None
) -> dict[str, list[str]]:
    """The rule read literally, one deal at a time (a test may loop)."""
    conv = earliest.conversions.sort("account_id", "timestamp", "conversion_id")
    owner = dict(earliest.touches.select("touch_id", "conversion_id").iter_rows())
    out: dict[str, list[str]] = {}
    order = touches.sort("account_id", "timestamp", "touch_id", ROW)
    for (account,), group in conv.group_by("account_id", maintain_order=True):
        rows = group.sort("conversion_id").rows(named=True)
        rows.sort(key=lambda r: int(r["conversion_id"].split("#")[1]))
        for i, row in enumerate(rows):
            if i == 0 or row["opportunity_at"] is None:
                continue
            previous = rows[i - 1]["timestamp"]
            if not row["opportunity_at"] < previous:
                continue
            since = max(
                (r["timestamp"] for r in rows if r["timestamp"] <= row["opportunity_at"]),
                default=None,
            )
            picked = [
                t["touch_id"]
                for t in order.filter(pl.col("account_id") == account).rows(named=True)
                if (since is None or t["timestamp"] > since)
                and t["timestamp"] <= previous
                and t["timestamp"] >= row["timestamp"] - lookback
                and owner.get(t["touch_id"]) not in (None, row["conversion_id"])
            ]
            if cap is not None:
                room = cap - int(row["n_touches"])
                picked = picked[-room:] if room > 0 else []
            if picked:
                out[row["conversion_id"]] = picked
    return out


@settings(max_examples=60, deadline=None)
@given(worlds())
def test_share_adds_exactly_the_rule_and_changes_nothing_else(
    world: tuple[pl.DataFrame, pl.DataFrame, int, int | None],
) -> None:
    touches, stages, days, cap = world
    lookback = timedelta(days=days)
    kwargs = {"level": "account", "lookback": lookback, "max_touches_per_journey": cap}
    earliest = build_journeys(touches, stages, **kwargs)  # type: ignore[arg-type]
    share = build_journeys(touches, stages, parallel_deals="share", **kwargs)  # type: ignore[arg-type]
    expected = _expected_shared(earliest, touches, lookback, cap)
    for name, value in earliest.counts.items():  # where every touch went: unchanged
        if name not in (
            "conversions_attributed",
            "conversions_unattributed",
            "conversions_same_timestamp",
            "conversions_parallel_without_touches",
        ):
            assert share.counts[name] == value, name
    assert share.counts["journey_touches_shared"] == sum(map(len, expected.values()))
    assert share.counts["conversions_sharing_touches"] == len(expected)
    for conversion in earliest.conversions.get_column("conversion_id"):
        before = journey_of(earliest, conversion)
        after = journey_of(share, conversion)
        assert sorted(after) == sorted(before + expected.get(conversion, [])), conversion
        if cap is not None:
            assert len(after) <= cap
    # each journey is well formed: positions 0..n-1 in time order, one first and one last
    per = share.touches.group_by("conversion_id").agg(
        pl.col("position").sort().alias("p"),
        pl.col("timestamp").is_sorted().alias("ordered"),
        pl.len().alias("n"),
        pl.col("n_touches").first(),
        pl.col("is_first").sum().alias("first"),
        pl.col("is_last").sum().alias("last"),
    )
    for row in per.iter_rows(named=True):
        assert row["p"] == list(range(row["n"]))
        assert row["ordered"]
        assert row["n"] == row["n_touches"]
        assert row["first"] == row["last"] == 1


def _write(tmp_path: Path, *, after_first_deal: bool = True) -> tuple[Path, Path]:
    touches, stages = expansion_world()
    if not after_first_deal:  # the expansion's only touch of its own: gone
        touches = touches.filter(pl.col("touch_id") != "t6")
    t, s = tmp_path / "touches.parquet", tmp_path / "stages.parquet"
    touches.drop(ROW).write_parquet(t)
    stages.drop(ROW).write_parquet(s)
    return t, s


def test_credit_sums_to_one_per_deal_for_every_model(tmp_path: Path) -> None:
    t, s = _write(tmp_path)
    models = ["linear", "w_shaped", "first_touch", "time_decay", "markov", "shapley"]
    got = attribution.attribute(
        t, s, models=models, level="account", lookback="180d", parallel_deals="share"
    )
    tc = got.touch_credit
    sums = tc.group_by("conversion_id", "model").agg(pl.col("credit").sum())
    assert sorted(sums.get_column("conversion_id").unique()) == ["A#1", "A#2"]
    assert sums.height == 2 * len(models)
    assert sums.get_column("credit").to_list() == pytest.approx([1.0] * sums.height, abs=1e-12)
    assert tc.get_column("credit").min() >= 0
    # the shared touches are credited in both deals
    assert tc.filter(pl.col("touch_id") == "t4").get_column("conversion_id").n_unique() == 2
    totals = got.channel_credit.group_by("model").agg(pl.col("conversions").sum())
    assert totals.get_column("conversions").to_list() == pytest.approx([2.0] * len(models))
    assert got.manifest["parameters"]["parallel_deals"] == "share"


def test_the_cli_says_what_was_shared(tmp_path: Path) -> None:
    t, s = _write(tmp_path, after_first_deal=False)
    base = [sys.executable, "-m", "attribution.cli", "run", "--touches", str(t), "--stages", str(s),
            "--level", "account", "-m", "linear", "--lookback", "180d"]  # fmt: skip

    def run(*more: str) -> str:
        done = subprocess.run([*base, *more], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    out = run("-o", str(tmp_path / "a"))
    assert "attributed 1, without touches 1; of them 1 parallel deal(s)" in out
    assert "--parallel-deals share gives them those touches too" in out
    assert "again in" not in out
    out = run("--parallel-deals", "share", "-o", str(tmp_path / "b"))
    assert "attributed 2, without touches 0" in out
    assert "parallel deal(s), opened before" not in out
    assert "and 5 of them again in 1 parallel deal(s), credited in each deal" in out
    manifest = json.loads(next((tmp_path / "b").rglob("manifest.json")).read_text())
    assert manifest["reconciliation"]["journey_touches_shared"] == 5
    assert manifest["parameters"]["parallel_deals"] == "share"


def test_partitioned_and_incremental_runs_equal_the_in_memory_run(tmp_path: Path) -> None:
    from attribution.datasets._synth import synthesize
    from attribution.engine._partitioned import attribute_partitioned

    synth = synthesize(3000, seed=3)
    kwargs = {
        "models": ["linear", "w_shaped", "markov"],
        "level": "account",
        "contacts": synth.contacts,
        "parallel_deals": "share",
    }
    expected = attribution.attribute(synth.touches, synth.stages, **kwargs)  # type: ignore[arg-type]
    assert expected.manifest["reconciliation"]["journey_touches_shared"] > 0
    by = ["model", "channel"]
    got = attribute_partitioned(synth.touches, synth.stages, partitions=3, **kwargs)  # type: ignore[arg-type]
    assert_frame_equal(expected.channel_credit.sort(by), got.channel_credit.sort(by), rel_tol=1e-12)
    assert got.manifest["reconciliation"] == expected.manifest["reconciliation"]


def test_nightly_runs_equal_the_full_run_with_parallel_deals(tmp_path: Path) -> None:
    """Contact level (an account-level night is a full recompute): a second deal for 40
    converting contacts, opened five days before their first win and won 20 days after."""
    from attribution.datasets._synth import synthesize

    synth = synthesize(3000, seed=3)
    won = (
        synth.stages.filter(pl.col("stage") == "closed_won")
        .group_by("contact_id")
        .agg(pl.col("timestamp").min(), pl.col("account_id").first())
        .sort("contact_id")
        .head(40)
    )
    second = pl.concat(
        [
            won.select(
                "contact_id",
                "account_id",
                pl.lit("X-").add(pl.col("contact_id")).alias("opportunity_id"),
                pl.lit(stage).alias("stage"),
                (pl.col("timestamp") + timedelta(days=shift)).alias("timestamp"),
                pl.lit(500.0).alias("value"),
            )
            for stage, shift in (("opportunity", -5), ("closed_won", 20))
        ]
    )
    stages = pl.concat([synth.stages, second.select(synth.stages.columns)])
    kwargs = {"models": ["linear", "w_shaped", "markov"], "parallel_deals": "share"}
    expected = attribution.attribute(synth.touches, stages, **kwargs)  # type: ignore[arg-type]
    shared = expected.manifest["reconciliation"]["journey_touches_shared"]
    assert shared > 0
    cut = synth.touches.get_column("timestamp").quantile(0.7)
    state = tmp_path / "state"
    attribution.attribute_incremental(
        synth.touches.filter(pl.col("timestamp") <= cut),
        stages.filter(pl.col("timestamp") <= cut),
        state=state,
        **kwargs,  # type: ignore[arg-type]
    )
    night = attribution.attribute_incremental(synth.touches, stages, state=state, **kwargs)  # type: ignore[arg-type]
    mode = night.manifest["parameters"]["incremental"]
    assert mode["mode"] == "incremental", mode
    by = ["model", "channel"]
    assert_frame_equal(
        expected.channel_credit.sort(by), night.channel_credit.sort(by), rel_tol=1e-12
    )
    assert night.manifest["reconciliation"]["journey_touches_shared"] == shared
