"""Plan risk: the chance of reaching the plan's targets from the CAC intervals and a cost
inflation, the scenarios, and the bootstrap's per-draw economics wired in."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import attribution
from attribution.b2b._plan_options import RiskSettings
from attribution.b2b._plan_risk import plan_risk, risk_sentence
from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA
from attribution.exceptions import ConfigError


def frame(budget: tuple[float, float] = (1000.0, 1000.0)) -> pl.DataFrame:
    # measured CAC: a 10 (50 customers), b 20 (40 customers)
    return pl.DataFrame(
        {
            "channel": ["a", "b"],
            "budget": list(budget),
            "measured_spend": [500.0, 800.0],
            "measured_customers": [50.0, 40.0],
            "measured_cac": [10.0, 20.0],
        }
    )


def test_without_inflation_or_noise_the_draws_are_the_projection() -> None:
    # a huge count makes the Gamma draw its mean; no inflation: customers = budget / CAC
    big = frame().with_columns(pl.col("measured_customers") * 1e8, pl.col("measured_spend") * 1e8)
    risk = plan_risk(big, {"customers": 149.9}, RiskSettings(inflation=(0.0, 0.0), draws=500))
    planned = risk.table.row(0, named=True)
    assert planned["customers"] == pytest.approx(1000 / 10 + 1000 / 20, rel=1e-3)
    assert planned["p_customers"] == 1.0
    assert planned["p_cac"] is None  # no CAC target given
    # costs up a further 20%: customers / 1.2; a delivers half: 50 + 50
    rows = {r["scenario"]: r for r in risk.table.iter_rows(named=True)}
    assert rows["costs up a further 20%"]["customers"] == pytest.approx(150 / 1.2, rel=1e-3)
    assert rows["a delivers half its projected customers"]["customers"] == pytest.approx(
        100, rel=1e-3
    )
    assert rows["a delivers half its projected customers"]["p_customers"] == 0.0


def test_inflation_lowers_the_customers_by_its_factor() -> None:
    big = frame().with_columns(pl.col("measured_customers") * 1e8, pl.col("measured_spend") * 1e8)
    risk = plan_risk(big, {}, RiskSettings(inflation=(0.25, 0.25), draws=200))
    assert risk.table.item(0, "customers") == pytest.approx(150 / 1.25, rel=1e-3)
    assert risk.table.item(0, "cac") == pytest.approx(2000 / (150 / 1.25), rel=1e-3)


def test_counts_give_an_interval_that_narrows_with_more_customers() -> None:
    small = plan_risk(frame(), {"customers": 100})
    many = frame().with_columns(pl.col("measured_customers") * 100, pl.col("measured_spend") * 100)
    large = plan_risk(many, {"customers": 100})
    width = lambda r: r.table.item(0, "customers_high") / r.table.item(0, "customers_low")  # noqa: E731
    assert width(small) > width(large) > 1.0
    assert small.source == "counts"
    ch = small.channels.row(0, named=True)
    assert ch["channel"] == "a"
    assert ch["customers_low"] < 100 / 1.15 < ch["customers_high"] * 1.5


def test_a_channel_without_measured_cac_buys_nothing_and_gets_no_shortfall_row() -> None:
    f = frame().with_columns(
        pl.when(pl.col("channel") == "b").then(None).otherwise(pl.col("measured_cac"))
        .alias("measured_cac")
    )  # fmt: skip
    risk = plan_risk(f, {}, RiskSettings(inflation=(0.0, 0.0), draws=300))
    assert risk.table.get_column("channel").to_list() == [None, None, "a"]
    assert risk.channels.filter(pl.col("channel") == "b").item(0, "customers_high") == 0.0


@given(
    seed=st.integers(0, 2**31),
    low=st.floats(0.0, 1.0),
    extra=st.floats(0.0, 1.0),
    scale=st.floats(1.0, 5.0),
    target=st.floats(1.0, 400.0),
)
def test_probabilities_are_shares_monotone_in_budget_and_inflation(
    seed: int, low: float, extra: float, scale: float, target: float
) -> None:
    targets = {"customers": target, "cac": 15.0}
    base = RiskSettings(inflation=(low, low + extra), draws=400, seed=seed)
    risk = plan_risk(frame(), targets, base)
    for col in ("p_customers", "p_cac", "p_target"):
        assert all(0.0 <= p <= 1.0 for p in risk.table.get_column(col))
    # the same draws with more budget on every channel reach more customers
    more = plan_risk(frame((1000.0 * scale, 1000.0 * scale)), targets, base)
    assert more.table.item(0, "p_customers") >= risk.table.item(0, "p_customers")
    # and with more inflation, fewer customers at a higher CAC
    dearer = RiskSettings(inflation=(low + 0.5, low + extra + 0.5), draws=400, seed=seed)
    worse = plan_risk(frame(), targets, dearer)
    for col in ("p_customers", "p_cac", "p_target"):
        assert worse.table.item(0, col) <= risk.table.item(0, col)
    # a scenario is never more likely to meet the targets than the plan as given
    planned = risk.table.item(0, "p_target")
    assert all(p <= planned for p in risk.table.get_column("p_target")[1:])


def test_seeded_draws_repeat_and_another_seed_differs() -> None:
    targets = {"customers": 140, "cac": 14.0}
    one = plan_risk(frame(), targets, RiskSettings(seed=3, draws=2000))
    two = plan_risk(frame(), targets, RiskSettings(seed=3, draws=2000))
    other = plan_risk(frame(), targets, RiskSettings(seed=4, draws=2000))
    assert one.table.equals(two.table)
    assert not one.table.equals(other.table)


def bootstrap_draws(cac_a: list[float], cac_b: list[float]) -> pl.DataFrame:
    """economics_draws.parquet as the bootstrap contract names it, built by hand."""
    n = len(cac_a)
    rows = []
    for model, factor in (("linear", 1.0), ("last_touch", 100.0)):
        for d in range(n):
            for ch, cac in (("a", cac_a[d]), ("b", cac_b[d])):
                rows.append((d, model, "all", ch, 1.0, cac * factor, cac * factor))
                rows.append((d, model, "smb", ch, 1.0, 1e9, 1e9))
    return pl.DataFrame(
        rows,
        schema=["draw", "model", "segment", "channel", "customers", "spend", "cac"],
        orient="row",
    )


def test_bootstrap_draws_are_used_for_the_decision_model_and_all_segments() -> None:
    # two bootstrap draws: CAC (10, 20) -> 150 customers, (20, 40) -> 75; nothing else
    draws = bootstrap_draws([10.0, 20.0], [20.0, 40.0]).filter(
        (pl.col("model") == "linear") & (pl.col("segment") == "all")
    )
    s = RiskSettings(inflation=(0.0, 0.0), draws=4000, seed=1)
    risk = plan_risk(frame(), {"customers": 100}, s, draws)
    assert risk.source == "bootstrap"
    assert risk.parameters["bootstrap_draws"] == 2
    customers = risk.table.row(0, named=True)
    assert customers["customers_low"] == pytest.approx(75.0)
    assert customers["customers_high"] == pytest.approx(150.0)
    assert customers["p_customers"] == pytest.approx(0.5, abs=0.03)


def test_a_bootstrap_draw_without_customers_buys_nothing_from_the_channel() -> None:
    draws = bootstrap_draws([10.0, float("inf")], [20.0, 20.0]).filter(
        (pl.col("model") == "linear") & (pl.col("segment") == "all")
    )
    risk = plan_risk(frame(), {}, RiskSettings(inflation=(0.0, 0.0), draws=1000), draws)
    assert risk.table.item(0, "customers_low") == pytest.approx(50.0)  # b alone


@pytest.fixture
def result() -> attribution.AttributionResult:
    credit = pl.DataFrame(
        [("linear", "a", 50.0, 0.5, 0.0), ("linear", "b", 40.0, 0.5, 0.0)],
        schema=CHANNEL_CREDIT_SCHEMA,
        orient="row",
    )
    return attribution.AttributionResult(credit, pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA), {})


@pytest.fixture
def spend() -> pl.DataFrame:
    return pl.DataFrame(
        {"channel": ["a", "b"], "month": ["2025-01-01"] * 2, "amount": [500.0, 800.0]}
    )


@pytest.fixture
def stages(make_stages) -> pl.DataFrame:
    rows = [(f"c{i}", "mql", 1, None) for i in range(10)]
    rows += [("c0", "closed_won", 9, 10.0)]
    return make_stages(rows)


PLAN = {
    "budget": {"a": 1000, "b": 1000},
    "targets": {"customers": 130, "cac": 16},
    "risk": {"inflation": [0.15, 0.20], "draws": 3000, "seed": 5},
}


def test_check_plan_says_the_chance_and_writes_the_scenarios(
    result, spend, stages, tmp_path
) -> None:
    check = attribution.check_plan(PLAN, result, spend, stages)
    planned = check.risk.row(0, named=True)
    assert planned["scenario"] == "as planned"
    assert 0.0 < planned["p_target"] < 1.0
    assert f"{planned['p_target']:.0%} chance of reaching 130 customers at <= $16 CAC" in (
        check.verdict
    )
    total = check.table.filter(pl.col("channel") == "(total)").row(0, named=True)
    assert total["customers_low"] == planned["customers_low"]
    assert check.table.filter(pl.col("channel") == "a").item(0, "customers_high") > 0
    check.write(tmp_path)
    written = pl.read_parquet(tmp_path / "plan_risk.parquet")
    assert written.equals(check.risk)
    meta = json.loads((tmp_path / "plan.json").read_text())
    assert meta["risk"]["source"] == "counts"
    assert meta["risk"]["parameters"]["seed"] == 5
    assert "as planned" in check.summary()
    assert "P(target)" in check.summary()


def test_check_plan_takes_the_bootstrap_draws_of_its_model(result, spend, stages) -> None:
    draws = bootstrap_draws([10.0, 20.0], [20.0, 40.0])
    check = attribution.check_plan(PLAN, result, spend, stages, economics_draws=draws)
    meta = check.summary_data["risk"]
    assert meta["source"] == "bootstrap"
    # last_touch's draws (100x dearer) and the smb rows are not read: 75 or 150 customers
    low, high = check.risk.item(0, "customers_low"), check.risk.item(0, "customers_high")
    assert 75 / 1.2 - 1e-6 <= low
    assert high <= 150 / 1.15 + 1e-6
    assert "the bootstrap's 2 draws" in check.verdict


def test_risk_sentence_without_targets_is_none_and_with_cac_only_names_it() -> None:
    risk = plan_risk(frame(), {})
    assert risk_sentence(risk, {}) is None
    cac_only = plan_risk(frame(), {"cac": 100.0})
    text = risk_sentence(cac_only, {"cac": 100.0})
    assert text is not None
    assert text.startswith("100% chance of a CAC <= $100")


@pytest.mark.parametrize(
    ("risk", "message"),
    [
        ({"inflation": [0.2, 0.1]}, "inflation must be a share >= 0"),
        ({"inflation": -0.1}, "inflation must be a share >= 0"),
        ({"draws": 0}, "draws must be a whole number"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"shortfall": 1.0}, "shortfall must be the share delivered"),
        ({"cost_shok": 0.1}, "unknown key 'cost_shok' in [risk]"),
    ],
)
def test_bad_risk_settings_are_named(risk: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        attribution.read_plan({"budget": {"a": 1}, "risk": risk})


def test_the_risk_settings_are_read() -> None:
    p = attribution.read_plan({"budget": {"a": 1}, "risk": {"inflation": 0.1, "draws": 50}})
    assert p.risk.inflation == (0.1, 0.1)
    assert p.risk.draws == 50
    assert np.isclose(attribution.read_plan({"budget": {"a": 1}}).risk.inflation[1], 0.20)


def test_draws_are_taken_from_the_first_source_that_has_them() -> None:
    from types import SimpleNamespace

    from attribution.b2b._plan_risk import draws_of

    econ = SimpleNamespace(draws=bootstrap_draws([10.0], [20.0]))
    given = bootstrap_draws([30.0], [40.0])
    empty = SimpleNamespace(draws=pl.DataFrame())
    picked = draws_of(None, empty, econ, model="linear")
    assert picked is not None
    assert picked.get_column("cac").sort().to_list() == [10.0, 20.0]  # linear, segment all
    first = draws_of(given, econ, model="linear")
    assert first is not None
    assert first.get_column("cac").sort().to_list() == [30.0, 40.0]
    assert draws_of(None, empty, SimpleNamespace(economics_draws=None), model="linear") is None


def test_a_bootstrapped_run_feeds_the_plan_risk_its_own_draws(make_touches, make_stages) -> None:
    # 60 contacts: a sources half, b the other half, 24 win; the run draws 20 bootstraps
    touches = make_touches(
        [(f"t{i}", f"c{i}", "a" if i % 2 else "b", 1 + i % 5) for i in range(60)]
        + [(f"u{i}", f"c{i}", "b", 20) for i in range(0, 60, 3)]
    )
    stages = make_stages(
        [(f"c{i}", "mql", 25, None) for i in range(60)]
        + [(f"c{i}", "closed_won", 40, 100.0) for i in range(0, 60, 5)]
        + [(f"c{i}", "closed_won", 41, 100.0) for i in range(1, 60, 5)]
    )
    spend = pl.DataFrame(
        {"channel": ["a", "b"], "month": ["2025-01-01"] * 2, "amount": [1200.0, 900.0]}
    )
    result = attribution.attribute(
        touches, stages, models=["linear"], bootstrap=20, bootstrap_seed=3
    )
    plan = {
        "budget": {"a": 5000, "b": 5000},
        "targets": {"customers": 130},
        "risk": {"inflation": 0.0, "draws": 2000},
    }
    check = attribution.check_plan(plan, result, spend, stages)
    risk = check.summary_data["risk"]
    assert risk["source"] == "bootstrap"
    assert risk["parameters"]["bootstrap_draws"] == 20
    # without inflation every risk draw is one bootstrap draw's projection, by hand
    econ = attribution.unit_economics(result, spend)
    wide = (
        econ.draws.filter((pl.col("model") == "linear") & (pl.col("segment") == "all"))
        .pivot(on="channel", index="draw", values="cac")
        .sort("draw")
    )
    by_draw = 5000 / wide.get_column("a").to_numpy() + 5000 / wide.get_column("b").to_numpy()
    planned = check.risk.row(0, named=True)
    for end in ("customers_low", "customers", "customers_high"):
        assert np.isclose(by_draw, planned[end]).any()
    assert by_draw.min() <= planned["customers_low"] <= planned["customers_high"]
    assert planned["customers_high"] <= by_draw.max()
    assert 0.2 < (by_draw >= 130).mean() < 0.8  # the target sits inside the draws
    assert planned["p_customers"] == pytest.approx((by_draw >= 130).mean(), abs=0.05)


def test_the_plan_command_draws_from_the_bootstrap(tmp_path, make_touches, make_stages) -> None:
    import subprocess
    import sys

    make_touches(
        [(f"t{i}", f"c{i}", "a" if i % 2 else "b", 1 + i % 5) for i in range(40)]
    ).write_parquet(tmp_path / "touches.parquet")
    make_stages(
        [(f"c{i}", "mql", 25, None) for i in range(40)]
        + [(f"c{i}", "closed_won", 40, 100.0) for i in range(0, 40, 3)]
    ).write_parquet(tmp_path / "stages.parquet")
    pl.DataFrame(
        {"channel": ["a", "b"], "month": ["2025-01-01"] * 2, "amount": [1200.0, 900.0]}
    ).write_parquet(tmp_path / "spend.parquet")
    (tmp_path / "plan.toml").write_text(
        "[plan]\nmodel = 'linear'\n[budget]\na = 5000\nb = 5000\n[targets]\ncustomers = 60\n"
    )
    args = [sys.executable, "-m", "attribution.cli", "plan", "plan.toml"]
    for name in ("touches", "stages", "spend"):
        args += [f"--{name}", f"{name}.parquet"]
    proc = subprocess.run(
        [*args, "--bootstrap", "10", "--out", "out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "chance of reaching 60 customers (10,000 draws from the bootstrap's 10 draws" in (
        proc.stdout
    )
    bad = subprocess.run(
        [*args, "--bootstrap", "5000"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2
    assert "bootstrap takes at most 1,000 draws" in bad.stderr
