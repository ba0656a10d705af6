"""The benchmark table: the shipped ranges, the gap, overrides by a user's file and
[targets], and errors that name the file, the column and the 1-based line."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution
from attribution.inputs._benchmarks import format_range, gap, gap_expr
from attribution.inputs._config import load_config

HEADER = "metric,segment,channel,low,high,unit,better,source\n"


def test_the_shipped_table_holds_the_published_ranges() -> None:
    b = attribution.load_benchmarks()
    expected = {  # (metric, segment, channel): (low, high), as benchmarks.md gives them
        ("mql_to_sql", None, None): (0.15, 0.25),
        ("sql_to_opportunity", None, None): (0.40, 0.60),
        ("opportunity_to_closed_won", None, None): (0.20, 0.30),
        ("visitor_to_mql", None, None): (0.01, 0.03),
        ("marketing_sourced_share", None, None): (0.30, 0.50),
        ("marketing_influenced_share", None, None): (0.50, 0.70),
        ("deal_velocity_days", None, None): (90, 180),
        ("win_rate", None, None): (0.20, 0.30),
        ("pipeline_per_dollar", "enterprise", None): (5, 15),
        ("pipeline_per_dollar", "mid_market", None): (10, 25),
        ("pipeline_per_dollar", "smb", None): (15, 40),
        ("sales_cycle_months", "enterprise", None): (6, 18),
        ("sales_cycle_months", "smb", None): (1, 3),
        ("cac_payback_months", "mid_market", None): (6, 12),
        ("cac_payback_months", "smb", None): (3, 9),
        ("nrr", "enterprise", None): (1.10, 1.30),
        ("nrr", "smb", None): (1.00, 1.15),
        ("consideration_window_days", "smb", None): (30, 90),
        ("consideration_window_days", "enterprise", None): (180, 365),
        ("consideration_window_days", "strategic", None): (365, None),
        ("ltv_to_cac", None, None): (3, None),
        ("payback_target_months", "smb", None): (12, 18),
        ("payback_target_months", "enterprise", None): (None, 24),
        ("cac_guardrail_share", None, None): (0.10, 0.30),
        ("cpm", None, "linkedin"): (30, 80),
        ("ctr", None, "linkedin"): (0.003, 0.008),
        ("ctr", None, "programmatic"): (0.0005, 0.0015),
        ("cpl", None, "content_syndication"): (50, 200),
        ("cpc_generic", None, "paid_search"): (10, 50),
        ("conversion_rate", None, "paid_search"): (0.05, 0.15),
    }
    for (metric, segment, channel), (low, high) in expected.items():
        r = b.get(metric, segment=segment, channel=channel)
        assert r is not None, metric
        assert (r.segment, r.channel) == (segment, channel), metric
        assert (r.low, r.high) == (low, high), (metric, segment, channel)
        assert r.origin == "shipped"
        assert r.source
    assert b.table.height == 43
    # a segment without its own row falls back to the row for every segment
    assert b.get("mql_to_sql", segment="smb").segment is None
    assert b.get("cpl", channel="linkedin") is None
    low, high, rows = b.chain(["mql", "sql", "opportunity", "closed_won"])
    assert (low, high) == pytest.approx((0.15 * 0.40 * 0.20, 0.25 * 0.60 * 0.30))
    assert [r.metric for r in rows] == [
        "mql_to_sql",
        "sql_to_opportunity",
        "opportunity_to_closed_won",
    ]
    assert b.chain(["lead", "mql", "sql"]) is None  # lead -> mql has no published range


def test_the_gap_by_hand() -> None:
    assert gap(0.12, 0.15, 0.25, "higher") == pytest.approx(0.12 / 0.15 - 1)  # -20%
    assert gap(0.30, 0.15, 0.25, "higher") == pytest.approx(0.30 / 0.25 - 1)  # +20%
    assert gap(0.20, 0.15, 0.25, "higher") == 0.0
    assert gap(27, 12, 18, "lower") == pytest.approx(-0.5)  # 50% above the ceiling
    assert gap(6, 12, 18, "lower") == pytest.approx(0.5)  # better than the range
    assert gap(2.0, 3, None, "higher") == pytest.approx(-1 / 3)
    assert gap(60, 30, 90, None) is None  # a setting, never judged
    assert gap(None, 0.1, 0.2, "higher") is None
    assert format_range(0.012, 0.045, "rate") == "1.2-4.5%"
    assert format_range(1.1, 1.3, "ratio", "nrr") == "110-130%"
    assert format_range(3, None, "ratio") == ">= 3x"


def test_a_users_file_and_targets_override_row_by_row(tmp_path: Path) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_text(
        HEADER
        + "mql_to_sql,,,0.10,0.20,rate,higher,our own history\n"
        + "demo_to_trial,,,0.3,0.5,rate,higher,sales team\n"
    )
    b = attribution.load_benchmarks(
        mine,
        targets={"win_rate": 0.25, "segment": {"SMB": {"cac_payback_months": [2, 6]}}},
    )
    r = b.get("mql_to_sql")
    assert (r.low, r.high, r.origin) == (0.10, 0.20, f"file '{mine}' line 2")
    assert b.get("demo_to_trial").origin.endswith("line 3")
    assert b.get("sql_to_opportunity").origin == "shipped"  # not in the file: kept
    w = b.get("win_rate")
    assert (w.low, w.high, w.unit, w.better) == (0.25, 0.25, "rate", "higher")
    smb = b.get("cac_payback_months", segment="smb")
    assert (smb.low, smb.high, smb.better) == (2, 6, "lower")
    assert b.get("cac_payback_months", segment="enterprise").low == 12  # untouched
    assert b.table.height == 44  # one row added, the others replaced in place


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("mql_to_sql,,,abc,0.2,rate,higher,x\n", r"column 'low': 'abc' is not a number.*lines: 2"),
        (
            "ok,,,0.1,0.2,rate,higher,x\nmql_to_sql,,,0.1,15,rate,higher,x\n",
            r"column 'high': a rate is a fraction.*lines: 3",
        ),
        ("mql_to_sql,,,0.3,0.2,rate,higher,x\n", r"low 0.3 is above high 0.2.*lines: 2"),
        ("mql_to_sql,,,0.1,0.2,percent,higher,x\n", r"unit 'percent'.*lines: 2"),
        ("mql_to_sql,,,0.1,0.2,rate,up,x\n", r"better 'up'.*lines: 2"),
        ("mql_to_sql,,,,,rate,higher,x\n", r"both blank.*lines: 2"),
        ("a,smb,,1,2,days,lower,x\na,smb,,1,3,days,lower,x\n", r"on line 2 already.*lines: 3"),
        ("mql_to_sql,,,0.1\n", r"4 fields where the header has 8.*lines: 2"),
        ("", r"no benchmark rows"),
    ],
)
def test_a_bad_file_names_the_file_column_and_line(tmp_path: Path, body: str, match: str) -> None:
    path = tmp_path / "b.csv"
    path.write_text(HEADER + body)
    with pytest.raises(attribution.InputError, match=match) as info:
        attribution.load_benchmarks(path)
    assert str(path) in str(info.value)


def test_a_bad_header_is_named(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("metric,lo,high,unit\nx,1,2,days\n")
    with pytest.raises(attribution.InputError, match=r"lacks the column\(s\) \['low'\]"):
        attribution.load_benchmarks(path)
    path.write_text("metric,low,high,unit,segmnt\nx,1,2,days,smb\n")
    with pytest.raises(attribution.InputError, match="unknown column 'segmnt'.*segment"):
        attribution.load_benchmarks(path)
    with pytest.raises(attribution.InputError, match="cannot read"):
        attribution.load_benchmarks(tmp_path / "missing.csv")


def test_config_benchmarks_file_and_targets(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text(HEADER + "mql_to_sql,,,0.05,0.10,rate,higher,ours\n")
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[benchmarks]\nfile = "b.csv"\n[targets]\nwin_rate = [0.22, 0.28]\n'
        "[targets.channel.LinkedIn]\ncpl = 150\n"
    )
    b = load_config(cfg).benchmarks()
    assert (b.get("mql_to_sql").low, b.get("win_rate").high) == (0.05, 0.28)
    assert b.get("cpl", channel="linkedin").high == 150
    cfg.write_text("[targets]\nwin_rat = 0.3\n")
    with pytest.raises(
        attribution.ConfigError, match=r"\[targets\] win_rat: no such metric.*win_rate"
    ):
        load_config(cfg)
    cfg.write_text("[targets]\nwin_rate = 25\n")
    with pytest.raises(attribution.ConfigError, match="a rate is a fraction"):
        load_config(cfg)
    cfg.write_text("[targets]\nwin_rate = [0.3, 0.2]\n")
    with pytest.raises(attribution.ConfigError, match="low 0.3 is above high 0.2"):
        load_config(cfg)
    cfg.write_text('[benchmarks]\nfile = "nope.csv"\n')
    with pytest.raises(attribution.InputError, match="nope.csv"):
        load_config(cfg)


BOUND = st.one_of(st.none(), st.floats(0.0, 100.0, allow_nan=False))


@settings(max_examples=200)
@given(
    value=st.floats(0.0, 200.0, allow_nan=False),
    ends=st.tuples(BOUND, BOUND).filter(lambda e: e != (None, None)),
    better=st.sampled_from(["higher", "lower", None]),
)
def test_the_gap_sign_says_which_side_and_the_expression_agrees(value, ends, better) -> None:
    low, high = ends
    if low is not None and high is not None and low > high:
        low, high = high, low
    g = gap(value, low, high, better)
    frame = pl.DataFrame(
        {"v": [value], "lo": [low], "hi": [high], "b": [better]},
        schema={"v": pl.Float64, "lo": pl.Float64, "hi": pl.Float64, "b": pl.String},
    )
    expr = frame.select(gap_expr(pl.col("v"), pl.col("lo"), pl.col("hi"), pl.col("b"))).item()
    assert expr == (pytest.approx(g) if g is not None else None)
    if better is None:
        assert g is None
        return
    below = low is not None and value < low
    above = high is not None and value > high
    if not (below or above):
        assert g == 0.0
    elif g is not None:  # None only against an end of 0
        worse = below if better == "higher" else above
        assert (g < 0) == worse
        assert g != 0.0


@settings(max_examples=50)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["m1", "m2"]),
            st.sampled_from([None, "smb", "enterprise"]),
            st.sampled_from([None, "linkedin"]),
            st.floats(0.0, 1.0, allow_nan=False),
        ),
        max_size=8,
        unique_by=lambda r: r[:3],
    ),
    asks=st.lists(
        st.tuples(
            st.sampled_from(["m1", "m2", "m3"]),
            st.sampled_from([None, "smb", "mid_market"]),
            st.sampled_from([None, "linkedin", "email"]),
        ),
        min_size=1,
        max_size=10,
    ),
)
def test_attach_gives_every_row_what_get_gives_it(rows, asks) -> None:
    base = attribution.load_benchmarks()
    table = pl.DataFrame(
        [
            dict(metric=m, segment=s, channel=c, low=v, high=v, unit="rate", better="higher",
                 source=f"{m}/{s}/{c}", origin="test")
            for m, s, c, v in rows
        ],
        schema=base.table.schema,
    )  # fmt: skip
    bench = attribution.Benchmarks(table)
    frame = pl.DataFrame(asks, schema=["m", "s", "c"], orient="row")
    got = bench.attach(frame, pl.col("m"), segment=pl.col("s"), channel=pl.col("c"))
    assert got.height == frame.height
    for (m, s, c), source in zip(asks, got.get_column("benchmark_source"), strict=True):
        hit = bench.get(m, segment=s, channel=c)
        assert source == (hit.source if hit is not None else None)
