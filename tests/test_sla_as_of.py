"""The SLAs measure "still open" and "overdue" at the run's as-of time, as the account
engagement does: the ``as_of`` option (``--as-of``) when given, else the latest stage or
touch time not after the run's own time; rows dated after it are left out, counted, and the
summary says which time it is and where it came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

import attribution
from attribution import B2BInputs, RunOptions, analyse

T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
NOW = datetime(2025, 3, 20, tzinfo=UTC)  # the run's own time


def _stages() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "contact_id": ["a", "b", "c"],
            "stage": ["mql"] * 3,
            # a: 9 days before the data's last event; b: 1 hour before it; c: as a
            "timestamp": [T0, T0 + timedelta(days=9, hours=-1), T0],
        }
    )


def _touches() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "touch_id": ["t0", "t1", "t2", "t3"],
            "contact_id": ["z", "x", "c", "c"],
            "channel": ["sales", "web", "sales", "sales"],
            "touch_type": ["sales_call", "visit", "sales_call", "meeting"],
            # t1 is the data's last event before the run's time; t3 a meeting scheduled
            # for next year (after the run's time): it has not happened yet
            "timestamp": [T0 - timedelta(days=1), T0 + timedelta(days=9), T0 + timedelta(days=2),
                          datetime(2026, 1, 5, tzinfo=UTC)],
        }
    )  # fmt: skip


def _speed(result: attribution.SLA) -> dict[str, object]:
    return result.overall().filter(pl.col("metric") == "speed_to_lead").row(0, named=True)


def test_sla_is_measured_at_the_latest_time_not_after_the_runs_time() -> None:
    got = attribution.sla(_stages(), _touches(), now=NOW)
    reference = T0 + timedelta(days=9)  # t1, not the meeting scheduled in 2026
    assert got.counts["as_of"] == reference.isoformat()
    assert got.counts["as_of_from"] == "the latest touch or stage time not after the run's time"
    assert got.counts["run_time"] == NOW.isoformat()
    assert got.counts["rows_after_as_of"] == {"stages": 0, "touches": 1}
    speed = _speed(got)
    # a: never touched, breached; b: due after the as-of time, not judged; c: touched late
    assert (speed["judged"], speed["not_judged"], speed["breaches"]) == (2, 1, 2)
    late = dict(
        got.breaches.filter(pl.col("metric") == "speed_to_lead")
        .select("contact_id", "late_hours")
        .iter_rows()
    )
    assert late["a"] == (reference - (T0 + timedelta(hours=24))).total_seconds() / 3600
    text = got.summary()
    assert f"open and overdue as of {reference.isoformat()} (the latest touch or stage time " in (
        text
    )
    assert "0 stage event(s) and 1 touch(es) dated after it left out (--as-of sets the time)" in (
        text
    )


def test_the_as_of_option_sets_the_time_and_leaves_later_rows_out() -> None:
    got = attribution.sla(_stages(), _touches(), as_of="2025-03-04", now=NOW)
    assert got.counts["as_of"] == "2025-03-04T23:59:59.999999+00:00"  # a date: its end
    assert got.counts["as_of_from"] == "the as_of option"
    assert got.counts["rows_after_as_of"] == {"stages": 1, "touches": 3}  # t0 is before
    speed = _speed(got)
    # b's MQL is after the as-of time: not entered; c's call (day 2) has not happened yet
    assert (speed["entered"], speed["judged"], speed["breaches"]) == (2, 2, 2)
    done = got.breaches.filter(pl.col("metric") == "speed_to_lead").get_column("completed_at")
    assert done.null_count() == 2


def test_a_run_passes_its_as_of_to_the_slas() -> None:
    stages = _stages().with_columns(pl.lit("A1").alias("account_id"))
    touches = _touches().with_columns(pl.lit("A1").alias("account_id"))
    won = pl.DataFrame(
        {"contact_id": ["c"], "account_id": ["A1"], "stage": ["closed_won"],
         "timestamp": [T0 + timedelta(days=3)]}
    )  # fmt: skip
    options = RunOptions(level="account", as_of="2025-03-04", models=["linear"])
    all_stages = pl.concat([stages, won], how="diagonal")
    result = attribution.attribute(touches, all_stages, options=options)
    analysis = analyse(
        result, B2BInputs(touches=touches, stages=all_stages, sla=True), options=options
    )
    (got,) = [x for x in analysis.extras if isinstance(x, attribution.SLA)]
    assert got.counts["as_of"] == "2025-03-04T23:59:59.999999+00:00"
    assert got.counts["as_of_from"] == "the as_of option"


def test_the_report_says_the_as_of_time(tmp_path: Path) -> None:
    from attribution.report._context import Context
    from attribution.report._sla import sla_section

    attribution.sla(_stages(), _touches(), now=NOW).write(tmp_path)
    section = sla_section(Context(tmp_path, {}))
    assert section is not None
    reference = (T0 + timedelta(days=9)).isoformat()
    assert (
        f"Open and overdue as of {reference} (the latest touch or stage time not after the "
        "run&#x27;s time); 0 stage event(s) and 1 touch(es) dated "
        "after it are left out."
    ) in section.body
