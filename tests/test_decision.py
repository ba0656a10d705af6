"""The decision model (given, survey agreement, truth, default) and the plan's levers across
models, on hand-made runs where the models disagree."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.b2b._decision import choose_decision_model, decision_note
from attribution.b2b._plan_levers import LEVER_AGREEMENT, lever_table
from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA
from attribution.exceptions import InputError, ModelNotFoundError

# --------------------------------------------------------------------------- decision model


def test_given_wins_and_must_be_a_model_of_the_run() -> None:
    board = pl.DataFrame({"rank": [1], "model": ["shapley"], "agreement": [0.9]})
    assert choose_decision_model(["linear", "shapley"], given="linear", leaderboard=board) == (
        "linear",
        "given",
    )
    with pytest.raises(ModelNotFoundError, match="--decision-model: 'nope' is not a model"):
        choose_decision_model(["linear"], given="nope", given_by="--decision-model")


def test_survey_rank_one_then_truth_then_default() -> None:
    models = ["linear", "markov", "shapley"]
    board = pl.DataFrame(
        {"rank": [1, 2, 3], "model": ["shapley", "markov", "linear"], "agreement": [0.5, 0.4, 0.3]}
    )
    truth = pl.DataFrame({"model": models, "truth_mae": [0.05, 0.01, 0.2]})
    assert choose_decision_model(models, leaderboard=board, truth=truth) == (
        "shapley",
        "survey agreement",
    )
    # a leaderboard without any scored model (no answer compared) falls through to the truth
    empty = board.with_columns(pl.lit(math.nan).alias("agreement"))
    assert choose_decision_model(models, leaderboard=empty, truth=truth) == ("markov", "truth")
    assert choose_decision_model(models) == ("linear", "default")
    assert choose_decision_model(["markov", "shapley"]) == ("markov", "default")
    assert choose_decision_model(["shapley"]) == ("shapley", "default")
    assert decision_note("shapley", "survey agreement") == "shapley, chosen by survey agreement"


def _board(models: list[str], agreement: list[float], p_best: list[float], n: int = 100):
    return pl.DataFrame(
        {"rank": list(range(1, len(models) + 1)), "model": models, "conversions": [n] * len(models),
         "agreement": agreement, "p_best": p_best}
    )  # fmt: skip


def test_the_survey_chooses_only_with_the_minimum_evidence() -> None:
    """New-user report 3, defects 11 and 11b: a dead heat (two models at 0.238, p_best 0.47
    each) or one compared conversion (nine models tied at 1.000) chose the decision model
    'by survey agreement'; below the minimum evidence it falls back and says why."""
    from attribution.b2b._decision import decide
    from attribution.surveys._leader import MIN_COMPARED_CONVERSIONS, MIN_P_BEST

    assert (MIN_COMPARED_CONVERSIONS, MIN_P_BEST) == (30, 0.5)
    models = ["markov", "shapley", "linear", "first_touch"]
    clear = _board(models, [0.40, 0.30, 0.20, 0.10], [0.80, 0.15, 0.05, 0.0])
    assert decide(models, leaderboard=clear) == ("markov", "survey agreement", None)
    # a tie at the top: the default, and the line names the tied models
    tie = _board(models, [0.238, 0.238, 0.20, 0.10], [0.47, 0.47, 0.06, 0.0])
    model, source, reason = decide(models, leaderboard=tie)
    assert (model, source) == ("linear", "default")
    assert reason == (
        "the survey cannot choose: markov and shapley tie on agreement at 0.238, "
        "p_best 0.47 / 0.47"
    )
    # a leader first in fewer than half of the draws
    weak = _board(models, [0.30, 0.29, 0.20, 0.10], [0.45, 0.40, 0.15, 0.0])
    model, source, reason = decide(models, leaderboard=weak)
    assert (model, source) == ("linear", "default")
    assert reason == (
        "the survey cannot choose: its leader markov at 0.300 is first in 45% of the "
        "bootstrap draws, below the 50% needed; next shapley at 0.290, p_best 0.40"
    )
    # one compared conversion: too small, whatever the bootstrap says
    nine = [f"m{i}" for i in range(9)]
    one = _board(nine, [1.0] * 9, [1 / 9] * 9, n=1)
    assert decide([*nine, "linear"], leaderboard=one) == (
        "linear",
        "default",
        "the survey is too small to choose: 1 compared conversion, at least 30 needed",
    )
    single = _board(models, [1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], n=29)
    assert decide(models, leaderboard=single)[:2] == ("linear", "default")
    # at the bars exactly: the survey chooses
    edge = _board(models, [0.31, 0.30, 0.20, 0.10], [0.50, 0.45, 0.05, 0.0], n=30)
    assert decide(models, leaderboard=edge) == ("markov", "survey agreement", None)
    # with a truth file, the truth decides when the survey cannot
    truth = pl.DataFrame({"model": models, "truth_mae": [0.05, 0.01, 0.2, 0.3]})
    model, source, reason = decide(models, leaderboard=tie, truth=truth)
    assert (model, source) == ("shapley", "truth")
    assert reason is not None
    # the note of every summary carries the reason when there is one
    assert decision_note("linear", "default", reason).startswith(
        "linear, the default (the survey cannot choose: markov and shapley tie"
    )
    assert decision_note("linear", "default", None) == "linear, the default"


@pytest.mark.slow
def test_a_survey_too_small_to_choose_says_so_in_the_cli_manifest_and_report(
    tmp_path: Path,
) -> None:
    """One answer joined to a conversion (new-user report 3, 11b): the decision model is the
    default and the CLI line, the manifest and the report's answers say why."""
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    contact = stages.filter(pl.col("stage") == "closed_won").get_column("contact_id")[0]
    (tmp_path / "one.csv").write_text(f"contact_id,response\n{contact},LinkedIn\n")
    stdout, run_dir = cli_run(tmp_path, "--surveys", str(tmp_path / "one.csv"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    reason = "the survey is too small to choose: 1 compared conversion, at least 30 needed"
    assert (manifest["decision_model"], manifest["decision_model_source"]) == ("linear", "default")
    assert manifest["decision_model_reason"] == reason
    assert f"Decision model: linear, the default ({reason}) (manifest.json" in stdout
    assert breach_finding(run_dir) == f"linear, the default ({reason})"
    assert "Unit economics under linear, the default (CAC" in stdout


def test_run_option_names_the_option() -> None:
    with pytest.raises(InputError, match="decision_model 'nope' is not a model") as info:
        attribution.RunOptions(models=["linear"], decision_model="nope")
    assert info.value.option == "decision_model"
    assert attribution.RunOptions(models=["linear"], decision_model="linear").decision_model


# --------------------------------------------------------------------------- levers


def test_lever_table_counts_agreement_and_labels_contested() -> None:
    rows = [
        # a: cut under 3 of 4 models (drop counts as a cut): recommended at exactly 75%
        ("m1", "a", "drop"), ("m2", "a", "cut"), ("m3", "a", "cut"), ("m4", "a", "grow"),
        # b: grow 2, cut 2: contested
        ("m1", "b", "grow"), ("m2", "b", "grow"), ("m3", "b", "cut"), ("m4", "b", "cut"),
        # c: keep under every model
        ("m1", "c", "keep"), ("m2", "c", "keep"), ("m3", "c", "keep"), ("m4", "c", "keep"),
    ]  # fmt: skip
    actions = pl.DataFrame(rows, schema=["model", "channel", "action"], orient="row")
    levers = {r["channel"]: r for r in lever_table(actions, "m4").iter_rows(named=True)}
    assert LEVER_AGREEMENT == 0.75
    assert levers["a"]["action"] == "cut"
    assert (levers["a"]["models_agreeing"], levers["a"]["models"]) == (3, 4)
    assert levers["a"]["status"] == "recommended"
    assert levers["a"]["decision_action"] == "grow"
    assert levers["b"]["status"] == "contested"
    assert levers["b"]["action"] == "cut"  # the tie goes to the decision model's action
    assert levers["b"]["actions"] == "grow 2, cut 2"
    assert (levers["c"]["action"], levers["c"]["status"]) == ("keep", "recommended")
    assert list(levers) == ["a", "b", "c"]  # the plan's order


def disagreeing_result(models: list[str]) -> attribution.AttributionResult:
    # customers credited to a and b: the cheaper channel (same spend) differs by model
    credit = {
        "linear": (1.0, 2.0),
        "markov": (1.0, 3.0),
        "last_touch": (0.5, 2.5),
        "first_touch": (2.0, 1.0),
    }
    rows = [
        (m, ch, credit[m][i], credit[m][i] / sum(credit[m]), 0.0)
        for m in models
        for i, ch in enumerate(("a", "b"))
    ]
    frame = pl.DataFrame(rows, schema=CHANNEL_CREDIT_SCHEMA, orient="row")
    return attribution.AttributionResult(frame, pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA), {})


@pytest.fixture
def spend() -> pl.DataFrame:
    return pl.DataFrame(
        {"channel": ["a", "b"], "month": ["2025-01-01"] * 2, "amount": [100.0, 100.0]}
    )


@pytest.fixture
def stages(make_stages) -> pl.DataFrame:
    rows = [(f"c{i}", "mql", 1, None) for i in range(10)]
    rows += [("c0", "closed_won", 9, 10.0), ("c1", "closed_won", 9, 10.0)]
    return make_stages(rows)


PLAN = {"budget": {"a": 500, "b": 500}, "targets": {"customers": 30, "cac": 10}}


def test_plan_levers_across_models_when_they_disagree(spend, stages, tmp_path: Path) -> None:
    models = ["linear", "markov", "last_touch", "first_touch"]
    check = attribution.check_plan(PLAN, disagreeing_result(models), spend, stages)
    # the decision model (linear, the default) measures the plan: b is cheaper, a is cut
    assert check.summary_data["model"] == "linear"
    assert check.summary_data["decision_model_source"] == "default"
    actions = dict(check.table.select("channel", "action").iter_rows())
    assert actions["a"] == "drop"
    assert actions["b"] == "grow"
    levers = {r["channel"]: r for r in check.levers.iter_rows(named=True)}
    # first_touch alone makes a cheaper: 3 of 4 models cut a and grow b
    assert (levers["a"]["action"], levers["a"]["models_agreeing"]) == ("cut", 3)
    assert (levers["b"]["action"], levers["b"]["status"]) == ("grow", "recommended")
    assert "cut a: 3 of 4 models" in check.summary()
    assert "Across the run's 4 models, recommended: cut a (3 of 4), grow b (3 of 4)." in (
        check.verdict
    )
    check.write(tmp_path)
    written = pl.read_parquet(tmp_path / "levers.parquet")
    assert written.equals(check.levers)
    meta = json.loads((tmp_path / "plan.json").read_text())
    assert meta["levers"]["recommended"] == ["cut a", "grow b"]


def test_plan_levers_contested_below_the_threshold(spend, stages) -> None:
    # without last_touch, 2 of 3 models (67%) cut a: under 75%, so contested
    result = disagreeing_result(["linear", "markov", "first_touch"])
    check = attribution.check_plan(PLAN, result, spend, stages, model="first_touch")
    assert check.summary_data["model"] == "first_touch"
    assert check.summary_data["decision_model_source"] == "given"
    assert set(check.levers.get_column("status")) == {"contested"}
    assert "a: contested (cut 2, grow 1 of 3 models; not recommended)" in check.summary()
    assert "contested (the advice flips with the model, not recommended): a, b" in check.verdict
    # the plan under first_touch grows a: the levers say that is not a recommendation
    assert dict(check.table.select("channel", "action").iter_rows())["a"] == "grow"


# --------------------------------------------------------------------------- command line
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def cli_run(tmp_path: Path, *extra: str) -> tuple[str, Path]:
    import os
    import subprocess
    import sys

    out = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run",
         "--touches", str(SAMPLE / "touches.parquet"), "--stages", str(SAMPLE / "stages.parquet"),
         "--spend", str(SAMPLE / "spend.parquet"), "-m", "linear", "-m", "markov",
         "-m", "first_touch", "--out", str(out), *extra],
        capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"), timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    return proc.stdout, run_dir


def breach_finding(run_dir: Path) -> str:
    """The model the report's answers (the guardrail among them) are under, with its source:
    the page's top names it once, for all five answers."""
    import re

    html = (run_dir / "report.html").read_text(encoding="utf-8")
    (found,) = set(re.findall(r"Every figure is under the run's decision model, <b>([^<]+)</b>",
                              html))  # fmt: skip
    return str(found)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "model", "source"),
    [
        ((), "linear", "default"),  # the report once picked markov here, the CLI linear
        (("--truth", str(SAMPLE / "truth.json")), None, "truth"),
        (("--decision-model", "first_touch"), "first_touch", "given"),
    ],
)
def test_cli_summary_economics_plan_and_report_agree(
    tmp_path: Path, extra: tuple[str, ...], model: str | None, source: str
) -> None:
    stdout, run_dir = cli_run(tmp_path, "--plan", str(SAMPLE / "plan.toml"), *extra)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    decided = manifest["decision_model"]
    assert manifest["decision_model_source"] == source
    if model is not None:
        assert decided == model
    else:  # by truth: the model of the lowest truth MAE
        from attribution.surveys._truth import score_against_truth

        result = attribution.AttributionResult(
            pl.read_parquet(run_dir / "channel_credit.parquet"),
            pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA),
            {},
        )
        scores = score_against_truth(result, SAMPLE / "truth.json")
        assert decided == scores.sort("truth_mae").get_column("model")[0]
    named = decision_note(decided, source)
    assert f"Unit economics under {named} (" in stdout
    assert f"Decision model: {named} (manifest.json" in stdout
    assert f"Top campaigns under {decided} (" in stdout
    assert f"Plan check 'FY2026 paid media plan' under {named} (" in stdout
    assert json.loads((run_dir / "plan.json").read_text())["model"] == decided
    assert breach_finding(run_dir) == named
    levers = pl.read_parquet(run_dir / "levers.parquet")
    assert set(levers.get_column("models")) == {3}
    assert "Levers across the run's 3 models" in stdout


def test_cli_rejects_a_decision_model_the_run_lacks(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run",
         "--touches", str(SAMPLE / "touches.parquet"), "--stages", str(SAMPLE / "stages.parquet"),
         "-m", "linear", "--decision-model", "shapley", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "decision_model 'shapley' is not a model of this run" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_plan_command_without_a_model_compares_every_model(tmp_path: Path) -> None:
    import subprocess
    import sys

    text = (SAMPLE / "plan.toml").read_text(encoding="utf-8")
    (tmp_path / "plan.toml").write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("model ")),
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "plan", str(tmp_path / "plan.toml"),
         "--touches", str(SAMPLE / "touches.parquet"), "--stages", str(SAMPLE / "stages.parquet"),
         "--spend", str(SAMPLE / "spend.parquet"), "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    models = pl.read_parquet(run_dir / "channel_credit.parquet").get_column("model").n_unique()
    assert models > 2
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert (manifest["decision_model"], manifest["decision_model_source"]) == ("linear", "default")
    levers = pl.read_parquet(run_dir / "levers.parquet")
    assert set(levers.get_column("models")) == {models}
    assert f"Levers across the run's {models} models" in proc.stdout
    assert "under linear, the default (" in proc.stdout
