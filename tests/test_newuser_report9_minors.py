"""New-user report 9's minor defects (a RevOps analyst with Salesforce exports): each test
fails on the code before its fix."""

from __future__ import annotations

from pathlib import Path

from tests.test_newuser_leftovers import PLAN_SPEND, PLAN_STAGES, PLAN_TOML, _plan_json, _write


# ---------------------------------------- #5: no sales follow-up caveat without sales touches
def test_the_plan_names_no_sales_follow_ups_when_the_touches_have_none(tmp_path: Path) -> None:
    touches = (  # an import's campaign responses: no sales_call / sales_email / meeting
        "touch_id,timestamp,channel,contact_id,touch_type\n"
        "t1,2025-03-01,email,c1,Responded\nt2,2025-03-02,email,c2,Attended\n"
        "t3,2025-03-03,linkedin,c3,Responded\n"
    )
    for name, text in (("t.csv", touches), ("s.csv", PLAN_STAGES),
                       ("spend.csv", PLAN_SPEND), ("plan.toml", PLAN_TOML)):
        _write(tmp_path / name, text)
    plan, printed = _plan_json(tmp_path)
    assert plan["touch_types_left_out"]["sales_types_in_data"] == []
    flat = " ".join(printed.split())
    assert "(CAC measured on every touch)" in flat
    assert "sales follow-up" not in flat
    assert "sales_call" not in flat
