"""Appends to a database table inside one :meth:`~attribution.inputs._database.Database.
transaction` (the write-back's), and the checks of an existing table's columns made before
anything is appended.

A column of the table decides how a run's number is written:

- a whole-number column (an integer, ``NUMERIC(p, 0)``, ``DECIMAL(12,0)``) would round the
  run's decimals (182.44 conversions read 182): refused, naming the table and the columns;
- a PostgreSQL ``numeric`` (dbt's money type), with decimals or without a scale: the ADBC
  driver's COPY cannot write a double into it, so the rows go through a temporary table
  (``double precision``) and ``INSERT ... SELECT``, which PostgreSQL's own cast turns into
  the column's type: unconstrained ``numeric`` keeps the double's 15 significant digits,
  ``numeric(18, 2)`` rounds to cents as DuckDB's ``DECIMAL(18, 2)`` does;
- ``double precision`` / ``DOUBLE``: written as it is.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from attribution.exceptions import ConfigError

if TYPE_CHECKING:
    from attribution.inputs._database import Database

__all__ = ["OPTIONAL_COLUMNS", "Transaction"]

#: columns a run writes back only with some options (the bootstrap's interval), added to an
#: existing table that lacks them
OPTIONAL_COLUMNS = ("ci_low", "ci_high")
_WHOLE_TYPES = re.compile(
    r"(tiny|small|big|huge|u)?int(eger)?\d*|u?(tiny|small|big|huge)int|int[248]|serial|bigserial",
    re.IGNORECASE,
)
#: the temporary table a run's rows pass through into a ``numeric`` column
_STAGING = "_attribution_staging"


@dataclass
class Transaction:
    """Appends inside one :meth:`Database.transaction`."""

    database: Database
    handle: Any

    def append(self, table: str, data: pa.Table) -> None:
        """Append ``data`` to ``table``, creating the table from ``data``'s schema if it does
        not exist yet (an existing table must have the columns, by name)."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
            raise ConfigError(f"table name {table!r}: letters, digits and _ only")
        numeric = self._check_columns(table, data)
        if self.database.kind == "duckdb":
            con = self.handle
            con.register("__attribution_append", data)
            try:
                con.execute(
                    f'CREATE TABLE IF NOT EXISTS "{table}" AS '
                    "SELECT * FROM __attribution_append LIMIT 0"
                )
                names = ", ".join(f'"{n}"' for n in data.column_names)
                con.execute(
                    f'INSERT INTO "{table}" ({names}) SELECT {names} FROM __attribution_append'
                )
            except BaseException:  # the first error is the one to report, not the
                with suppress(Exception):  # aborted transaction's refusal to unregister
                    con.unregister("__attribution_append")
                raise
            con.unregister("__attribution_append")
        elif numeric:
            self._through_staging(table, data)
        else:
            self.handle.adbc_ingest(table, data, mode="create_append")

    def _through_staging(self, table: str, data: pa.Table) -> None:
        """PostgreSQL: ``data`` into ``table`` through a temporary table and ``INSERT ...
        SELECT`` (PostgreSQL casts a double into a ``numeric`` column; the driver's COPY
        does not). The session's clock is UTC for the transaction (``SET LOCAL``), so a time
        with a time zone goes into a ``timestamp`` column on UTC's clock, as COPY writes
        it."""
        cursor = self.handle
        cursor.execute(f'DROP TABLE IF EXISTS pg_temp."{_STAGING}"')
        cursor.adbc_ingest(_STAGING, data, mode="create", temporary=True)
        names = ", ".join(f'"{n}"' for n in data.column_names)
        cursor.execute("SET LOCAL TimeZone = 'UTC'")
        cursor.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM pg_temp."{_STAGING}"')
        cursor.execute(f'DROP TABLE pg_temp."{_STAGING}"')

    def _check_columns(self, table: str, data: pa.Table) -> list[str]:
        """An existing ``table`` without the columns the run writes (another team's table
        of that name, last month's schema) is a ConfigError naming both column lists,
        before anything is appended -- but for the optional number columns a run writes
        only with some options (:data:`OPTIONAL_COLUMNS`: a bootstrap's ``ci_low`` /
        ``ci_high``), which are added to it (nullable: earlier runs' rows have none). A
        column that would round what the run writes (a number with decimals into an
        integer or a DECIMAL with no decimals) is a ConfigError too: appended, 182.44
        conversions would read 182. Returns the PostgreSQL ``numeric`` columns the run's
        numbers go into (written through a temporary table)."""
        sql = (
            "SELECT column_name, data_type, numeric_scale FROM information_schema.columns "
            f"WHERE table_name = '{table}' AND table_schema = current_schema() "
            "ORDER BY ordinal_position"
        )
        if self.database.kind == "duckdb":
            found = self.handle.execute(sql).fetchall()
        else:
            self.handle.execute(sql)
            found = self.handle.fetchall()
        if not found:
            if self.database.kind == "postgresql":
                self._check_hidden(table)
            return []
        have = {str(name): (str(kind), scale) for name, kind, scale in found}
        missing = [n for n in data.column_names if n not in have]
        optional = [n for n in missing if n in OPTIONAL_COLUMNS]
        if missing and missing == optional:
            for name in optional:  # nullable numbers: earlier runs' rows have none
                self.handle.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" DOUBLE PRECISION')
            missing = []
        shown = ", ".join(f"{name} {kind}" for name, kind, _ in found)
        if missing:
            raise ConfigError(
                f"table {table} has the columns ({shown}); the run writes "
                f"({', '.join(data.column_names)}), missing {', '.join(missing)}, so nothing "
                "was written: rename or "
                "drop that table, or write to another database"
            )
        floats = [
            name
            for name, kind in zip(data.column_names, data.schema.types, strict=True)
            if pa.types.is_floating(kind) and name in have
        ]
        rounded = [name for name in floats if _whole(*have[name])]
        if rounded:
            raise ConfigError(
                f"table {table} has the columns ({shown}): "
                + ", ".join(f"{n} {have[n][0]}" for n in rounded)
                + " would round what the run writes (numbers with decimals), so nothing was "
                "written: make them DOUBLE PRECISION (or NUMERIC with decimals), or write to "
                "another table"
            )
        return [n for n in floats if have[n][0].strip().lower().startswith(("numeric", "decimal"))]

    def _check_hidden(self, table: str) -> None:
        """A PostgreSQL ``table`` in the schema the run writes to that this role has no
        privilege on (``information_schema`` then hides its columns, and the append would
        fail with the driver's follow-up error): a ConfigError saying so, before anything
        is appended."""
        self.handle.execute(
            "SELECT n.nspname, current_user FROM pg_catalog.pg_class c JOIN "
            "pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE c.relname = '{table}' AND n.nspname = current_schema()"
        )
        hidden = self.handle.fetchall()
        if hidden:
            schema, role = hidden[0]
            raise ConfigError(
                f"table {schema}.{table} exists but the role {role} has no privilege on it "
                "(its columns are hidden from it), so nothing was written: grant the role "
                f"SELECT and INSERT on {schema}.{table}, or write to another schema "
                "(?options=-csearch_path%3Dother in the URI) or database"
            )


def _whole(kind: str, scale: Any) -> bool:
    """Whether a column of the database type ``kind`` (``numeric_scale`` ``scale``) holds
    whole numbers only."""
    text = kind.strip().lower()
    if _WHOLE_TYPES.fullmatch(text):
        return True
    return text.startswith(("decimal", "numeric")) and scale is not None and int(scale) == 0
