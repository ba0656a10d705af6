"""Calibration with lift tests: the experiments table, the weighting by hand, totals that
reconcile, the simulated account holdout, the score against the truth, what to test next."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import attribution
from attribution.b2b._calibration import BASELINE, Z90
from attribution.cli import app
from attribution.datasets import synthesize, write_synthetic
from attribution.inputs._experiments import load_experiments

SALES = ("sales_call", "sales_email", "meeting")
DAY0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def tiny_result(models: tuple[str, ...] = ("linear",)) -> attribution.AttributionResult:
    """10 conversions on one touch of ``a``, 10 on one touch of ``b``, 20 contacts that
    touch ``c`` and never convert; conversions on 2025-03-02..21."""
    touches, stages = [], []
    for i in range(40):
        channel = "a" if i < 10 else "b" if i < 20 else "c"
        touches.append((f"t{i}", DAY0 + timedelta(days=i % 20), channel, f"k{i}"))
        if i < 20:
            stages.append((f"k{i}", "closed_won", DAY0 + timedelta(days=i % 20, hours=1), 100.0))
    t = pl.DataFrame(touches, schema=["touch_id", "timestamp", "channel", "contact_id"],
                     orient="row")  # fmt: skip
    s = pl.DataFrame(stages, schema=["contact_id", "stage", "timestamp", "value"], orient="row")
    return attribution.attribute(t, s, models=list(models))


def experiments(**row: object) -> pl.DataFrame:
    base = {
        "channel": "a",
        "start": "2025-03-01",
        "end": "2025-03-31",
        "incremental_conversions": 4.0,
        "standard_error": math.sqrt(10.0),
        "test_type": "account_holdout",
    }
    base.update(row)
    return pl.DataFrame([base])


def credit_of(cal: attribution.Calibration, model: str = "linear") -> dict[str, dict]:
    assert cal.credit is not None
    return {r["channel"]: r for r in cal.credit.filter(model=model).iter_rows(named=True)}


def test_inverse_variance_weighting_by_hand() -> None:
    # the model credits a 10 conversions in the window, Poisson variance 10 (one model: no
    # spread); the test says 4 with variance 10: equal weights, 7; a's factor 0.7
    cal = attribution.calibrate(tiny_result(), experiments())
    test = cal.tests.row(0, named=True)
    assert test["model_window"] == pytest.approx(10.0)
    assert test["model_se"] == pytest.approx(math.sqrt(10.0))
    assert test["model_se_source"] == "poisson"
    assert test["experiment_weight"] == pytest.approx(0.5)
    assert test["calibrated_window"] == pytest.approx(7.0)
    assert test["calibrated_se"] == pytest.approx(math.sqrt(5.0))
    assert test["status"] == "calibrated"
    rows = credit_of(cal)
    assert rows["a"]["conversions"] == pytest.approx(7.0)
    assert rows["a"]["uncalibrated_conversions"] == pytest.approx(10.0)
    assert rows["a"]["factor"] == pytest.approx(0.7)
    assert rows["a"]["tested"]
    assert not rows["b"]["tested"]
    assert rows["b"]["conversions"] == pytest.approx(10.0)
    assert rows[BASELINE]["conversions"] == pytest.approx(3.0)
    assert rows[BASELINE]["value"] == pytest.approx(300.0)
    assert rows["a"]["share"] == pytest.approx(0.35)
    # the tested channel's interval: its calibrated variance, 10^2 x 5 / 10^2 = 5
    half = Z90 * math.sqrt(5.0) / 20
    assert rows["a"]["ci_low"] == pytest.approx(0.35 - half)
    assert rows["a"]["ci_high"] == pytest.approx(0.35 + half)


def test_the_bootstrap_intervals_are_the_model_variance() -> None:
    result = tiny_result()
    # boot19's contract: ci_low / ci_high bound `share` (90%); a relative sd of 0.2 on a's
    # 10 conversions is a variance of 4
    width = 0.2 * 0.5 * 2 * Z90
    result.channel_credit = result.channel_credit.with_columns(
        pl.when(pl.col("channel") == "a").then(0.5 - width / 2).otherwise(None).alias("ci_low"),
        pl.when(pl.col("channel") == "a").then(0.5 + width / 2).otherwise(None).alias("ci_high"),
    )
    cal = attribution.calibrate(result, experiments())
    test = cal.tests.row(0, named=True)
    assert test["model_se_source"] == "bootstrap"
    assert test["model_se"] == pytest.approx(2.0)
    assert test["calibrated_window"] == pytest.approx((10 / 4 + 4 / 10) / (1 / 4 + 1 / 10))
    rows = credit_of(cal)
    assert rows["b"]["uncalibrated_ci_low"] is None  # the untested keep their (missing) bounds
    assert "bootstrap" in cal.summary()


def test_the_spread_across_models_adds_to_the_variance() -> None:
    result = tiny_result(("linear", "first_touch"))
    # one touch per journey: both models agree, the spread is 0 and the weights are equal
    cal = attribution.calibrate(result, experiments())
    assert cal.tests.get_column("models_sd").to_list() == pytest.approx([0.0, 0.0])
    assert cal.tests.get_column("calibrated_window").to_list() == pytest.approx([7.0, 7.0])


def test_tests_above_the_total_make_the_other_channels_give_way() -> None:
    cal = attribution.calibrate(
        tiny_result(), experiments(incremental_conversions=50.0, standard_error=0.01)
    )
    rows = credit_of(cal)
    assert rows["a"]["conversions"] == pytest.approx(20.0, rel=1e-3)  # capped at the total
    assert rows["b"]["conversions"] == pytest.approx(0.0, abs=0.05)
    assert rows[BASELINE]["conversions"] == pytest.approx(0.0, abs=1e-9)
    assert sum(r["conversions"] for r in rows.values()) == pytest.approx(20.0)


def test_a_negative_test_floors_the_channel_at_zero() -> None:
    cal = attribution.calibrate(
        tiny_result(), experiments(incremental_conversions=-30.0, standard_error=0.5)
    )
    rows = credit_of(cal)
    assert rows["a"]["conversions"] == 0.0
    assert rows[BASELINE]["conversions"] == pytest.approx(10.0)


def test_a_pipeline_test_compares_credited_value() -> None:
    cal = attribution.calibrate(
        tiny_result(),
        experiments(incremental_conversions=None, incremental_pipeline=400.0, standard_error=100.0),
    )
    test = cal.tests.row(0, named=True)
    assert test["measure"] == "pipeline"
    assert test["model_window"] == pytest.approx(1000.0)
    # compound Poisson: 10 conversions of value 100 -> 10 x 100^2
    assert test["model_se"] == pytest.approx(math.sqrt(10 * 100.0**2))
    w_m, w_e = 1 / 100_000, 1 / 10_000
    assert test["calibrated_window"] == pytest.approx((1000 * w_m + 400 * w_e) / (w_m + w_e))


def test_a_window_without_conversions_is_not_used() -> None:
    cal = attribution.calibrate(tiny_result(), experiments(start="2026-01-01", end="2026-02-01"))
    assert cal.tests.get_column("status").to_list() == ["no conversion of the run in the window"]
    rows = credit_of(cal)
    assert not rows["a"]["tested"]
    assert rows["a"]["conversions"] == 10.0
    assert rows[BASELINE]["conversions"] == 0.0
    assert "not used: no conversion of the run in the window" in cal.summary()


THREE_MODELS = tiny_result(("linear", "time_decay", "last_touch"))


@settings(max_examples=40, deadline=None)
@given(
    tests=st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),
            st.floats(-40.0, 200.0),
            st.floats(0.05, 100.0),
            st.booleans(),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_calibrated_credit_reconciles_and_is_never_negative(tests) -> None:
    frame = pl.DataFrame(
        {
            "channel": [t[0] for t in tests],
            "start": ["2025-03-01"] * len(tests),
            "end": ["2025-03-10" if t[3] else "2025-03-31" for t in tests],
            "incremental_conversions": [t[1] for t in tests],
            "standard_error": [t[2] for t in tests],
            "test_type": ["geo"] * len(tests),
        }
    )
    cal = attribution.calibrate(THREE_MODELS, frame)
    assert cal.credit is not None
    sums = cal.credit.group_by("model").agg(pl.col("conversions").sum(), pl.col("share").sum())
    assert sums.get_column("conversions").to_list() == pytest.approx([20.0] * 3)
    assert sums.get_column("share").to_list() == pytest.approx([1.0] * 3)
    assert cal.credit.get_column("conversions").min() >= 0.0
    tested = cal.credit.filter("tested")
    assert (tested["ci_low"] <= tested["share"] + 1e-12).all()
    assert (tested["share"] <= tested["ci_high"] + 1e-12).all()


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


HEADER = "channel,start,end,incremental_conversions,incremental_pipeline,standard_error,test_type\n"


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ("a,2025-03-01,2025-03-31,4,,0,geo\n", "standard error"),
        ("a,2025-03-01,2025-03-31,4,300,1,geo\n", "both or neither"),
        ("a,2025-03-01,2025-03-31,,,1,geo\n", "both or neither"),
        ("a,2025-03-31,2025-03-01,4,,1,geo\n", "end before they start"),
        ("a,2025-03-01,2025-03-31,4,,1,survey\n", "test_type"),
        ("a,2025-03-01,not a date,4,,1,geo\n", "end"),
    ],
)
def test_a_bad_experiments_file_names_the_file_column_and_line(tmp_path, rows, needle) -> None:
    path = write_csv(tmp_path / "tests.csv", HEADER + "b,2025-03-01,2025-03-31,1,,1,geo\n" + rows)
    with pytest.raises(attribution.InputError) as info:
        attribution.calibrate(tiny_result(), path)
    text = str(info.value)
    assert needle in text
    assert "tests.csv" in text
    assert "lines: 3)" in text


def test_a_missing_column_and_an_unknown_channel_are_errors(tmp_path) -> None:
    path = write_csv(tmp_path / "t.csv", "channel,start,end,incremental_conversions,test_type\n"
                     "a,2025-03-01,2025-03-31,4,geo\n")  # fmt: skip
    with pytest.raises(attribution.ColumnNotFoundError, match="standard_error"):
        load_experiments(path)
    path = write_csv(tmp_path / "u.csv", HEADER + "A ,2025-03-01,2025-03-31,4,,1,Account Holdout\n"
                     "linkdin,2025-03-01,2025-03-31,4,,1,geo\n")  # fmt: skip
    with pytest.raises(attribution.InputError, match=r"does not credit \('linkdin'\).*line.* 3"):
        attribution.calibrate(tiny_result(), path)


# --- the simulated account holdout ----------------------------------------------------------


def test_the_holdout_removes_only_the_channel_in_held_out_accounts_after_its_start() -> None:
    plain = synthesize(36_000, seed=3)
    held = synthesize(36_000, seed=3, holdout=("partner_referral",), holdout_share=0.5)
    gone = plain.touches.join(held.touches, on="touch_id", how="anti")
    marketing = gone.filter(pl.col("channel") != "sales")
    assert marketing.height == held.truth["counts"]["held_out_touches"] > 0
    assert marketing.get_column("channel").unique().to_list() == ["partner_referral"]
    e = held.truth["experiments"][0]
    start = datetime.fromisoformat(e["holdout_start"]).replace(tzinfo=UTC)
    assert marketing.get_column("timestamp").min() >= start
    # the held-out accounts keep no partner touch after the start; the others keep all theirs
    after = pl.col("timestamp") >= start
    held_accounts = marketing.get_column("account_id").unique()
    left = held.touches.filter(
        pl.col("account_id").is_in(held_accounts.implode()) & after
        & (pl.col("channel") == "partner_referral")
    )  # fmt: skip
    assert left.height == 0
    # every other marketing touch is the same row (but for the lead's form fill of a contact
    # whose funnel the holdout changed)
    def marketing(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("channel") != "sales").drop("touch_type").sort("touch_id")

    assert marketing(plain.touches.join(gone, on="touch_id", how="anti")).equals(
        marketing(held.touches)
    )
    # an account holdout is measured as an analyst would: treated vs held-out rates per account
    r_t = e["conversions_treated"] / e["treated_accounts"]
    r_h = e["conversions_holdout"] / e["holdout_accounts"]
    kept_accounts = e["scaled_to_accounts"]
    assert e["incremental_conversions"] == pytest.approx((r_t - r_h) * kept_accounts)
    assert e["standard_error"] > 0
    table = load_experiments(held.experiments)
    assert table.frame.get_column("channel").to_list() == ["partner_referral"]
    # the test saves the channel's media spend on the accounts held out (fees stay)
    april = (pl.col("month") == datetime(2025, 4, 1).date()) & (
        pl.col("channel") == "partner_referral"
    )
    spend = plain.spend.filter(april).join(
        held.spend.filter(april), on="campaign", nulls_equal=True, suffix="_held"
    )
    media = spend.filter(pl.col("campaign").is_not_null())
    assert (media["amount_held"] / media["amount"]).to_list() == pytest.approx([0.5] * 3, abs=1e-3)
    fees = spend.filter(pl.col("campaign").is_null())
    assert fees["amount_held"].to_list() == fees["amount"].to_list()
    assert plain.experiments is None
    assert "experiments" not in plain.truth


def test_write_synthetic_writes_experiments_csv_and_removes_a_stale_one(tmp_path) -> None:
    paths = write_synthetic(tmp_path, 36_000, seed=2, holdout=("linkedin",))
    assert paths["experiments"].name == "experiments.csv"
    assert load_experiments(paths["experiments"]).frame.height == 1
    assert "experiments" in json.loads(paths["truth"].read_text())
    again = write_synthetic(tmp_path, 36_000, seed=2)
    assert "experiments" not in again
    assert not (tmp_path / "experiments.csv").exists()
    with pytest.raises(ValueError, match="holdout channel"):
        synthesize(36_000, holdout=("tiktok",))
    with pytest.raises(ValueError, match="holdout_share"):
        synthesize(36_000, holdout=("linkedin", "email"), holdout_share=0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibrated_credit_is_closer_to_the_truth_under_every_model(seed: int) -> None:
    # a test with the power to tell (partner_referral, which every model under-credits, half
    # the accounts held out, the sample world's size): calibrated shares are closer to the
    # true incremental shares of conversions under every model
    data = synthesize(90_000, seed=seed, conversion_rate=0.035, holdout=("partner_referral",),
                      holdout_share=0.5)  # fmt: skip
    result = attribution.attribute(data.touches, data.stages, exclude_touch_types=SALES)
    cal = attribution.calibrate(result, data.experiments, truth=data.truth)
    scores = cal.truth
    assert scores is not None
    assert scores.height == len(attribution.default_models())
    assert scores.filter(~pl.col("improved")).height == 0, scores
    assert (scores["mae_calibrated"] < scores["mae_uncalibrated"]).all()


# --- what to test next ----------------------------------------------------------------------


def test_the_holdout_size_is_the_two_proportion_formula() -> None:
    z = NormalDist().inv_cdf
    p1, p2 = 0.035, 0.03
    pbar = (p1 + p2) / 2
    n = (z(0.975) * math.sqrt(2 * pbar * (1 - pbar))
         + z(0.8) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (p1 - p2) ** 2  # fmt: skip
    from attribution.b2b._experiments_next import holdout_size

    assert pl.select(holdout_size(p1, p2)).item() == pytest.approx(n)
    assert pl.select(holdout_size(0.1, 0.1)).item() is None


def test_experiments_next_ranks_by_spend_disagreement_and_width() -> None:
    result = tiny_result(("linear", "first_touch"))
    # make the models disagree: first_touch gives a 4 more conversions and b 4 fewer
    result.channel_credit = result.channel_credit.with_columns(
        pl.when((pl.col("model") == "first_touch") & (pl.col("channel") == "a"))
        .then(14.0)
        .when((pl.col("model") == "first_touch") & (pl.col("channel") == "b"))
        .then(6.0)
        .otherwise(pl.col("conversions"))
        .alias("conversions")
    )
    nxt = attribution.experiments_next(result, {"a": 1_000.0, "b": 3_000.0, "c": 500.0})
    rows = {r["channel"]: r for r in nxt.iter_rows(named=True)}
    assert rows["a"]["disagreement"] == pytest.approx(4 / 12)
    assert rows["b"]["disagreement"] == pytest.approx(4 / 8)
    assert rows["b"]["value"] == pytest.approx(3_000 * 0.5)  # no intervals: width counts 1
    assert nxt.get_column("channel").to_list()[:2] == ["b", "a"]
    assert nxt.get_column("rank").to_list() == [1, 2, 3]
    assert rows["c"]["value"] == 0.0
    assert rows["c"]["holdout_per_arm"] is None
    # 40 journeys, 20 conversions: p 0.5 against 0.4 for b's gap of 4
    assert rows["b"]["p_with"] == pytest.approx(0.5)
    assert rows["b"]["p_without"] == pytest.approx(0.4)
    assert rows["b"]["fits_in_run"] is False  # 385 per arm against 40 journeys


# --- the command line ------------------------------------------------------------------------


def test_run_with_experiments_writes_calibrated_credit_and_the_next_tests(tmp_path) -> None:
    data = tmp_path / "data"
    write_synthetic(data, 36_000, seed=5, holdout=("partner_referral",), holdout_share=0.5)
    args = ["run", "--touches", str(data / "touches.parquet"), "--stages",
            str(data / "stages.parquet"), "--spend", str(data / "spend.parquet"), "-m", "linear",
            "-m", "markov", "--exclude-touch-types", ",".join(SALES), "--out",
            str(tmp_path / "runs")]  # fmt: skip
    out = CliRunner().invoke(app, [*args, "--experiments", str(data / "experiments.csv"),
                                   "--truth", str(data / "truth.json")])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "Calibrated with 1 experiment(s)" in out.output
    assert "What to test next" in out.output
    assert "Calibration against the truth" in out.output
    run = next((tmp_path / "runs").iterdir())
    credit = pl.read_parquet(run / "calibrated_credit.parquet")
    assert set(credit.get_column("model")) == {"linear", "markov"}
    assert BASELINE in credit.get_column("channel").to_list()
    nxt = pl.read_parquet(run / "experiments_next.parquet")
    assert nxt.get_column("rank").to_list() == list(range(1, nxt.height + 1))
    html = (run / "report.html").read_text()
    assert 'id="calibration"' in html
    assert "partner_referral" in html

    bad = write_csv(tmp_path / "bad.csv", HEADER + "linkedin,2025-03-01,2025-03-31,4,,-1,geo\n")
    out = CliRunner().invoke(app, [*args, "--experiments", str(bad)])
    assert out.exit_code == 2
    assert "bad.csv" in out.output
    assert "standard_error" in out.output
    assert "Traceback" not in out.output


def test_config_inputs_experiments_and_synth_holdout_errors(tmp_path) -> None:
    data = tmp_path / "data"
    out = CliRunner().invoke(app, ["synth", "--touches", "36000", "--seed", "4", "--out",
                                   str(data), "--holdout", "partner_referral"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "experiments" in out.output
    config = tmp_path / "run.toml"
    config.write_text(
        '[inputs]\ntouches = "data/touches.parquet"\nstages = "data/stages.parquet"\n'
        'experiments = "data/experiments.csv"\n[run]\nmodels = ["linear"]\n'
        f'out = "{tmp_path / "runs"}"\n'
    )
    out = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert out.exit_code == 0, out.output
    assert "Calibrated with 1 experiment(s) from" in out.output
    run = next((tmp_path / "runs").iterdir())
    assert (run / "calibrated_credit.parquet").is_file()
    assert not (run / "experiments_next.parquet").exists()  # no spend: nothing to rank by
    out = CliRunner().invoke(app, ["synth", "--touches", "36000", "--out", str(tmp_path / "x"),
                                   "--holdout", "tiktok"])  # fmt: skip
    assert out.exit_code == 2
    assert "holdout channel(s) ['tiktok']" in out.output
    assert "Traceback" not in out.output


def test_a_holdout_read_out_only_keeps_the_tables_as_they_were() -> None:
    plain = synthesize(36_000, seed=3)
    read = synthesize(36_000, seed=3, holdout=("partner_referral",), holdout_share=0.5,
                      holdout_applied=False)  # fmt: skip
    for name, frame in plain.tables().items():
        assert read.tables()[name].equals(frame), name
    truth = dict(read.truth)
    e = truth.pop("experiments")[0]
    truth.pop("experiments_method")
    assert truth["parameters"].pop("holdout") == {
        "channels": ["partner_referral"], "share": 0.5, "applied": False,
    }  # fmt: skip
    assert truth == plain.truth  # the world's own truth is unchanged
    assert e["applied"] is False
    assert e["scaled_to_accounts"] == plain.truth["counts"]["accounts"]
    assert e["treated_accounts"] + e["holdout_accounts"] == e["scaled_to_accounts"]
    # the treated accounts convert as shipped: their window conversions are the plain world's
    won = plain.stages.filter(
        (pl.col("stage") == "closed_won")
        & (pl.col("timestamp").dt.date() >= datetime.fromisoformat(e["start"]).date())
        & pl.col("account_id").is_not_null()
    )
    assert e["conversions_treated"] + e["conversions_holdout"] < won.height  # held-out lose
    assert e["incremental_conversions"] > 0


SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def test_the_sample_ships_its_tests_read_out_and_calibration_gets_closer() -> None:
    """sample_data/experiments.csv is the generator's readout of two account holdouts on the
    sample world (read out only: the tables are the world without them), and on the sample
    the calibrated credit is closer to the truth under every default model."""
    data = synthesize(90_000, seed=7, conversion_rate=0.035, shuffle=False,
                      holdout=("linkedin", "partner_referral"), holdout_applied=False)  # fmt: skip
    assert data.experiments is not None
    shipped = pl.read_csv(SAMPLE / "experiments.csv")
    assert shipped.equals(pl.read_csv(data.experiments.write_csv().encode()))
    truth = json.loads((SAMPLE / "truth.json").read_text())
    assert truth["experiments"] == data.truth["experiments"]
    result = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", exclude_touch_types=SALES
    )
    cal = attribution.calibrate(result, SAMPLE / "experiments.csv", truth=truth)
    assert cal.truth is not None
    assert cal.truth.height == len(attribution.default_models())
    assert cal.truth.get_column("improved").all(), cal.truth
