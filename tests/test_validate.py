"""Input contract (attribution.inputs._schema, attribution.inputs._sources): clear errors
that name the table, the source, the column and the rows; column and stage-name mappings;
the unified event log; UTC timestamps; model request errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution

STAGES = pl.DataFrame(
    {"contact_id": ["c1"], "stage": ["closed_won"], "timestamp": ["2025-02-01"], "value": [10.0]}
)


def _touches(**overrides) -> pl.DataFrame:
    base = {
        "touch_id": ["t1", "t2", "t3", "t4"],
        "contact_id": ["c1"] * 4,
        "channel": ["linkedin", "email", "webinar", "direct"],
        "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"],
    }
    return pl.DataFrame({**base, **overrides})


def _run(touches, stages=STAGES, **kwargs) -> attribution.AttributionResult:
    kwargs.setdefault("models", ["linear"])
    return attribution.attribute(touches, stages, **kwargs)


# --------------------------------------------------------------------------- missing columns
def test_missing_column_names_table_source_column_and_hint() -> None:
    touches = _touches().rename({"timestamp": "time_stamp"})
    with pytest.raises(attribution.ColumnNotFoundError) as info:
        _run(touches)
    err = info.value
    assert (err.table, err.source, err.column) == ("touches", "<memory>", "timestamp")
    text = str(err)
    for part in (
        "table 'touches'",
        "source '<memory>'",
        "column 'timestamp'",
        "did you mean 'time_stamp'?",
    ):
        assert part in text


def test_missing_column_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "stages.csv"
    STAGES.rename({"stage": "stgae"}).write_csv(path)
    with pytest.raises(attribution.ColumnNotFoundError) as info:
        _run(_touches(), path)
    assert info.value.source == str(path)
    assert f"source '{path}'" in str(info.value)
    assert "table 'stages'" in str(info.value)
    assert "did you mean 'stgae'?" in str(info.value)


def test_missing_entity_column() -> None:
    with pytest.raises(attribution.ColumnNotFoundError, match="'contact_id' or 'account_id'"):
        _run(_touches().rename({"contact_id": "contact"}))


def test_missing_channel_and_utm_columns() -> None:
    with pytest.raises(attribution.ColumnNotFoundError, match="utm_source") as info:
        _run(_touches().drop("channel"))
    assert info.value.column == "channel"


def test_nothing_close_lists_the_columns() -> None:
    touches = _touches().rename({"timestamp": "when"})
    with pytest.raises(attribution.ColumnNotFoundError, match="available: .*'when'"):
        _run(touches)


# --------------------------------------------------------------------------- bad values
def test_unparseable_timestamp_names_the_rows() -> None:
    touches = _touches(timestamp=["2025-01-01", "yesterday", "2025-01-03", "2025-13-01"])
    with pytest.raises(attribution.SchemaError) as info:
        _run(touches)
    err = info.value
    assert err.column == "timestamp"
    assert err.rows == [1, 3]
    assert "first offending rows, 0-based: 1, 3" in str(err)
    assert "'yesterday'" in str(err)
    assert "ISO 8601" in str(err)


def test_unparseable_timestamp_in_csv_names_file_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "touches.csv"
    _touches(timestamp=["2025-01-01", "2025-01-02", "01/03/2025", "2025-01-04"]).write_csv(path)
    with pytest.raises(attribution.SchemaError) as info:
        _run(path)
    assert (info.value.source, info.value.rows) == (str(path), [2])


def test_null_timestamp_names_the_rows() -> None:
    touches = _touches(timestamp=["2025-01-01", None, "2025-01-03", None])
    with pytest.raises(attribution.NullValueError) as info:
        _run(touches)
    err = info.value
    assert (err.table, err.column, err.rows) == ("touches", "timestamp", [1, 3])


def test_null_stage_names_the_rows() -> None:
    stages = STAGES.with_columns(pl.lit(None, pl.String).alias("stage"))
    with pytest.raises(attribution.NullValueError) as info:
        _run(_touches(), stages)
    assert (info.value.table, info.value.column, info.value.rows) == ("stages", "stage", [0])


def test_null_channel_names_the_rows() -> None:
    touches = _touches(channel=["linkedin", None, "webinar", "direct"])
    with pytest.raises(attribution.InputError, match="no channel") as info:
        _run(touches)
    assert (info.value.column, info.value.rows) == ("channel", [1])


def test_non_numeric_value() -> None:
    # a decimal comma; '1,000' reads 1000 as money, as import reads it (test_fix10_money.py)
    stages = STAGES.with_columns(pl.lit("1,5").alias("value"))
    with pytest.raises(attribution.SchemaError, match="decimal point") as info:
        _run(_touches(), stages)
    assert (info.value.table, info.value.column, info.value.rows) == ("stages", "value", [0])


def test_numeric_timestamps_are_refused() -> None:
    with pytest.raises(attribution.SchemaError, match="ISO 8601"):
        _run(_touches(timestamp=[1, 2, 3, 4]))


def test_wrong_type_of_text_column() -> None:
    with pytest.raises(attribution.SchemaError, match="expected text") as info:
        _run(_touches(channel=[[1], [2], [3], [4]]))
    assert info.value.column == "channel"


def test_duplicate_touch_id_with_different_rows() -> None:
    touches = _touches(touch_id=["t1", "t2", "t1", "t3"])
    with pytest.raises(attribution.DuplicateKeyError) as info:
        _run(touches)
    assert info.value.column == "touch_id"
    assert info.value.rows == [0, 2]
    assert "share a touch_id" in str(info.value)


def test_numeric_ids_are_read_as_text() -> None:
    touches = _touches(contact_id=[7, 7, 7, 7], touch_id=[1, 2, 3, 4])
    stages = STAGES.with_columns(pl.lit(7).alias("contact_id"))
    result = _run(touches, stages)
    assert result.touch_credit.get_column("contact_id").to_list() == ["7"] * 4
    assert result.touch_credit.get_column("touch_id").to_list() == ["1", "2", "3", "4"]


def test_touches_without_ids_get_their_row_number() -> None:
    result = _run(_touches().drop("touch_id"))
    assert result.touch_credit.get_column("touch_id").to_list() == [
        "row-0",
        "row-1",
        "row-2",
        "row-3",
    ]


# --------------------------------------------------------------------------- files and types
def test_bad_file_extension(tmp_path: Path) -> None:
    path = tmp_path / "touches.xml"
    path.write_text("x")
    with pytest.raises(attribution.InputError, match=r"extension '\.xml'.*\.parquet") as info:
        _run(path)
    assert info.value.source == str(path)
    # a workbook is said to be one (newuser-report5 #19), with what to give instead
    book = tmp_path / "touches.xlsx"
    book.write_text("x")
    with pytest.raises(attribution.InputError, match=r"workbook \('\.xlsx'\) is not read.*"
                       "CSV") as info:
        _run(book)
    assert info.value.source == str(book)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(attribution.InputError, match="file not found"):
        _run(tmp_path / "nope.parquet")


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "touches.parquet"
    path.write_text("this is not parquet")
    with pytest.raises(attribution.InputError, match="cannot read parquet"):
        _run(path)


def test_unsupported_object() -> None:
    with pytest.raises(attribution.InputError, match="got dict"):
        _run({"timestamp": ["2025-01-01"]})


def test_tsv_and_jsonl(tmp_path: Path) -> None:
    base = _run(_touches())
    _touches().write_csv(tmp_path / "t.tsv", separator="\t")
    _touches().write_ndjson(tmp_path / "t.jsonl")
    for name in ("t.tsv", "t.jsonl"):
        assert_frame_equal(_run(tmp_path / name).touch_credit, base.touch_credit)


def test_manifest_records_file_inputs(tmp_path: Path) -> None:
    path = tmp_path / "touches.parquet"
    _touches().write_parquet(path)
    inputs = _run(path).manifest["inputs"]
    assert inputs["touches"]["source"] == str(path)
    assert inputs["touches"]["rows"] == 4
    assert re.fullmatch("[0-9a-f]{64}", inputs["touches"]["sha256"])
    assert inputs["stages"] == {"source": "<memory>", "rows": 1, "sha256": None}


@pytest.mark.parametrize("published_blocks", [None, 0, 3])
def test_background_file_hash_is_the_files_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, published_blocks: int | None
) -> None:
    """Whether the background thread finished the hash, or published only some blocks (it
    is starved beside a busy run), the caller's result is the file's sha256: it goes on from
    the last published block itself."""
    import hashlib

    from attribution.inputs import _sources as _io

    monkeypatch.setattr(_io, "_BLOCK", 1000)
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)) * 37)  # 9,472 bytes: 10 blocks
    expected = hashlib.sha256(path.read_bytes()).hexdigest()

    class Starved(_io._BackgroundHash):
        def _run(self) -> None:  # publishes some blocks, then stalls for good
            head = path.read_bytes()[: (published_blocks or 0) * 1000]
            with self._lock:
                self._done = (len(head), hashlib.sha256(head))

    job = _io._BackgroundHash(path) if published_blocks is None else Starved(path)
    job._thread.join()
    if published_blocks is None:
        assert job._value == expected  # the thread's own hash
    assert job.result() == expected
    assert job.result() == expected  # cached


def test_bad_level() -> None:
    with pytest.raises(attribution.InputError, match="level"):
        _run(_touches(), level="acct")


def test_bad_level_with_a_lookback() -> None:
    with pytest.raises(attribution.InputError, match="level must be 'contact' or 'account'"):
        _run(_touches(), level="acct", lookback="30d")


# --------------------------------------------------------------------------- mappings
def test_column_mapping() -> None:
    base = _run(_touches())
    touches = _touches().rename({"timestamp": "ts", "contact_id": "lead_id"})
    stages = STAGES.rename({"stage": "lifecycle_stage"})
    mapped = _run(
        touches,
        stages,
        columns={
            "touches": {"timestamp": "ts", "contact_id": "lead_id"},
            "stages": {"stage": "lifecycle_stage"},
        },
    )
    assert_frame_equal(mapped.touch_credit, base.touch_credit)


def test_column_mapping_makes_the_canonical_column_give_way() -> None:
    # the data has both 'timestamp' (unparseable) and 'ts'; the mapping picks 'ts'
    touches = _touches().with_columns(
        pl.col("timestamp").alias("ts"), pl.lit("garbage").alias("timestamp")
    )
    mapped = _run(touches, columns={"touches": {"timestamp": "ts"}})
    assert_frame_equal(mapped.touch_credit, _run(_touches()).touch_credit)


def test_column_mapping_to_a_missing_column() -> None:
    with pytest.raises(attribution.ColumnNotFoundError, match="'ts', which is not in the data"):
        _run(_touches(), columns={"touches": {"timestamp": "ts"}})


def test_column_mapping_of_an_unknown_column() -> None:
    with pytest.raises(attribution.ColumnNotFoundError, match="did you mean 'timestamp'"):
        _run(_touches(), columns={"touches": {"timestmp": "timestamp"}})


def test_stage_name_mapping(worked) -> None:
    touches, stages = worked
    theirs = {"lead": "Lead", "opportunity": "Opportunity Created", "closed_won": "Closed Won"}
    crm = stages.with_columns(pl.col("stage").replace(theirs))
    result = attribution.attribute(
        touches,
        crm,
        models=["w_shaped"],
        stage_names={
            "lead": ["MQL", "Lead"],
            "opportunity": "Opportunity Created",
            "closed_won": ["Won", "Closed Won"],
        },
    )
    expected = attribution.attribute(touches, stages, models=["w_shaped"])
    assert_frame_equal(result.touch_credit, expected.touch_credit)
    with pytest.raises(attribution.EmptyResultError, match="no stage event is the conversion"):
        attribution.attribute(touches, crm, models=["w_shaped"])
    unmapped = attribution.attribute(touches, crm, models=["w_shaped"], allow_empty=True)
    assert unmapped.manifest["reconciliation"]["conversions"] == 0


# --------------------------------------------------------------------------- unified event log
def _events(touches: pl.DataFrame, stages: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(
        [
            touches.with_columns(pl.lit("touch").alias("event_type")),
            stages.with_columns(pl.lit("Stage ").alias("event_type")),  # case and space ignored
        ],
        how="diagonal",
    )


def test_unified_event_log(worked, tmp_path: Path) -> None:
    touches, stages = worked
    separate = attribution.attribute(touches, stages, models=["w_shaped", "time_decay"])
    events = _events(touches, stages).sample(fraction=1.0, shuffle=True, seed=3)
    unified = attribution.attribute(events, None, models=["w_shaped", "time_decay"])
    assert_frame_equal(unified.touch_credit, separate.touch_credit)
    assert unified.manifest["reconciliation"] == separate.manifest["reconciliation"]
    assert list(unified.manifest["inputs"]) == ["events"]
    path = tmp_path / "events.csv"
    events.write_csv(path)
    from_file = attribution.attribute(path, models=["w_shaped", "time_decay"])
    assert_frame_equal(from_file.touch_credit, separate.touch_credit)


def test_unified_event_log_bad_event_type(worked) -> None:
    events = _events(*worked).with_columns(
        pl.when(pl.col("stage") == "lead")
        .then(pl.lit("lifecycle"))
        .otherwise("event_type")
        .alias("event_type")
    )
    with pytest.raises(attribution.SchemaError, match="'lifecycle'") as info:
        attribution.attribute(events, models=["linear"])
    assert info.value.column == "event_type"
    assert len(info.value.rows) == 1


def test_unified_event_log_stage_row_without_stage(worked) -> None:
    events = _events(*worked).with_columns(
        pl.when(pl.col("stage") == "lead").then(None).otherwise("stage").alias("stage")
    )
    with pytest.raises(attribution.NullValueError, match="stage rows need a stage name"):
        attribution.attribute(events, models=["linear"])


def test_unified_event_log_without_channels(worked) -> None:
    events = _events(*worked).drop("channel")
    with pytest.raises(attribution.ColumnNotFoundError, match="utm_source") as info:
        attribution.attribute(events, models=["linear"])
    assert info.value.table == "events"


def test_unified_event_log_column_mapping(worked) -> None:
    touches, stages = worked
    events = _events(touches, stages).rename({"event_type": "kind", "timestamp": "at"})
    result = attribution.attribute(
        events, models=["linear"], columns={"events": {"event_type": "kind", "timestamp": "at"}}
    )
    assert result.touch_credit.height == 5


# --------------------------------------------------------------------------- timestamps
def test_timestamps_normalised_to_utc_in_mixed_formats() -> None:
    touches = _touches(
        timestamp=[
            "2025-01-01T10:00:00+02:00",  # aware: 08:00 UTC
            "2025-01-01 09:00:00",  # naive: taken as UTC
            "2025-01-01T12:30:00.250Z",
            "2025-01-02",
        ]
    )
    result = _run(touches)
    expected = [
        datetime(2025, 1, 1, 8, tzinfo=UTC),
        datetime(2025, 1, 1, 9, tzinfo=UTC),
        datetime(2025, 1, 1, 12, 30, 0, 250_000, tzinfo=UTC),
        datetime(2025, 1, 2, tzinfo=UTC),
    ]
    tc = result.touch_credit
    assert tc.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert tc.get_column("timestamp").to_list() == expected
    assert tc.get_column("touch_id").to_list() == ["t1", "t2", "t3", "t4"]


def test_offset_decides_the_order() -> None:
    # 10:00+05:00 is 05:00 UTC, before the naive 06:00
    touches = _touches(
        timestamp=[
            "2025-01-01T06:00:00",
            "2025-01-01T10:00:00+05:00",
            "2025-01-01T10:00:00-01:00",
            "2025-01-01T10:00",
        ],
    )
    result = _run(touches, models=["first_touch"])
    assert result.touch_credit.get_column("touch_id").to_list() == ["t2", "t1", "t4", "t3"]
    assert result.touch_credit.get_column("credit").to_list() == [1.0, 0.0, 0.0, 0.0]


def test_datetime_columns_are_normalised() -> None:
    berlin = [datetime(2025, 1, 1, h, tzinfo=timezone(timedelta(hours=1))) for h in (1, 2, 3, 4)]
    aware = _touches(timestamp=pl.Series(berlin).dt.convert_time_zone("Europe/Berlin"))
    naive = _touches(timestamp=[datetime(2025, 1, 1, h) for h in (0, 1, 2, 3)])
    dates = _touches(timestamp=pl.Series(["2025-01-01"] * 4).str.to_date())
    utc = [datetime(2025, 1, 1, h, tzinfo=UTC) for h in (0, 1, 2, 3)]
    assert _run(aware).touch_credit.get_column("timestamp").to_list() == utc
    assert _run(naive).touch_credit.get_column("timestamp").to_list() == utc
    assert (
        _run(dates).touch_credit.get_column("timestamp").to_list()
        == [datetime(2025, 1, 1, tzinfo=UTC)] * 4
    )


def test_stage_timestamps_with_offsets() -> None:
    # closed won at 2025-01-04T01:00+02:00 = 2025-01-03T23:00Z: t4 (2025-01-04) is after it
    stages = STAGES.with_columns(pl.lit("2025-01-04T01:00:00+02:00").alias("timestamp"))
    result = _run(_touches(), stages)
    assert result.touch_credit.get_column("touch_id").to_list() == ["t1", "t2", "t3"]


# --------------------------------------------------------------------------- model requests
def test_unknown_model_suggests() -> None:
    with pytest.raises(attribution.ModelNotFoundError, match="did you mean 'linear'"):
        _run(_touches(), models=["linera"])


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(attribution.ModelNotFoundError) as info:
        _run(_touches(), models=["xyz"])
    text = str(info.value)
    assert text.startswith("unknown model 'xyz'")
    for name in attribution.available_models():
        assert f"'{name}'" in text
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (("linear", {"half_life": "1d"}), "linear has no parameter 'half_life'"),
        (("time_decay", {"half_life": "soon"}), "'half_life' parameter of time_decay"),
        (("time_decay", {"half_life": "-1d"}), "'half_life' parameter of time_decay"),
        (
            ("position_based", {"first": -0.1}),
            r"must be a float in \[0.0, 1000000.0\] \(0 or at least 1e-06\)",
        ),
        (("position_based", {"first": "a lot"}), "must be of kind float"),
        (("position_based", {"first": 0.7, "last": 0.5}), "sum to at most 1"),
        (("custom", {"others": 0}), "at least one positive role weight"),
        (("custom", {"channel_multipliers": {"email": -1}}), "non-negative multipliers"),
        (("custom", {"first": True}), "must be of kind float"),
        ("time_decay:half_life", "key=value"),
        (42, "a model is a name"),
    ],
)
def test_bad_model_parameter(request_, message) -> None:
    with pytest.raises(attribution.ModelParameterError, match=message):
        _run(_touches(), models=[request_])


def test_a_tuple_of_model_names() -> None:
    result = _run(_touches(), models=("linear", "first_touch"))
    assert set(result.channel_credit.get_column("model")) == {"linear", "first_touch"}


def test_params_must_be_a_mapping() -> None:
    with pytest.raises(attribution.AttributionError):
        _run(_touches(), models=[("linear", ["half_life"])])


def test_no_models_or_the_same_twice() -> None:
    with pytest.raises(attribution.ModelParameterError, match="no models requested"):
        _run(_touches(), models=[])
    with pytest.raises(attribution.ModelParameterError, match="requested twice: linear"):
        _run(_touches(), models=["linear", "linear"])


def test_model_labels_show_changed_parameters(worked) -> None:
    models = ["time_decay", ("time_decay", {"half_life": "1d"}), "time_decay:half_life=2d"]
    result = attribution.attribute(*worked, models=models)
    assert result.channel_credit.get_column("model").unique(maintain_order=True).to_list() == [
        "time_decay",
        "time_decay(half_life=1d)",
        "time_decay(half_life=2d)",
    ]


@pytest.mark.parametrize(
    ("touch_id", "removed"),
    [
        (None, 1),  # no touch_id column: whole rows are compared
        (["t1", "t2", "t1", "t3"], 1),  # repeated id, identical rows
        ([None, "t2", None, "t3"], 1),  # null ids, identical rows
    ],
)
def test_exact_duplicates_found_with_and_without_ids(touch_id, removed) -> None:
    touches = _touches()
    touches = touches.with_columns(
        [pl.col(c).gather([0, 1, 0, 3]) for c in touches.columns if c != "touch_id"]
    )
    if touch_id is None:
        touches = touches.drop("touch_id")
    else:
        touches = touches.with_columns(pl.Series("touch_id", touch_id, dtype=pl.String))
    rec = _run(touches).manifest["reconciliation"]
    assert rec["touches_dropped"].get("exact_duplicate") == removed


def test_touch_id_conflict_is_found_beside_exact_duplicates() -> None:
    touches = _touches(touch_id=["t1", "t1", "t1", "t3"])
    touches = touches.with_columns(
        [pl.col(c).gather([0, 0, 2, 3]) for c in touches.columns if c != "touch_id"]
    )
    with pytest.raises(attribution.DuplicateKeyError) as info:
        _run(touches)
    assert info.value.rows == [0, 2]


# ------------------------------------------------ columns the run does not read (load's keep)
@pytest.mark.parametrize("fmt", ["parquet", "frame"])
@pytest.mark.parametrize("with_id", [True, False])
def test_duplicates_compare_columns_the_run_does_not_read(tmp_path: Path, fmt, with_id) -> None:
    """campaign and cost are not read for the run, yet two rows that differ only there are
    not duplicates (a conflict when they share a touch_id), and rows equal there are."""
    touches = _touches(touch_id=["t1", "t2", "t1", "t3"]).with_columns(
        pl.col(c).gather([0, 1, 0, 3]) for c in ("contact_id", "channel", "timestamp")
    )
    touches = touches.with_columns(
        pl.Series("campaign", ["spring", "x", "spring", "y"]),
        pl.Series("cost", [1.5, 2.0, 1.5, 3.0]),
    )
    differ = touches.with_columns(pl.Series("cost", [1.5, 2.0, 9.5, 3.0]))
    if not with_id:
        touches, differ = touches.drop("touch_id"), differ.drop("touch_id")

    def given(frame: pl.DataFrame, name: str):
        if fmt == "frame":
            return frame
        path = tmp_path / f"{name}.parquet"
        frame.write_parquet(path)
        return path

    rec = _run(given(touches, "same")).manifest["reconciliation"]
    assert rec["touches_dropped"].get("exact_duplicate") == 1
    assert rec["touches_in"] == 4
    if with_id:
        with pytest.raises(attribution.DuplicateKeyError) as info:
            _run(given(differ, "differ"))
        assert info.value.rows == [0, 2]
    else:
        rec = _run(given(differ, "differ")).manifest["reconciliation"]
        assert "exact_duplicate" not in rec["touches_dropped"]
        assert rec["touches_in_journeys"] == 4


def test_bad_value_in_a_column_the_run_does_not_use_is_still_reported(tmp_path: Path) -> None:
    path = tmp_path / "touches.csv"
    _touches(cost=["1.5", "2", "two", "3"]).write_csv(path)
    with pytest.raises(attribution.SchemaError) as info:
        _run(path)
    assert (info.value.column, info.value.rows) == ("cost", [2])


def test_load_keep_reads_only_the_kept_columns(tmp_path: Path) -> None:
    from attribution.inputs._schema import TOUCHES, load

    path = tmp_path / "touches.parquet"
    _touches(campaign=["a", "b", "c", "d"], cost=[1.0, 2.0, 3.0, 4.0]).write_parquet(path)
    table = load(path, TOUCHES, keep=lambda present: {"timestamp", "channel", "contact_id"})
    assert set(table.frame.columns) == {"_row", "timestamp", "channel", "contact_id"}
    assert set(table.unloaded) == {"touch_id", "campaign", "cost"}
    full = table.full_rows(pl.Series([3, 1]))
    assert full.get_column("_row").to_list() == [1, 3]
    assert full.get_column("cost").to_list() == [2.0, 4.0]
    assert full.get_column("campaign").to_list() == ["b", "d"]


def test_duplicate_suspects_read_mapped_columns_from_a_csv(tmp_path: Path) -> None:
    """The unread columns of duplicate suspects come from the source under the config's
    names: two rows differing only in a mapped, unread column share a touch_id -> error."""
    path = tmp_path / "touches.csv"
    touches = _touches(touch_id=["t1", "t2", "t1", "t3"]).with_columns(
        pl.col(c).gather([0, 1, 0, 3]) for c in ("contact_id", "channel", "timestamp")
    )
    touches.with_columns(pl.Series("promo", ["spring", "x", "fall", "y"])).write_csv(path)
    columns = {"touches": {"campaign": "promo"}}  # text: type-checked, not read
    with pytest.raises(attribution.DuplicateKeyError) as info:
        _run(path, columns=columns)
    assert info.value.rows == [0, 2]
    touches.with_columns(pl.Series("promo", ["spring", "x", "spring", "y"])).write_csv(path)
    rec = _run(path, columns=columns).manifest["reconciliation"]
    assert rec["touches_dropped"]["exact_duplicate"] == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=60), st.integers(1, 7))
def test_repeated_hashes_across_slices(values, width) -> None:
    """The duplicate check's neighbour comparison, a slice at a time: the same repeated
    values as counting them, whatever the slice width (pairs across a slice boundary too)."""
    import numpy as np

    from attribution.inputs import _dedupe

    old = _dedupe._SLICE
    _dedupe._SLICE = width
    try:
        got = _dedupe._sorted_repeats(np.sort(np.array(values, dtype=np.uint64)))
    finally:
        _dedupe._SLICE = old
    counts = pl.Series(values, dtype=pl.UInt64).value_counts()
    expected = sorted(counts.filter(pl.col("count") > 1).get_column("").to_list())
    assert got.tolist() == expected
