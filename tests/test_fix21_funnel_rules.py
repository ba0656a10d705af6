"""The funnel's sourced channels (b2b/_funnel_channels.py) of a touch log without a
``channel`` column were derived by the shipped channel rules, not the run's
``--channel-rules``: a run whose rules call ``utm_source=acme`` touches ``partner_acme``
credited ``partner_acme`` while its funnel (and the plan's channel tests) said ``other``.
They are now derived by the run's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

import attribution

START = datetime(2025, 1, 6, 12, tzinfo=UTC)
RULES = '[[rule]]\nchannel = "partner_acme"\nsource = "^acme$"\n'


def _tables() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    contacts = ["a", "b", "c", "d"]
    touches = pl.DataFrame(
        {
            "touch_id": [f"t{i}" for i in range(4)],
            "contact_id": contacts,
            "utm_source": ["acme", "acme", "google", "acme"],
            "utm_medium": ["referral", "referral", "cpc", "referral"],
            "timestamp": [START + timedelta(days=i) for i in range(4)],
        }
    )
    rows = [(c, s, START + timedelta(days=10 + i * 5 + j))
            for i, c in enumerate(contacts)
            for j, s in enumerate(["lead", "mql", "sql", "opportunity", "closed_won"])]  # fmt: skip
    stages = pl.DataFrame(
        {
            "contact_id": [r[0] for r in rows],
            "stage": [r[1] for r in rows],
            "timestamp": [r[2] for r in rows],
            "value": [1000.0 if r[1] == "closed_won" else None for r in rows],
        }
    )
    spend = pl.DataFrame(
        {"channel": ["partner_acme", "google_ads"], "month": ["2025-01-01"] * 2,
         "amount": [900.0, 300.0]}  # fmt: skip
    )
    return touches, stages, spend


def _channels(flow: attribution.Funnel) -> set[str]:
    return set(flow.kpis.filter(pl.col("dimension") == "channel").get_column("group").to_list())


def test_the_funnel_derives_channels_by_the_given_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    touches, stages, spend = _tables()
    shipped = attribution.funnel(stages, touches, spend)
    assert _channels(shipped) == {"other", "google_ads"}  # acme: no shipped rule
    custom = attribution.funnel(stages, touches, spend, channel_rules=rules)
    assert _channels(custom) == {"partner_acme", "other"}  # google: no rule of the file


def test_a_runs_funnel_takes_the_runs_channel_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    touches, stages, spend = _tables()
    options = attribution.RunOptions(models=["linear"], channel_rules=rules)
    result = attribution.attribute(touches, stages, options=options)
    assert "partner_acme" in result.channel_credit.get_column("channel").to_list()
    inputs = attribution.B2BInputs(stages=stages, touches=touches, spend=spend)
    analysis = attribution.analyse(result, inputs, options=options)
    (flow,) = [e for e in analysis.extras if isinstance(e, attribution.Funnel)]
    assert _channels(flow) == {"partner_acme", "other"}  # was google_ads and other
