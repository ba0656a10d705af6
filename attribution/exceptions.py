"""Exceptions raised by :mod:`attribution`.

Every error the library raises on purpose derives from :class:`AttributionError`, so a caller
(the CLI, the HTTP service) can map them in one place::

    AttributionError
    ├── InputError                 bad input data
    │   ├── ColumnNotFoundError    a required column is missing (lists what is there)
    │   ├── SchemaError            a column has the wrong type or unparseable values
    │   ├── NullValueError         a required column holds nulls
    │   └── DuplicateKeyError      one key, several different rows
    ├── ConfigError                a config file or option is wrong
    ├── EmptyResultError           a run attributed no conversion (and says why)
    ├── OutputExistsError          a run directory or import output already written
    ├── ModelNotFoundError         a model name is not in the registry
    └── ModelParameterError        a model parameter is unknown or out of range
        └── NotFittedError         a learned model used before ``fit``

Input errors carry the table, the source (file path or ``<memory>``), the column and, where it
applies, the first offending rows, and say the likely cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import get_close_matches
from typing import Any

__all__ = [
    "AttributionError",
    "ColumnNotFoundError",
    "ConfigError",
    "DuplicateKeyError",
    "EmptyResultError",
    "InputError",
    "ModelNotFoundError",
    "ModelParameterError",
    "NotFittedError",
    "NullValueError",
    "OutputExistsError",
    "SchemaError",
]


class AttributionError(Exception):
    """Base class of every error raised on purpose by :mod:`attribution`."""


class InputError(AttributionError, ValueError):
    """Input data that cannot be used as it is.

    Attributes
    ----------
    table, source, column : str or None
        Where the problem is: the logical table (``touches``), the file (or ``<memory>``) and
        the column.
    rows : list of int
        0-based row numbers in the source (first few only).
    lines : list of int
        The same rows as a user finds them: 1-based file lines for a CSV / TSV / NDJSON file
        (the header is line 1), 1-based rows for a Parquet file; for a frame in memory the
        0-based row index, as the frame counts.
    their_column : str or None
        The data's own name of ``column`` when the config maps it (``FirstRespondedDate`` for
        our ``timestamp``).
    option : str or None
        The run option at fault (``lookback``, ``level``...), when the input is an option.
    """

    option: str | None = None

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        source: str | None = None,
        column: str | None = None,
        rows: Sequence[int] = (),
        hint: str | None = None,
        their_column: str | None = None,
        numbering: tuple[str, int] | None = None,
    ) -> None:
        self.table = table
        self.source = source
        self.column = column
        self.rows = list(rows)
        self.hint = hint
        self.their_column = their_column if their_column != column else None
        #: how ``rows`` are shown: (word, number of row 0), e.g. ("lines", 2) for a CSV file
        self.numbering = numbering
        origin = numbering[1] if numbering else 0
        lines_of = getattr(numbering, "lines_of", None)  # an NDJSON file with blank lines
        self.lines = lines_of(self.rows) if lines_of else [r + origin for r in self.rows]
        where = []
        if table:
            where.append(f"table '{table}'")
        if source:
            where.append(f"source '{source}'")
        if column and self.their_column:
            where.append(f"column '{self.their_column}' (ours: '{column}')")
        elif column:
            where.append(f"column '{column}'")
        text = message
        if where:
            text = f"{', '.join(where)}: {message}"
        if self.rows:
            shown = ", ".join(map(str, self.lines))
            if numbering:
                text += f" (first offending {numbering[0]}: {shown})"
            else:
                text += f" (first offending rows, 0-based: {shown})"
        if hint:
            text += f". Hint: {hint}"
        self.message = message
        super().__init__(text)

    def replace(self, **changes: Any) -> InputError:
        """The same error (same class, same ``option``) with some of its details changed,
        e.g. ``rows`` mapped back to the source or ``their_column`` filled in."""
        fields: dict[str, Any] = {
            "table": self.table,
            "source": self.source,
            "column": self.column,
            "rows": self.rows,
            "hint": self.hint,
            "their_column": self.their_column,
            "numbering": self.numbering,
        }
        fields.update(changes)
        new = type(self)(self.message, **fields)
        new.option = self.option
        return new


class ColumnNotFoundError(InputError):
    """A required column is missing."""


class SchemaError(InputError):
    """A column has the wrong type, or values that cannot be parsed."""


class NullValueError(InputError):
    """A required column holds nulls."""


class DuplicateKeyError(InputError):
    """The same key (e.g. ``touch_id``) appears on rows that differ."""


class ConfigError(AttributionError, ValueError):
    """A configuration file or option is wrong."""

    #: the run option or input at fault, when one is (``spend`` for a missing spend table)
    option: str | None = None


class EmptyResultError(AttributionError):
    """A run that attributed no conversion, with the reason in the message: the stage names
    found and a did-you-mean against the conversion stage, or the touches that fell outside
    the lookback. Raised where an empty result must not pass for an answer (the CLI exits
    with code 3) unless ``allow_empty``."""


class OutputExistsError(AttributionError, FileExistsError):
    """A run directory (``runs/<run_id>``) or an import's ``out`` that already exists: a run
    is written once (with the B2B outputs: ``result.write(runs, also=b2b.outputs)`` after
    :func:`~attribution.analyse`), never over an earlier one. Also a ``FileExistsError``."""


class OutputPathError(AttributionError, NotADirectoryError):
    """A directory to write into (the runs directory of ``result.write``, an import's
    ``out``) whose path runs through a file: ``runs/sub`` where ``runs`` is a file. Also a
    ``NotADirectoryError``."""


class ModelNotFoundError(AttributionError, KeyError):
    """A model name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelParameterError(AttributionError, ValueError):
    """A model parameter that is unknown, of the wrong type or out of range."""


class NotFittedError(ModelParameterError):
    """A learned model (Markov, Shapley, counterfactual, survey classifier, journey scorer)
    used before ``fit``; a ``ValueError``, as scikit-learn's is."""


def did_you_mean(name: str, candidates: Sequence[str]) -> str:
    """Return a 'did you mean' hint, or a list of the valid names when nothing is close."""
    close = get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    return "available: " + ", ".join(f"'{c}'" for c in sorted(candidates))
