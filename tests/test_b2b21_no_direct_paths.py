"""Runs from a path table (``attribute_paths``, ``attribution paths``) tag last_non_direct's
"no direct channel" note as runs from touches do (``note_codes.model_channels``,
b1f2f46): the command line's summary and the report say it, not only manifest.json."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

import attribution
from attribution.cli import app
from attribution.engine._manifest import MODEL_CHANNELS

PATHS = pl.DataFrame(
    {
        "path": ["linkedin > e_mail > direkt", "google_ads > direkt", "e_mail", "linkedin"],
        "conversions": [5, 3, 2, 1],
    }
)


def test_a_path_table_run_codes_the_no_direct_note() -> None:
    result = attribution.attribute_paths(PATHS, models=["last_touch", "last_non_direct"])
    (said,) = result.manifest["note_codes"][MODEL_CHANNELS]
    assert said in result.manifest["notes"]
    assert "'direct' is no channel of the data" in said
    assert "it credits as last_touch does" in said
    # the claim holds: the same credit as last_touch, channel by channel
    credit = result.channel_credit
    shares = {m: dict(credit.filter(pl.col("model") == m).select("channel", "share").iter_rows())
              for m in ("last_touch", "last_non_direct")}  # fmt: skip
    assert shares["last_touch"] == shares["last_non_direct"]
    assert shares["last_touch"]["direkt"] > 0


def test_the_paths_command_and_its_report_say_it(tmp_path: Path) -> None:
    table = tmp_path / "paths.csv"
    PATHS.write_csv(table)
    out = tmp_path / "runs"
    done = CliRunner().invoke(
        app,
        ["paths", str(table), "-m", "last_touch", "-m", "last_non_direct", "--out", str(out)],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    assert "there: it credits as last_touch does" in done.output
    (run,) = out.iterdir()
    from attribution.report import write_report

    html = write_report(run).read_text()
    credit_section = html[html.index('id="credit"'):].split("</section>")[0]
    assert "there: it credits as last_touch does" in credit_section


def test_no_coded_note_once_the_direct_channel_is_named() -> None:
    result = attribution.attribute_paths(
        PATHS, models=["last_touch", "last_non_direct:direct_channels=direkt"]
    )
    assert MODEL_CHANNELS not in (result.manifest.get("note_codes") or {})
    credit = result.channel_credit.filter(pl.col("model") != "last_touch")
    direkt = credit.filter(pl.col("channel") == "direkt").get_column("conversions").sum()
    assert direkt == 0  # no direct-only path: direkt gets nothing
