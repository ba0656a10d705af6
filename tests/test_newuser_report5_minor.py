"""New-user report 5's minor defects: what the library and the report say when the input or
the output path is not what they take (#13, #15, #17, #19, #31, #33, #38), and the economics'
segment figures (#9, #30). Each test fails on the code before its fix."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.report._page import render_report

DATA = Path(__file__).resolve().parents[1] / "sample_data"
STAGES = pl.DataFrame({"contact_id": ["c"], "stage": ["closed_won"],
                       "timestamp": ["2025-12-05T00:00:00"]})


def _touches(*stamps: str) -> pl.DataFrame:
    return pl.DataFrame({"contact_id": ["c"] * len(stamps),
                         "channel": [f"ch{i}" for i in range(len(stamps))],
                         "timestamp": list(stamps)})


def test_33_writing_into_a_path_through_a_file_is_an_attribution_error(tmp_path: Path) -> None:
    result = attribution.attribute(_touches("2025-12-01T09:00:00"), STAGES, models=["linear"])
    (tmp_path / "afile").write_text("x")
    with pytest.raises(attribution.OutputPathError) as info:
        result.write(tmp_path / "afile" / "sub", report=False)
    assert isinstance(info.value, attribution.AttributionError)
    assert isinstance(info.value, NotADirectoryError)  # as before, for callers catching it
    assert str(info.value) == (f"'{tmp_path / 'afile' / 'sub'}' is not a directory "
                               f"('{tmp_path / 'afile'}' is a file): give a directory to "
                               "write into")


def test_19_13_a_directory_a_workbook_and_pandas_say_what_they_are(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    with pytest.raises(attribution.InputError, match="is a directory, not a file") as info:
        attribution.attribute(tmp_path / "parts", STAGES, models=["linear"])
    assert "pl.scan_parquet(" in str(info.value)
    (tmp_path / "t.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(attribution.InputError, match=r"a spreadsheet workbook \('.xlsx'\) is "
                       r"not read\. Hint: save the sheet as CSV"):
        attribution.attribute(tmp_path / "t.xlsx", STAGES, models=["linear"])
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"contact_id": ["c"]})
    with pytest.raises(attribution.InputError, match=r"got a pandas DataFrame\. Hint: pass "
                       r"pl\.from_pandas\(df\)"):
        attribution.attribute(frame, STAGES, models=["linear"])


def test_15_a_zone_name_gets_its_hint_and_gmt_is_read() -> None:
    with pytest.raises(attribution.SchemaError, match=r"a zone name \('EST'\) is not read .*"
                       r"write the offset .*--timezone"):
        attribution.attribute(_touches("2025-12-01 09:00:00 EST"), STAGES, models=["linear"])
    result = attribution.attribute(_touches("2025-12-01 09:00:00 GMT"), STAGES,
                                   models=["linear"])
    assert result.touch_credit.get_column("timestamp").dt.hour().to_list() == [9]


def test_31_a_local_time_the_zone_skips_is_said_so() -> None:
    touches = _touches("2025-03-09T02:30:00", "2025-11-02T01:30:00")
    with pytest.raises(attribution.SchemaError) as info:
        attribution.attribute(touches, STAGES, models=["linear"], lookback="365d",
                              timezone="America/New_York")
    text = str(info.value)
    assert "'2025-03-09T02:30:00' does not exist in America/New_York (the clocks skip" in text
    assert "ISO 8601" not in text  # the format is fine: not sent to fix it


@pytest.fixture(scope="module")
def no_value_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with spend and won deals without a value (report 5 #38)."""
    stages = pl.read_parquet(DATA / "stages.parquet").drop("value")
    result = attribution.attribute(DATA / "touches.parquet", stages, models=["linear"])
    b2b = attribution.analyse(result, attribution.B2BInputs(stages=stages,
                                                             spend=DATA / "spend.parquet"))
    return result.write(tmp_path_factory.mktemp("runs"), also=b2b.outputs)


def test_38_payback_without_deal_values_says_not_measured(no_value_run: Path) -> None:
    page = render_report(no_value_run)
    start = page.index("Do customers pay back?")
    answer = page[start:page.index("</dd>", start)]
    assert "Blended LTV/CAC and payback: not measured: won deals carry no value" in answer
    assert "–×" not in answer
    assert "– months" not in answer


def test_17_a_report_without_spend_says_how_to_get_the_answers(tmp_path: Path) -> None:
    result = attribution.attribute(DATA / "touches.parquet", DATA / "stages.parquet",
                                   models=["linear"])
    page = render_report(result.write(tmp_path))
    assert 'id="no-answers"' in page
    assert "need the media spend" in page
    assert "<code>--spend SPEND</code>" in page


def test_9_30_segment_economics(tmp_path: Path) -> None:
    result = attribution.attribute(DATA / "touches.parquet", DATA / "stages.parquet",
                                   contacts=DATA / "contacts.parquet", models=["last_non_direct"],
                                   bootstrap=20)
    # 30: a segment no account has is refused with a did-you-mean
    with pytest.raises(attribution.ModelParameterError,
                       match="names the segment 'enterprize', .*did you mean 'enterprise'"):
        attribution.unit_economics(result, DATA / "spend.parquet",
                                   accounts=DATA / "accounts.parquet",
                                   gross_margin={"smb": 0.7, "enterprize": 0.85})
    # 9: a channel x segment with spend and no customer says so once, not "not measured"
    econ = attribution.unit_economics(result, DATA / "spend.parquet",
                                      accounts=DATA / "accounts.parquet")
    empty = econ.segments.filter((pl.col("customers") == 0) & (pl.col("spend") > 0))
    assert empty.height
    page = render_report(result.write(tmp_path, also=[econ]))
    assert "not measured (0 customers)" not in page
    assert "of spend: CAC unbounded" in page
