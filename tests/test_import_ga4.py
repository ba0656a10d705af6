"""``attribution import ga4``: a GA4 event export (BigQuery, flattened; CSV or Parquet) ->
one touch per session at its first event, visitors stitched to their logged-in user id,
exact duplicates counted and dropped, channels from the session source / medium; errors
name the file, the user's column and the lines (a Parquet file's rows). And the end-to-end
path: ``import pipedrive`` + ``import ga4`` straight through ``attribution run``."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from attribution import ColumnNotFoundError, SchemaError, import_ga4
from attribution.cli._app import app
from attribution.importers._ga4 import BUSY_PSEUDO_ID

HEADER = [
    "event_date", "event_timestamp", "event_name", "user_pseudo_id", "user_id",
    "session_source", "session_medium", "session_campaign", "ga_session_id", "geo_country",
]  # fmt: skip
T0 = 1_750_000_000_000_000  # 2025-06-15 15:06:40 UTC, in microseconds


def us(seconds: int) -> str:
    return str(T0 + seconds * 1_000_000)


def event(
    seconds: int, name: str, pseudo: str, user: str, source: str, medium: str, session: str,
    campaign: str = "(not set)",
) -> list[str]:
    return ["20250615", us(seconds), name, pseudo, user, source, medium, campaign, session, "DE"]


#: p1 logs in on its second session (stitched back to the first); p2 never logs in; p3 is a
#: shared device with two user ids; one row repeated exactly
EVENTS = [
    event(0, "session_start", "p1", "", "google", "cpc", "s1", "brand"),
    event(30, "page_view", "p1", "", "google", "cpc", "s1", "brand"),
    event(3600, "session_start", "p1", "Ann@Acme.com", "newsletter", "email", "s2"),
    event(3630, "form_submit", "p1", "Ann@Acme.com", "newsletter", "email", "s2"),
    event(3630, "form_submit", "p1", "Ann@Acme.com", "newsletter", "email", "s2"),
    event(100, "session_start", "p2", "", "(direct)", "(none)", "s9"),
    event(200, "session_start", "p3", "bo@globex.com", "linkedin", "paid_social", "s1"),
    event(900, "session_start", "p3", "cy@globex.com", "linkedin", "paid_social", "s2"),
    event(1800, "session_start", "p3", "", "bing", "organic", "s3"),
]


def export(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def touches_by_id(frame: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {row["touch_id"]: row for row in frame.iter_rows(named=True)}


def test_one_touch_per_session_stitched_to_the_user_id(tmp_path: Path) -> None:
    result = import_ga4(export(tmp_path / "events.csv", EVENTS))
    touches = touches_by_id(result.touches)
    assert set(touches) == {"p1:s1", "p1:s2", "p2:s9", "p3:s1", "p3:s2", "p3:s3"}
    # the session before the login takes the pseudo id's one user id, lower-cased
    assert touches["p1:s1"]["contact_id"] == "ann@acme.com"
    assert touches["p1:s1"]["channel"] == "google_ads"
    assert touches["p1:s1"]["campaign"] == "brand"
    assert touches["p1:s1"]["timestamp"] == datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)
    assert touches["p1:s2"]["channel"] == "email"
    assert touches["p2:s9"]["contact_id"] is None  # never logged in: the run counts it
    # a shared device: each logged-in session keeps its own id, the other is not stitched
    assert [touches[f"p3:s{i}"]["contact_id"] for i in (1, 2, 3)] == [
        "bo@globex.com", "cy@globex.com", None,
    ]  # fmt: skip
    counts = result.report["counts"]
    assert counts["sessions"] == 6
    assert (counts["sessions_logged_in"], counts["sessions_stitched"]) == (3, 1)
    assert counts["sessions_anonymous"] == 1
    assert counts["pseudo_ids_with_several_user_ids"] == 1
    assert counts["sessions_of_pseudo_ids_with_several_user_ids"] == 1
    assert result.report["drops"] == [
        {"file": "events", "reason": "exact duplicate (every cell equal to an earlier row)",
         "count": 1},
    ]  # fmt: skip
    assert result.report["files"]["events"]["rows_kept"] == len(EVENTS) - 1
    assert result.stages.height == 0
    assert result.contacts.height == 0


def test_bigquery_text_timestamps_and_parquet_read_alike(tmp_path: Path) -> None:
    """BigQuery's text form and a Parquet export with INT64 microseconds give the same
    touches as the CSV of epoch microseconds."""
    csv_result = import_ga4(export(tmp_path / "events.csv", EVENTS))
    as_text = [list(r) for r in EVENTS]
    for row in as_text:
        stamp = datetime.fromtimestamp(int(row[1]) / 1e6, tz=UTC)
        row[1] = stamp.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    text_result = import_ga4(export(tmp_path / "text.csv", as_text))
    frame = pl.read_csv(tmp_path / "events.csv", infer_schema=False).with_columns(
        pl.col("event_timestamp").cast(pl.Int64), pl.col("user_id").replace("", None)
    )
    frame.write_parquet(tmp_path / "events.parquet")
    parquet_result = import_ga4(tmp_path / "events.parquet")
    assert text_result.touches.equals(csv_result.touches)
    assert parquet_result.touches.equals(csv_result.touches)


def test_rows_without_a_pseudo_id_or_session_are_counted_drops(tmp_path: Path) -> None:
    rows = [
        *EVENTS[:2],
        event(5, "page_view", "", "", "google", "cpc", "s1"),
        event(6, "page_view", "p1", "", "google", "cpc", ""),
    ]
    result = import_ga4(export(tmp_path / "events.csv", rows))
    drops = {d["reason"]: d["count"] for d in result.report["drops"]}
    assert drops == {"no user_pseudo_id in 'user_pseudo_id'": 1,
                     "no ga_session_id in 'ga_session_id'": 1}  # fmt: skip
    assert result.touches.height == 1


def test_a_bad_timestamp_names_the_file_the_column_and_the_lines(tmp_path: Path) -> None:
    rows = [list(r) for r in EVENTS]
    rows[3][1] = "yesterday"  # file line 5
    path = export(tmp_path / "events.csv", rows)
    with pytest.raises(SchemaError) as caught:
        import_ga4(path)
    text = str(caught.value)
    assert str(path) in text
    assert "'event_timestamp'" in text
    assert "line(s) 5" in text
    assert "epoch microseconds" in text
    frame = pl.read_csv(path, infer_schema=False)
    frame.write_parquet(tmp_path / "events.parquet")
    with pytest.raises(SchemaError, match=r"'yesterday', at row\(s\) 4"):
        import_ga4(tmp_path / "events.parquet")


def test_missing_session_column_and_nested_parquet_are_errors(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "ga_session_id"]
    rows = [[c for h, c in zip(HEADER, r, strict=True) if h != "ga_session_id"] for r in EVENTS]
    with pytest.raises(ColumnNotFoundError, match="no column for 'ga_session_id'"):
        import_ga4(export(tmp_path / "events.csv", rows, header))
    nested = pl.DataFrame({"event_timestamp": [T0], "event_params": [[{"key": "a"}]]})
    nested.write_parquet(tmp_path / "raw.parquet")
    with pytest.raises(SchemaError, match="flatten it"):
        import_ga4(tmp_path / "raw.parquet")


def test_a_50000_event_bot_is_grouped_not_looped(tmp_path: Path) -> None:
    """One pseudo id with 50,000 events in 500 sessions: 500 touches, named in a note."""
    n = 50_000
    bot = pl.DataFrame(
        {
            "event_timestamp": pl.int_range(0, n, eager=True) * 1_000_000 + T0,
            "event_name": ["page_view"] * n,
            "user_pseudo_id": ["bot"] * n,
            "user_id": ["qa@acme.com"] * n,
            "session_source": ["(direct)"] * n,
            "session_medium": ["(none)"] * n,
            "ga_session_id": (pl.int_range(0, n, eager=True) // 100).cast(pl.String),
        }
    )
    bot.write_parquet(tmp_path / "bot.parquet")
    result = import_ga4(tmp_path / "bot.parquet")
    assert result.touches.height == 500
    assert result.report["counts"]["busy_pseudo_ids"] == 1
    assert result.report["counts"]["sessions_without_session_start"] == 500
    assert any(f"{BUSY_PSEUDO_ID:,} events or more" in n and "'bot'" in n
               for n in result.report["notes"])  # fmt: skip


def _deals(path: Path) -> Path:
    header = ["Deal - ID", "Deal - Value", "Deal - Currency", "Deal - Status", "Deal - Won time",
              "Deal - Lost time", "Deal - Deal created", "Person - Email", "Organization - Name"]
    rows = [
        ["1", "1000", "EUR", "won", "2025-06-16 10:00:00", "", "2025-06-15 18:00:00",
         "ANN@acme.com", "Acme"],
        ["2", "500", "USD", "lost", "", "2025-06-20 10:00:00", "2025-06-15 19:00:00",
         "bo@globex.com", "Globex"],
        ["3", "700", "USD", "won", "2025-06-18 10:00:00", "", "2025-06-15 20:00:00",
         "dee@hooli.com", "Hooli"],
    ]  # fmt: skip
    return export(path, rows, header)


def test_pipedrive_and_ga4_imports_run_straight_through(tmp_path: Path) -> None:
    """The two imports, one config (``[inputs] import`` for the deals, ``touches`` for the
    sessions), one ``attribution run``: Ann's two sessions (one before her login) earn her
    EUR deal's conversion; Dee has no web session (a conversion without touches)."""
    runner = CliRunner()
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,rate\nUSD,1\nEUR,1.08\n", encoding="utf-8")
    pd = runner.invoke(app, ["import", "pipedrive", "--deals", str(_deals(tmp_path / "d.csv")),
                             "--currency-rates", str(rates), "--out", str(tmp_path / "crm")])
    assert pd.exit_code == 0, pd.output
    web = runner.invoke(app, ["import", "ga4", "--events",
                              str(export(tmp_path / "events.csv", EVENTS)),
                              "--out", str(tmp_path / "web")])  # fmt: skip
    assert web.exit_code == 0, web.output
    assert "touches (sessions): 6; next" in web.output
    (tmp_path / "run.toml").write_text(
        '[inputs]\nimport = "crm"\ntouches = "web/touches.parquet"\n\n'
        '[run]\nlevel = "contact"\nmodels = ["linear"]\nlookback = "30d"\nout = "runs"\n',
        encoding="utf-8",
    )
    run = runner.invoke(app, ["run", "-c", str(tmp_path / "run.toml")])
    assert run.exit_code == 0, run.output
    assert "conversions 2: attributed 1, without touches 1" in run.output
    (manifest,) = (tmp_path / "runs").glob("*/manifest.json")
    totals = json.loads(manifest.read_text())["totals"]
    assert totals["conversions_value"] == pytest.approx(1000 * 1.08 + 700)
    credit = pl.read_parquet(manifest.parent / "channel_credit.parquet")
    shares = dict(credit.select("channel", "conversions").iter_rows())
    assert shares == pytest.approx({"google_ads": 0.5, "email": 0.5})
