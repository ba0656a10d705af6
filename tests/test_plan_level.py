"""`attribution plan --level account` (new-user report 4, defect 15): 20 deals closed by
buying committees of three counted 60 customers at a third of the CAC, exit 0 without a
word. At contact level the plan now warns that each contact is a customer; at account level
each deal is one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _write(tmp: Path) -> None:
    touches = ["touch_id,timestamp,channel,contact_id,account_id"]
    stages = ["timestamp,stage,contact_id,account_id,opportunity_id,value"]
    contacts = ["contact_id,account_id,role"]
    channels = ["linkedin", "google_ads", "email"]
    k = 0
    for a in range(40):
        for c in range(3):
            contact = f"C{a}_{c}"
            contacts.append(f"{contact},A{a},{['decision_maker', 'champion', 'user'][c]}")
            for t in range(3):
                k += 1
                channel = channels[(a + c + t) % 3]
                stamp = f"2025-0{1 + t}-{10 + c:02d}T10:00:00Z"
                touches.append(f"T{k},{stamp},{channel},{contact},A{a}")
        if a < 20:  # a won deal, on each of its three contacts (as the importers write roles)
            for c in range(3):
                stages.append(f"2025-04-01T10:00:00Z,opportunity,C{a}_{c},A{a},O{a},10000")
                stages.append(f"2025-05-01T10:00:00Z,closed_won,C{a}_{c},A{a},O{a},10000")
    spend = ["month,channel,amount"] + [
        f"2025-0{m}-01,{ch},10000" for m in range(1, 6) for ch in channels
    ]
    for name, rows in (("t", touches), ("s", stages), ("c", contacts), ("spend", spend)):
        (tmp / f"{name}.csv").write_text("\n".join(rows) + "\n")
    (tmp / "plan.toml").write_text(
        '[plan]\nname = "p"\nmodel = "linear"\n[budget]\nlinkedin = 50000\n'
        "google_ads = 50000\nemail = 50000\n[targets]\ncustomers = 20\n"
    )


@pytest.mark.parametrize("level", ["contact", "account"])
def test_the_plan_counts_customers_at_its_level_and_says_so(tmp_path: Path, level: str) -> None:
    _write(tmp_path)
    command = [
        sys.executable, "-m", "attribution.cli", "plan", "plan.toml", "--touches", "t.csv",
        "--stages", "s.csv", "--spend", "spend.csv", "--contacts", "c.csv",
        "--level", level, "--out", "out",
    ]  # fmt: skip
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COLUMNS="250"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    if level == "contact":
        assert "buys about 60 customers at $2,500" in proc.stdout
        assert "60 conversions share 20 opportunity id(s)" in proc.stderr
        assert "the plan above counts each of them as a customer" in proc.stderr
        assert "--level account" in proc.stderr
    else:
        assert "buys about 20 customers at $7,500" in proc.stdout
        assert "share" not in proc.stderr


def test_a_bad_level_names_the_option(tmp_path: Path) -> None:
    _write(tmp_path)
    command = [
        sys.executable, "-m", "attribution.cli", "plan", "plan.toml", "--touches", "t.csv",
        "--stages", "s.csv", "--spend", "spend.csv", "--level", "deal", "--out", "out",
    ]  # fmt: skip
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "level" in proc.stderr
    assert "Traceback" not in proc.stderr
