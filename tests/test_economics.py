"""Unit economics: CAC, fully loaded CAC, LTV, payback and the guardrail, by hand."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA
from attribution.inputs._config import load_config

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def result_of(rows: list[tuple[str, str, float, float]]) -> attribution.AttributionResult:
    """An attribution result from (model, channel, credited customers, credited value)."""
    credit = pl.DataFrame(
        [(m, c, n, v, 0.0) for m, c, n, v in rows], schema=CHANNEL_CREDIT_SCHEMA, orient="row"
    )
    return attribution.AttributionResult(
        channel_credit=credit,
        touch_credit=pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA),
        manifest={},
    )


@pytest.fixture
def result() -> attribution.AttributionResult:
    # ARPA: linkedin 12,000, google_ads 6,000, organic_search 6,000
    return result_of(
        [
            ("linear", "linkedin", 4.0, 48_000.0),
            ("linear", "google_ads", 2.0, 12_000.0),
            ("linear", "organic_search", 4.0, 24_000.0),
        ]
    )


@pytest.fixture
def spend() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "month": ["2025-01-01", "2025-02-01", "2025-01-01", "2025-01-01"],
            "channel": ["linkedin", "linkedin", "google_ads", "direct_mail"],
            "amount": [5_000.0, 3_000.0, 3_000.0, 1_000.0],
        }
    )


def rows(econ: attribution.UnitEconomics) -> dict[str, dict[str, object]]:
    return {r["channel"]: r for r in econ.table.iter_rows(named=True)}


def test_cac_loaded_cac_ltv_payback_by_hand(result, spend) -> None:
    econ = attribution.unit_economics(
        result, spend, costs={"sales": 600.0, "tooling": 400.0}, gross_margin=0.8,
        annual_churn=0.2,
    )  # fmt: skip
    r = rows(econ)
    li = r["linkedin"]
    # 8,000 / 4 customers; 1,000 of non-media costs over 10 customers = 100 per customer
    assert li["spend"] == 8_000.0
    assert li["cac"] == pytest.approx(2_000.0)
    assert li["non_media_cost"] == pytest.approx(400.0)
    assert li["loaded_cac"] == pytest.approx(2_100.0)
    assert li["arpa"] == pytest.approx(12_000.0)
    assert li["ltv"] == pytest.approx(12_000 * 0.8 / 0.2)  # 48,000
    assert li["gross_profit_per_customer"] == pytest.approx(48_000.0)
    assert li["ltv_to_cac"] == pytest.approx(48_000 / 2_100)
    assert li["payback_months"] == pytest.approx(2_100 / (1_000 * 0.8))
    assert li["guardrail_share"] == pytest.approx(2_100 / 48_000)
    assert li["guardrail_limit"] == 0.30
    assert li["breach"] is False
    assert li["status"] == "paid"
    assert r["google_ads"]["loaded_cac"] == pytest.approx(1_600.0)
    assert r["google_ads"]["ltv"] == pytest.approx(24_000.0)


def test_unpaid_and_unconverting_channels_are_kept_and_labelled(result, spend) -> None:
    econ = attribution.unit_economics(result, spend, costs={"sales": 1_000.0})
    r = rows(econ)
    assert set(r) == {"linkedin", "google_ads", "organic_search", "direct_mail"}
    organic = r["organic_search"]
    assert (organic["status"], organic["spend"], organic["cac"]) == ("unpaid", 0.0, 0.0)
    assert organic["loaded_cac"] == pytest.approx(100.0)  # its share of non-media costs
    assert organic["breach"] is False
    mail = r["direct_mail"]
    assert (mail["status"], mail["customers"], mail["spend"]) == ("no_customers", 0.0, 1_000.0)
    assert mail["cac"] is None
    assert mail["loaded_cac"] is None
    assert mail["breach"] is True  # infinite CAC breaches any guardrail


def test_guardrail_breach_is_flagged_at_the_limit(result, spend) -> None:
    econ = attribution.unit_economics(
        result, spend, costs={"sales": 1_000.0}, gross_margin=0.8, annual_churn=0.2,
        guardrail_limit=0.05,
    )  # fmt: skip
    r = rows(econ)
    assert r["linkedin"]["guardrail_share"] == pytest.approx(0.04375)
    assert r["linkedin"]["breach"] is False
    assert r["google_ads"]["guardrail_share"] == pytest.approx(1_600 / 24_000)
    assert r["google_ads"]["breach"] is True
    assert "google_ads" in econ.summary()


def test_allocation_by_spend(result, spend) -> None:
    econ = attribution.unit_economics(result, spend, costs={"sales": 1_200.0}, allocation="spend")
    r = rows(econ)
    # spend 12,000 in all: linkedin 8,000 -> 800 of the 1,200
    assert r["linkedin"]["non_media_cost"] == pytest.approx(800.0)
    assert r["linkedin"]["loaded_cac"] == pytest.approx((8_000 + 800) / 4)
    assert r["organic_search"]["loaded_cac"] == pytest.approx(0.0)
    assert r["direct_mail"]["non_media_cost"] == pytest.approx(100.0)
    assert econ.parameters["allocation"] == "spend"


def test_given_ltv_and_arpa(result, spend) -> None:
    econ = attribution.unit_economics(result, spend, ltv=10_000.0)
    assert rows(econ)["linkedin"]["ltv"] == 10_000.0
    assert rows(econ)["linkedin"]["guardrail_share"] == pytest.approx(2_000 / 10_000)
    econ = attribution.unit_economics(result, spend, arpa=24_000.0, gross_margin=0.5)
    li = rows(econ)["linkedin"]
    # default churn 0.15, stated as such: a lifetime of 1 / 0.15 = 6.7 years, capped at 5
    assert li["ltv"] == pytest.approx(24_000 * 0.5 * 5)
    assert li["payback_months"] == pytest.approx(2_000 / (2_000 * 0.5))
    assert econ.parameters["annual_churn"] == {"value": 0.15, "source": "default assumption"}
    assert econ.parameters["gross_margin"] == {"value": 0.5, "source": "given"}


def test_blended_and_written_files(result, spend, tmp_path: Path) -> None:
    econ = attribution.unit_economics(result, spend, costs={"sales": 1_000.0})
    blended = econ.blended.row(0, named=True)
    assert blended["spend"] == 12_000.0
    assert blended["customers"] == 10.0
    assert blended["cac"] == pytest.approx(1_200.0)
    assert blended["loaded_cac"] == pytest.approx(1_300.0)
    econ.write(tmp_path)
    table = pl.read_parquet(tmp_path / "economics.parquet")
    for col in (
        "model", "channel", "spend", "customers", "revenue", "cac", "loaded_cac", "ltv",
        "ltv_to_cac", "payback_months", "gross_profit_per_customer", "guardrail_share",
        "guardrail_limit", "breach",
    ):  # fmt: skip
        assert col in table.columns
    notes = json.loads((tmp_path / "economics.json").read_text())
    assert "by customers" in notes["notes"]["loaded_cac"]
    assert notes["breaches"] == [
        {
            "model": "linear",
            "channel": "direct_mail",
            "status": "no_customers",
            "loaded_cac": None,
            "guardrail_share": None,
        }
    ]


def test_bad_parameters_and_input(result, spend) -> None:
    with pytest.raises(attribution.ModelParameterError, match="'gross_margin'.*1.5"):
        attribution.unit_economics(result, spend, gross_margin=1.5)
    with pytest.raises(attribution.ModelParameterError, match="'allocation'"):
        attribution.unit_economics(result, spend, allocation="revenue")  # type: ignore[arg-type]
    with pytest.raises(attribution.ModelNotFoundError, match="markov"):
        attribution.unit_economics(result, spend, models=["markov"])
    bad = spend.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(-5.0)
                             .otherwise(pl.col("amount")).alias("amount"))  # fmt: skip
    with pytest.raises(attribution.InputError, match=r"spend.*amount.*rows, 0-based: 2"):
        attribution.unit_economics(result, bad)
    with pytest.raises(attribution.ColumnNotFoundError, match="amount"):
        attribution.unit_economics(result, spend.drop("amount"))


def test_config_economics_section(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[inputs]\nspend = "spend.parquet"\n[economics]\ngross_margin = 0.7\n'
        "[economics.costs]\nsales_compensation = 1000\n"
    )
    loaded = load_config(cfg)
    assert loaded.economics == {"gross_margin": 0.7, "costs": {"sales_compensation": 1000}}
    assert loaded.inputs["spend"] == (tmp_path / "spend.parquet").resolve()
    cfg.write_text("[economics]\ngross_marign = 0.7\n")
    with pytest.raises(attribution.ConfigError, match="did you mean 'gross_margin'"):
        load_config(cfg)
    cfg.write_text('[economics]\nallocation = "revenue"\n')
    with pytest.raises(attribution.ConfigError, match="allocation"):
        load_config(cfg)


def test_sample_data_cac_matches_spend_over_credit() -> None:
    res = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=["linear"]
    )
    econ = attribution.unit_economics(res, SAMPLE / "spend.parquet")
    table = econ.table
    spend = (
        pl.read_parquet(SAMPLE / "spend.parquet").group_by("channel").agg(pl.col("amount").sum())
    )
    credit = res.channel_credit
    assert table.height == 13  # every credited channel; every spend channel is credited too
    assert table.get_column("customers").sum() == pytest.approx(credit["conversions"].sum())
    li = table.filter(pl.col("channel") == "linkedin").row(0, named=True)
    li_spend = spend.filter(pl.col("channel") == "linkedin").item(0, "amount")
    li_credit = credit.filter(pl.col("channel") == "linkedin").item(0, "conversions")
    assert li["cac"] == pytest.approx(li_spend / li_credit)
    assert set(table.filter(pl.col("status") == "unpaid")["channel"]) == {
        "organic_search",
        "direct",
        "sales",  # the sales team's follow-up touches: its cost is not media spend
    }


@pytest.mark.parametrize(("churn", "cap", "years"), [(0.02, None, 5.0), (0.02, 100.0, 50.0),
                                                     (0.5, None, 2.0), (0.25, 3.0, 3.0)])
def test_ltv_lifetime_is_one_over_churn_capped(result, spend, churn, cap, years) -> None:
    """LTV = ARPA x margin x min(1 / churn, max_lifetime_years): a segment that barely churns
    gets no 50-year lifetime unless the cap is lifted."""
    extra = {} if cap is None else {"max_lifetime_years": cap}
    econ = attribution.unit_economics(result, spend, arpa=12_000.0, gross_margin=0.8,
                                      annual_churn=churn, **extra)
    assert rows(econ)["linkedin"]["ltv"] == pytest.approx(12_000 * 0.8 * years)
    assert econ.parameters["max_lifetime_years"] == (5.0 if cap is None else cap)


def test_max_lifetime_years_must_be_positive(result, spend) -> None:
    with pytest.raises(attribution.ModelParameterError, match="'max_lifetime_years'"):
        attribution.unit_economics(result, spend, max_lifetime_years=0)
