"""A ``columns=`` mapping for one table (``unit_economics(result, spend, columns=...)``,
``campaign_economics``, ``load_accounts``...): our column name -> the data's, both text.

A mapping of another shape (the per-table mapping that ``RunOptions(columns=...)`` and a
config's ``[columns.spend]`` take, a number for a name) is a :class:`ConfigError` naming
the key and what is expected, never a ``TypeError`` from inside the reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from attribution.exceptions import ConfigError

__all__ = ["EXTRA_COLUMNS", "check_column_map", "mappable"]

#: Our names a table's mapping may give beyond its schema: the e-mail a survey answer is
#: joined to its contact by (:mod:`attribution.surveys._emails`), in the answers and in the
#: table that carries each contact's e-mail (the contacts, else the touches).
EXTRA_COLUMNS: Final = {t: ("email",) for t in ("surveys", "contacts", "touches", "events")}


def mappable(table: str, ours: Mapping[str, Any]) -> list[str]:
    """The names a ``[columns.<table>]`` mapping may give: ``ours`` (the table's schema)
    and :data:`EXTRA_COLUMNS`."""
    return [*ours, *EXTRA_COLUMNS.get(table, ())]


def check_column_map(columns: Any, table: str, ours: Mapping[str, Any]) -> None:
    """``columns`` (or None): each key one of our column names as text, each value the
    data's column name as text; ``table`` and ``ours`` (its columns) for the message."""
    if columns is None:
        return
    example = f"{{{next(iter(ours))!r}: 'Their Column'}}" if ours else "{'ours': 'theirs'}"
    if not isinstance(columns, Mapping):
        raise _error(
            f"columns must map our {table} column names to the data's, e.g. {example}; got "
            f"{type(columns).__name__} {columns!r}"
        )
    for key, value in columns.items():
        if isinstance(key, str) and isinstance(value, str):
            continue
        said = f"columns[{key!r}] is {type(value).__name__} {value!r}"
        if not isinstance(key, str):
            said = f"columns has the key {key!r} ({type(key).__name__})"
        hint = ""
        if isinstance(value, Mapping) and key == table:
            hint = (
                f" (a mapping per table, as RunOptions(columns=...) and a config's "
                f"[columns.{table}] take it, is not taken here: pass columns={dict(value)!r})"
            )
        raise _error(
            f"{said}: columns maps our {table} column names to the data's column names, "
            f"both text, e.g. {example}{hint}"
        )


def _error(message: str) -> ConfigError:
    error = ConfigError(message)
    error.option = "columns"
    return error
