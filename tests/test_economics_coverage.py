"""Economics on inputs that do not line up (new-user report 3, #25-#29): spend of part of the
conversions' months, conversions without touches, subscriptions or accounts keyed by other
ids, won deals without a value."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import attribution

MONTHS = [f"2025-{m:02d}" for m in range(1, 11)]


def _run(ids: list[str], wins: list[str], values: list[float | None] | None = None):
    touches = pl.DataFrame(
        {
            "contact_id": ids,
            "account_id": [f"A{c}" for c in ids],
            "channel": ["linkedin"] * len(ids),
            "timestamp": [f"{w}-10" for w in wins],
        }
    )
    stages = pl.DataFrame(
        {
            "contact_id": ids,
            "stage": ["closed_won"] * len(ids),
            "timestamp": [f"{w}-20" for w in wins],
            "value": values if values is not None else [12_000.0] * len(ids),
        },
        schema_overrides={"value": pl.Float64},
    )
    return attribution.attribute(touches, stages, models=["linear"])


@pytest.fixture
def year():
    # one customer a month January to October, and a second in January
    ids = [f"c{i}" for i in range(11)]
    return _run(ids, [*MONTHS, "2025-01"])


def test_spend_of_one_month_against_ten_months_of_customers_is_restricted(year) -> None:
    spend = pl.DataFrame({"channel": ["linkedin"], "month": ["2025-01-01"], "amount": [1_000.0]})
    econ = attribution.unit_economics(year, spend, annual_churn=0.2)
    row = econ.table.row(0, named=True)
    # the 2 January customers, not the 11 of ten months: CAC 500, not 91
    assert row["customers"] == pytest.approx(2.0)
    assert row["cac"] == pytest.approx(500.0)
    cov = econ.parameters["spend_coverage"]
    assert cov["restricted"] is True
    assert (cov["overlap_months"], cov["conversion_months"]) == (1, 10)
    assert (cov["kept_conversions"], cov["conversions"]) == (2, 11)
    text = econ.summary()
    assert "Spend covers 1 of the conversions' 10 months" in text
    assert "2 of 11 conversions" in text


def test_restricted_customers_follow_the_spend_lag(year) -> None:
    # January's spend buys February's customers with a lag of one month
    spend = pl.DataFrame({"channel": ["linkedin"], "month": ["2025-01-01"], "amount": [1_000.0]})
    econ = attribution.unit_economics(year, spend, annual_churn=0.2, monthly_lag_months=1)
    assert econ.table.row(0, named=True)["customers"] == pytest.approx(1.0)
    assert econ.parameters["spend_coverage"]["customer_months"] == ["2025-02", "2025-02"]


def test_only_the_spend_that_buys_the_customers_kept_is_divided(year) -> None:
    """A spend sheet of the wrong year (2024, against 2025's customers) reached only the
    first customers through the lag, yet CAC divided all twelve months by them (new-user
    report 8 #5: 6x too high): now only the spend of the months that buy the customers kept
    counts."""
    months = [f"2024-{m:02d}-01" for m in range(1, 13)]
    spend = pl.DataFrame(
        {
            "channel": ["linkedin"] * 12,
            "month": months,
            "amount": [1_000.0 * (i + 1) for i in range(12)],
        }
    )
    econ = attribution.unit_economics(year, spend, annual_churn=0.2, monthly_lag_months=1)
    cov = econ.parameters["spend_coverage"]
    assert cov["customer_months"] == ["2025-01", "2025-01"]  # December's spend, one month on
    assert cov["spend_months_used"] == ["2024-12", "2024-12"]
    row = econ.table.row(0, named=True)
    assert row["spend"] == pytest.approx(12_000.0)  # December 2024's, not the year's 78,000
    assert row["cac"] == pytest.approx(12_000.0 / 2)  # the 2 January customers
    assert "and the spend of 2024-12 to 2024-12" in econ.summary()


def test_spend_whose_lag_passes_the_data_reads_its_own_months(year) -> None:
    """Spend of the data's last months with a lag that puts its customers after the data:
    the customers of its own months, said so (the summary claimed 'N month(s) on')."""
    spend = pl.DataFrame(
        {
            "channel": ["linkedin"] * 2,
            "month": ["2025-09-01", "2025-10-01"],
            "amount": [500.0, 700.0],
        }
    )
    econ = attribution.unit_economics(year, spend, annual_churn=0.2, monthly_lag_months=3)
    cov = econ.parameters["spend_coverage"]
    assert (cov["lag_months"], cov["measured_lag_months"]) == (0, 3)
    assert cov["customer_months"] == ["2025-09", "2025-10"]
    assert econ.table.row(0, named=True)["spend"] == pytest.approx(1_200.0)
    assert "its 3-month lag would put its customers after the data's" in econ.summary()


def test_spend_of_most_months_is_not_restricted(year) -> None:
    spend = pl.DataFrame(
        {
            "channel": ["linkedin"] * 8,
            "month": [f"{m}-01" for m in MONTHS[:8]],
            "amount": [100.0] * 8,
        }  # fmt: skip
    )
    econ = attribution.unit_economics(year, spend, annual_churn=0.2)
    assert econ.parameters["spend_coverage"] is None
    assert econ.table.row(0, named=True)["customers"] == pytest.approx(11.0)
    assert "Spend covers" not in econ.summary()


def _spend_all_months() -> pl.DataFrame:
    return pl.DataFrame(
        {"channel": ["linkedin"] * 10, "month": [f"{m}-01" for m in MONTHS], "amount": [100.0] * 10}
    )


def test_most_conversions_without_touches_are_flagged_with_ids_of_both_sides() -> None:
    ids = [f"c{i}" for i in range(10)]
    # re-key six of the ten conversions, as after a CRM migration: they lose their touches
    touches = pl.DataFrame(
        {
            "contact_id": ids,
            "channel": ["linkedin"] * 10,
            "timestamp": [f"{m}-10" for m in MONTHS],
        }  # fmt: skip
    )
    stages = pl.DataFrame(
        {
            "contact_id": [f"SF-{c}" if i < 6 else c for i, c in enumerate(ids)],
            "stage": ["closed_won"] * 10,
            "timestamp": [f"{m}-20" for m in MONTHS],
            "value": [12_000.0] * 10,
        }  # fmt: skip
    )
    res = attribution.attribute(touches, stages, models=["linear"])
    econ = attribution.unit_economics(res, _spend_all_months(), annual_churn=0.2)
    found = econ.parameters["unattributed"]
    assert (found["without_touches"], found["conversions"]) == (6, 10)
    assert found["examples_without_touches"][0].startswith("SF-")
    assert not found["examples_with_touches"][0].startswith("SF-")
    text = econ.summary()
    assert "6 of 10 conversions (60%, over 20%) have no touch" in text
    assert "'SF-c0'" in text
    # under the limit: nothing said
    ok = attribution.unit_economics(
        _run(ids, MONTHS), _spend_all_months(), annual_churn=0.2
    )  # fmt: skip
    assert ok.parameters["unattributed"] is None
    assert "have no touch" not in ok.summary()


def _subscriptions(prefix: str) -> pl.DataFrame:
    # ten accounts a month for a year, two of them leaving in June: churn observed
    rows = [
        (f"{prefix}Ac{i}", f"2025-{m:02d}-01", 100.0)
        for i in range(10)
        for m in range(1, 13)
        if not (i < 2 and m > 6)
    ]
    return pl.DataFrame(rows, schema=["account_id", "month", "mrr"], orient="row")


def test_subscriptions_of_other_ids_fall_back_to_the_default_churn(year) -> None:
    spend = _spend_all_months()
    same = attribution.unit_economics(year, spend, subscriptions=_subscriptions(""))
    assert same.parameters["annual_churn"]["source"].startswith("observed")
    assert same.parameters["subscriptions_match"]["used"] is True
    other = attribution.unit_economics(year, spend, subscriptions=_subscriptions("X"))
    churn = other.parameters["annual_churn"]
    assert churn["value"] == pytest.approx(0.15)  # the default assumption
    assert churn["source"].startswith("default assumption: the subscriptions match 0 of 11")
    match = other.parameters["subscriptions_match"]
    assert (match["matched"], match["used"]) == (0, False)
    assert match["examples_subscriptions"][0].startswith("XA")
    assert "the subscriptions' accounts match 0 of 11 customers' accounts (0%): under 5%" in (
        other.summary()
    )
    assert "subscriptions' accounts match" not in same.summary()


def test_accounts_of_other_ids_are_said(year) -> None:
    spend = _spend_all_months()
    ids = [f"Ac{i}" for i in range(11)]
    good = pl.DataFrame({"account_id": ids, "segment": ["smb"] * 11})
    bad = pl.DataFrame({"account_id": [f"X{a}" for a in ids], "segment": ["smb"] * 11})
    assert (
        attribution.unit_economics(year, spend, accounts=good).parameters["accounts_match"][
            "matched"
        ]
        == 11
    )
    econ = attribution.unit_economics(year, spend, accounts=bad)
    assert econ.parameters["accounts_match"]["matched"] == 0
    assert "0 of 11 customers' accounts are in the accounts table" in econ.summary()


def _deals(won_values: list[float | None], opp_values: list[float | None]):
    ids = [f"c{i}" for i in range(len(won_values))]
    touches = pl.DataFrame(
        {
            "contact_id": ids,
            "channel": ["linkedin"] * len(ids),
            "timestamp": ["2025-01-02"] * len(ids),
        }  # fmt: skip
    )
    stages = pl.DataFrame(
        {
            "contact_id": ids * 2,
            "opportunity_id": [f"o{i}" for i in range(len(ids))] * 2,
            "stage": ["opportunity"] * len(ids) + ["closed_won"] * len(ids),
            "timestamp": ["2025-01-05"] * len(ids) + ["2025-01-20"] * len(ids),
            "value": [*opp_values, *won_values],
        },
        schema_overrides={"value": pl.Float64},
    )
    return attribution.attribute(touches, stages, models=["linear"])


def test_a_won_row_without_value_takes_its_opportunitys_amount() -> None:
    res = _deals([None, 5_000.0, None], [12_000.0, 4_000.0, None])
    values = dict(res.conversions.select("contact_id", "value").iter_rows())
    # c0 from its opportunity; c1 keeps its own won value; c2 has none anywhere
    assert values == {"c0": 12_000.0, "c1": 5_000.0, "c2": 0.0}
    rec = res.manifest["reconciliation"]
    assert rec["conversions_value_from_opportunity"] == 1
    assert rec["conversions_without_value"] == 1


def test_no_deal_value_at_all_is_not_measured_rather_than_inside_the_guardrail() -> None:
    res = _deals([None, None], [None, None])
    spend = pl.DataFrame({"channel": ["linkedin"], "month": ["2025-01-01"], "amount": [1_000.0]})
    econ = attribution.unit_economics(res, spend)
    row = econ.table.row(0, named=True)
    assert row["cac"] == pytest.approx(500.0)  # CAC needs no value
    assert row["ltv_to_cac"] is None
    assert row["guardrail_share"] is None
    assert econ.parameters["not_measured"].startswith("not measured: won deals carry no value")
    text = econ.summary()
    assert "WARNING: not measured: won deals carry no value" in text
    assert "Guardrail breaches under linear: not measured (no deal values)." in text
    line = next(x for x in text.splitlines() if x.strip().startswith("linkedin"))
    assert line.endswith("not measured")
    assert " ok" not in line
    # with values, nothing of it
    valued = attribution.unit_economics(_deals([9_000.0, 9_000.0], [None, None]), spend)
    assert valued.parameters["not_measured"] is None


def test_the_reports_cac_answer_states_the_spend_coverage(year, tmp_path) -> None:
    from attribution.report._page import render_report

    spend = pl.DataFrame({"channel": ["linkedin"], "month": ["2025-01-01"], "amount": [1_000.0]})
    attribution.unit_economics(year, spend, annual_churn=0.2).write(tmp_path)
    page = render_report(tmp_path, manifest={})
    assert "Spend covers 1 of the conversions&#x27; 10 months" in page or (
        "Spend covers 1 of the conversions' 10 months" in page
    )
    assert "2 of 11 conversions" in page


def test_input_warnings_are_data_alerts_beside_the_weekly_ones(year) -> None:
    from datetime import date

    from attribution.b2b._alerts import ALERTS_SCHEMA
    from attribution.b2b._alerts_data import with_data_alerts

    spend = pl.DataFrame({"channel": ["linkedin"], "month": ["2025-01-01"], "amount": [1_000.0]})
    econ = attribution.unit_economics(year, spend, annual_churn=0.2)
    weekly = pl.DataFrame({"week": [date(2025, 9, 29), date(2025, 10, 6)]})
    alerts = with_data_alerts(pl.DataFrame(schema=ALERTS_SCHEMA), econ.parameters, weekly)
    assert alerts.schema == ALERTS_SCHEMA
    (row,) = alerts.iter_rows(named=True)
    assert (row["family"], row["metric"], row["severity"]) == ("data", "spend_coverage", "high")
    assert row["week"] == date(2025, 10, 6)
    assert row["message"].startswith("Spend covers 1 of the conversions' 10 months")
    # inputs that meet: no alert added
    whole = attribution.unit_economics(year, _spend_all_months(), annual_churn=0.2)
    assert (
        with_data_alerts(pl.DataFrame(schema=ALERTS_SCHEMA), whole.parameters, weekly).height == 0
    )


def test_spend_of_no_conversion_month_is_refused_naming_the_file(year, tmp_path) -> None:
    """newuser-report5 #29: spend of 2024-01 against conversions of 2025 gave CACs and a
    BREACH verdict (2024 spend over 2025 customers) beside a WARNING, exit 0."""
    path = tmp_path / "spend.csv"
    path.write_text("Channel,Month,Amount\nlinkedin,2024-01,2000\nlinkedin,2024-02,300\n")
    mapping = {"channel": "Channel", "month": "Month", "amount": "Amount"}
    with pytest.raises(attribution.InputError) as info:
        attribution.unit_economics(year, path, columns=mapping, monthly_lag_months=2)
    text = str(info.value)
    assert "spend.csv" in text
    assert "column 'Month'" in text
    assert "the spend (2024-01 to 2024-02) covers none of the conversions' months " in text
    assert "(2025-01 to 2025-10), not even 2 month(s) on" in text
    assert "lines: 2, 3)" in text
    # a lag that reaches the conversions' months buys their customers: CAC on those only
    path.write_text("Channel,Month,Amount\nlinkedin,2024-12,1000\n")
    econ = attribution.unit_economics(year, path, columns=mapping, monthly_lag_months=1,
                                      annual_churn=0.2)
    assert econ.parameters["spend_coverage"]["customer_months"] == ["2025-01", "2025-01"]
    assert econ.table.row(0, named=True)["customers"] == pytest.approx(2.0)


def test_the_command_line_refuses_spend_of_no_conversion_month(tmp_path) -> None:
    from tests.test_no_silent_empty import _cli, _error_line

    data = Path(__file__).resolve().parents[1] / "sample_data"
    pl.read_parquet(data / "spend.parquet").with_columns(
        pl.col("month").dt.offset_by("-3y")
    ).write_csv(tmp_path / "old_spend.csv")
    proc = _cli(tmp_path, "run", "--touches", str(data / "touches.parquet"), "--stages",
                str(data / "stages.parquet"), "--spend", "old_spend.csv", "-m", "linear",
                "--out", "out")  # fmt: skip
    line = _error_line(proc)
    assert proc.returncode == 2, proc.stderr
    assert "old_spend.csv" in line
    assert "covers none of the conversions' months" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
