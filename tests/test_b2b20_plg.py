"""A PLG company's run (new-user report, session 20): Salesforce opportunities with Stripe
trial invoices mapped as won deals at $0, and Stripe's monthly subscriptions with amounts
left in cents. Small files shaped like theirs: a Salesforce report export (``Opportunity
ID``, ``Account ID``, ``Stage``, ``Close Date``, ``Amount``) and a Stripe MRR export
(``customer``, ``month``, ``mrr``), mapped in a run config."""

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
    pl.DataFrame(subs, schema=["customer", "month", "mrr"], orient="row").write_csv(
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
        '[columns.subscriptions]\naccount_id = "customer"\n'
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
