"""What the Spark job prints when Spark fails during the job (:mod:`attribution.engine.
_spark_job`): one line and an exit code, never Py4J's trace.

A failure inside a job reaches the driver as a Py4J or PySpark exception whose text holds
the executors' Python traceback and the Java stack. The line that says what went wrong is
found in it: an :class:`~attribution.exceptions.AttributionError` a task raised (an input
error names the table, the user's column and lines, as in memory: exit 2, an empty result
3); else a read Spark could not do (a file that is not Parquet, or truncated, a path gone,
a permission: exit 2); else the first line of the failure, exit 1 (Spark's own log, above
it on stderr, has the details).

A task's InputError carries its fields to the driver (:func:`marked`: Spark passes text
only), and :func:`attribute_spark <attribution.engine._spark.attribute_spark>` raises it
again with the rows as the user finds them (:func:`task_input_error`): the task's rows are
the ids Spark gave the input's rows (``monotonically_increasing_id``: from the second input
partition on, ``partition << 33``), mapped to the 1-based rows of the Parquet file holding
them (``_metadata.file_path`` / ``row_index``), or for a frame made in memory to its 0-based
row. Measured: a ``>`` in a channel at row 23 of touches.parquet, 3 partitions: the job
said ``source '<spark>' ... (first offending rows, 0-based: 22)``; now the file and
``1-based: 23``, as ``attribution run`` says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import polars as pl

from attribution import exceptions
from attribution.engine._spark_start import first_line
from attribution.exceptions import InputError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["job_failure", "marked", "task_input_error"]

#: how a task's InputError travels to the driver inside Spark's text of the failure: its
#: fields as JSON after this mark (one line), so the driver names the file's own rows
_MARK = " @attribution-task-error "
_MARKED = re.compile(re.escape(_MARK) + r"(\{.*\})")
#: the source a task's frame has (its rows are the ids Spark gave the input's rows)
TASK_SOURCE = "<spark>"

#: an attribution error raised in a task, as its traceback's last line gives it
_TASK_ERROR = re.compile(r"attribution\.exceptions\.(\w+): (.+)")
#: the Java exceptions and messages of a read that failed
_READ_ERROR = re.compile(
    r"is not a Parquet file|Path does not exist|FileNotFoundException|AccessDeniedException"
    r"|Could not read footer|ParquetDecodingException|CorruptedParquet|FAILED_READ_FILE"
    r"|EOFException|Permission denied|No FileSystem for scheme",
    re.IGNORECASE,
)
_JAVA_CLASS = re.compile(r"^(Caused by: )?([\w$]+\.)+[\w$]+(Exception|Error): ")


def job_failure(exc: BaseException) -> tuple[str, int]:
    """The one line (without ``error: ``) and the exit code for Spark's failure ``exc``."""
    text = str(exc)
    found = _TASK_ERROR.findall(text)
    if found:
        kind, message = found[-1]  # the innermost: the task's own
        message = message.split(_MARK, 1)[0]
        return message.strip(), 3 if kind == "EmptyResultError" else 2
    for line in text.splitlines():
        line = line.strip()
        if _READ_ERROR.search(line) and not line.startswith("at "):
            return f"Spark cannot read the inputs: {_JAVA_CLASS.sub('', line)}", 2
    return (
        f"the Spark job failed: {type(exc).__name__}: {first_line(exc)} (Spark's log above "
        "has the details)",
        1,
    )


def marked(
    exc: InputError,
    frame: pl.DataFrame,
    row: str,
    kind: str,
    load: Callable[[pl.DataFrame], object] | None = None,
) -> InputError:
    """A task's ``exc`` with its fields after :data:`_MARK` (Spark carries only text to the
    driver), and the event type (``kind``: ``touch`` / ``stage``) of its rows (``row``: the
    ids of ``frame``, the task's event log). The touches and the stages number their rows
    apart, so an id may be both's: ``load`` (the task's load of an event log) is then tried
    on the rows of each type alone, the one that raises on those ids naming it."""
    kinds = (
        frame.filter(pl.col(row).is_in(exc.rows)).get_column(kind).unique().sort().to_list()
        if exc.rows and row in frame.columns and kind in frame.columns
        else []
    )
    if len(kinds) > 1 and load is not None:  # touch 6 and stage 6: which one is it?
        for each in kinds:
            try:
                load(frame.filter(pl.col(kind) == each))
            except InputError as again:
                if set(again.rows) & set(exc.rows):
                    kinds = [each]
                    break
    fields = {
        "class": type(exc).__name__, "message": exc.message, "table": exc.table,
        "column": exc.column, "rows": exc.rows, "hint": exc.hint, "option": exc.option,
        "kinds": kinds,
    }  # fmt: skip
    out = exc.replace()
    out.args = (f"{exc}{_MARK}{json.dumps(fields)}",)
    return out


def task_input_error(
    exc: BaseException, touches: DataFrame, stages: DataFrame
) -> InputError | None:
    """The InputError a task raised (:func:`marked`), found in Spark's failure ``exc``,
    with its rows as the user finds them: 1-based rows of the Parquet file that holds them
    (Spark's ``_metadata``), else (a frame made in memory) the 0-based row of the frame;
    None when ``exc`` holds no task's InputError."""
    found = _MARKED.findall(str(exc))
    if not found:
        return None
    fields: dict[str, Any] = json.loads(found[-1])
    kind = getattr(exceptions, str(fields.get("class")), InputError)
    if not (isinstance(kind, type) and issubclass(kind, InputError)):
        kind = InputError
    table, rows = fields.get("table"), [int(r) for r in fields.get("rows") or []]
    frame = {"touches": touches, "stages": stages}.get(str(table))
    if frame is None and fields.get("kinds") in (["touch"], ["stage"]):  # the event log's
        table = "touches" if fields["kinds"] == ["touch"] else "stages"
        frame = touches if table == "touches" else stages
    source, numbering = TASK_SOURCE, None
    if frame is not None and rows:
        try:
            source, rows, numbering = _user_rows(frame, rows)
        except Exception:  # noqa: BLE001 -- the rows as the task gave them, never a failure
            pass
    error = kind(
        fields["message"], table=table, source=source, column=fields.get("column"),
        rows=rows, hint=fields.get("hint"), numbering=numbering,
    )  # fmt: skip
    error.option = fields.get("option")
    return error


def _user_rows(
    frame: DataFrame, ids: list[int]
) -> tuple[str, list[int], tuple[str, int] | None]:
    """The Spark row ids (``monotonically_increasing_id`` of ``frame``, as the event log
    gave them) as (source, 0-based rows, numbering): of the Parquet file holding the first
    of them, else of the frame in its order."""
    from pyspark.sql import functions as F

    ids = sorted(set(ids))
    idx = F.monotonically_increasing_id().alias("id")
    if frame.inputFiles():  # a file scan: its files' own rows
        picked = (
            frame.select(idx, F.col("_metadata.file_path").alias("file"),
                         F.col("_metadata.row_index").alias("row"))  # fmt: skip
            .filter(F.col("id").isin(ids))
            .collect()
        )
        if picked:
            first = min(picked, key=lambda r: r["id"])["file"]
            rows = sorted(int(r["row"]) for r in picked if r["file"] == first)
            local = urlparse(first)  # file:/tmp/my%20runs/t.parquet: a local path
            path = unquote(local.path) if local.scheme == "file" else first
            return path, rows, ("rows, 1-based", 1)
    # a frame made in memory: its rows in order (a partition's ids start at its index << 33)
    counted = frame.select(F.spark_partition_id().alias("p")).groupBy("p").count().collect()
    sizes: dict[int, int] = {int(r["p"]): int(r["count"]) for r in counted}
    offsets: dict[int, int] = {}
    total = 0
    for part in sorted(sizes):
        offsets[part], total = total, total + sizes[part]
    rows = sorted(offsets.get(i >> 33, 0) + (i & ((1 << 33) - 1)) for i in ids)
    return TASK_SOURCE, rows, None
