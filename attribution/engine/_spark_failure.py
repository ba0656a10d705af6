"""What the Spark job prints when Spark fails during the job (:mod:`attribution.engine.
_spark_job`): one line and an exit code, never Py4J's trace.

A failure inside a job reaches the driver as a Py4J or PySpark exception whose text holds
the executors' Python traceback and the Java stack. The line that says what went wrong is
found in it: an :class:`~attribution.exceptions.AttributionError` a task raised (an input
error names the table, the user's column and lines, as in memory: exit 2, an empty result
3); else a read Spark could not do (a file that is not Parquet, or truncated, a path gone,
a permission: exit 2); else the first line of the failure, exit 1 (Spark's own log, above
it on stderr, has the details).
"""

from __future__ import annotations

import re

from attribution.engine._spark_start import first_line

__all__ = ["job_failure"]

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
