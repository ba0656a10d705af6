"""Run-time input forms new users met (new-user report 2, "Smaller / docs"): warehouse text
timestamps, semicolon CSVs, naive CRM dates in a time zone, invisible names, a BOM'd truth
file, options given but unused, and the checks a run makes at load."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.inputs import parse_timestamp
from tests.test_no_silent_empty import _cli, _error_line

STAGES = "contact_id,stage,timestamp,value\nc1,closed_won,2025-03-10T00:00:00Z,100\n"


# ------------------------------------------------------------- warehouse text timestamps
def test_postgres_and_bigquery_text_timestamps_are_read() -> None:
    raw = pl.Series(
        [
            "2025-03-05 10:00:00+00",  # psql / COPY TO CSV of a timestamptz
            "2025-03-05 10:00:00.250-08",
            "2025-03-05T10:00+05",
            "2025-03-05 10:00:00 UTC",  # BigQuery's CSV / JSON export
            "2025-03-05 10:00:00.5 UTC",
            "2025-03-05",  # a date: its "-05" is no offset
        ]
    )
    got = pl.select(parse_timestamp(pl.lit(raw))).to_series().to_list()
    assert got == [
        datetime(2025, 3, 5, 10, tzinfo=UTC),
        datetime(2025, 3, 5, 18, 0, 0, 250_000, tzinfo=UTC),
        datetime(2025, 3, 5, 5, tzinfo=UTC),
        datetime(2025, 3, 5, 10, tzinfo=UTC),
        datetime(2025, 3, 5, 10, 0, 0, 500_000, tzinfo=UTC),
        datetime(2025, 3, 5, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    "value",
    ["2025-03-05 10:00:00 EST", "2025-03-05 10:00:00 CET", "2025-03-05 10+00", "03-05 10:00:00+00"],
)
def test_ambiguous_zone_forms_stay_unreadable_with_the_hint(tmp_path: Path, value: str) -> None:
    (tmp_path / "t.csv").write_text(
        f"contact_id,channel,timestamp\nc1,email,2025-03-01 09:00:00+00\nc1,web,{value}\n"
    )
    (tmp_path / "s.csv").write_text(STAGES)
    with pytest.raises(attribution.SchemaError) as info:
        attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
    assert info.value.lines == [3]
    assert "timestamps must be ISO 8601" in str(info.value)


def test_a_run_reads_warehouse_text_like_iso(tmp_path: Path) -> None:
    (tmp_path / "pg.csv").write_text(
        "contact_id,channel,timestamp\nc1,email,2025-03-01 09:00:00+00\n"
        "c1,web,2025-03-05 10:00:00 UTC\n"
    )
    (tmp_path / "iso.csv").write_text(
        "contact_id,channel,timestamp\nc1,email,2025-03-01T09:00:00Z\nc1,web,2025-03-05T10:00:00Z\n"
    )
    (tmp_path / "s.csv").write_text(STAGES)
    credit = [
        attribution.attribute(tmp_path / name, tmp_path / "s.csv", models=["time_decay"])
        .touch_credit.sort("timestamp")
        .select("timestamp", "credit")
        for name in ("pg.csv", "iso.csv")
    ]
    assert credit[0].equals(credit[1])


# ------------------------------------------------------------------- BOM'd JSON and TOML
SAMPLE = Path(__file__).parent.parent / "sample_data"


def test_a_truth_file_with_a_bom_reads_as_without(tmp_path: Path) -> None:
    from attribution.b2b._analysis import _injected_anomalies
    from attribution.b2b._calibration import truth_shares
    from attribution.surveys._truth import read_truth

    plain = SAMPLE / "truth.json"
    bom = tmp_path / "truth.json"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert read_truth(bom) == read_truth(plain)
    assert truth_shares(bom) == truth_shares(plain)
    assert _injected_anomalies(bom) == _injected_anomalies(plain)
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"a": "M\xe9dias"}')
    with pytest.raises(attribution.ConfigError, match=r"truth '.*latin1.json': not UTF-8"):
        read_truth(bad)


def test_a_config_with_a_bom_reads_as_without(tmp_path: Path) -> None:
    from attribution.inputs._config import load_config

    text = '[run]\nlevel = "account"\n[formats]\ntimestamp = "%m/%d/%Y"\n'
    (tmp_path / "plain.toml").write_text(text)
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + text.encode())
    plain, bom = (load_config(tmp_path / f"{n}.toml") for n in ("plain", "bom"))
    assert (bom.run, bom.formats) == (plain.run, plain.formats) != ({}, {})


# ------------------------------------------------------------------------ invisible names
def test_a_name_of_invisible_characters_is_blank_in_a_run(tmp_path: Path) -> None:
    touches = (
        "touch_id,contact_id,channel,timestamp,campaign\n"
        "t1,c1,email,2025-03-01T09:00:00Z,\u200b\n"  # campaign: blank, not a campaign
        "t2,\u200b\u200c,web,2025-03-02T09:00:00Z,spring\n"  # no contact: dropped, counted
        "t3,c1,web,2025-03-03T09:00:00Z,\u2060\ufeff \n"
    )
    (tmp_path / "t.csv").write_text(touches)
    (tmp_path / "s.csv").write_text(STAGES)
    result = attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
    rec = result.manifest["reconciliation"]
    assert rec["touches_dropped"]["missing_contact_id"] == 1
    assert set(result.campaign_credit.get_column("campaign").to_list()) == {"(none)"}
    (tmp_path / "t.csv").write_text(touches.replace(",web,2025-03-03", ",\u200d \u200b,2025-03-03"))
    with pytest.raises(attribution.InputError) as info:
        attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
    assert (info.value.column, info.value.lines) == ("channel", [4])


def test_score_journeys_refuses_an_invisible_channel() -> None:
    journey = {
        "conversion": {"id": "o1", "timestamp": "2025-03-05"},
        "touches": [{"timestamp": "2025-03-01T00:00:00Z", "channel": "\u200b"}],
    }
    with pytest.raises(attribution.InputError, match=r"touches\[0\]\.channel.*non-blank"):
        attribution.score_journeys([journey], models=["linear"])


# ------------------------------------------------------- options unused, checks at load
TOUCHES = (
    "contact_id,channel,timestamp,touch_type\n"
    "c1,email,2025-03-01T09:00:00Z,email\nc1,web,2025-03-02T09:00:00Z,web\n"
)


def test_channel_rules_given_but_unused_are_said_and_checked(tmp_path: Path) -> None:
    from attribution.inputs._taxonomy import default_rules_path

    (tmp_path / "t.csv").write_text(TOUCHES)
    (tmp_path / "s.csv").write_text(STAGES)
    (tmp_path / "rules.toml").write_bytes(default_rules_path().read_bytes())
    base = ["run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear", "--out", "r"]
    proc = _cli(tmp_path, *base, "--channel-rules", "rules.toml")
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "--channel-rules" in line]
    assert notes == [
        "note: --channel-rules 'rules.toml' is not used: the touches have a channel column "
        "('channel'); the rules derive a channel from utm_source / utm_medium only for "
        "touches without one (drop or unmap that column to use them)"
    ]
    # a file that is no rules file is an error even though the run would not read it
    proc = _cli(tmp_path, *base, "--channel-rules", "s.csv")
    assert proc.returncode == 2
    assert "cannot read channel rules" in _error_line(proc)
    # without the option: no note
    proc = _cli(tmp_path, *base)
    assert proc.returncode == 0
    assert "channel-rules" not in proc.stderr


def test_sla_without_its_stages_fails_at_load_naming_no_line(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(TOUCHES)
    (tmp_path / "s.csv").write_text(STAGES + "c1,opportunity,2025-03-05T00:00:00Z,\n")
    proc = _cli(
        tmp_path,
        *("run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear", "--sla"),
        *("--out", "r"),
    )
    assert proc.returncode == 2
    line = _error_line(proc)
    assert "source 's.csv', column 'stage'" in line
    assert "no event is one; the stages found are ['closed_won', 'opportunity']" in line
    assert "lines" not in line  # no row is wrong: none is named
    assert "[load]" not in proc.stderr  # before the run computed anything
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_ctrl_c_during_a_run_says_nothing_was_written(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "attribution.cli", "run", "--touches",
         str(SAMPLE / "touches.parquet"), "--stages", str(SAMPLE / "stages.parquet"),
         "--out", str(out)],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # progress: one line a stage when stderr is not a terminal
        seen.append(line)
        if line.startswith("[journeys]"):
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "Traceback" not in rest
    assert rest.strip().splitlines()[-1] == "interrupted: nothing was written"
    assert not out.exists() or not any(out.iterdir())


# ------------------------------------------------------------------ --timezone ZONE
def test_naive_crm_dates_read_in_the_given_zone(tmp_path: Path) -> None:
    """HubSpot: engagements in UTC with Z, the UI export's close in the portal's local time
    without an offset. Read as UTC, the 9 AM ET touch (14:00Z) lands after the 10 AM ET
    close; read in America/New_York, the close is 15:00Z and the touch is in the journey."""
    (tmp_path / "t.csv").write_text(
        "contact_id,channel,timestamp\nc1,email,2025-03-01T09:00:00Z\n"
        "c1,webinar,2025-03-05T14:00:00Z\n"
    )
    (tmp_path / "s.csv").write_text(
        "contact_id,stage,timestamp,value\nc1,closed_won,2025-03-05 10:00,100\n"
    )

    def touches(**kw: object) -> list[str]:
        result = attribution.attribute(
            tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"], **kw
        )
        return result.touch_credit.sort("timestamp").get_column("channel").to_list()

    assert touches() == ["email"]
    assert touches(timezone="America/New_York") == ["email", "webinar"]
    result = attribution.attribute(
        tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"], timezone="America/New_York"
    )
    assert result.manifest["parameters"]["timezone"] == "America/New_York"
    assert result.conversions.get_column("timestamp").to_list() == [
        datetime(2025, 3, 5, 15, tzinfo=UTC)
    ]
    # a Parquet file's naive datetimes are read in the zone too; aware ones keep theirs
    frame = pl.DataFrame(
        {
            "contact_id": ["c1"],
            "stage": ["closed_won"],
            "timestamp": [datetime(2025, 7, 5, 10)],
        }
    )
    frame.write_parquet(tmp_path / "s.parquet")
    got = attribution.attribute(
        tmp_path / "t.csv",
        tmp_path / "s.parquet",
        models=["linear"],
        timezone="Europe/Berlin",
        allow_empty=True,
    ).conversions.get_column("timestamp")
    assert got.to_list() == [datetime(2025, 7, 5, 8, tzinfo=UTC)]  # CEST, UTC+2


def test_a_time_the_zone_skips_is_an_error_naming_its_line(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "contact_id,channel,timestamp\nc1,email,2025-03-01T09:00:00Z\n"
        "c1,web,2025-03-09 02:30\n"  # 2:30 AM does not exist in New York that night
    )
    (tmp_path / "s.csv").write_text(STAGES)
    with pytest.raises(attribution.SchemaError) as info:
        attribution.attribute(
            tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"], timezone="America/New_York"
        )
    assert info.value.lines == [3]


@pytest.mark.parametrize(
    ("zone", "said"),
    [("America/New York", "did you mean 'America/New_York'?"), ("Mars/Olympus", "IANA"),
     (5, "IANA")],
)  # fmt: skip
def test_a_bad_timezone_is_an_error_naming_the_option(zone: object, said: str) -> None:
    with pytest.raises(attribution.InputError) as info:
        attribution.RunOptions(timezone=zone)  # type: ignore[arg-type]
    assert info.value.option == "timezone"
    assert said in str(info.value)


def test_the_cli_takes_timezone_and_names_it_when_bad(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(TOUCHES)
    (tmp_path / "s.csv").write_text(STAGES)
    base = ["run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear", "--out", "r"]
    proc = _cli(tmp_path, *base, "--timezone", "Europe/Berln")
    assert proc.returncode == 2
    line = _error_line(proc)
    assert line.startswith("error: --timezone: ")
    assert "did you mean 'Europe/Berlin'" in line
    proc = _cli(tmp_path, *base, "--timezone", "Europe/Berlin")
    assert proc.returncode == 0, proc.stderr
    (manifest,) = (tmp_path / "r").glob("*/manifest.json")
    assert '"timezone": "Europe/Berlin"' in manifest.read_text()


FIXTURES = Path(__file__).parent / "fixtures" / "hubspot_ui"


def test_import_timezone_reads_the_ui_export_in_the_portal_zone(tmp_path: Path) -> None:
    """The HubSpot UI export writes the portal's local time without an offset: with
    --timezone America/New_York, 2025-03-15 16:00 (EDT, UTC-4) is 20:00Z; the report says
    the zone; a bad zone is one line naming --timezone."""
    args = ["import", "hubspot", "--contacts", str(FIXTURES / "contacts.csv"), "--deals",
            str(FIXTURES / "deals.csv")]  # fmt: skip
    proc = _cli(tmp_path, *args, "--out", "utc")
    assert proc.returncode == 0, proc.stderr
    proc = _cli(tmp_path, *args, "--out", "ny", "--timezone", "America/New_York")
    assert proc.returncode == 0, proc.stderr
    won = [
        pl.read_parquet(tmp_path / out / "stages.parquet")
        .filter(pl.col("stage") == "closed_won", pl.col("opportunity_id") == "5001")
        .get_column("timestamp")
        .unique()
        .to_list()
        for out in ("utc", "ny")
    ]
    assert won == [
        [datetime(2025, 3, 15, 16, tzinfo=UTC)],
        [datetime(2025, 3, 15, 20, tzinfo=UTC)],
    ]
    report = (tmp_path / "ny" / "import_report.json").read_text()
    assert '"timezone": "America/New_York"' in report
    proc = _cli(tmp_path, *args, "--out", "bad", "--timezone", "US/Eastern Time")
    assert proc.returncode == 2
    assert _error_line(proc).startswith("error: --timezone: timezone must be an IANA")


# -------------------------------------------------------------------- semicolon CSVs
def _semicolons(text: str) -> str:
    return text.replace(",", ";")


def test_a_semicolon_csv_reads_as_its_comma_twin(tmp_path: Path) -> None:
    touches = "contact_id,channel,timestamp\nc1,email,2025-03-01T09:00:00Z\nc1,web,2025-03-02\n"
    stages = "contact_id,stage,timestamp,value\nc1,closed_won,2025-03-10T00:00:00Z,100.5\n"
    for name, text in (("t", touches), ("s", stages)):
        (tmp_path / f"{name}.csv").write_text(text)
        (tmp_path / f"{name}_sc.csv").write_bytes(b"\xef\xbb\xbf" + _semicolons(text).encode())
    comma = attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
    semi = attribution.attribute(tmp_path / "t_sc.csv", tmp_path / "s_sc.csv", models=["linear"])
    assert semi.channel_credit.equals(comma.channel_credit)
    assert semi.manifest["inputs"]["touches"]["separator"] == ";"
    assert "separator" not in comma.manifest["inputs"]["touches"]
    # the CLI says so, one line a file
    proc = _cli(
        tmp_path,
        *("run", "--touches", "t_sc.csv", "--stages", "s_sc.csv", "-m", "linear", "--out", "r"),
    )
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "';'-separated" in line]
    assert [n.split(":")[0] for n in notes] == ["note", "note"]
    assert "touches 't_sc.csv': read as ';'-separated" in notes[0]


def test_a_decimal_comma_in_a_semicolon_file_is_an_error_not_a_misread(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(_semicolons(TOUCHES))
    for value, line in (("1,5", 2), ("1,500", 2)):
        (tmp_path / "s.csv").write_text(
            f"contact_id;stage;timestamp;value\nc1;closed_won;2025-03-10T00:00:00Z;{value}\n"
        )
        with pytest.raises(attribution.SchemaError) as info:
            attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
        assert (info.value.column, info.value.lines) == ("value", [line])
        # '1,500' in a ';' file is 1.5: not read as money (1500); tests/test_fix10_money.py
        never = "a decimal comma ('1,5', or any comma in a ';'-separated file) is never guessed"
        assert never in str(info.value)


def test_a_header_with_both_separators_is_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("contact_id;channel,timestamp\nc1;email,2025-03-01T09:00:00Z\n")
    (tmp_path / "s.csv").write_text(STAGES)
    with pytest.raises(attribution.InputError):
        attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])


def test_import_reads_a_semicolon_export_and_notes_it(tmp_path: Path) -> None:
    from attribution import import_hubspot

    for name in ("contacts", "deals"):
        text = (FIXTURES / f"{name}.csv").read_text()
        # the fixture's id lists use ';' inside cells: quoted in a ';' file, as Excel does
        rows = [
            ";".join(f'"{cell}"' for cell in row)
            for row in pl.read_csv(FIXTURES / f"{name}.csv", infer_schema=False)
            .fill_null("")
            .rows()
        ]
        header = ";".join(pl.read_csv(FIXTURES / f"{name}.csv", n_rows=0).columns)
        (tmp_path / f"{name}.csv").write_text("\n".join([header, *rows]) + "\n")
        assert "," in text
    comma = import_hubspot(FIXTURES / "contacts.csv", FIXTURES / "deals.csv")
    semi = import_hubspot(tmp_path / "contacts.csv", tmp_path / "deals.csv")
    assert semi.stages.equals(comma.stages)
    assert semi.touches.equals(comma.touches)
    notes = [n for n in semi.report["notes"] if "';'-separated" in n]
    assert len(notes) == 2


def test_nights_on_naive_parquet_in_a_zone_equal_a_full_run(tmp_path: Path) -> None:
    """--state on Parquet files whose timestamps carry no zone, read in --timezone: the
    night's cutoff is compared on that zone's clock, so the night reads the rows a full run
    reads (on UTC's clock it lost the rows of the zone's offset after the cut)."""
    from datetime import timedelta

    from attribution.engine._incremental import attribute_incremental

    zone = "America/Phoenix"  # UTC-7 all year: no skipped hour in the sample
    touches = pl.read_parquet(SAMPLE / "touches.parquet").with_columns(
        pl.col("timestamp").dt.replace_time_zone(None)
    )
    stages = pl.read_parquet(SAMPLE / "stages.parquet").with_columns(
        pl.col("timestamp").dt.replace_time_zone(None)
    )
    cut = datetime(2025, 9, 1)
    first, full = tmp_path / "first", tmp_path / "full"
    for folder, keep in ((first, pl.col("timestamp") < cut), (full, pl.lit(True))):
        folder.mkdir()
        touches.filter(keep).write_parquet(folder / "t.parquet")
        stages.filter(keep).write_parquet(folder / "s.parquet")
    assert touches.filter(
        (pl.col("timestamp") >= cut) & (pl.col("timestamp") < cut + timedelta(hours=7))
    ).height
    options = {"models": ["linear"], "timezone": zone, "state": tmp_path / "state"}
    attribute_incremental(first / "t.parquet", first / "s.parquet", **options)
    night = attribute_incremental(full / "t.parquet", full / "s.parquet", **options)
    assert night.manifest["parameters"]["incremental"]["mode"] == "incremental"
    whole = attribution.attribute(
        full / "t.parquet", full / "s.parquet", models=["linear"], timezone=zone
    )
    assert (
        night.manifest["reconciliation"]["touches_in"]
        == whole.manifest["reconciliation"]["touches_in"]
    )
    got, want = (r.channel_credit.sort("model", "channel") for r in (night, whole))
    assert got.get_column("channel").to_list() == want.get_column("channel").to_list()
    assert got.get_column("conversions").to_list() == pytest.approx(
        want.get_column("conversions").to_list(), abs=1e-9
    )


# ------------------------------------------- invisible characters inside a name, controls
def test_invisible_characters_inside_a_name_are_removed_and_counted(tmp_path: Path) -> None:
    """``linkedin<U+200B>`` beside ``linkedin`` was a look-alike channel that took credit."""
    (tmp_path / "t.csv").write_text(
        "touch_id,contact_id,channel,timestamp,campaign\n"
        "t1,c1,linkedin,2025-03-01T09:00:00Z,spring\n"
        "t2,c2,linked\u200bin,2025-03-02T09:00:00Z,spring\u2060\n"
        "t3,c3,\ufeffLinkedIn\u200d,2025-03-03T09:00:00Z,spr\u200cing\n"
    )
    (tmp_path / "s.csv").write_text(
        "contact_id,stage,timestamp,value\n"
        "c1,closed_won,2025-03-10T00:00:00Z,100\n"
        "c2,closed_won\u200b,2025-03-10T00:00:00Z,100\n"
        "c3,closed\u2060_won,2025-03-10T00:00:00Z,100\n"
    )
    result = attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
    assert result.channel_credit.get_column("channel").unique().to_list() == ["linkedin"]
    assert result.channel_credit.get_column("conversions").sum() == pytest.approx(3.0)
    assert set(result.campaign_credit.get_column("campaign").to_list()) == {"spring"}
    rec = result.manifest["reconciliation"]
    assert set(rec["channel_values_renamed"]) == {"linked\u200bin", "\ufeffLinkedIn\u200d"}
    assert set(rec["stage_values_renamed"]) == {"closed_won\u200b", "closed\u2060_won"}


@pytest.mark.parametrize(("column", "cell"), [("channel", "link\x00edin"), ("Contact", "c\x012")])
def test_a_control_character_in_a_name_or_id_is_refused(
    tmp_path: Path, column: str, cell: str
) -> None:
    """A NUL inside ``linkedin`` printed as ``linkedin`` and took credit, exit 0; the service
    refused it. One rule: the file, the user's column and the 1-based line, no NUL printed."""
    rows = [["t1", "c1", "linkedin"], ["t2", "c2", "email"], ["t3", "c3", "web"]]
    rows[1][2 if column == "channel" else 1] = cell
    (tmp_path / "t.csv").write_text(
        "touch_id,Contact,channel,timestamp\n"
        + "".join(f"{a},{b},{c},2025-03-0{i + 1}T09:00:00Z\n" for i, (a, b, c) in enumerate(rows))
    )
    (tmp_path / "s.csv").write_text(STAGES)
    (tmp_path / "run.toml").write_text('[columns.touches]\ncontact_id = "Contact"\n')
    proc = _cli(
        tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "--config", "run.toml",
        "-m", "linear", "--out", "out",
    )  # fmt: skip
    line = _error_line(proc)
    assert proc.returncode == 2
    assert "\x00" not in proc.stderr + proc.stdout
    assert "t.csv" in line, line
    assert f"column '{column}'" in line, line
    assert "lines: 3)" in line, line
    assert "control character" in line


# ------------------------------------------------------- UTF-16 files, CR-only line ends
_TOUCHES = "touch_id,contact_id,channel,timestamp\nt1,c1,email,2025-03-01T09:00:00Z\n"


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("t.txt", _TOUCHES.replace(",", "\t").encode("utf-16-le"), "UTF-16 text"),  # Excel
        ("t.csv", _TOUCHES.replace("\n", "\r").encode(), "carriage return alone"),
    ],
)
def test_a_utf16_or_cr_only_file_is_named_in_one_line(
    tmp_path: Path, name: str, data: bytes, said: str
) -> None:
    """A UTF-16 CSV got 'required column is missing' listing NUL-padded column names."""
    (tmp_path / name).write_bytes(data)
    (tmp_path / "s.csv").write_text(STAGES)
    proc = _cli(tmp_path, "run", "--touches", name, "--stages", "s.csv", "-m", "linear")
    line = _error_line(proc)
    assert proc.returncode == 2
    assert "\x00" not in proc.stderr + proc.stdout
    assert "\ufffd" not in proc.stderr
    assert said in line, line
    assert f"source '{name}'" in line, line
    with pytest.raises(attribution.InputError, match=said):
        attribution.attribute(tmp_path / name, tmp_path / "s.csv", models=["linear"])


@pytest.mark.parametrize(
    "data",
    [
        _TOUCHES.replace("\n", "\r\n").encode("utf-16"),  # BOM
        _TOUCHES.encode("utf-16-be"),  # no BOM: every other byte NUL
    ],
)
def test_a_utf16_csv_is_read_and_said(tmp_path: Path, data: bytes) -> None:
    """Session 22: run decodes a UTF-16 CSV as import ads does (inputs/_utf16.py); the two
    cases above it named in one line before."""
    (tmp_path / "t.csv").write_bytes(data)
    (tmp_path / "s.csv").write_text(STAGES)
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear")
    assert proc.returncode == 0, proc.stderr
    assert "\x00" not in proc.stderr + proc.stdout
    assert "NOTE: touches 't.csv': the file is UTF-16 text: read as such" in proc.stderr


# ------------------------------------------------------------ doubled quotes in a header
def test_a_quoted_headers_doubled_quotes_are_one_quote_in_a_run(tmp_path: Path) -> None:
    # a quoted header 'contact ""id""' was read with both pairs; the importers read one quote
    (tmp_path / "t.csv").write_text(
        'touch_id,"contact ""id""",channel,timestamp\nt1,c1,email,2025-03-01T09:00:00Z\n'
    )
    (tmp_path / "s.csv").write_text(STAGES)
    options = attribution.RunOptions(
        models=["linear"], columns={"touches": {"contact_id": 'contact "id"'}}
    )
    result = attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", options=options)
    assert result.channel_credit.get_column("channel").to_list() == ["email"]
    assert result.channel_credit.get_column("conversions").sum() == pytest.approx(1.0)
