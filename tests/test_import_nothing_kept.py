"""review20 #3: an import that keeps nothing (every row dropped) wrote empty tables, printed
a next command and exited 0; it exits 3 (an empty answer, as ``attribution run``), with one
line saying what was dropped (counted by reason), and writes nothing."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from attribution import import_ga4, import_pipedrive
from attribution.cli._app import app
from tests.test_import_ads import GOOGLE, write
from tests.test_import_ga4 import EVENTS
from tests.test_import_ga4 import HEADER as GA4_HEADER
from tests.test_import_ga4 import export as ga4_export
from tests.test_import_pipedrive import HEADER, ROWS
from tests.test_import_pipedrive import export as pipedrive_export


def _ads(*args: str) -> object:
    return CliRunner().invoke(app, ["import", "ads", *args])


def _nothing_kept(result: object, out: Path, *expected: str) -> None:
    output = getattr(result, "output", "")
    assert getattr(result, "exit_code", None) == 3, output
    line = " ".join(output.split())
    assert "the import kept nothing" in line
    for text in expected:
        assert text in line
    assert "next" not in line
    assert not out.exists()


def test_a_pipedrive_import_keeping_no_deal_exits_3_saying_why(tmp_path: Path) -> None:
    """review20 #3: every deal dropped, the import wrote empty tables, printed a next
    command and exited 0."""
    rows = [r[:] for r in ROWS[:2]]
    rows[0][5], rows[1][3] = "deleted", "USD"
    rows[1][0] = ""
    deals = pipedrive_export(tmp_path / "deals.csv", HEADER, rows)
    out = tmp_path / "crm"
    result = CliRunner().invoke(app, ["import", "pipedrive", "--deals", str(deals),
                                      "--out", str(out)])  # fmt: skip
    _nothing_kept(
        result, out, "deals: 2 row(s) read, 0 kept", "1 no deal id in 'Deal - ID'",
        "1 deleted deal", f"nothing was written to {out}",
    )  # fmt: skip
    # the library still returns the (empty) import: the command is what refuses it
    assert import_pipedrive(deals).stages.height == 0


def test_a_ga4_import_keeping_no_event_exits_3(tmp_path: Path) -> None:
    row = dict(zip(GA4_HEADER, EVENTS[0], strict=True))
    no_pseudo = [("" if c == "user_pseudo_id" else v) for c, v in row.items()]
    no_session = [("" if c == "ga_session_id" else v) for c, v in row.items()]
    events = ga4_export(tmp_path / "events.csv", [no_pseudo, no_session])
    out = tmp_path / "web"
    result = CliRunner().invoke(app, ["import", "ga4", "--events", str(events),
                                      "--out", str(out)])  # fmt: skip
    _nothing_kept(
        result, out, "events: 2 row(s) read, 0 kept", "1 no user_pseudo_id", "1 no ga_session_id"
    )
    assert import_ga4(events).touches.height == 0


def test_an_ads_import_of_total_rows_only_exits_3(tmp_path: Path) -> None:
    totals = "\n".join(line for line in GOOGLE.splitlines() if not line.startswith("2025"))
    out = tmp_path / "ads"
    result = _ads("--google-ads", str(write(tmp_path / "g.csv", totals + "\n")), "--out", str(out))
    _nothing_kept(result, out, "google_ads: 2 row(s) read, 0 kept", "2 the report's total row")


def test_an_import_keeping_something_still_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "ads"
    result = _ads("--google-ads", str(write(tmp_path / "g.csv", GOOGLE)), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "spend.parquet").is_file()
