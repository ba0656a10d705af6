"""Campaign-level credit: the ``key`` option (the unit credited), campaign credit from touch
credit, campaign spend / CAC / ROI, and the CRM campaign-influence export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution import RunOptions
from attribution.b2b._campaigns import campaign_economics, campaign_influence
from attribution.b2b._influence import long_influence
from attribution.exceptions import ColumnNotFoundError, InputError

MODELS = list(attribution.available_models())
TOL = 1e-9


def _log(make_touches, make_stages) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Three contacts; campaigns spelled with extra spaces, in two cases, and missing."""
    touches = make_touches(
        [
            ("t1", "c1", "LinkedIn", 1),
            ("t2", "c1", "email", 2),
            ("t3", "c1", "linkedin", 3),
            ("t4", "c2", "linkedin", 4),
            ("t5", "c2", "direct", 5),
            ("t6", "c3", "email", 6),
        ]
    ).with_columns(
        pl.Series(
            "campaign",
            [" Spring  Promo", "nurture", "spring promo", "Spring Promo ", None, "  "],
        )
    )
    stages = make_stages(
        [("c1", "closed_won", 10, 100.0), ("c2", "closed_won", 10, 50.0), ("c3", "lead", 7, None)]
    )
    return touches, stages


# --- the option -----------------------------------------------------------------------------


def test_key_is_a_validated_run_option_flag_and_config_key(tmp_path: Path) -> None:
    from attribution.inputs._config import load_config
    from attribution.options import read_flags

    assert RunOptions().key == "channel"
    with pytest.raises(InputError, match="key must be one of 'channel', 'campaign'") as info:
        RunOptions(key="campagin")  # type: ignore[arg-type]
    assert info.value.option == "key"
    assert RunOptions.written(read_flags({"key": "campaign"})).key == "campaign"
    with pytest.raises(InputError, match="^--key: key must be one of"):
        RunOptions.written(read_flags({"key": "channel/campagin"}))
    path = tmp_path / "run.toml"
    path.write_text('[run]\nkey = "channel/campaign"\n')
    assert load_config(path).options().key == "channel/campaign"
    path.write_text('[run]\nkey = "campaigns"\n')
    with pytest.raises(InputError, match=r"\[run\] key: key must be one of"):
        load_config(path).options()


# --- the unit -------------------------------------------------------------------------------


def test_units_spelling_and_touches_without_a_campaign(make_touches, make_stages) -> None:
    touches, stages = _log(make_touches, make_stages)
    both = attribution.attribute(touches, stages, models=["linear"], key="channel/campaign")
    units = dict(both.touch_credit.select("touch_id", "channel").iter_rows())
    # channel in its one spelling; campaign trimmed and folded, its case kept; a touch
    # without a campaign (missing or blank) is its channel's '(none)'
    assert units == {
        "t1": "linkedin/Spring Promo",
        "t2": "email/nurture",
        "t3": "linkedin/spring promo",
        "t4": "linkedin/Spring Promo",
        "t5": "direct/(none)",
    }
    alone = attribution.attribute(touches, stages, models=["linear"], key="campaign")
    units = dict(alone.touch_credit.select("touch_id", "channel").iter_rows())
    assert units["t1"] == units["t4"] == "Spring Promo"
    assert units["t5"] == "direct/(none)"
    credit = dict(alone.channel_credit.select("channel", "conversions").iter_rows())
    assert credit["Spring Promo"] == pytest.approx(1 / 3 + 1 / 2)
    assert alone.manifest["parameters"]["key"] == "campaign"
    # campaign_credit names the channel and the campaign apart, under every key
    for result in (both, alone, attribution.attribute(touches, stages, models=["linear"])):
        cc = result.campaign_credit
        rows = {(r["channel"], r["campaign"]): r["conversions"] for r in cc.iter_rows(named=True)}
        assert rows == pytest.approx(
            {
                ("linkedin", "Spring Promo"): 1 / 3 + 1 / 2,
                ("linkedin", "spring promo"): 1 / 3,
                ("email", "nurture"): 1 / 3,
                ("direct", "(none)"): 1 / 2,
            }
        )


def test_channel_aliases_apply_to_the_channel_part(make_touches, make_stages) -> None:
    touches, stages = _log(make_touches, make_stages)
    result = attribution.attribute(
        touches,
        stages,
        models=["linear"],
        key="channel/campaign",
        channel_aliases={"social": ["linkedin"]},
    )
    units = set(result.channel_credit.get_column("channel"))
    assert "social/Spring Promo" in units
    assert not any(u.startswith("linkedin") for u in units)
    assert "social" in set(result.campaign_credit.get_column("channel"))


def test_a_campaign_holding_the_separator_is_an_error_naming_lines(
    make_touches, make_stages, tmp_path: Path
) -> None:
    touches, stages = _log(make_touches, make_stages)
    touches = touches.with_columns(
        pl.when(pl.col("touch_id") == "t3").then(pl.lit("a > b")).otherwise("campaign")
        .alias("Campaign Name")
    ).drop("campaign")
    file = tmp_path / "touches.csv"
    touches.write_csv(file)
    options = RunOptions(
        models=["linear"], key="campaign", columns={"touches": {"campaign": "Campaign Name"}}
    )
    with pytest.raises(InputError, match="campaign name.*contain '>'") as info:
        attribution.attribute(file, stages, options=options)
    err = info.value
    assert (err.column, err.their_column, err.lines) == ("campaign", "Campaign Name", [4])
    # the partitioned executor says the same
    with pytest.raises(InputError, match="campaign name") as info2:
        attribution.attribute_partitioned(file, stages, options=options, partitions=2)
    assert info2.value.lines == [4]
    # credited by channel, a campaign is a label: '>' is allowed there
    ok = attribution.attribute(file, stages, options=options.replace(key="channel"))
    assert "a > b" in set(ok.campaign_credit.get_column("campaign"))


def test_a_campaign_key_without_a_campaign_column_is_an_error(make_touches, make_stages) -> None:
    touches, stages = _log(make_touches, make_stages)
    with pytest.raises(ColumnNotFoundError, match="no campaign column"):
        attribution.attribute(touches.drop("campaign"), stages, models=["linear"], key="campaign")
    plain = attribution.attribute(touches.drop("campaign"), stages, models=["linear"])
    assert plain.campaign_credit.width == 0
    assert plain.campaign_influence.width == 0


# --- the contract under a campaign key, and campaign credit under every key -----------------


@pytest.fixture(scope="module")
def synth() -> Any:
    from attribution.datasets._synth import synthesize

    return synthesize(1500, seed=5)


def _models(key: str) -> list[Any]:
    # exact Shapley is limited to 20 units by default; campaigns are more
    return ["shapley:max_channels=64" if m == "shapley" else m for m in MODELS]


@pytest.mark.parametrize("key", ["channel", "campaign", "channel/campaign"])
def test_credit_contract_and_campaign_credit_reconcile(synth: Any, key: str) -> None:
    result = attribution.attribute(synth.touches, synth.stages, models=_models(key), key=key)
    rec = result.manifest["reconciliation"]
    tc = result.touch_credit
    assert tc.get_column("credit").min() >= 0
    sums = tc.group_by("model", "conversion_id").agg(pl.col("credit").sum())
    assert (sums.get_column("credit") - 1).abs().max() <= TOL
    cc = result.campaign_credit
    assert cc.height > 0
    assert cc.get_column("conversions").min() >= -TOL
    per_model = cc.group_by("model").agg(pl.col("conversions").sum(), pl.col("share").sum())
    assert per_model.height == len(MODELS)
    for r in per_model.iter_rows(named=True):
        assert r["conversions"] == pytest.approx(rec["conversions_attributed"], abs=1e-6)
        assert r["share"] == pytest.approx(1.0, abs=1e-9)
    within = cc.group_by("model", "channel").agg(
        pl.col("channel_share").sum(), pl.col("conversions").sum()
    )
    credited = within.filter(pl.col("conversions") > 0)  # a channel the model gives nothing: 0
    assert credited.height > 0
    assert (credited.get_column("channel_share") - 1).abs().max() <= 1e-9
    assert within.filter(pl.col("conversions") <= 0).get_column("channel_share").abs().sum() == 0
    # campaign credit is touch credit summed: the credited value reconciles too
    values = cc.group_by("model").agg(pl.col("value").sum()).sort("model")
    touch_values = tc.group_by("model").agg(pl.col("value").sum()).sort("model")
    assert_frame_equal(values, touch_values, rel_tol=1e-9)
    if key == "channel":
        # its channels sum to the touch credit's, for every model, and to channel credit for
        # the rule-based ones (Markov and Shapley credit channels globally and split each
        # journey by their channel weights: their touch sums differ from channel_credit)
        by_channel = (
            cc.group_by("model", "channel").agg(pl.col("conversions").sum()).sort(
                "model", "channel"
            )
        )
        touch_sums = tc.group_by("model", "channel").agg(
            pl.col("credit").sum().alias("conversions")
        )
        assert_frame_equal(by_channel, touch_sums.sort("model", "channel"), abs_tol=1e-9)
        rules = [n for n, spec in attribution.available_models().items() if spec.family == "rule"]
        expected = (
            result.channel_credit.filter(pl.col("model").is_in(rules))
            .select("model", "channel", "conversions")
            .sort("model", "channel")
        )
        assert expected.height > 0
        assert_frame_equal(
            by_channel.filter(pl.col("model").is_in(rules)), expected, abs_tol=1e-9
        )


def test_campaign_key_in_scoring_equals_the_run(make_touches, make_stages) -> None:
    touches, stages = _log(make_touches, make_stages)
    models = ["linear", "time_decay", "markov"]
    run = attribution.attribute(touches, stages, models=models, key="channel/campaign")
    journeys = [
        {
            "conversion": {"id": cid, "timestamp": ts.isoformat(), "value": value},
            "touches": [
                {"touch_id": t["touch_id"], "timestamp": t["timestamp"].isoformat(),
                 "channel": t["channel"], "campaign": t["campaign"]}
                for t in touches.filter(pl.col("contact_id") == contact).iter_rows(named=True)
            ],
        }
        for cid, contact, ts, value in run.conversions.select(
            "conversion_id", "contact_id", "timestamp", "value"
        ).iter_rows()
    ]
    for engine in ("auto", "fast", "reference"):  # auto: not the small engine (channels only)
        scored = attribution.score_journeys(
            journeys, models=models, paths=run.paths, key="channel/campaign", engine=engine
        )
        by = ["model", "conversion_id", "touch_id"]
        got = scored.touch_credit.select(*by, "channel", "credit").sort(by)
        assert_frame_equal(got, run.touch_credit.select(*by, "channel", "credit").sort(by),
                           abs_tol=1e-12)
    bad = [{**journeys[0], "touches": [{**journeys[0]["touches"][0], "campaign": "a>b"}]}]
    with pytest.raises(InputError, match=r"touches\[0\]\.campaign.*separator"):
        attribution.score_journeys(bad, models=["linear"], key="campaign")


@pytest.mark.parametrize("key", ["campaign", "channel/campaign"])
def test_channel_parameters_name_channels_under_a_campaign_key(synth: Any, key: str) -> None:
    """last_non_direct's direct channels and the channel multipliers name channels: under a
    campaign key a direct touch is still direct (its unit ``direct/(none)``, or a campaign's
    name) and a multiplier applies to its channel's touches, so every rule-based model
    credits each touch exactly as under key=channel; only the unit's name differs. (Before,
    they were matched against the unit and matched nothing: last_non_direct credited
    direct touches, 10.6% of the demo's conversions under channel/campaign.)"""
    direct = synth.touches.filter(pl.col("channel") == "direct")
    assert direct.height > 0
    assert direct.get_column("campaign").drop_nulls().len() > 0  # direct touches in campaigns
    models: list[Any] = [
        "last_non_direct",
        "u_shaped",
        ("custom", {"others": 1.0, "channel_multipliers": {"email": 3.0, "direct": 0.5}}),
    ]
    by = ["model", "conversion_id", "touch_id"]
    runs = {
        k: attribution.attribute(synth.touches, synth.stages, models=models, key=k)
        .touch_credit.select(*by, "credit", "value")
        .sort(by)
        for k in ("channel", key)
    }
    assert_frame_equal(runs[key], runs["channel"], abs_tol=1e-12)
    credited = attribution.attribute(
        synth.touches, synth.stages, models=["last_non_direct"], key=key
    ).touch_credit.join(synth.touches.select("touch_id", "channel").rename({"channel": "ch"}),
                        on="touch_id")
    # a direct touch takes credit only in a journey with no other touch
    lone = credited.group_by("conversion_id").agg((pl.col("ch") != "direct").any().alias("other"))
    direct_credit = credited.join(lone, on="conversion_id").filter(
        (pl.col("ch") == "direct") & pl.col("other")
    )
    assert direct_credit.get_column("credit").sum() == 0


def test_channel_parameters_in_scoring_under_a_campaign_key(make_touches, make_stages) -> None:
    touches, stages = _log(make_touches, make_stages)
    journeys = [
        {
            "conversion": {"id": "k1", "timestamp": "2025-01-10T00:00:00+00:00", "value": 50.0},
            "touches": [
                {"touch_id": "a", "timestamp": "2025-01-04T00:00:00+00:00",
                 "channel": "linkedin", "campaign": "spring"},
                {"touch_id": "b", "timestamp": "2025-01-05T00:00:00+00:00",
                 "channel": "direct", "campaign": "spring"},
            ],
        }
    ]
    for key in ("campaign", "channel/campaign"):
        for engine in ("auto", "fast", "reference"):
            scored = attribution.score_journeys(
                journeys, models=["last_non_direct"], key=key, engine=engine
            )
            credit = dict(scored.touch_credit.select("touch_id", "credit").iter_rows())
            assert credit == {"a": 1.0, "b": 0.0}, (key, engine)


# --- campaign economics ---------------------------------------------------------------------


def test_campaign_spend_cac_roi_and_statuses(make_touches, make_stages) -> None:
    touches, stages = _log(make_touches, make_stages)
    result = attribution.attribute(touches, stages, models=["linear", "first_touch"])
    spend = pl.DataFrame(
        {
            "channel": ["LinkedIn", "linkedin", "email", "events", "direct", "email"],
            "campaign": ["Spring Promo", " Spring  Promo", "nurture", "booth", None, " "],
            "month": ["2025-01-01"] * 6,
            "amount": [300.0, 200.0, 40.0, 80.0, 0.0, 12.5],
        }
    )
    econ = campaign_economics(result, spend)
    rows = {
        (r["model"], r["channel"], r["campaign"]): r for r in econ.table.iter_rows(named=True)
    }
    spring = rows[("linear", "linkedin", "Spring Promo")]
    assert spring["spend"] == 500.0
    assert spring["status"] == "paid"
    assert spring["cac"] == pytest.approx(500.0 / spring["conversions"])
    assert spring["roi"] == pytest.approx((spring["value"] - 500.0) / 500.0)
    assert spring["value"] == pytest.approx(100 / 3 + 50 / 2)
    booth = rows[("linear", "events", "booth")]  # spend, no credit: kept, flagged
    assert (booth["status"], booth["cac"], booth["conversions"], booth["roi"]) == (
        "no_customers", None, 0.0, -1.0)
    unpaid = rows[("linear", "linkedin", "spring promo")]  # credit, no spend
    assert (unpaid["status"], unpaid["cac"], unpaid["roi"]) == ("unpaid", 0.0, None)
    assert rows[("linear", "direct", "(none)")]["status"] == "unpaid"  # a null campaign
    # spend without a campaign where no touch without one is credited: channel-level spend
    assert rows[("linear", "email", "(none)")]["status"] == "no_campaign"
    assert econ.parameters["spend_without_campaign"] == 12.5
    assert "Spend without a campaign: $12" in econ.summary()
    # first touch credits t1 (Spring Promo) and t4: nothing to 'nurture' (which has spend),
    # nor to 'spring promo' (which has none)
    assert rows[("first_touch", "email", "nurture")]["status"] == "no_customers"
    assert rows[("first_touch", "linkedin", "spring promo")]["status"] == "no_credit"
    assert ["linkedin", "spring promo"] not in econ.parameters["spend_campaigns_without_credit"]
    assert ["events", "booth"] in econ.parameters["spend_campaigns_without_credit"]
    assert "booth" in econ.summary()
    assert "no customer credited by first_touch (2): email/nurture, events/booth" in (
        econ.summary("first_touch"))
    # without campaign spend the credit is still reported, and says why there is no CAC
    plain = campaign_economics(result, spend.drop("campaign"))
    assert set(plain.table.get_column("status")) == {"no_campaign_spend"}
    assert plain.table.get_column("cac").null_count() == plain.table.height
    assert "no campaign spend" in plain.summary()
    with pytest.raises(InputError, match="negative"):
        campaign_economics(result, spend.with_columns(pl.lit(-1.0).alias("amount")))


# --- the CRM influence export ---------------------------------------------------------------


@st.composite
def _deals(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Contacts with touches on a few campaigns; deals that several contacts share (each
    contact's conversion carries the deal amount), and conversions without a deal id."""
    n_contacts = draw(st.integers(1, 8))
    touches, stages = [], []
    for c in range(n_contacts):
        touches.extend(
            {
                "touch_id": f"t{c}-{k}",
                "contact_id": f"c{c}",
                "channel": draw(st.sampled_from(["linkedin", "email", "direct"])),
                "campaign": draw(st.sampled_from(["A", "B", "C", None])),
                "timestamp": f"2025-01-{k + 1:02d}",
            }
            for k in range(draw(st.integers(0, 5)))
        )
        deal = draw(st.sampled_from(["o1", "o2", "o3", None]))
        amount = {"o1": 1000.0, "o2": 250.5, "o3": 0.0}.get(deal or "", 77.0)
        stages.append(
            {"contact_id": f"c{c}", "stage": "closed_won", "timestamp": "2025-02-01",
             "opportunity_id": deal, "value": draw(st.sampled_from([amount, None]))}
        )
    schema = {"touch_id": pl.String, "contact_id": pl.String, "channel": pl.String,
              "campaign": pl.String, "timestamp": pl.String}
    return pl.DataFrame(touches, schema=schema), pl.DataFrame(stages)


@given(_deals(), st.sampled_from(["channel", "channel/campaign"]))
def test_influence_shares_sum_to_one_and_revenue_reconciles(data, key) -> None:
    touches, stages = data
    result = attribution.attribute(
        touches, stages, models=["linear", "time_decay", "markov"], key=key, allow_empty=True
    )
    inf = result.campaign_influence
    attributed = result.conversions.filter(pl.col("n_touches") > 0)
    if attributed.height == 0:
        assert inf.height == 0
        return
    assert inf.get_column("credit_share").min() >= 0
    assert inf.get_column("revenue_share").min() >= 0
    per = inf.group_by("opportunity_id", "model").agg(
        pl.col("credit_share").sum(),
        pl.col("revenue_share").sum(),
        pl.col("opportunity_amount").first(),
        pl.col("influence_percent").sum(),
    )
    assert (per.get_column("credit_share") - 1).abs().max() <= 1e-9
    assert (per.get_column("influence_percent") - 100).abs().max() <= 1e-7
    assert_frame_equal(
        per.select(pl.col("revenue_share").alias("x")),
        per.select(pl.col("opportunity_amount").alias("x")),
        rel_tol=1e-9, abs_tol=1e-9,
    )
    # every attributed conversion's opportunity is there, under every model
    keys = attributed.select(
        pl.coalesce("opportunity_id", "conversion_id").alias("opportunity_id")
    ).unique()
    assert per.height == keys.height * 3
    amounts = attributed.group_by(
        pl.coalesce("opportunity_id", "conversion_id").alias("opportunity_id")
    ).agg(pl.col("value").fill_null(0.0).max().alias("amount"))
    joined = per.join(amounts, on="opportunity_id")
    assert (joined["opportunity_amount"] - joined["amount"]).abs().max() <= 1e-9
    crm = inf.filter(pl.col("crm_opportunity")).get_column("opportunity_id")
    assert set(crm) <= {"o1", "o2", "o3"}


def test_influence_rows_by_hand(make_touches, make_stages) -> None:
    rows = pl.DataFrame(
        {
            "conversion_id": ["c1#1", "c1#1", "c2#1", "c3#1"],
            "model": ["linear"] * 4,
            "channel": ["linkedin", "email", "linkedin", "direct"],
            "campaign": ["A", "B", "A", "(none)"],
            "credit": [0.75, 0.25, 1.0, 1.0],
            "value": [0.0] * 4,
        }
    )
    conversions = pl.DataFrame(
        {
            "conversion_id": ["c1#1", "c2#1", "c3#1"],
            "opportunity_id": ["o1", "o1", None],
            "value": [1000.0, 1000.0, 40.0],
        }
    )
    inf = campaign_influence(rows, conversions)
    got = {(r["opportunity_id"], r["campaign_id"]): r for r in inf.iter_rows(named=True)}
    # two contacts converted on o1: A has 1.75 of their 2 conversions
    assert got[("o1", "A")]["credit_share"] == pytest.approx(0.875)
    assert got[("o1", "A")]["revenue_share"] == pytest.approx(875.0)
    assert got[("o1", "B")]["influence_percent"] == pytest.approx(12.5)
    assert got[("o1", "A")]["conversions"] == 2
    assert got[("c3#1", "(none)")]["crm_opportunity"] is False
    assert got[("c3#1", "(none)")]["revenue_share"] == 40.0


# --- run directory, command line ------------------------------------------------------------


def test_run_directory_and_cli(tmp_path: Path, synth: Any) -> None:
    synth.touches.write_parquet(tmp_path / "t.parquet")
    synth.stages.write_parquet(tmp_path / "s.parquet")
    spend = synth.spend
    assert "campaign" in spend.columns
    spend.write_parquet(tmp_path / "spend.parquet")
    cmd = [sys.executable, "-m", "attribution.cli", "run", "--touches", str(tmp_path / "t.parquet"),
           "--stages", str(tmp_path / "s.parquet"), "--spend", str(tmp_path / "spend.parquet"),
           "-m", "linear", "-m", "markov", "--key", "channel/campaign", "--influence-csv",
           "--out", str(tmp_path / "runs")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Top campaigns under linear" in done.stdout
    run = next((tmp_path / "runs").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["parameters"]["key"] == "channel/campaign"
    for name in ("campaign_credit.parquet", "campaign_credit.json", "campaign_influence.parquet",
                 "campaign_influence.csv"):
        assert name in manifest["files"]
    credit = pl.read_parquet(run / "campaign_credit.parquet")
    assert {"spend", "cac", "roi", "status"} <= set(credit.columns)
    assert (credit.get_column("status") == "paid").any()
    csv = pl.read_csv(run / "campaign_influence.csv")
    # the CSV (the CRM import file) is long; the Parquet file wide by default: the same rows
    assert manifest["parameters"]["influence_layout"] == "wide"
    wide = pl.read_parquet(run / "campaign_influence.parquet")
    assert csv.height == long_influence(wide).height > 0
    # the same command with the key misspelt (given once: a second --key is refused as such)
    bad_cmd = [a if a != "channel/campaign" else "campaigns" for a in cmd[:-2]]
    bad = subprocess.run([*bad_cmd, "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert "--key: key must be one of" in bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout


def test_campaign_outputs_built_on_first_use_or_by_the_writer(synth: Any, tmp_path: Path) -> None:
    """attribute() leaves the campaign outputs to be built when read or written: the run
    directory's writer builds them in its threads, and the files equal the tables read
    afterwards (built from the same touch credit)."""
    res = attribution.attribute(synth.touches, synth.stages, models=["linear", "markov"])
    assert callable(res.__dict__["_campaign_influence"])
    assert callable(res.__dict__["_campaign_influence_wide"])
    assert callable(res.__dict__["_campaign_credit"])
    run = res.write(tmp_path / "runs", report=False)
    written = pl.read_parquet(run / "campaign_influence.parquet")  # the wide layout, default
    assert callable(res.__dict__["_campaign_influence"])  # the long one was not built for it
    assert_frame_equal(written, res.campaign_influence_wide)
    influence = long_influence(written)
    assert influence.height > 0
    assert_frame_equal(influence, res.campaign_influence)
    assert_frame_equal(pl.read_parquet(run / "campaign_credit.parquet"), res.campaign_credit)
    again = attribution.attribute(synth.touches, synth.stages, models=["linear", "markov"])
    assert_frame_equal(again.campaign_influence, influence)  # read first, then written
    assert (again.write(tmp_path / "again", report=False) / "campaign_credit.parquet").exists()


def test_campaign_key_in_incremental_runs_equals_a_full_run(synth: Any, tmp_path: Path) -> None:
    from datetime import timedelta

    touches, stages = synth.touches, synth.stages
    cut = touches.get_column("timestamp").min() + timedelta(days=120)  # type: ignore[operator]
    models = ["linear", "markov"]
    state = tmp_path / "state"
    for t, s in (
        (touches.filter(pl.col("timestamp") < cut), stages.filter(pl.col("timestamp") < cut)),
        (touches, stages),
    ):
        got = attribution.attribute_incremental(
            t, s, models=models, key="channel/campaign", state=state
        )
        full = attribution.attribute(t, s, models=models, key="channel/campaign")
        by = ["model", "channel"]
        assert got.channel_credit.get_column("channel").str.contains("/").all()
        assert_frame_equal(got.channel_credit.sort(by), full.channel_credit.sort(by), abs_tol=1e-9)
        by = ["model", "conversion_id", "touch_id"]
        assert_frame_equal(got.touch_credit.sort(by), full.touch_credit.sort(by), abs_tol=1e-9)
        # the influence in both layouts (the run directory's default is the wide one)
        for layout in ("campaign_influence", "campaign_influence_wide"):
            assert getattr(got, layout).height > 0
            assert_frame_equal(getattr(got, layout), getattr(full, layout), abs_tol=1e-9)
    assert got.manifest["parameters"]["incremental"]["mode"] == "incremental"


@given(st.lists(st.one_of(st.none(), st.text(alphabet=" \t\u00a0ab_(", max_size=6)), max_size=20))
def test_campaigns_spelled_per_distinct_name_equal_every_row(values: list[str | None]) -> None:
    """The journey touches' campaigns are spelled once per distinct name and mapped back:
    the same as spelling every row (blank and missing -> (none), whitespace runs -> one
    space, trimmed)."""
    from attribution.inputs._campaigns import campaign_series, campaign_values

    series = pl.Series("campaign", values, dtype=pl.String)
    expected = series.to_frame().select(campaign_values(pl.col("campaign"))).to_series()
    assert campaign_series(series).to_list() == expected.to_list()
