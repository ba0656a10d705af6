"""The report in a real browser: headless Chromium draws every chart, with no console error.

Uses Debian's ``chromium`` and ``chromium-driver`` (``.ci/install-chromium.sh`` installs
them); Selenium is pointed at both binaries so Selenium Manager never downloads anything.
Skipped, with the reason, only where they are missing.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import attribution
from attribution.report._page import REPORT_FILE, write_report

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
