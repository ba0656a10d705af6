"""Hypothesis properties on random journeys: the contract invariants for every rule-based model,
the reconciliation, and agreement with a plain-Python reference of models.md.

Timestamps are whole days in a short range, so ties (touch at T, touch at T - lookback, two
touches at once, two conversions at once) come up often.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution.models._registry import resolve
from attribution.models._rules import RoleWeights

CONTACTS = ["c1", "c2", "c3"]
CHANNELS = ["direct", "email", "linkedin", "webinar"]
STAGES = ["lead", "mql", "opportunity", "closed_won", "closed_lost"]
MILESTONES = {
    "lead": ("lead", "mql"),
    "opportunity": ("opportunity",),
    "closed_won": ("closed_won",),
}
DAY_US = 86_400 * 10**6

REQUESTS: list[Any] = [
    *(n for n, s in attribution.available_models().items() if s.family == "rule"),
    (
        "custom",
        {
            "first": 0.5,
            "closed_won": 0.3,
            "last_non_direct": 0.2,
            "others": 0.1,
            "half_life": "3d",
            "channel_multipliers": {"email": 2.0, "direct": 0.0},
        },
    ),
    ("position_based", {"first": 0.1, "last": 0.7}),
    ("last_non_direct", {"direct_channels": ["direct", "email"]}),
]
RUNS = [resolve(r) for r in REQUESTS]


@dataclass
class Case:
    touches: list[tuple[str, str, str, int]]  # touch_id, contact, channel, day (with duplicates)
    stages: list[tuple[str, str, int, float | None]]  # contact, stage, day, value
    lookback: int  # days


@st.composite
def cases(draw: st.DrawFn) -> Case:
    raw = draw(
        st.lists(
            st.tuples(st.sampled_from(CONTACTS), st.sampled_from(CHANNELS), st.integers(0, 40)),
            max_size=20,
        )
    )
    touches = [(f"t{i:02d}", c, ch, d) for i, (c, ch, d) in enumerate(raw)]
    if touches:
        dups = draw(st.lists(st.integers(0, len(touches) - 1), max_size=3))
        touches += [touches[i] for i in dups]
    stages = draw(
        st.lists(
            st.tuples(
                st.sampled_from(CONTACTS),
                st.sampled_from(STAGES),
                st.integers(0, 40),
                st.sampled_from([None, 10.0, 25.0]),
            ),
            max_size=10,
        )
    )
    return Case(touches, stages, draw(st.sampled_from([3, 10, 30])))


def _frames(case: Case, make_touches, make_stages) -> tuple[pl.DataFrame, pl.DataFrame]:
    return make_touches(case.touches), make_stages(case.stages)


# --------------------------------------------------------------------------- the reference
def _reference(case: Case) -> dict[str, Any]:
    """models.md in plain Python, one journey at a time."""
    lookback = case.lookback * DAY_US
    us = {tid: d * DAY_US for tid, _, _, d in case.touches}
    touches = sorted(set(case.touches), key=lambda r: (r[1], r[3], r[0]))
    duplicates = len(case.touches) - len(set(case.touches))
    # conversions: identical stage events count once; ties in time by value (missing last)
    conversions = defaultdict(set)
    for c, stage, d, value in case.stages:
        if stage == "closed_won":
            conversions[c].add((d * DAY_US, value is None, value or 0.0))
    conv: dict[str, dict[str, Any]] = {}
    first_at: dict[tuple[str, int], str] = {}
    for c, unique_events in conversions.items():
        events = sorted(unique_events)
        for k, (T, _, value) in enumerate(events):
            cid = f"{c}#{k + 1}"
            previous = events[k - 1][0] if k else -1
            conv[cid] = {"T": T, "value": value, "touches": []}
            for role, names in MILESTONES.items():
                times = [
                    d * DAY_US
                    for cc, s, d, _ in case.stages
                    if cc == c and s in names and previous < d * DAY_US
                ]
                at = min(times, default=None)
                conv[cid][role] = at if at is not None and at <= T else None
            first_at.setdefault((c, T), cid)
    unassigned = defaultdict(list)
    for tid, c, ch, _ in touches:
        t = us[tid]
        later = [T for (cc, T) in first_at if cc == c and T >= t]
        if later and t >= min(later) - lookback:
            conv[first_at[(c, min(later))]]["touches"].append((tid, ch, t))
        else:
            unassigned[c].append(t)
    in_null = sum(sum(t >= max(ts) - lookback for t in ts) for ts in unassigned.values())
    n_unassigned = sum(len(ts) for ts in unassigned.values())
    credit: dict[tuple[str, str, str], float] = {}
    for run in RUNS:
        for cid, info in conv.items():
            if info["touches"]:
                for tid, value in _credit(run.build(), info).items():
                    credit[(run.label, cid, tid)] = value
    return {
        "credit": credit,
        "value": {cid: info["value"] or 0.0 for cid, info in conv.items()},
        "in_journeys": sum(len(info["touches"]) for info in conv.values()),
        "in_null_paths": in_null,
        "outside_lookback": n_unassigned - in_null,
        "duplicates": duplicates,
        "conversions": len(conv),
        "attributed": sum(bool(info["touches"]) for info in conv.values()),
    }


def _credit(w: RoleWeights, info: dict[str, Any]) -> dict[str, float]:
    journey = info["touches"]  # in time order, ties by touch_id
    n = len(journey)
    holders: dict[str, int | None] = {"first": 0, "last": n - 1}
    for role in MILESTONES:
        at = info[role]
        before = [i for i, (_, _, t) in enumerate(journey) if at is not None and t <= at]
        holders[role] = before[-1] if before else None
    non_direct = [i for i, (_, ch, _) in enumerate(journey) if ch not in w.direct_channels]
    holders["last_non_direct"] = non_direct[-1] if non_direct else n - 1
    roles = w.role_weights()
    raw = [0.0] * n
    held = [False] * n
    for role, weight in roles.items():
        i = holders[role]
        if i is not None:
            raw[i] += weight
            held[i] = True
    unheld = n - sum(held)
    if w.others > 0 and unheld:
        raw = [r + (0.0 if h else w.others / unheld) for r, h in zip(raw, held, strict=True)]
    if w.half_life is not None:
        h = w.half_life.total_seconds() * 1e6
        raw = [r * 2 ** (-(info["T"] - t) / h) for r, (_, _, t) in zip(raw, journey, strict=True)]
    raw = [
        r * w.channel_multipliers.get(ch, 1.0) for r, (_, ch, _) in zip(raw, journey, strict=True)
    ]
    total = sum(raw)
    out = [r / total for r in raw] if total > 0 else [float(i == n - 1) for i in range(n)]
    return {tid: c for (tid, _, _), c in zip(journey, out, strict=True)}


# --------------------------------------------------------------------------- properties
@settings(max_examples=80, deadline=None)
@given(case=cases())
def test_rule_models_match_the_reference(case: Case, make_touches, make_stages) -> None:
    touches, stages = _frames(case, make_touches, make_stages)
    result = attribution.attribute(
        touches, stages, models=REQUESTS, lookback=timedelta(days=case.lookback),
        allow_empty=True,  # a drawn case may hold no touch or no conversion
    )
    ref = _reference(case)
    tc = result.touch_credit
    got = {
        (m, c, t): v
        for m, c, t, v in tc.select("model", "conversion_id", "touch_id", "credit").iter_rows()
    }
    assert got.keys() == ref["credit"].keys()
    for key, value in ref["credit"].items():
        assert got[key] == pytest.approx(value, abs=1e-9), key
    for model, cid, tid, value in tc.select(
        "model", "conversion_id", "touch_id", "value"
    ).iter_rows():
        assert value == pytest.approx(got[(model, cid, tid)] * ref["value"][cid], abs=1e-9)

    rec = result.manifest["reconciliation"]
    assert rec["touches_in"] == len(case.touches)
    assert rec["touches_in_journeys"] == ref["in_journeys"]
    assert rec["touches_in_null_paths"] == ref["in_null_paths"]
    expected_dropped = {
        k: v
        for k, v in {
            "outside_lookback": ref["outside_lookback"],
            "exact_duplicate": ref["duplicates"],
        }.items()
        if v
    }
    assert rec["touches_dropped"] == expected_dropped
    assert rec["conversions"] == ref["conversions"]
    assert rec["conversions_attributed"] == ref["attributed"]


@settings(max_examples=50, deadline=None)
@given(case=cases())
def test_contract_invariants(case: Case, make_touches, make_stages) -> None:
    touches, stages = _frames(case, make_touches, make_stages)
    result = attribution.attribute(
        touches, stages, models=REQUESTS, lookback=timedelta(days=case.lookback),
        allow_empty=True,  # a drawn case may hold no touch or no conversion
    )
    rec = result.manifest["reconciliation"]
    assert rec["touches_in"] == (
        rec["touches_in_journeys"]
        + rec["touches_in_null_paths"]
        + sum(rec["touches_dropped"].values())
    )
    assert rec["conversions"] == rec["conversions_attributed"] + (
        rec["conversions_unattributed"] + rec["conversions_same_timestamp"]
    )
    tc = result.touch_credit
    if tc.height:
        assert tc.get_column("credit").min() >= 0
        sums = tc.group_by("model", "conversion_id").agg(pl.col("credit").sum())
        assert (sums.get_column("credit") - 1).abs().max() <= 1e-9
        assert (
            tc.group_by("model")
            .agg(pl.col("touch_id").is_unique().all())
            .get_column("touch_id")
            .all()
        )
    cc = result.channel_credit
    attributed_value = result.manifest["totals"]["attributed_value"]
    for run in RUNS:
        part = cc.filter(pl.col("model") == run.label)
        conversions = float(part.get_column("conversions").sum())
        assert conversions == pytest.approx(rec["conversions_attributed"], abs=1e-9)
        value = float(part.get_column("value").sum())
        assert value == pytest.approx(attributed_value, abs=1e-9)
    # the path table holds every journey and every null path
    paths = result.paths
    assert paths.get_column("conversions").sum() == rec["conversions_attributed"]
    assert paths.get_column("nulls").sum() == rec["null_paths"]
    assert paths.get_column("value").sum() == pytest.approx(attributed_value, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(case=cases(), seed=st.integers(0, 2**16))
def test_row_order_does_not_matter(case: Case, seed: int, make_touches, make_stages) -> None:
    touches, stages = _frames(case, make_touches, make_stages)
    base = attribution.attribute(touches, stages, models=REQUESTS, lookback="10d",
                                 allow_empty=True)
    shuffled = attribution.attribute(
        touches.sample(fraction=1.0, shuffle=True, seed=seed),
        stages.sample(fraction=1.0, shuffle=True, seed=seed),
        models=REQUESTS,
        lookback="10d",
        allow_empty=True,
    )
    key = ["model", "conversion_id", "touch_id"]
    assert_frame_equal(shuffled.touch_credit.sort(key), base.touch_credit.sort(key), abs_tol=1e-12)
    assert_frame_equal(
        shuffled.channel_credit.sort("model", "channel"),
        base.channel_credit.sort("model", "channel"),
        abs_tol=1e-12,
    )
    assert_frame_equal(shuffled.conversions, base.conversions)
    assert shuffled.manifest["reconciliation"] == base.manifest["reconciliation"]
    assert shuffled.manifest["totals"] == pytest.approx(base.manifest["totals"])
