"""The command line's guardrail line names a segment in breach (new-user report 22, M9:
"Guardrail breaches under linear: none." a few lines above an smb row marked BREACH, and
the report's answer said "By segment, over the line: smb at 42.2%")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl

import attribution
from attribution.b2b._economics import UnitEconomics
from attribution.b2b._economics_summary import economics_summary

START = datetime(2025, 3, 1, tzinfo=UTC)


def _economics(smb_deal: float) -> UnitEconomics:
    """Ten accounts won through linkedin, five smb deals of ``smb_deal`` and five enterprise
    deals of $100,000: the channel's blended loaded CAC is well within the line."""
    touches, stages, accounts = [], [], []
    for a in range(10):
        account = f"A{a}"
        accounts.append({"account_id": account, "segment": "smb" if a < 5 else "enterprise"})
        touches.append({"touch_id": f"t{a}", "account_id": account, "channel": "linkedin",
                        "timestamp": START + timedelta(days=a)})
        stages.append({"account_id": account, "stage": "closed_won",
                       "value": smb_deal if a < 5 else 100_000.0,
                       "timestamp": START + timedelta(days=20 + a)})
    spend = pl.DataFrame({"channel": ["linkedin"], "month": [date(2025, 3, 1)],
                          "amount": [50_000.0]})
    t, s, acc = pl.DataFrame(touches), pl.DataFrame(stages), pl.DataFrame(accounts)
    options = attribution.RunOptions(level="account", models=["linear"])
    result = attribution.attribute(t, s, options=options)
    inputs = attribution.B2BInputs(touches=t, stages=s, spend=spend, accounts=acc)
    extras = attribution.analyse(result, inputs, options=options).extras
    (econ,) = [x for x in extras if isinstance(x, UnitEconomics)]
    return econ


def test_a_segment_in_breach_is_in_the_guardrail_line() -> None:
    econ = _economics(1_000.0)
    linkedin = econ.table.filter((pl.col("model") == "linear") & (pl.col("segment") == "all"))
    assert linkedin.get_column("breach").to_list() == [False]
    smb = econ.blended.filter((pl.col("model") == "linear") & (pl.col("segment") == "smb"))
    assert smb.get_column("breach").to_list() == [True]
    share = smb.get_column("guardrail_share").item()
    (line,) = [x for x in economics_summary(econ).splitlines()
               if x.startswith("Guardrail breaches under linear")]
    assert line == ("Guardrail breaches under linear: none by channel; by segment (loaded CAC "
                    f"of all channels): smb at {share:.1%}.")


def test_no_segment_named_when_none_breaches() -> None:
    econ = _economics(100_000.0)
    (line,) = [x for x in economics_summary(econ).splitlines()
               if x.startswith("Guardrail breaches under linear")]
    assert "by segment" not in line
