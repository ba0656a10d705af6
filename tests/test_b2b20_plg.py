"""A PLG company's run (new-user report, session 20): Salesforce opportunities with Stripe
trial invoices mapped as won deals at $0, and Stripe's monthly subscriptions with amounts
left in cents. Small files shaped like theirs: a Salesforce report export (``Opportunity
ID``, ``Account ID``, ``Stage``, ``Close Date``, ``Amount``) and a Stripe MRR export
(``customer``, ``month``, ``amount``), mapped in a run config."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from attribution.cli import app

N = 24
CHANNELS = ("google_ads", "linkedin", "organic_search", "email")
PLANS = (588.0, 1176.0, 1764.0)  # $49, $98, $147 a month, as ARR


def _value(i: int) -> float:
    """Every fourth won deal is a $0 trial invoice."""
    return 0.0 if i % 4 == 0 else PLANS[i % 3]


def _files(tmp_path: Path, mrr_scale: float = 1.0, deal_scale: float = 1.0) -> Path:
    """The touches, the Salesforce export, the spend and the Stripe MRR export (its MRR x
    ``mrr_scale``: 100 is cents), and the run config mapping their columns."""
    touches = [
        (f"003C{i:04d}", f"001A{i:04d}", f"2025-{1 + i % 5:02d}-{1 + 3 * j:02d}",
         CHANNELS[(i + j) % 4])
        for i in range(N) for j in range(1 + i % 3)
    ]  # fmt: skip
    pl.DataFrame(touches, schema=["contact_id", "account_id", "timestamp", "channel"],
                 orient="row").write_csv(tmp_path / "touches.csv")  # fmt: skip
    pl.DataFrame({
        "Opportunity ID": [f"006O{i:04d}" for i in range(N)],
        "Contact ID": [f"003C{i:04d}" for i in range(N)],
        "Account ID": [f"001A{i:04d}" for i in range(N)],
        "Stage": ["Closed Won"] * N,
        "Close Date": [f"2025-{2 + i % 5:02d}-20" for i in range(N)],
        "Amount": [_value(i) * deal_scale for i in range(N)],
    }).write_csv(tmp_path / "opportunities.csv")  # fmt: skip
    months = [f"2025-{m:02d}-01" for m in range(1, 8)]
    pl.DataFrame({"channel": ["google_ads", "linkedin"] * 7,
                  "month": [m for m in months for _ in range(2)],
                  "amount": [1500.0, 900.0] * 7}).write_csv(tmp_path / "spend.csv")  # fmt: skip
    subs = [
        (f"001A{i:04d}", f"2025-{m:02d}-01", _value(i) / 12 * mrr_scale)
        for i in range(N) if _value(i) > 0 for m in range(2 + i % 5, 9)
    ]  # fmt: skip
    pl.DataFrame(subs, schema=["customer", "month", "amount"], orient="row").write_csv(
        tmp_path / "stripe_mrr.csv"
    )
    config = tmp_path / "run.toml"
    config.write_text(
        '[inputs]\ntouches = "touches.csv"\nstages = "opportunities.csv"\n'
        'spend = "spend.csv"\nsubscriptions = "stripe_mrr.csv"\n'
        '[run]\nmodels = ["linear", "last_touch"]\nout = "runs"\n'
        '[stage_names]\nclosed_won = "Closed Won"\n'
        '[columns.stages]\nopportunity_id = "Opportunity ID"\ncontact_id = "Contact ID"\n'
        'account_id = "Account ID"\nstage = "Stage"\ntimestamp = "Close Date"\n'
        'value = "Amount"\n'
        '[columns.subscriptions]\naccount_id = "customer"\nmrr = "amount"\n'
    )
    return config


def _run(tmp_path: Path, **scales: float) -> tuple[str, Path]:
    config = _files(tmp_path, **scales)
    done = CliRunner().invoke(app, ["run", "-c", str(config)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    (out,) = (tmp_path / "runs").iterdir()
    return done.output, out


def _economics(out: Path) -> dict:
    return json.loads((out / "economics.json").read_text())


def test_zero_dollar_won_deals_are_said_to_count_in_cac(tmp_path: Path) -> None:
    """6 of 24 won deals are $0 trial invoices: the note spoke of LTV only, while CAC (per
    won deal) counted them as customers too. Now it says so, with the blended CAC with
    and without them (exact: the spend over 24 and over 18 customers), and how to leave
    them out."""
    output, out = _run(tmp_path)
    z = _economics(out)["parameters"]["customers_at_zero_value"]
    zero = sum(1 for i in range(N) if _value(i) == 0)
    spend = 14 * 1200.0  # 7 months of 1,500 + 900
    assert (z["customers"], z["at_zero"]) == (N, zero)
    assert z["blended_cac"] == pytest.approx(spend / N)
    assert z["blended_cac_without"] == pytest.approx(spend / (N - zero))
    note = next(line for line in output.splitlines() if line.startswith("NOTE: 6 of 24"))
    assert "CAC counts them as customers" in note
    assert f"${spend / N:,.0f} with them (24 customers)" in note
    assert f"${spend / (N - zero):,.0f} without them (18)" in note
    assert "leave their won rows (amount 0 or blank) out of the stages" in note
    # the report says the same
    from attribution.report import write_report

    html = write_report(out).read_text()
    assert "CAC counts them as customers" in html
    assert f"${spend / (N - zero):,.0f} without them" in html
    # and the figure without them is the run's own once they are left out
    paid = pl.read_csv(tmp_path / "opportunities.csv").filter(pl.col("Amount") > 0)
    paid.write_csv(tmp_path / "opportunities.csv")
    done = CliRunner().invoke(app, ["run", "-c", str(tmp_path / "run.toml"),
                                    "--out", str(tmp_path / "paid")])  # fmt: skip
    assert done.exit_code == 0, done.output
    (again,) = (tmp_path / "paid").iterdir()
    blended = [b for b in _economics(again)["blended"] if b["segment"] == "all"]
    assert blended[0]["cac"] == pytest.approx(z["blended_cac_without"])
    assert "won deals at $0" not in done.output


def test_loaded_cac_with_and_without_the_zero_dollar_deals() -> None:
    from attribution.b2b._economics_joins import at_zero_value, zero_value_line

    conversions = pl.DataFrame({"value": [0.0, None, 100.0, 50.0], "n_touches": [1, 2, 3, 0]})
    blended = pl.DataFrame({"model": ["linear", "shapley"], "segment": ["all", "all"],
                            "customers": [3.0, 3.0], "spend": [300.0, 300.0],
                            "non_media_cost": [60.0, 60.0]})  # fmt: skip
    z = at_zero_value(conversions, blended, "shapley")
    assert z is not None
    assert (z["at_zero"], z["customers"], z["model"]) == (2, 3, "shapley")
    assert (z["blended_cac"], z["blended_cac_without"]) == (100.0, 300.0)
    assert (z["blended_loaded_cac"], z["blended_loaded_cac_without"]) == (120.0, 360.0)
    line = zero_value_line(z)
    assert "$100 with them (3 customers), $300 without them (1)" in line
    assert "loaded $120 with them, $360 without" in line


def _check(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["subscriptions_amount_check"]


def test_subscriptions_in_cents_are_warned_of_and_left_as_they_are(tmp_path: Path) -> None:
    """Stripe's MRR left in cents (4900 for $49): retention's dollar figures were 100x
    with nothing to say so. Now a warning names the file, the user's column, the median
    ratio and the accounts compared, and the fix; the figures are not changed."""
    output, out = _run(tmp_path, mrr_scale=100.0)
    paid = sum(1 for i in range(N) if _value(i) > 0)
    (warning,) = [line for line in output.splitlines() if "look like cents" in line]
    assert warning.startswith("WARNING: the subscriptions' amounts look like cents")
    assert "stripe_mrr.csv, column 'amount'" in warning
    assert "a median 100.0x the same accounts' won-deal values" in warning
    assert f"({paid} accounts with both compared, {paid} of them 30-300x)" in warning
    assert "divide the column 'amount' by 100" in warning
    check = _check(out)
    assert check["verdict"] == "subscriptions_in_cents"
    assert check["median_ratio"] == pytest.approx(100.0)
    assert (check["accounts_compared"], check["accounts_in_band"]) == (paid, paid)
    manifest = json.loads((out / "manifest.json").read_text())
    assert warning in manifest["notes"]
    assert json.loads((out / "retention.json").read_text())["amount_check"] == check
    # nothing changed: the last month's MRR is the file's, in cents
    subs = pl.read_csv(tmp_path / "stripe_mrr.csv")
    last = subs.filter(pl.col("month") == subs.get_column("month").max())
    table = pl.read_parquet(out / "retention.parquet").filter(pl.col("segment") == "all")
    assert table.get_column("last_month_mrr").item() == pytest.approx(last["amount"].sum())


def test_subscriptions_in_dollars_raise_no_warning(tmp_path: Path) -> None:
    output, out = _run(tmp_path)
    assert "look like cents" not in output
    check = _check(out)
    assert check["verdict"] == "same_unit"
    assert check["median_ratio"] == pytest.approx(1.0)
    assert check["warning"] is None


def test_won_deals_in_cents_are_warned_of(tmp_path: Path) -> None:
    output, out = _run(tmp_path, deal_scale=100.0)
    (warning,) = [line for line in output.splitlines() if "look like cents" in line]
    assert warning.startswith("WARNING: the won deals' amounts look like cents")
    assert "(1/100)" in warning
    assert "opportunities.csv, column 'Amount'" in warning
    assert "divide the column 'Amount' by 100" in warning
    assert _check(out)["verdict"] == "deals_in_cents"


@pytest.mark.parametrize(
    ("ratios", "verdict"),
    [
        ([100.0, 100.0, 100.0], "subscriptions_in_cents"),
        ([30.0, 31.0, 500.0], "subscriptions_in_cents"),
        ([29.0, 29.0, 500.0], "same_unit"),  # the median is below the band
        ([12.0, 12.0, 12.0], "same_unit"),  # deal values of one month: 12x, not cents
        ([0.01, 0.01, 1.0], "deals_in_cents"),
        ([100.0, 100.0], "too_few_accounts"),
    ],
)
def test_the_cents_band(ratios: list[float], verdict: str) -> None:
    from attribution.b2b._retention_units import amount_check

    ids = [f"a{i}" for i in range(len(ratios))]
    subs = pl.DataFrame({"account_id": ids, "month": ["2025-01-01"] * len(ids),
                         "mrr": [100.0 * r / 12 for r in ratios]})  # fmt: skip
    deals = pl.DataFrame({"account_id": ids, "value": [100.0] * len(ids)})
    found = amount_check(subs, deals, subscriptions_source="s.csv", subscriptions_column="mrr")
    assert found is not None
    assert found["verdict"] == verdict
    assert (found["warning"] is not None) == (verdict.endswith("in_cents"))
