"""The alerts scored against anomalies injected on purpose into a synthetic world of the
sample's size (the benchmark with more seeds and random anomalies: benchmarks/alerts.py)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution.datasets import synthesize
from attribution.datasets._anomalies import Anomaly, inject_anomalies

#: Changes of the sizes the issue sets as targets, on series large enough to carry them.
ANOMALIES = [
    Anomaly("lead_volume", None, date(2025, 6, 16), -0.35),
    Anomaly("touches", "linkedin", date(2025, 7, 14), -0.5),
    Anomaly("lead_to_mql", None, date(2025, 8, 11), -0.12),
    Anomaly("touches", "google_ads", date(2025, 6, 2), -1.0),  # the channel goes silent
]


@pytest.fixture(scope="module")
def world() -> dict[str, pl.DataFrame]:
    data = synthesize(90_000, seed=11)
    return {"touches": data.touches, "stages": data.stages, "spend": data.spend,
            "surveys": data.surveys}  # fmt: skip


def test_a_clean_world_has_few_false_alerts(world: dict[str, pl.DataFrame]) -> None:
    f = attribution.funnel(world["stages"], world["touches"], world["spend"])
    years = f.weekly.get_column("week").n_unique() / 52
    assert f.alerts.height / years <= 4, f.alerts.get_column("message").to_list()


def test_injected_anomalies_are_found_within_a_week(world: dict[str, pl.DataFrame]) -> None:
    tables, truth = inject_anomalies(world, ANOMALIES, seed=11)
    assert [a["metric"] for a in truth] == [a.metric for a in ANOMALIES]
    assert truth[0] == {
        "family": "pipeline", "metric": "lead_volume", "channel": None, "week": "2025-06-16",
        "size": -0.35, "kind": "drop", "weeks": 2,
    }  # fmt: skip
    f = attribution.funnel(tables["stages"], tables["touches"], tables["spend"])
    score = attribution.score_alerts(f.alerts, truth)
    assert score.recall is not None
    assert score.recall >= 0.8, score.anomalies
    silent = f.alerts.filter((pl.col("metric") == "touches") & (pl.col("channel") == "google_ads"))
    assert "went silent" in silent.item(0, "message")
    assert silent.item(0, "severity") == "high"
    # no alert sits on a provisional week
    provisional = f.weekly.filter(pl.col("provisional")).select("metric", "channel", "week")
    assert (
        f.alerts.join(provisional, on=["metric", "channel", "week"], nulls_equal=True).height == 0
    )


def test_the_injection_changes_what_it_says() -> None:
    data = synthesize(20_000, seed=3)
    tables = {"touches": data.touches, "stages": data.stages, "spend": data.spend,
              "surveys": data.surveys}  # fmt: skip
    june = Anomaly("spend", "linkedin", date(2025, 6, 9), 0.5, weeks=1)
    out, truth = inject_anomalies(tables, [june], seed=3)
    before = data.spend.filter(pl.col("channel") == "linkedin")
    after = out["spend"].filter(pl.col("channel") == "linkedin")
    month = pl.col("month").cast(pl.Date) == date(2025, 6, 1)
    assert after.filter(month).get_column("amount").sum() == pytest.approx(
        1.5 * before.filter(month).get_column("amount").sum(), rel=1e-3
    )
    assert after.filter(~month).equals(before.filter(~month))
    # a monthly spend table changes for the whole month: the truth says from its first week
    assert truth[0]["week"] == "2025-05-26"
    with pytest.raises(attribution.InputError, match="size must be > 0"):
        Anomaly("spend", None, date(2025, 6, 2), -0.5)


def test_synth_writes_the_injected_anomalies_to_truth(tmp_path) -> None:
    """`attribution synth --anomalies FILE` (here through its library path): the tables are
    rewritten with the anomaly and truth.json lists it."""
    from attribution.datasets import write_synthetic
    from attribution.datasets._anomalies import with_anomalies

    spec = tmp_path / "anomalies.toml"
    spec.write_text(
        '[[anomaly]]\nmetric = "touches"\nchannel = "linkedin"\nweek = 2025-06-09\nsize = -1.0\n'
    )
    files = write_synthetic(tmp_path / "w", 20_000, seed=5)
    before = pl.read_parquet(files["touches"])
    truth = with_anomalies(files, spec, seed=5, start="2025-01-01", days=365)
    after = pl.read_parquet(files["touches"])
    week = pl.col("timestamp").dt.date().is_between(date(2025, 6, 9), date(2025, 6, 22))
    linkedin = pl.col("channel") == "linkedin"
    assert before.filter(week & linkedin).height > 0
    assert after.filter(week & linkedin).height == 0
    assert after.filter(~(week & linkedin)).height == before.filter(~(week & linkedin)).height
    written = json.loads(files["truth"].read_text())
    assert written["anomalies"] == truth
    assert truth == [{"family": "channel", "metric": "touches", "channel": "linkedin",
                      "week": "2025-06-09", "size": -1.0, "kind": "drop", "weeks": 2}]  # fmt: skip
    assert "incremental_share" in written  # the generator's truth is kept


SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def test_the_sample_anomalies_are_found() -> None:
    """The shipped sample world carries the anomalies of sample_data/anomalies.toml (listed
    in its truth.json): the generated world with them injected, and every one is found."""
    from attribution.datasets import read_anomalies

    listed = read_anomalies(SAMPLE / "anomalies.toml")
    data = synthesize(90_000, seed=7, conversion_rate=0.035, shuffle=False)  # the sample world
    tables = {"touches": data.touches, "stages": data.stages, "spend": data.spend,
              "surveys": data.surveys}  # fmt: skip
    changed, truth = inject_anomalies(tables, listed, seed=7)
    shipped = json.loads((SAMPLE / "truth.json").read_text())["anomalies"]
    assert shipped == truth
    assert [a["metric"] for a in truth] == ["touches", "lead_to_mql", "spend"]
    for name in ("touches", "stages", "spend", "surveys"):  # the files are that world
        on_disk = pl.read_parquet(SAMPLE / f"{name}.parquet")
        assert_frame_equal(on_disk, changed[name], check_dtypes=False)
        assert not on_disk.equals(tables[name]), name  # and every one of them changed
    f = attribution.funnel(SAMPLE / "stages.parquet", SAMPLE / "touches.parquet",
                           SAMPLE / "spend.parquet")  # fmt: skip
    score = attribution.score_alerts(f.alerts, shipped)
    assert score.anomalies.get_column("found_metric").all(), score.anomalies


#: The issue's targets, per family of the injected change (benchmarks/alerts.py runs more seeds).
TARGET_FAMILY = {"lead_volume": "volume", "mql_volume": "volume", "touches": "volume",
                 "lead_to_mql": "rate", "spend": "cost"}  # fmt: skip


def test_the_issue_targets_on_several_worlds_of_the_samples_size() -> None:
    """Issue 18's targets on three seeded worlds of the sample's size (90,000 marketing
    touches, one year, spend by month): recall at least 0.8 in each family for changes of
    30-60% in a volume, touches or spend and 10-20 points in the lead -> MQL rate (over 300
    entrants a week), each injected into a world of its own; at most 4 false alerts a year
    on the clean worlds; no alert on a provisional week."""
    from attribution.datasets import largest_channels, target_anomalies

    found: dict[str, list[bool]] = {"volume": [], "rate": [], "cost": []}
    false_alerts, weeks, on_provisional = 0, 0, 0
    for seed in (1, 2, 3):
        data = synthesize(90_000, seed=seed)
        tables = {"touches": data.touches, "stages": data.stages, "spend": data.spend,
                  "surveys": data.surveys}  # fmt: skip
        clean = attribution.funnel(data.stages, data.touches, data.spend)
        false_alerts += clean.alerts.height
        weeks += clean.weekly.get_column("week").n_unique()
        runs = [clean]
        for anomaly in target_anomalies(seed, *largest_channels(tables)):
            changed, truth = inject_anomalies(tables, [anomaly], seed)
            f = attribution.funnel(changed["stages"], changed["touches"], changed["spend"])
            score = attribution.score_alerts(f.alerts, truth)
            found[TARGET_FAMILY[anomaly.metric]].append(bool(score.anomalies.item(0, "found")))
            runs.append(f)
        for f in runs:
            provisional = f.weekly.filter(pl.col("provisional")).select("metric", "channel", "week")
            on_provisional += f.alerts.join(
                provisional, on=["metric", "channel", "week"], nulls_equal=True
            ).height
    assert [len(v) for v in found.values()] == [9, 3, 3]
    for family, hits in found.items():
        assert sum(hits) / len(hits) >= 0.8, (family, hits)
    assert false_alerts / (weeks / 52) <= 4, false_alerts
    assert on_provisional == 0


def test_an_anomaly_is_found_while_it_lasts() -> None:
    """A two-month spend change (a monthly table changes whole months): an alert in its
    second month finds it (not at its start); one after its last week, or before the week
    ahead of its first, does not."""
    from datetime import timedelta

    truth = [{"family": "channel", "metric": "spend", "channel": "linkedin",
              "week": "2025-06-30", "size": 0.4, "kind": "spike", "weeks": 9}]  # fmt: skip
    start = date(2025, 6, 30)

    def at(days: int) -> pl.DataFrame:
        return pl.DataFrame(
            {"week": [start + timedelta(days=days)], "family": ["channel"],
             "metric": ["spend"], "channel": ["linkedin"], "message": ["m"]}
        )  # fmt: skip

    cases = ((-7, True, True), (7, True, True), (35, True, False), (56, True, False),
             (63, False, False), (-14, False, False))  # fmt: skip
    for days, found, at_start in cases:
        row = attribution.score_alerts(at(days), truth).anomalies.row(0, named=True)
        assert (row["found"], row["found_at_start"]) == (found, at_start), days
    # an alert running since before it, still out of range in its first week, finds it
    running = at(-21).with_columns(pl.lit(4).alias("weeks"))
    row = attribution.score_alerts(running, truth).anomalies.row(0, named=True)
    assert (row["found"], row["found_at_start"]) == (True, False)
    over = at(-21).with_columns(pl.lit(2).alias("weeks"))  # over two weeks before it
    assert not attribution.score_alerts(over, truth).anomalies.item(0, "found")
    # without weeks (an older truth.json), a week either side of its start
    old = [{k: v for k, v in truth[0].items() if k != "weeks"}]
    assert attribution.score_alerts(at(7), old).anomalies.item(0, "found")
    assert not attribution.score_alerts(at(14), old).anomalies.item(0, "found")
