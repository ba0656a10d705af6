"""The report in a real browser: headless Chromium draws every chart, with no console error.

Uses Debian's ``chromium`` and ``chromium-driver`` (``.ci/install-chromium.sh`` installs
them); Selenium is pointed at both binaries so Selenium Manager never downloads anything.
Skipped, with the reason, only where they are missing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import attribution
from attribution.report._page import REPORT_FILE, write_report
from tests.conftest import DemoRun

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps calling home and floods the log with refused connections.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}); "
    "install them with .ci/install-chromium.sh",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A run of the sample data with a few models (markov for the graph), surveys, and the
    hand-made economics / plan / funnel files of test_report."""
    from test_report import write_business_files

    result = attribution.attribute(
        SAMPLE / "touches.parquet",
        SAMPLE / "stages.parquet",
        contacts=SAMPLE / "contacts.parquet",
        models=["first_touch", "linear", "markov"],
    )
    bench = attribution.compare_surveys(result, SAMPLE / "surveys.parquet", bootstrap=50)
    run = result.write(tmp_path / "runs", also=[bench])
    write_business_files(run)
    return write_report(run)


ALL_DRAWN = """
const charts = [...document.querySelectorAll('[data-chart]')];
return charts.length > 0 && charts.every(c => c.querySelector('svg.main-svg'));
"""
SIZES = """
return [...document.querySelectorAll('[data-chart]')].map(c => {
  const r = c.getBoundingClientRect();
  return {id: c.id, width: r.width, height: r.height,
          marks: c.querySelectorAll('.point, .bars path, .scatterlayer .trace').length};
});
"""
HEAT_TABLES = """
return [...document.querySelectorAll('table.heat')].map(t => {
  const r = t.getBoundingClientRect();
  const shades = new Set([...t.querySelectorAll('td')].map(
    td => getComputedStyle(td).backgroundColor));
  return {width: r.width, height: r.height, cells: t.querySelectorAll('td').length,
          shades: shades.size, caption: (t.caption || {}).textContent || ''};
});
"""


def test_report_renders_in_chromium(browser: Any, report: Path, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    page = report.read_text()
    expected = page.count('data-chart="plotly"')
    assert expected + page.count('<table class="heat"') >= 10
    # issue #20: a small page, drawn by the basic plotly.js bundle with nothing fetched
    assert report.stat().st_size < 1_500_000, f"{report.stat().st_size:,} bytes"
    assert "* plotly.js (basic - minified) v" in page
    started = time.perf_counter()
    browser.get(report.as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(ALL_DRAWN))
    charts = browser.execute_script(SIZES)
    assert len(charts) == expected
    for chart in charts:
        assert chart["width"] > 100, chart
        assert chart["height"] > 100, chart
        assert chart["marks"] > 0, f"{chart['id']} drew no bars, points or cells"
    # the heatmaps are shaded tables: shares, Markov transitions, funnel rates by channel
    # and by cohort, each laid out with a caption and several shades
    tables = browser.execute_script(HEAT_TABLES)
    assert len(tables) == 4, tables
    for heat in tables:
        assert heat["width"] > 100, heat
        assert heat["height"] > 40, heat
        assert heat["cells"] >= 4, heat
        assert heat["shades"] >= 3, heat
        assert heat["caption"], heat
    # nothing fetched at view time: the browser saw no request beyond the file itself
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(r => r.name)"
    )
    assert [u for u in fetched if not u.startswith(("data:", "blob:"))] == [], fetched
    severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert severe == [], severe
    for section in ("credit", "economics", "plan", "funnel", "surveys", "markov"):
        assert browser.find_element("id", section).is_displayed()
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(int(height), 16_000))
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"\nscreenshot of {report.parent.name}/{REPORT_FILE}: {shot} "
          f"({len(charts)} charts drawn in {time.perf_counter() - started:.1f}s)")  # fmt: skip


# --- the demo report, as a Head of Growth opens it (issue #20) -------------------------------

ROOT = Path(__file__).resolve().parent.parent
#: where the screenshots and the PDF go (a CI job can keep this folder as its artefacts)
ARTIFACTS = Path(os.environ.get("ATTRIBUTION_TEST_ARTIFACTS", ROOT / ".artifacts" / "browser"))
AXE = Path(__file__).resolve().parent / "assets" / "axe.min.js.gz"
AXE_VERSION, AXE_SIZE = "4.14.1", 653_780
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
FIRST_RENDER_MS = 1000  # issue #20: first render under 1 s
#: the performance entries of the page: navigation, paints, marks and the Element Timing
#: entries of the five answers (each <dd elementtiming="answer-N">)
TIMING = """
const done = arguments[0];
const collect = (elements) => {
  const nav = performance.getEntriesByType('navigation')[0];
  done({
    dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
    paint: Object.fromEntries(performance.getEntriesByType('paint')
      .map(e => [e.name, e.startTime])),
    marks: Object.fromEntries(performance.getEntriesByType('mark')
      .map(e => [e.name, e.startTime])),
    answers: Object.fromEntries(elements.map(e => [e.identifier, e.renderTime || e.loadTime])),
  });
};
const observer = new PerformanceObserver((list) => {
  const found = list.getEntries().filter(e => e.identifier.startsWith('answer-'));
  if (found.length >= 5) { observer.disconnect(); collect(found); }
});
observer.observe({type: 'element', buffered: true});
setTimeout(() => collect([]), 5000);
"""
CHARTS_DRAWN = "return performance.getEntriesByName('attribution-charts-drawn').length > 0"
ANSWERS = """
return [...document.querySelectorAll('#answers .answer')].map(a => ({
  question: a.querySelector('dt').textContent, answer: a.querySelector('dd').innerText,
  visible: a.getBoundingClientRect().bottom <= window.innerHeight}));
"""
AXE_RUN = """
const done = arguments[0];
axe.run(document, {resultTypes: ['violations']}).then(
  (r) => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary)}))),
  (error) => done([{id: 'axe-error', help: String(error)}]));
"""


@pytest.fixture(scope="module")
def demo_report(demo_run: DemoRun) -> Path:
    """The report of ``attribution demo`` (its contact-level run), as a user gets it (the
    session's one demo run, tests/conftest.py)."""
    out, proc = demo_run.out, demo_run.proc
    assert proc.returncode == 0, proc.stderr[-2000:]
    (out / "demo-stdout.txt").write_text(proc.stdout)  # what the CLI printed, to compare
    (run,) = [p for p in (out / "runs").iterdir() if not (p / "accounts.parquet").exists()]
    return run / REPORT_FILE


def axe_source() -> str:
    """The vendored axe-core, checked to be the pinned release (tests/assets/README.md)."""
    source = gzip.decompress(AXE.read_bytes())
    assert len(source) == AXE_SIZE
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256
    assert source.startswith(f"/*! axe v{AXE_VERSION}".encode())
    return source.decode("utf-8")


def test_demo_report_answers_first_fast_and_accessible(browser: Any, demo_report: Path) -> None:
    """The demo report in Chromium: the five answers painted within 1 s with their numbers,
    every chart drawn with a size, no console error, no axe-core violation; screenshots of the
    top screen and the whole page are kept in ARTIFACTS."""
    from selenium.webdriver.support.ui import WebDriverWait

    size = demo_report.stat().st_size
    assert size < 1_500_000, f"{size:,} bytes"
    browser.get("about:blank")  # the browser process is up: the timing is the page's own
    # three loads, the median judged: the machine is shared, one load can be held up by others
    renders, paints = [], []
    for _ in range(3):
        browser.get(demo_report.as_uri())
        timing = browser.execute_async_script(TIMING)
        painted = timing["answers"]
        assert sorted(painted) == [f"answer-{i}" for i in range(1, 6)], timing
        renders.append(max(painted.values()))
        paints.append(timing["paint"]["first-contentful-paint"])
    first_render = statistics.median(renders)
    assert 0 < first_render < FIRST_RENDER_MS, renders
    assert statistics.median(paints) < FIRST_RENDER_MS, paints
    # the five answers, with numbers, on the first screen
    # nothing wider than the window (a long navigation bar once was)
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    answers = {a["question"]: a for a in browser.execute_script(ANSWERS)}
    assert len(answers) == 5, answers
    for answer in answers.values():
        assert answer["visible"], answer
    text = [a["answer"] for a in answers.values()]
    assert re.search(r"Loaded CAC .* runs from \$[0-9,]+ \(\w+\) to \$[0-9,]+", text[0]), text[0]
    assert re.search(r"By segment: \w+ \$[0-9,]+", text[0]), text[0]
    assert re.search(r"at most [0-9]+% of lifetime gross profit", text[1]), text[1]
    assert re.search(r"(breach|Closest inside: \w+ at [0-9.]+%)", text[1]), text[1]
    assert re.search(r"LTV/CAC [0-9.]+× .* payback [0-9.]+ months", text[2]), text[2]
    assert re.search(r"[0-9.]+% advance .* target of [0-9]+%–[0-9]+%", text[3]), text[3]
    assert re.search(r"(Grow|Cut|Keep|Drop) \w+ .*: [0-9]+ of [0-9]+ models agree", text[4]), (
        text[4]
    )
    # every chart drawn, with a size
    WebDriverWait(browser, 60).until(lambda d: d.execute_script(CHARTS_DRAWN))
    charts = browser.execute_script(SIZES)
    assert len(charts) == demo_report.read_text().count('data-chart="plotly"') > 5
    for chart in charts:
        assert chart["width"] > 100, chart
        assert chart["height"] > 100, chart
        assert chart["marks"] > 0, f"{chart['id']} drew no bars, points or cells"
    drawn = browser.execute_script(
        "return performance.getEntriesByName('attribution-charts-drawn')[0].startTime"
    )
    severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert severe == [], severe
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    top = ARTIFACTS / "demo-report-top.png"
    assert browser.save_screenshot(str(top))
    # axe-core on the whole page, charts drawn
    browser.execute_script(axe_source())
    browser.set_script_timeout(120)
    violations = browser.execute_async_script(AXE_RUN)
    assert violations == [], json.dumps(violations, indent=1)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(int(height), 16_000))
    full = ARTIFACTS / "demo-report-full.png"
    assert browser.save_screenshot(str(full))
    assert top.stat().st_size > 10_000
    assert full.stat().st_size > top.stat().st_size
    print(
        f"\ndemo report {size:,} bytes: five answers painted at {first_render:.0f} ms, the "
        f"median of {', '.join(f'{r:.0f}' for r in renders)} ms (first contentful paint "
        f"{', '.join(f'{p:.0f}' for p in paints)} ms; last load's DOMContentLoaded "
        f"{timing['dcl']:.0f} ms), {len(charts)} charts drawn by "
        f"{drawn:.0f} ms; axe-core {AXE_VERSION}: no violation; screenshots {top}, {full}"
    )


def test_demo_report_prints_to_a_clean_pdf(demo_report: Path, tmp_path: Path) -> None:
    """Chromium's --print-to-pdf gives a PDF of the report: the print stylesheet drops the
    navigation and keeps the answers, tables and charts on landscape A4 pages."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / "demo-report.pdf"
    pdf.unlink(missing_ok=True)
    proc = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         f"--print-to-pdf={pdf}", "--no-pdf-header-footer", "--virtual-time-budget=30000",
         demo_report.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-"), data[:20]
    pages = len(re.findall(rb"/Type\s*/Page(?![a-z])", data))
    assert 2 <= pages <= 80, pages
    # landscape A4 (842 x 595 points): the print stylesheet's @page
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", data)
    assert box is not None
    assert float(box.group(1)) > float(box.group(2)), box.group(0)
    print(f"\n{pdf}: {pages} pages, {len(data):,} bytes")


# --- the 90-second read: the page agrees with itself and with the CLI (new-user report 3, 8) --

READ = """
const answers = [...document.querySelectorAll('#answers .answer dd')].map(d => d.innerText);
const findings = [...document.querySelectorAll('.findings li')].map(li => li.innerText);
const lead = document.querySelector('#answers .lead').innerText;
return {answers, findings, lead, text: document.body.innerText};
"""


def test_demo_report_reads_one_way(browser: Any, demo_report: Path) -> None:
    """What the page shows in Chromium (innerText: what a reader sees, closed details left
    out): no inf or NaN anywhere; the findings open with what is short of its published
    range, naming the step the funnel answer shows below its target (never "0 of N fall
    short" beside it); the funnel gap worded as the CLI worded it; the decision model's
    lead does not claim --decision-model set it when the survey chose it."""
    browser.get(demo_report.as_uri())
    page = browser.execute_script(READ)
    shown = re.findall(r"\b(?:inf|-inf|Infinity|NaN|nan)\b", page["text"])
    assert shown == [], shown
    gap = page["answers"][3]
    step = re.match(r"(.+?): [0-9.]+% advance", gap)
    assert step is not None, gap
    below = re.search(r"[0-9.]+ points \([0-9.]+%\) below it", gap)
    assert below is not None, gap
    first = page["findings"][0]
    assert first.startswith("Short of its published range: "), page["findings"]
    count = re.match(r"Short of its published range: (\d+) figure", first)
    assert count is not None, first
    assert int(count.group(1)) >= 1, first
    assert f"the funnel step {step.group(1)} (" in first, first
    assert below.group(0) in first
    # the CLI printed the same gap in the same words
    stdout = (demo_report.parent.parent.parent / "demo-stdout.txt").read_text()
    cli = re.search(r"^Biggest conversion gap: .*$", stdout, re.MULTILINE)
    assert cli is not None
    assert f"({below.group(0)}, short)" in cli.group(0), (cli.group(0), gap)
    # chosen by survey agreement: the lead says how to choose another, not "set with"
    assert "chosen by survey agreement" in page["lead"], page["lead"]
    assert "set with --decision-model" not in page["lead"]
    assert "--decision-model chooses another" in page["lead"]
