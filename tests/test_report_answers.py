"""The top of the report: the five answers with their numbers, the bootstrap intervals and
low-confidence marks where the run has them, the alerts of the latest week, the empty state.

The run files are frames built here in the documented schemas (economics.parquet with the
bootstrap columns of the shared contract, economics.json's blended rows, levers, plan,
funnel.json, alerts): the tests pin the page's reading of them.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from attribution.report._page import render_report

CHANNELS = ["linkedin", "google_ads", "outbound", "email"]


def write_run(run: Path, *, bootstrap: bool = True) -> None:
    spend = [240_000.0, 98_000.0, 148_000.0, 6_000.0]
    customers = [66.0, 91.0, 16.0, 3.0]
    gp = 14_000.0
    rows = []
    for channel, s, c in zip(CHANNELS, spend, customers, strict=True):
        loaded = s / c + 500.0
        row = {
            "model": "shapley", "segment": "all", "channel": channel, "status": "paid",
            "spend": s, "customers": c, "cac": s / c, "loaded_cac": loaded,
            "gross_profit_per_customer": gp, "guardrail_share": loaded / gp,
            "guardrail_limit": 0.3, "breach": loaded / gp > 0.3,
        }  # fmt: skip
        if bootstrap:
            row |= {
                "loaded_cac_ci_low": loaded * 0.8, "loaded_cac_ci_high": loaded * 1.25,
                "guardrail_share_ci_low": loaded * 0.8 / gp,
                "guardrail_share_ci_high": loaded * 1.25 / gp,
                "breach_probability": 0.97 if loaded / gp > 0.3 else 0.02,
                "low_confidence": c < 5,
            }  # fmt: skip
        rows.append(row)
    rows.append(
        {"model": "shapley", "segment": "all", "channel": "organic_search", "status": "unpaid",
         "spend": 0.0, "customers": 100.0, "cac": 0.0, "loaded_cac": 500.0,
         "gross_profit_per_customer": gp, "guardrail_share": 500 / gp, "guardrail_limit": 0.3,
         "breach": False}  # fmt: skip
    )
    linear = [r | {"model": "linear"} for r in rows]
    pl.DataFrame(rows + linear).write_parquet(run / "economics.parquet")
    blended = [
        {"model": "shapley", "segment": "all", "spend": 492_000.0, "customers": 276.0,
         "revenue": 1_200_000.0, "loaded_cac": 2_283.0, "ltv_to_cac": 6.1,
         "payback_months": 6.5, "payback_target_months": 18.0, "payback_ok": True,
         "guardrail_share": 0.16, "breach": False},
        {"model": "shapley", "segment": "smb", "spend": 200_000.0, "customers": 200.0,
         "loaded_cac": 1_200.0, "ltv_to_cac": 2.2, "payback_months": 14.3,
         "payback_target_months": 18.0, "payback_ok": True, "guardrail_share": 0.458,
         "breach": True},
        {"model": "shapley", "segment": "enterprise", "spend": 292_000.0, "customers": 76.0,
         "loaded_cac": 3_986.0, "ltv_to_cac": 22.1, "payback_months": 26.0,
         "payback_target_months": 24.0, "payback_ok": False, "guardrail_share": 0.045,
         "breach": False},
    ]  # fmt: skip
    if bootstrap:
        blended[0] |= {"ltv_to_cac_ci_low": 5.2, "ltv_to_cac_ci_high": 7.4}
    (run / "economics.json").write_text(
        json.dumps(
            {
                "parameters": {"guardrail_basis": "lifetime_gross_profit",
                               "guardrail_limit": 0.3, "ltv_to_cac_target": 3.0},
                "blended": blended,
            }
        )  # fmt: skip
    )
    levers = pl.DataFrame(
        {
            "channel": ["linkedin", "google_ads", "email"],
            "action": ["cut", "grow", "grow"],
            "models_agreeing": [14, 13, 7],
            "models": [14, 14, 14],
            "agreement": [1.0, 13 / 14, 0.5],
            "status": ["recommended", "recommended", "contested"],
            "actions": ["cut 14", "grow 13, keep 1", "grow 7, cut 7"],
        }
    )
    if bootstrap:
        levers = levers.with_columns(pl.Series("draw_agreement", [0.92, 0.81, 0.4]))
    levers.write_parquet(run / "levers.parquet")
    pl.DataFrame(
        {"channel": ["linkedin", "google_ads", "email", "(total)"],
         "change": [-180_000.0, 150_000.0, 30_000.0, 0.0]}  # fmt: skip
    ).write_parquet(run / "plan.parquet")
    (run / "funnel.json").write_text(
        json.dumps(
            {
                "weakest_stage": {
                    "from_stage": "opportunity", "to_stage": "closed_won", "rate": 0.186,
                    "entered": 2845, "advanced": 530, "benchmark_low": 0.2,
                    "benchmark_high": 0.3, "benchmark_gap": -0.07, "below_range": True,
                    "benchmark_source": "B2B playbook",
                },
                "pipeline_velocity": {"velocity_per_day": 12_774.0, "win_rate": 0.223},
            }
        )  # fmt: skip
    )
    weeks = [date(2025, 11, 24), date(2025, 12, 1), date(2025, 12, 8)]
    pl.DataFrame(
        {"week": weeks, "metric": ["mql_volume"] * 3, "value": [1.0] * 3,
         "score": [0.1, 0.2, 4.0]}  # fmt: skip
    ).write_parquet(run / "funnel_weekly.parquet")
    pl.DataFrame(
        {
            "week": [date(2025, 9, 1), date(2025, 12, 8)],
            "metric": ["cost_per_lead", "mql_volume"],
            "severity": ["high", "medium"],
            "provisional": [False, True],
            "message": ["cost per lead rose 64% in the week of 2025-09-01",
                        "MQL volume fell 40% in the week of 2025-12-08"],
        }  # fmt: skip
    ).write_parquet(run / "alerts.parquet")


def answer(page: str, n: int) -> str:
    """The text of the n-th answer (its <dd>), tags removed."""
    html = re.search(rf'<dd elementtiming="answer-{n}">(.*?)</dd>', page, re.DOTALL)
    assert html is not None, n
    return re.sub(r"<[^>]+>", "", html.group(1))


def test_the_five_answers_with_numbers_intervals_and_marks(tmp_path: Path) -> None:
    write_run(tmp_path)
    manifest = {"decision_model": "shapley", "decision_model_source": "survey agreement"}
    page = render_report(tmp_path, manifest=manifest)
    top = page[page.index('id="answers"') : page.index('id="latest-alerts"')]
    assert "decision model, <b>shapley, chosen by survey agreement</b>" in top
    cac = answer(page, 1)
    # cheapest to dearest paid channel in dollars; organic_search (unpaid) is not among them
    assert "runs from $1,577 (google_ads) to $9,750 (outbound)" in cac
    assert "blended $2,283" in cac
    assert "email $2,500 [$2,000–$3,125] low confidence" in cac  # 3 customers: flagged
    assert "linkedin $4,136 [$3,309–$5,170] ·" in cac
    assert "Without spend (non-media costs only): organic_search." in cac
    assert "By segment: smb $1,200 · enterprise $3,986." in cac
    guardrail = answer(page, 2)
    assert "loaded CAC at most 30% of lifetime gross profit per customer" in guardrail
    assert "1 of 4 paid channels breaches it: outbound at 69.6% [55.7%–87.1%]" in guardrail
    assert "over the line in 97% of draws" in guardrail
    assert "Closest inside: linkedin at 29.5%" in guardrail
    assert "By segment, over the line: smb at 45.8%." in guardrail
    payback = answer(page, 3)
    assert "Blended LTV/CAC 6.1× [5.2–7.4] (target ≥ 3×), payback 6.5 months" in payback
    assert "smb 2.2×, below 3×, payback 14.3 months vs 18" in payback
    assert "enterprise 22.1×, payback 26.0 months vs 24, over target" in payback
    gap = answer(page, 4)
    assert "opportunity → closed won: 18.6% advance (530 of 2,845)" in gap
    assert "benchmark target of 20%–30%, 1.4 points (7.0%) below it" in gap
    lever = answer(page, 5)
    # the biggest recommended budget move first, with its agreement across models and draws
    assert lever.startswith(
        "Cut linkedin (-$180,000 in the reallocated plan): 14 of 14 models agree on the "
        "direction, 92% of bootstrap draws."
    ), lever
    assert "Also recommended: grow google_ads (13/14, 81% of draws)." in lever
    contested = "Contested, not recommended (the advice flips with the model): email (grow 7, cut 7"
    assert contested in lever
    # each answer links to its section
    for anchor in ("economics", "plan", "funnel"):
        assert f'href="#{anchor}"' in top
        assert f'<section id="{anchor}">' in page
    # tiles with units
    tiles = page[page.index('aria-label="Key figures"') : page.index('id="latest-alerts"')]
    for figure in ("$492,000", "$1,200,000", "$2,283", "6.1×", "22.3%", "$12,774"):
        assert f'<span class="figure">{figure}</span>' in tiles


def test_alerts_of_the_latest_week_tested(tmp_path: Path) -> None:
    write_run(tmp_path)
    page = render_report(tmp_path, manifest={})
    alerts = page[page.index('id="latest-alerts"') :]
    alerts = alerts[: alerts.index("</div>")]
    now, earlier = alerts.split("Earlier:")
    assert "MQL volume fell 40% in the week of 2025-12-08" in now
    assert "provisional" in now  # the week is recent: marked
    assert "cost per lead rose 64%" in earlier


def test_no_alert_in_the_latest_week_says_so(tmp_path: Path) -> None:
    write_run(tmp_path)
    alerts = pl.read_parquet(tmp_path / "alerts.parquet").head(1)
    alerts.write_parquet(tmp_path / "alerts.parquet")
    page = render_report(tmp_path, manifest={})
    assert "No alert fired in the week of <b>2025-12-08</b>, the latest week tested." in page
    assert "Earlier: 1 alert(s)" in page


def test_without_bootstrap_no_interval_and_no_mark(tmp_path: Path) -> None:
    write_run(tmp_path, bootstrap=False)
    page = render_report(tmp_path, manifest={"decision_model": "shapley"})
    top = page[page.index('id="answers"') : page.index('id="latest-alerts"')]
    assert 'class="ci"' not in top
    assert "low confidence" not in top
    assert "of draws" not in top
    assert "email $2,500 ·" in answer(page, 1)
    assert "14 of 14 models agree on the direction." in answer(page, 5)


def test_missing_inputs_say_what_to_give(tmp_path: Path) -> None:
    (tmp_path / "funnel.json").write_text(json.dumps({"pipeline_velocity": {"win_rate": 0.2}}))
    page = render_report(tmp_path, manifest={})
    assert "give the spend table (--spend) to get CAC" in answer(page, 1)
    assert "No funnel in this run" in answer(page, 4)
    assert "give a plan (--plan PLAN.toml)" in answer(page, 5)


def test_nothing_attributed_says_why_and_what_to_try(tmp_path: Path) -> None:
    pl.DataFrame(
        schema={"model": pl.String, "channel": pl.String, "share": pl.Float64}
    ).write_parquet(tmp_path / "channel_credit.parquet")
    manifest = {
        "parameters": {"conversion_stage": "closed_won", "lookback_seconds": 7_776_000},
        "reconciliation": {
            "touches_in": 1200, "conversions": 40, "conversions_attributed": 0,
            "conversions_unattributed": 40,
            "touches_dropped": {"outside_lookback": 1150, "excluded_touch_type": 50},
        },
    }  # fmt: skip
    page = render_report(tmp_path, manifest=manifest)
    top = page[page.index('id="answers"') :]
    top = top[: top.index("</div>")]
    assert "Nothing was attributed" in top
    why = "40 conversion(s) reached &#x27;closed_won&#x27;, but 40 had no touch in the 90 days"
    assert why in top
    assert "outside lookback 1,150" in top
    assert "a longer lookback (--lookback, now 90 days)" in top
    assert "fewer --exclude-touch-types" in top
    # no conversion at all: the stage name is the suspect
    manifest["reconciliation"] = {"touches_in": 1200, "conversions": 0,
                                  "conversions_attributed": 0}  # fmt: skip
    page = render_report(tmp_path, manifest=manifest)
    assert "No stage row reached the conversion stage &#x27;closed_won&#x27;." in page
    assert "--conversion-stage" in page


def test_credit_shares_carry_their_bootstrap_interval(tmp_path: Path) -> None:
    credit = pl.DataFrame(
        {"model": ["linear", "linear"], "channel": ["linkedin", "email"],
         "conversions": [60.0, 40.0], "value": [6e5, 4e5], "share": [0.6, 0.4],
         "ci_low": [0.5, 0.3], "ci_high": [0.7, 0.55]}  # fmt: skip
    )
    credit.write_parquet(tmp_path / "channel_credit.parquet")
    page = render_report(tmp_path, manifest={})
    assert "Whiskers: the bootstrap's 90% interval." in page
    call = re.search(r'attributionPlot\("chart-1", (\[.*?\]), \{', page)
    assert call is not None
    (trace,) = json.loads(call.group(1))
    assert trace["y"] == [0.6, 0.4]
    assert trace["error_y"]["array"] == pytest.approx([0.1, 0.15])
    assert trace["error_y"]["arrayminus"] == pytest.approx([0.1, 0.1])
    # without the columns: no whiskers, and the caption does not mention them
    credit.drop("ci_low", "ci_high").write_parquet(tmp_path / "channel_credit.parquet")
    page = render_report(tmp_path, manifest={})
    assert "Whiskers" not in page
    call = re.search(r'attributionPlot\("chart-1", (\[.*?\]), \{', page)
    assert call is not None
    (trace,) = json.loads(call.group(1))
    assert "error_y" not in trace
