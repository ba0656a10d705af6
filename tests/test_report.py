"""The HTML report: sections from whatever files a run holds, self-contained, escaped.

Economics, plan and funnel files are hand-made frames in the documented schemas, so these
tests pin the report's reading of them, not the numbers of the modules that write them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.report._page import REPORT_FILE, Report, render_report, write_report

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
CHANNELS = ["linkedin", "google_ads", "partner_referral", "g2_capterra", "direct_mail"]
ALL_SECTIONS = ("credit", "economics", "plan", "funnel", "surveys", "markov")
BUNDLE = "plotly.js (basic - minified) v"  # the header of the vendored bundle


def write_business_files(run_dir: Path, *, models: tuple[str, ...] = ("linear", "markov")) -> None:
    """Economics, plan check and funnel files in the documented schemas, with known flags:
    direct_mail breaches the guardrail, the MQL-to-customer assumption is flagged and
    mql -> sql is the weakest stage."""
    n = len(CHANNELS)
    spend = [270_000.0, 180_000.0, 125_000.0, 100_000.0, 50_000.0]
    customers = [95.0, 70.0, 45.0, 35.0, 2.0]
    rows = []
    for model in models:
        for channel, s, c in zip(CHANNELS, spend, customers, strict=True):
            cac = s / c
            gp = 12_000.0
            rows.append(
                {
                    "model": model, "channel": channel, "spend": s, "customers": c,
                    "revenue": c * 16_000.0, "cac": cac, "loaded_cac": cac * 1.2,
                    "ltv": gp, "ltv_to_cac": gp / (cac * 1.2),
                    "payback_months": cac * 1.2 / 1_000.0, "gross_profit_per_customer": gp,
                    "guardrail_share": cac * 1.2 / gp, "guardrail_limit": 0.3,
                    "breach": cac * 1.2 / gp > 0.3,
                }
            )  # fmt: skip
    pl.DataFrame(rows).write_parquet(run_dir / "economics.parquet")
    (run_dir / "economics.json").write_text(
        json.dumps(
            {
                "parameters": {"gross_margin": 0.75, "guardrail_limit": 0.3},
                "notes": {"cac": "spend / credited customers"},
            }
        )  # fmt: skip
    )
    budget = [270_000.0, 180_000.0, 125_000.0, 100_000.0, 75_000.0]
    plan = pl.DataFrame(
        {
            "channel": [*CHANNELS, "(total)"],
            "budget": [*budget, sum(budget)],
            "measured_cac": [3000.0, 2500.0, 3100.0, 2900.0, 25_000.0, 2900.0],
            "projected_customers": [90.0, 72.0, 40.0, 34.0, 3.0, 239.0],
            "gap": [-10.0] * n + [-4761.0],
            "cap": [540_000.0, 360_000.0, 200_000.0, 150_000.0, 100_000.0, 1_350_000.0],
            "reallocated_budget": [270_000.0, 360_000.0, 60_000.0, 60_000.0, 0.0, 750_000.0],
            "reallocated_customers": [90.0, 144.0, 19.0, 20.0, 0.0, 273.0],
        }
    )
    plan.write_parquet(run_dir / "plan.parquet")
    pl.DataFrame(
        {
            "assumption": ["mql_to_customer", "cac"],
            "plan_value": [0.33, 150.0],
            "data_value": [0.03, 2900.0],
            "ratio": [11.0, 0.05],
            "flagged": [True, False],
            "note": ["the plan assumes 33%, the data shows 3%", "close enough"],
        }
    ).write_parquet(run_dir / "plan_flags.parquet")
    (run_dir / "plan.json").write_text(
        json.dumps(
            {
                "targets": {"customers": 5000, "cac": 150},
                "model": "linear",
                "verdict": "The budget buys about 239 customers, not 5,000.",
            }
        )  # fmt: skip
    )
    steps = [("lead", "mql", 1000, 500), ("mql", "sql", 500, 100), ("sql", "opportunity", 100, 60),
             ("opportunity", "closed_won", 60, 20)]  # fmt: skip
    funnel_rows = [
        {"dimension": dim, "group": group, "from_stage": a, "to_stage": b,
         "entered": n_in, "advanced": n_out, "rate": n_out / n_in,
         "median_days_in_stage": 3.0 * (i + 1)}
        for dim, group in (("all", "all"), ("channel", "linkedin"), ("channel", "email"),
                           ("cohort", "2025-01"), ("cohort", "2025-02"))
        for i, (a, b, n_in, n_out) in enumerate(steps)
    ]  # fmt: skip
    pl.DataFrame(funnel_rows).write_parquet(run_dir / "funnel.parquet")
    weeks = pl.date_range(pl.date(2025, 1, 6), pl.date(2025, 3, 24), "1w", eager=True)
    weekly = pl.DataFrame(
        {
            "week": list(weeks) * 2,
            "metric": ["mqls"] * len(weeks) + ["cost_per_lead"] * len(weeks),
            "value": [float(50 + i % 3) for i in range(len(weeks))] + [40.0] * len(weeks),
            "channel": [None] * len(weeks) * 2,
            "expected": [51.0] * len(weeks) * 2,
            "score": [0.1] * (2 * len(weeks) - 1) + [5.0],
            "alert": [False] * (2 * len(weeks) - 1) + [True],
        }
    )
    weekly.write_parquet(run_dir / "funnel_weekly.parquet")
    pl.DataFrame(
        {
            "week": [weeks[-1]],
            "metric": ["cost_per_lead"],
            "channel": ["linkedin"],
            "kind": ["spike"],
            "severity": ["high"],
            "message": ["cost per lead of linkedin rose 80% in the week of 2025-03-24"],
        }
    ).write_parquet(run_dir / "alerts.parquet")
    (run_dir / "funnel.json").write_text(
        json.dumps(
            {
                "weakest_stage": {
                    "from_stage": "mql",
                    "to_stage": "sql",
                    "rate": 0.2,
                    "judged_against": "the data's own step rates",
                },
                "pipeline_velocity": {"velocity_per_day": 1234.5, "win_rate": 0.4},
                "alert_rule": "|robust z| > 3.5 over the previous 12 weeks",
            }
        )  # fmt: skip
    )


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A contact-level run of the sample data with a survey benchmark and business files."""
    result = attribution.attribute(
        SAMPLE / "touches.parquet",
        SAMPLE / "stages.parquet",
        contacts=SAMPLE / "contacts.parquet",
        models=["first_touch", "linear", "markov"],
    )
    bench = attribution.compare_surveys(result, SAMPLE / "surveys.parquet", bootstrap=50)
    run = result.write(tmp_path_factory.mktemp("runs"), also=[bench])
    write_business_files(run)
    write_report(run)
    return run


@pytest.fixture(scope="module")
def account_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = attribution.attribute(
        SAMPLE / "touches.parquet",
        SAMPLE / "stages.parquet",
        contacts=SAMPLE / "contacts.parquet",
        models=["linear", "w_shaped"],
        level="account",
    )
    return result.write(tmp_path_factory.mktemp("account_runs"))


def section_ids(page: str) -> set[str]:
    return set(re.findall(r'<section id="([^"]+)"', page))


def test_full_run_has_every_section(full_run: Path) -> None:
    page = (full_run / REPORT_FILE).read_text()
    assert section_ids(page) >= set(ALL_SECTIONS)
    manifest = json.loads((full_run / "manifest.json").read_text())
    assert manifest["run_id"] in page
    # the header reconciles the counts of the manifest
    rec = manifest["reconciliation"]
    assert f"Touches in {rec['touches_in']:,}" in page
    assert f"in converting journeys {rec['touches_in_journeys']:,}" in page
    for model in ("first_touch", "linear", "markov"):
        assert f"&quot;{model}&quot;" not in page  # names are never double-escaped
        assert model in page


def test_page_is_self_contained(full_run: Path) -> None:
    page = (full_run / REPORT_FILE).read_text()
    # plotly.js itself holds URL strings (links it can draw); the page around it holds none
    start = page.index(f"<script>/**\n* {BUNDLE}")
    end = page.index("</script>", start)
    page = page[:start] + page[end:]
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link\b", page, re.IGNORECASE)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"@import", page)
    # plotly.js inlined exactly once, every chart drawn by the shared helper
    assert (full_run / REPORT_FILE).read_text().count("* plotly.js") == 1
    assert (full_run / REPORT_FILE).read_text().count(f"* {BUNDLE}") == 1
    charts = page.count('data-chart="plotly"')
    assert charts + page.count("<table class=\"heat\"") >= 10
    assert page.count('attributionPlot("chart-') == charts


def test_page_is_small(full_run: Path) -> None:
    """Issue #20: under 1.5 MB for a demo-sized run; the bundle is the basic one, so the page
    draws only the traces it has (a Heatmap or Funnel trace would draw nothing)."""
    size = (full_run / REPORT_FILE).stat().st_size
    assert size < 1_500_000, f"report is {size:,} bytes"
    page = (full_run / REPORT_FILE).read_text()
    decoder = json.JSONDecoder()
    traces = set()
    for call in re.finditer(r'attributionPlot\("chart-[0-9]+", ', page):
        data, _ = decoder.raw_decode(page, call.end())
        traces |= {trace.get("type") for trace in data}
    assert traces, "no chart on the page"
    assert traces <= {"bar", "scatter", "pie"}, traces


def test_the_page_carries_the_vendored_bundle_packed(full_run: Path) -> None:
    """The base64 gzip in the page unpacks to exactly the vendored plotly.js file (stored
    gzip-compressed: the npm package's plotly-basic.min.js 4.1.1, byte for byte)."""
    import base64
    import gzip
    import hashlib
    from importlib import resources

    page = (full_run / REPORT_FILE).read_text()
    packed = re.findall(r'atob\("([A-Za-z0-9+/=]+)"\)', page)
    assert len(packed) == 1
    stored = resources.files("attribution.report").joinpath("assets", "plotly-basic.min.js.gz")
    bundle = gzip.decompress(stored.read_bytes())
    assert len(bundle) == 1_191_749
    assert hashlib.sha256(bundle).hexdigest() == (
        "99784e3abfb07b142a15e521a439e6d9addceadb3f79553fd24c72774f0649ba")
    assert bundle.startswith(b"/**\n* plotly.js (basic - minified) v4.1.1")
    assert gzip.decompress(base64.b64decode(packed[0])) == bundle
    assert len(packed[0]) < 600_000


def test_heatmaps_are_shaded_tables(full_run: Path) -> None:
    page = (full_run / REPORT_FILE).read_text()
    tables = re.findall(r'<table class="heat".*?</table>', page, re.DOTALL)
    # shares by model, the Markov transition matrix, funnel rates by channel and by cohort
    assert len(tables) == 4
    for html in tables:
        assert "<caption>" in html
        assert '<th scope="col">' in html
        assert '<th scope="row">' in html
        cells = re.findall(r'<td class="num" style="background:rgb\(([^)]*)\);color:([^"]+)">'
                           r"(-?[0-9.]+)%</td>", html)  # fmt: skip
        assert len(cells) >= 4, html[:300]
        # the largest value has the darkest / most saturated end of the scale, not the same
        # colour as the smallest
        by_value = sorted(cells, key=lambda c: float(c[2]))
        assert by_value[0][0] != by_value[-1][0]
    credit = tables[0]
    assert "linear" in credit
    assert "markov" in credit
    shares = [float(v) for v in re.findall(r">(-?[0-9.]+)%</td>", credit)]
    assert all(0 <= v <= 100 for v in shares)
    # Blues: the largest share on dark blue in white, the smallest on pale blue in ink
    cells = re.findall(r'background:rgb\(([^)]*)\);color:([^"]+)">([0-9.]+)%', credit)
    top = max(cells, key=lambda c: float(c[2]))
    low = min(cells, key=lambda c: float(c[2]))
    assert top[1] == "#fff"
    assert low[1] != "#fff"


def test_business_sections_show_their_findings(full_run: Path) -> None:
    page = (full_run / REPORT_FILE).read_text()
    # the five answers at the top carry the guardrail breach, the weakest stage and the
    # alerts; the other findings follow them
    top = page[page.index('id="answers"') : page.index('id="latest-alerts"')]
    assert "1 of 5 paid channels breaches it</b>: <b>direct_mail</b> at" in top
    # the run names no decision model: the page says which model it used and why
    assert "under the run's decision model" not in top
    assert "Every figure is under <b>linear</b> (the run names no decision model" in top
    assert "No stage is below its benchmark target; the lowest rate is <b>MQL → SQL</b>, " \
        "20.0% advance." in top
    alerts = page[page.index('id="latest-alerts"') : page.index("</div>", page.index(
        'id="latest-alerts"'))]  # fmt: skip
    assert "cost per lead of linkedin rose 80% in the week of 2025-03-24" in alerts
    assert '<span class="sev sev-high">high</span>' in alerts
    findings = page[page.index("More findings") : page.index("</ul>", page.index("More findings"))]
    assert "The budget buys about 239 customers, not 5,000" in findings
    assert "<b>1</b> plan assumption(s) are far from what the data shows: MQL to customer" in (
        findings
    )
    # the flagged assumption's row is marked, with plan and data figures side by side
    flagged_row = re.search(r'<tr class="bad">(.*?)</tr>', page[page.index('id="plan"') :])
    assert flagged_row is not None
    # (the assumption in words, each figure in its unit: a rate as a percentage)
    assert "MQL to customer" in flagged_row.group(1)
    assert "33.0%" in flagged_row.group(1)
    assert "3.0%" in flagged_row.group(1)
    assert '<tr class="total">' in page  # the plan's total row is set apart


def test_sections_only_when_their_files_exist(full_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for name in ("manifest.json", "channel_credit.parquet", "paths.parquet"):
        (run / name).write_bytes((full_run / name).read_bytes())
    page = (write_report(run)).read_text()
    assert section_ids(page) == {"credit"}
    assert "More findings" in page


def test_account_level_section(account_run: Path) -> None:
    page = write_report(account_run).read_text()
    assert "accounts" in section_ids(page)
    assert "does NOT sum to 100%" in page
    assert "Most engaged accounts" in page


def test_missing_columns_leave_a_note_instead_of_failing(tmp_path: Path) -> None:
    pl.DataFrame({"model": ["linear"], "channel": ["linkedin"], "spend": [1.0]}).write_parquet(
        tmp_path / "economics.parquet"
    )
    pl.DataFrame({"dimension": ["all"], "from_stage": ["lead"]}).write_parquet(
        tmp_path / "funnel.parquet"
    )
    pl.DataFrame({"week": [1], "metric": ["mqls"]}).write_parquet(
        tmp_path / "funnel_weekly.parquet"
    )
    pl.DataFrame({"channel": ["linkedin"], "budget": [1.0]}).write_parquet(
        tmp_path / "plan.parquet"
    )
    pl.DataFrame({"model": ["linear"], "share": [1.0]}).write_parquet(
        tmp_path / "channel_credit.parquet"
    )
    page = render_report(tmp_path, manifest={})
    assert section_ids(page) == {"credit", "economics", "plan", "funnel"}
    assert "The CAC chart not drawn: column(s) loaded_cac, cac missing" in page
    assert "The funnel not drawn: column(s) to_stage, rate missing" in page
    assert "The weekly series not drawn: column(s) value missing" in page
    assert "The budget chart not drawn: column(s) reallocated_budget missing" in page
    assert "Channel credit not drawn: column(s) channel missing" in page
    assert "No manifest" in page


def test_funnel_without_named_weakest_stage_uses_the_lowest_rate(tmp_path: Path) -> None:
    write_business_files(tmp_path)
    (tmp_path / "funnel.json").unlink()
    page = render_report(tmp_path, manifest={})
    assert "Weakest stage: <b>MQL → SQL</b>" in page
    assert "funnel.json names no weakest stage" in page


def test_strings_from_data_are_escaped(tmp_path: Path) -> None:
    evil = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'
    pl.DataFrame(
        {"model": ["linear", "linear"], "channel": [evil, "email"], "conversions": [1.0, 1.0],
         "value": [1.0, 1.0], "share": [0.5, 0.5]}
    ).write_parquet(tmp_path / "channel_credit.parquet")  # fmt: skip
    (tmp_path / "plan.json").write_text(json.dumps({"verdict": evil}))
    page = render_report(tmp_path, manifest={"run_id": evil, "notes": [evil]})
    assert evil not in page
    assert "<img" not in page
    assert page.count("</script>") == page.count("<script>")
    assert html_escaped(evil) in page  # shown as text in the page


def html_escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_report_object_writes_inside_the_run_directory(tmp_path: Path) -> None:
    result = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=["linear"]
    )
    run = result.write(tmp_path, also=[Report(manifest=result.manifest)])
    manifest = json.loads((run / "manifest.json").read_text())
    assert REPORT_FILE in manifest["files"]
    page = (run / REPORT_FILE).read_text()
    assert result.manifest["run_id"] in page
    assert section_ids(page) == {"credit"}


def test_empty_directory(tmp_path: Path) -> None:
    path = write_report(tmp_path)
    assert path == tmp_path / REPORT_FILE
    page = path.read_text()
    assert "no result files to show" in page
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(7776000.0, "90 days"), (86400, "1 day"), (43200, "12 hours"), (90, "90 seconds"),
     (None, None), (True, None), (0, None)],
)  # fmt: skip
def test_lookback_is_shown_in_words(seconds, text) -> None:
    from attribution.report._page import _duration

    assert _duration(seconds) == text


def test_the_room_exports_the_page_and_loads_plotly_only_on_use() -> None:
    import subprocess
    import sys

    code = (
        "import sys, attribution, attribution.report as report\n"
        "assert 'plotly' not in sys.modules, 'plotly imported with attribution.report'\n"
        "from attribution.report import REPORT_FILE, Report, render_report, write_report\n"
        "assert 'plotly' in sys.modules\n"
        "from attribution.report import _page\n"
        "assert (REPORT_FILE, Report, render_report, write_report) == (\n"
        "    _page.REPORT_FILE, _page.Report, _page.render_report, _page.write_report)\n"
        "try:\n"
        "    report.nothing_here\n"
        "except AttributeError as exc:\n"
        "    assert 'nothing_here' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_top_rows_of_a_large_table_equal_sorting_it_whole(tmp_path: Path) -> None:
    """The report's top paths are read without the whole path table: the same top rows
    (ties at the cut included) as reading and sorting it; a file without the column or with
    nulls in it is read whole."""
    from attribution.report._context import Context

    conversions = [float((i * 37) % 23) for i in range(500)]  # many ties
    table = pl.DataFrame({"path": [f"p{i}" for i in range(500)], "conversions": conversions})
    table.write_parquet(tmp_path / "paths.parquet", row_group_size=64)
    ctx = Context(tmp_path, {})
    top = ctx.top("paths.parquet", "conversions", 15)
    assert top is not None
    expected = table.sort("conversions", descending=True).head(15)
    assert top.get_column("conversions").to_list() == expected.get_column("conversions").to_list()
    assert set(top.get_column("path")) <= set(
        table.filter(pl.col("conversions") >= expected.get_column("conversions").min())
        .get_column("path")
    )
    table.with_columns(pl.lit(None, pl.Float64).alias("conversions").head(1).append(
        pl.Series([1.0] * 499))).write_parquet(tmp_path / "nulls.parquet")
    nulls = ctx.top("nulls.parquet", "conversions", 15)
    assert nulls is not None
    assert nulls.height == 500
    whole = ctx.top("paths.parquet", "value", 15)
    assert whole is not None
    assert whole.height == 500
    assert ctx.top("missing.parquet", "conversions", 15) is None
