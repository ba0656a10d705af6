"""Reading real exports (attribution/inputs/_reading.py): blank cells, timestamp formats,
errors that name the user's column and the file's lines."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import attribution
from attribution.engine._partitioned import attribute_partitioned
from attribution.inputs import (
    blanks_as_null,
    check_parsed,
    locate,
    parse_date,
    parse_timestamp,
    read_source,
)
from attribution.inputs._config import load_config
from attribution.inputs._reading import (
    BLANK_CHARS,
    blank_free,
    frame_blanks_as_null,
    parquet_text_bounds,
)
from attribution.inputs._schema import SPEND, STAGES, TOUCHES, load

US = ["%m/%d/%Y %I:%M %p", "%m/%d/%Y"]

# Shaped like a Salesforce Data Loader export: every field quoted, quoted blanks, US dates.
TOUCHES_CSV = """\
"Id","ContactId","CampaignType","FirstRespondedDate","Cost"
"t1","c1","LinkedIn","2/21/2025 1:19 PM",""
"t2","c1","Webinar","3/1/2025 9:05 AM","  "
"t3","","Email","3/2/2025 9:05 AM",""
"t4","c2","Email","3/2/2025",""
"t5","c2","Email","3/02/2025 10:00 AM","12.5"
"""
STAGES_CSV = """\
"ContactId","StageName","CloseDate","Amount"
"c1","closed_won","3/10/2025","12000"
"c2","closed_won","3/11/2025",""
"""
CONFIG = """\
[inputs]
touches = "touches.csv"
stages = "stages.csv"
[columns.touches]
touch_id = "Id"
contact_id = "ContactId"
channel = "CampaignType"
timestamp = "FirstRespondedDate"
cost = "Cost"
[columns.stages]
contact_id = "ContactId"
stage = "StageName"
timestamp = "CloseDate"
value = "Amount"
"""
TOUCH_COLUMNS = {
    "touch_id": "Id",
    "contact_id": "ContactId",
    "channel": "CampaignType",
    "timestamp": "FirstRespondedDate",
    "cost": "Cost",
}
STAGE_COLUMNS = {
    "contact_id": "ContactId",
    "stage": "StageName",
    "timestamp": "CloseDate",
    "value": "Amount",
}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    (tmp_path / "touches.csv").write_text(TOUCHES_CSV)
    (tmp_path / "stages.csv").write_text(STAGES_CSV)
    (tmp_path / "run.toml").write_text(CONFIG)
    return tmp_path


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attribution.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


# --------------------------------------------------------------------------- blank cells
def test_quoted_and_whitespace_blanks_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes('"a","b"\n"",""\n"  ","x"\n"\u00a0","\t"\n,"y"\n'.encode())
    frame = blanks_as_null(read_source(path, table="t").frame).collect()
    assert frame.get_column("a").null_count() == 4
    assert frame.get_column("b").to_list() == [None, "x", None, "y"]


_TEXT = st.text(
    alphabet=st.sampled_from([" ", "\t", "\n", "\u0085", "\u00a0", "\u2003", "\u3000",
                              "\u200b", "!", "a", "Z", "~", "\u0084", "\u00e9", "\x1f"]),
    max_size=4,
)  # fmt: skip


def _strip_blanks(frame: pl.DataFrame) -> pl.DataFrame:
    """The reference: every text value stripped by Polars of whitespace and invisible
    characters and tested (what the loader did for every value before the bounds were
    used; the invisible ones since new-user report 2)."""
    return frame.with_columns(
        pl.when(pl.col(c).str.strip_chars(BLANK_CHARS).str.len_bytes() == 0)
        .then(None)
        .otherwise(pl.col(c))
        .alias(c)
        for c in frame.columns
    )


@given(st.lists(st.one_of(st.none(), _TEXT), max_size=12))
def test_blank_free_bounds_never_hide_a_blank(values: list[str | None]) -> None:
    """``blank_free(min, max)`` only when no value is blank, and the loader's replacement
    (which trusts it) equals stripping every value, on whitespace of every kind."""
    frame = pl.DataFrame({"a": values}, schema={"a": pl.String})
    expected = _strip_blanks(frame)
    text = frame.get_column("a").drop_nulls()
    if text.len() and blank_free(text.min(), text.max()):
        assert expected.get_column("a").null_count() == frame.get_column("a").null_count()
    assert frame_blanks_as_null(frame, ["a"]).equals(expected)


def test_parquet_statistics_find_a_blank_in_any_row_group(tmp_path: Path) -> None:
    """A blank in the last row group only, or a column whose statistics cannot clear it,
    is still a missing value; clean columns are told by the file's statistics alone."""
    clean = [f"c{i}" for i in range(30)]
    frame = pl.DataFrame(
        {"contact_id": clean, "channel": ["email"] * 29 + ["\u00a0 "], "stage": ["x"] * 30}
    )
    path = tmp_path / "t.parquet"
    frame.write_parquet(path, row_group_size=10)
    bounds = parquet_text_bounds(path, ["contact_id", "channel", "missing"])
    assert blank_free(*bounds["contact_id"])
    assert not blank_free(*bounds["channel"])
    assert "missing" not in bounds
    touches = frame.select(
        "contact_id", "channel", pl.lit("2025-01-01T00:00:00Z").alias("timestamp")
    )
    touches.write_parquet(path, row_group_size=10)
    loaded = load(path, TOUCHES).frame
    assert loaded.get_column("channel").null_count() == 1
    assert loaded.get_column("channel").is_null().to_list()[-1]
    assert loaded.get_column("contact_id").to_list() == clean


def test_parquet_bounds_read_no_timestamp_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load stage asks the statistics of every column it reads: a timestamp's are not
    boxed (pyarrow imports pandas for them, 0.3-0.5 s where it is installed); text bounds
    still come back."""
    import importlib.abc

    tried: list[str] = []

    class Watch(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: object, target: object = None) -> None:
            if name.split(".")[0] == "pandas":
                tried.append(name)

    path = tmp_path / "t.parquet"
    pl.DataFrame(
        {"timestamp": [datetime(2025, 1, 1, tzinfo=UTC)] * 3, "channel": ["b", "a", "c"]}
    ).write_parquet(path)
    monkeypatch.setattr(sys, "meta_path", [Watch(), *sys.meta_path])
    monkeypatch.delitem(sys.modules, "pandas", raising=False)
    bounds = parquet_text_bounds(path, ["timestamp", "channel"])
    assert bounds == {"channel": ("a", "c")}
    assert tried == []


def test_blank_ids_and_values_are_missing_in_a_run(export: Path) -> None:
    result = attribution.attribute(
        export / "touches.csv",
        export / "stages.csv",
        models=["linear"],
        columns={"touches": TOUCH_COLUMNS, "stages": STAGE_COLUMNS},
        timestamp_formats=US,
    )
    rec = result.manifest["reconciliation"]
    # the touch with a quoted blank ContactId is a touch without a contact, not contact ""
    assert rec["touches_dropped"] == {"missing_contact_id": 1}
    assert "" not in result.touch_credit.get_column("contact_id").to_list()
    # a quoted blank Amount is a conversion without a value (0), not a parse error
    conv = result.conversions.sort("contact_id")
    assert conv.get_column("value").to_list() == [12000.0, 0.0]
    assert rec["conversions_attributed"] == 2


def test_blank_timestamp_is_a_missing_value_named_by_line(export: Path) -> None:
    text = TOUCHES_CSV.replace('"3/2/2025",""', '"   ",""')
    (export / "touches.csv").write_text(text)
    with pytest.raises(attribution.NullValueError) as info:
        attribution.attribute(
            export / "touches.csv",
            export / "stages.csv",
            columns={"touches": TOUCH_COLUMNS, "stages": STAGE_COLUMNS},
            timestamp_formats=US,
        )
    err = info.value
    assert err.lines == [5]  # the header is line 1, t4 is line 5
    assert "column 'FirstRespondedDate' (ours: 'timestamp')" in str(err)
    assert "first offending lines: 5" in str(err)


# --------------------------------------------------------------------------- formats
def test_parse_timestamp_tries_formats_in_order_then_iso() -> None:
    raw = pl.Series(["2/21/2025 1:19 PM", "2/21/2025", "2025-02-22T08:00:00Z", "21.02.2025"])
    got = pl.select(parse_timestamp(pl.lit(raw), US)).to_series()
    assert got.to_list()[:3] == [
        datetime(2025, 2, 21, 13, 19, tzinfo=UTC),
        datetime(2025, 2, 21, tzinfo=UTC),
        datetime(2025, 2, 22, 8, tzinfo=UTC),
    ]
    assert got[3] is None
    # without the US patterns, US dates are not guessed
    assert pl.select(parse_timestamp(pl.lit(raw))).to_series().null_count() == 3


def test_month_values_read_as_dates() -> None:
    raw = pl.Series(["2025-01", "2025-1", "2025-02-15", "01/2025"])
    got = pl.select(parse_date(pl.lit(raw), ["%m/%Y/%d"])).to_series().to_list()
    assert got == [date(2025, 1, 1), date(2025, 1, 1), date(2025, 2, 15), None]


def test_spend_months_like_2025_01(tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(
        '"channel","month","amount"\n"linkedin","2025-01","100"\n"email","2025-02",""\n'
    )
    with pytest.raises(attribution.NullValueError, match="amount.*first offending lines: 3"):
        load(path, SPEND)
    path.write_text('"channel","month","amount"\n"linkedin","2025-01","100"\n')
    frame = load(path, SPEND).frame
    assert frame.get_column("month").to_list() == [date(2025, 1, 1)]


def test_unreadable_timestamp_names_their_column_and_file_lines(export: Path) -> None:
    with pytest.raises(attribution.SchemaError) as info:
        attribution.attribute(
            export / "touches.csv",
            export / "stages.csv",
            columns={"touches": TOUCH_COLUMNS, "stages": STAGE_COLUMNS},
        )
    err = info.value
    assert (err.column, err.their_column) == ("timestamp", "FirstRespondedDate")
    assert err.rows == [0, 1, 2, 3, 4]  # 0-based data rows, as before
    assert err.lines == [2, 3, 4, 5, 6]  # file lines: the header is line 1
    text = str(err)
    assert "column 'FirstRespondedDate' (ours: 'timestamp')" in text
    assert "first offending lines: 2, 3, 4, 5, 6" in text
    assert "--timestamp-format '%m/%d/%Y %I:%M %p'" in text  # it looks like a US date


def test_parquet_rows_are_one_based_and_frames_zero_based(tmp_path: Path) -> None:
    stages = pl.DataFrame(
        {"contact_id": ["a", "b"], "stage": ["lead", "lead"], "timestamp": ["2025-01-01", "x"]}
    )
    stages.write_parquet(tmp_path / "s.parquet")
    with pytest.raises(attribution.SchemaError, match=r"rows, 1-based: 2\)") as info:
        load(tmp_path / "s.parquet", STAGES)
    assert info.value.rows == [1]
    with pytest.raises(attribution.SchemaError, match=r"rows, 0-based: 1\)"):
        load(stages, STAGES)


def test_partitioned_errors_name_the_same_lines(export: Path) -> None:
    iso = STAGES_CSV.replace("3/10/2025", "2025-03-10").replace("3/11/2025", "2025-03-11")
    (export / "stages.csv").write_text(iso)
    kwargs = {"columns": {"touches": TOUCH_COLUMNS, "stages": STAGE_COLUMNS}, "models": ["linear"]}
    with pytest.raises(attribution.SchemaError) as memory:
        attribution.attribute(export / "touches.csv", export / "stages.csv", **kwargs)
    with pytest.raises(attribution.SchemaError) as parts:
        attribute_partitioned(export / "touches.csv", export / "stages.csv", partitions=3, **kwargs)
    # the first partition holding bad rows fails: its rows, as lines of the same file
    assert parts.value.lines
    assert set(parts.value.lines) <= set(memory.value.lines)
    assert parts.value.lines == [r + 2 for r in parts.value.rows]
    assert parts.value.their_column == "FirstRespondedDate"
    same = attribute_partitioned(
        export / "touches.csv", export / "stages.csv", partitions=3, timestamp_formats=US, **kwargs
    )
    assert same.manifest["reconciliation"]["conversions_attributed"] == 2


def test_formats_per_column_and_option_errors() -> None:
    options = attribution.RunOptions(
        timestamp_formats={"timestamp": "%d.%m.%Y", "stages.timestamp": ["%m/%d/%Y"]}
    )
    assert options.table_formats("touches") == {"timestamp": ("%d.%m.%Y",)}
    assert options.table_formats("stages") == {"timestamp": ("%m/%d/%Y",)}
    assert options.table_formats("spend") == {}
    with pytest.raises(attribution.InputError, match="did you mean 'timestamp'") as info:
        attribution.RunOptions(timestamp_formats={"timestmp": "%Y"})
    assert info.value.option == "timestamp_formats"
    with pytest.raises(attribution.InputError, match="strftime patterns"):
        attribution.RunOptions(timestamp_formats=["no percent here"])


def test_config_formats_table(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[formats]\ntimestamp = ["%m/%d/%Y %I:%M %p", "%m/%d/%Y"]\n'
                    '[formats.spend]\nmonth = "%b %Y"\n')  # fmt: skip
    cfg = load_config(path)
    assert cfg.formats == {"timestamp": tuple(US), "spend.month": ("%b %Y",)}
    options = attribution.RunOptions(timestamp_formats=cfg.formats)
    assert options.table_formats("spend") == {"month": ("%b %Y",)}
    path.write_text('[formats]\nstamp = "%Y"\n')
    with pytest.raises(attribution.ConfigError, match=r"\[formats\].*'stamp'"):
        load_config(path)


def test_locate_and_check_parsed_for_importers(tmp_path: Path) -> None:
    path = tmp_path / "Opportunity.csv"
    path.write_text('"Id","CloseDate"\n"o1","2/21/2025"\n"o2","soon"\n"o3",""\n')
    source = read_source(path, table="opportunities")
    frame = blanks_as_null(source.frame).with_row_index("_row").collect()
    parsed = frame.select(parse_timestamp(pl.col("CloseDate"), US)).to_series()
    with pytest.raises(attribution.SchemaError) as info:
        check_parsed(
            frame.get_column("CloseDate"),
            parsed,
            frame.get_column("_row"),
            kind="timestamp",
            table="opportunities",
            source=source,
            column="CloseDate",
        )
    assert info.value.lines == [3]  # "soon"; the blank o3 is missing, not unreadable
    plain = attribution.InputError("negative", table="opportunities", column="value", rows=[1])
    located = locate(plain, source, {"value": "Amount"})
    assert isinstance(located, attribution.InputError)
    assert "column 'Amount' (ours: 'value')" in str(located)
    assert located.lines == [3]


# --------------------------------------------------------------------------- files
def test_header_only_file_is_an_error_naming_it(export: Path) -> None:
    (export / "touches.csv").write_text(TOUCHES_CSV.splitlines()[0] + "\n")
    with pytest.raises(attribution.InputError, match="touches.csv.*no data rows"):
        attribution.attribute(
            export / "touches.csv",
            export / "stages.csv",
            columns={"touches": TOUCH_COLUMNS, "stages": STAGE_COLUMNS},
            timestamp_formats=US,
        )
    with pytest.raises(attribution.InputError, match="touches.csv.*no data rows"):
        attribute_partitioned(
            export / "touches.csv",
            export / "stages.csv",
            partitions=2,
            columns={"touches": TOUCH_COLUMNS, "stages": STAGE_COLUMNS},
            timestamp_formats=US,
        )


# --------------------------------------------------------------------------- CLI
def test_cli_timestamp_format_and_one_line_errors(export: Path) -> None:
    bad = _cli("run", "-c", "run.toml", "-m", "linear", "-o", "runs", cwd=export)
    assert bad.returncode == 2
    lines = [line for line in bad.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, bad.stderr  # one line, not wrapped at 80 columns
    assert "column 'FirstRespondedDate' (ours: 'timestamp')" in lines[0]
    assert "first offending lines: 2, 3, 4, 5, 6" in lines[0]
    assert "[formats]" in lines[0]  # brackets survive Rich
    assert "Traceback" not in bad.stderr
    ok = _cli(
        "run", "-c", "run.toml", "-m", "linear", "-o", "runs",
        "--timestamp-format", US[0], "--timestamp-format", US[1], cwd=export,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "conversions 2: attributed 2" in ok.stdout
