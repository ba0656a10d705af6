"""A German user's touches name their direct visits ``Direkt`` (new-user report, session
20): ``last_non_direct`` then finds no direct channel and credits exactly as
``last_touch``; the note saying so was only in manifest.json. Now the command line's summary
and the report say it too (a coded note: ``note_codes.model_channels``)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from attribution.cli import app
from attribution.engine._manifest import MODEL_CHANNELS

CHANNELS = ("LinkedIn", "E-Mail", "Google Ads", "Direkt")


def _files(tmp_path: Path) -> tuple[Path, Path]:
    touches = "Kontakt-ID;Datum;Kanal\n" + "".join(
        f"K{i};{1 + j:02d}.03.2025;{CHANNELS[(i + j) % 4]}\n" for i in range(12)
        for j in range(1 + i % 3)
    )  # fmt: skip
    stages = "Kontakt-ID;Datum;Phase;Betrag\n" + "".join(
        f"K{i};20.03.2025;Gewonnen;{1000 + 100 * i}\n" for i in range(12)
    )
    (tmp_path / "touches.csv").write_text(touches)
    (tmp_path / "stages.csv").write_text(stages)
    config = tmp_path / "run.toml"
    config.write_text(
        '[inputs]\ntouches = "touches.csv"\nstages = "stages.csv"\n'
        '[run]\nout = "runs"\n[stage_names]\nclosed_won = "Gewonnen"\n'
        '[columns.touches]\ncontact_id = "Kontakt-ID"\ntimestamp = "Datum"\nchannel = "Kanal"\n'
        '[columns.stages]\ncontact_id = "Kontakt-ID"\ntimestamp = "Datum"\nstage = "Phase"\n'
        'value = "Betrag"\n[formats]\ntimestamp = ["%d.%m.%Y"]\n'
    )
    return config, tmp_path / "runs"


def _run(config: Path, out: Path, *models: str) -> tuple[str, Path]:
    args = ["run", "-c", str(config), "--out", str(out)]
    for m in models:
        args += ["-m", m]
    done = CliRunner().invoke(app, args, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    (path,) = out.iterdir()
    return done.output, path


def test_no_direct_channel_is_said_in_the_summary_and_the_report(tmp_path: Path) -> None:
    config, out = _files(tmp_path)
    output, path = _run(config, out, "linear", "last_touch", "last_non_direct")
    manifest = json.loads((path / "manifest.json").read_text())
    (said,) = manifest["note_codes"][MODEL_CHANNELS]
    assert said in manifest["notes"]
    assert "'direct' is no channel of the data" in said
    assert "there: it credits as last_touch does" in said
    # the claim holds: the same credit as last_touch, channel by channel
    credit = pl.read_parquet(path / "channel_credit.parquet")
    shares = {m: dict(credit.filter(pl.col("model") == m).select("channel", "share").iter_rows())
              for m in ("last_touch", "last_non_direct")}  # fmt: skip
    assert shares["last_touch"] == shares["last_non_direct"]
    assert f"Note: {said}." in output  # the command line's summary
    from attribution.report import write_report

    html = write_report(path).read_text()
    credit_section = html[html.index('id="credit"'):]
    assert "there: it credits as last_touch does" in credit_section.split("</section>")[0]
    findings = html[html.index("More findings"):]
    assert "there: it credits as last_touch does" in findings.split("</ul>")[0]


def test_no_note_once_the_direct_channel_is_named(tmp_path: Path) -> None:
    config, out = _files(tmp_path)
    output, path = _run(config, out, "last_touch", "last_non_direct:direct_channels=direkt")
    manifest = json.loads((path / "manifest.json").read_text())
    assert MODEL_CHANNELS not in (manifest.get("note_codes") or {})
    assert "credits as last_touch does" not in output
    credit = pl.read_parquet(path / "channel_credit.parquet")
    direkt = dict(credit.filter(pl.col("channel") == "direkt").select("model", "share").iter_rows())
    (other,) = set(direkt) - {"last_touch"}
    # a direct visit keeps credit only in a journey of direct visits alone
    assert 0 < direkt[other] < direkt["last_touch"]
