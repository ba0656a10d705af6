"""Two figures judged on two yardsticks say which is which, so a reader sees no contradiction.

- A segment's payback can meet its payback target (SMB: 18 months) and miss the playbook's
  tighter CAC recovery range (SMB: 3-9 months): the line that judges one names the other.
- The funnel's opportunity -> closed won step counts open opportunities as not won; the win
  rate counts closed deals only. Both are judged on 20-30%: the step can be below while the
  win rate is within; the answer that names the step gives the win rate beside it.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.b2b._economics_summary import _range_lines
from attribution.report._page import render_report
from tests.test_report_answers import answer, write_run


def test_cac_recovery_line_names_the_payback_target_too() -> None:
    blended = pl.DataFrame(
        {"segment": ["smb", "enterprise"], "created_pipeline_per_dollar": [9.35, 30.8],
         "pipeline_per_dollar_low": [15.0, 5.0], "pipeline_per_dollar_high": [40.0, 15.0],
         "pipeline_per_dollar_gap": [9.35 / 15 - 1, 30.8 / 15 - 1],
         "payback_months": [14.7, 26.0], "payback_target_months": [18.0, 24.0],
         "payback_ok": [True, False], "cac_payback_low": [3.0, 12.0],
         "cac_payback_high": [9.0, 24.0], "cac_payback_gap": [-(14.7 / 9 - 1), -(26 / 24 - 1)]}
    )  # fmt: skip
    lines = _range_lines(blended)
    assert "tighter than the payback target" in lines[0]
    smb = next(x for x in lines if x.strip().startswith("smb"))
    assert (
        "CAC recovery 14.7 months vs a target of 3-9 months (63% above it, short); "
        "within the 18-month payback target" in smb
    )
    enterprise = next(x for x in lines if x.strip().startswith("enterprise"))
    assert "over the 24-month payback target" in enterprise


def test_the_payback_answer_says_which_yardstick(tmp_path: Path) -> None:
    write_run(tmp_path)
    meta = json.loads((tmp_path / "economics.json").read_text())
    for row in meta["blended"]:
        if row["segment"] == "smb":
            row |= {"cac_payback_low": 3.0, "cac_payback_high": 9.0,
                    "cac_payback_judgement": "short"}  # fmt: skip
    (tmp_path / "economics.json").write_text(json.dumps(meta))
    manifest = {"decision_model": "shapley", "decision_model_source": "survey agreement"}
    payback = answer(render_report(tmp_path, manifest=manifest), 3)
    assert (
        "smb 2.2×, below 3×, payback 14.3 months vs 18 (the payback target; above the 3–9-month "
        "CAC recovery range: short)" in payback
    )
    assert "enterprise 22.1×, payback 26.0 months vs 24, over target." in payback


def test_the_step_into_won_and_the_win_rate_on_one_range(make_stages, tmp_path: Path) -> None:
    # 20 opportunities: 3 won, 9 lost, 8 still open -> the step 15% (below 20-30%), the win
    # rate 3 / 12 = 25% (within it)
    rows = []
    for i in range(20):
        rows += [(f"o{i}", "lead", 0, None), (f"o{i}", "mql", 1, None), (f"o{i}", "sql", 2, None),
                 (f"o{i}", "opportunity", 3, None)]  # fmt: skip
        if i < 3:
            rows.append((f"o{i}", "closed_won", 20, 1000.0))
        elif i < 12:
            rows.append((f"o{i}", "closed_lost", 20, None))
    f = attribution.funnel(make_stages(rows))
    text = f.summary()
    assert "Biggest conversion gap: opportunity -> closed_won at 15%" in text
    assert (
        "opportunity -> closed_won (15.0%) is of every opportunity, the open ones counted as "
        "not won; the win rate, of closed deals only, is 25% vs a target of 20-30% (within it)."
        in text
    )
    assert "3 won of 12 closed deals; open ones left out" in text
    f.write(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"run_id": "t", "models": []}))
    gap = answer(render_report(tmp_path), 4)
    assert "opportunity → closed won: 15.0% advance (3 of 20)" in gap
    assert (
        "This step counts the opportunities still open as not won; the win rate, of closed "
        "deals only, is 25.0%, within 20%–30% (the win-rate tile)." in gap
    )


@pytest.mark.parametrize("lost", [0, 1])
def test_no_win_rate_note_without_a_measured_win_rate(make_stages, lost: int) -> None:
    rows = [(f"o{i}", "opportunity", 0, None) for i in range(10)]
    rows += [("o0", "closed_won", 5, 10.0)] + [(f"o{i}", "closed_lost", 5, None)
                                                for i in range(1, 1 + lost)]  # fmt: skip
    text = attribution.funnel(make_stages(rows)).summary()
    # without a lost deal the win rate is not measured, so nothing is set beside the step
    assert ("the win rate, of closed deals only" in text) is bool(lost)
