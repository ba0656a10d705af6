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
    ├── ModelNotFoundError         a model name is not in the registry
    └── ModelParameterError        a model parameter is unknown or out of range
        └── NotFittedError         a learned model used before ``fit``

Input errors carry the table, the source (file path or ``<memory>``), the column and, where it
applies, the first offending rows, and say the likely cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import get_close_matches

__all__ = [
    "AttributionError",
    "ColumnNotFoundError",
    "ConfigError",
    "DuplicateKeyError",
    "InputError",
    "ModelNotFoundError",
    "ModelParameterError",
    "NotFittedError",
    "NullValueError",
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
    ) -> None:
        self.table = table
        self.source = source
        self.column = column
        self.rows = list(rows)
        self.hint = hint
        where = []
        if table:
            where.append(f"table '{table}'")
        if source:
            where.append(f"source '{source}'")
        if column:
            where.append(f"column '{column}'")
        text = message
        if where:
            text = f"{', '.join(where)}: {message}"
        if self.rows:
            text += f" (first offending rows, 0-based: {', '.join(map(str, self.rows))})"
        if hint:
            text += f". Hint: {hint}"
        self.message = message
        super().__init__(text)


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
