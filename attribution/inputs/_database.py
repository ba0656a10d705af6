"""Databases as inputs and outputs: a query's result read into Arrow, and tables appended in
one transaction.

Two kinds of database, told apart by the URI:

- **DuckDB** (embedded, installed with the package): ``duckdb:///abs/path.duckdb``,
  ``duckdb://relative/path.duckdb``, ``duckdb:///:memory:`` or a bare path ending in
  ``.duckdb`` / ``.ddb``. Results come through DuckDB's own Arrow interface.
- **PostgreSQL**: ``postgresql://user@host:port/db`` (or ``postgres://``), through the ADBC
  PostgreSQL driver (``pip install 'attribution-engine[postgres]'``), which reads the result
  as Arrow record batches (the server's binary COPY format) and appends with COPY. Missing
  parts of the URI come from libpq's environment (``PGPASSWORD``, ``PGUSER``, ``PGHOST``...),
  so a password need never be written in a config file.

No row of a result passes through a Python loop. A URI is shown (errors, manifest) only
:func:`redacted`: the password and any ``password=`` parameter become ``***``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, unquote

import polars as pl
import pyarrow as pa

from attribution.exceptions import ConfigError, InputError

if TYPE_CHECKING:
    from attribution.inputs._db_append import Transaction

__all__ = [
    "Database",
    "SqlTable",
    "check_write_target",
    "database_kind",
    "one_line",
    "open_database",
    "readable",
    "redacted",
    "result_hash",
    "subquery",
    "unused_env_note",
]

Kind = Literal["duckdb", "postgresql"]
_DUCKDB_SUFFIXES = (".duckdb", ".ddb")
_SECRET_PARAM = re.compile(r"(password=)[^&;\s]*", re.IGNORECASE)


def database_kind(uri: str) -> Kind:
    """``"duckdb"`` or ``"postgresql"`` for a database URI; a ConfigError saying which URIs
    are understood otherwise."""
    text = str(uri).strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme == "duckdb" or (not scheme and text.lower().endswith(_DUCKDB_SUFFIXES)):
        return "duckdb"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    raise ConfigError(
        f"cannot tell the database from '{redacted(text)}': use duckdb:///path/to/file.duckdb "
        "(or a path ending in .duckdb), or postgresql://user@host:port/database"
    )


def _userinfo(uri: str) -> tuple[str, str, str | None, str] | None:
    """A URI's ``scheme://``, user, password (None: none given) and what follows the ``@``
    (host, port, database, parameters); None without a user part.

    The user part ends at the *last* ``@`` (libpq's rule), so a password pasted without
    percent-encoding -- with ``#``, ``?``, ``/`` or ``@`` in it, which a URL parser reads
    as a fragment, a query, a path or the host -- is still the password.
    """
    text = str(uri)
    if "://" not in text:
        return None
    scheme, rest = text.split("://", 1)
    at = rest.rfind("@")
    if at < 0:
        return None
    user, colon, password = rest[:at].partition(":")
    return f"{scheme}://", user, password if colon else None, rest[at + 1 :]


def redacted(uri: str) -> str:
    """``uri`` with its password (and any ``password=`` parameter) replaced by ``***``.

    Examples
    --------
    >>> redacted("postgresql://ana:s3cret@db:5432/crm?sslmode=require&password=x")
    'postgresql://ana:***@db:5432/crm?sslmode=require&password=***'
    >>> redacted("postgresql://bi:Pa55#w/rd@db/crm")  # not percent-encoded
    'postgresql://bi:***@db/crm'
    >>> redacted("duckdb:///data/warehouse.duckdb")
    'duckdb:///data/warehouse.duckdb'
    """
    text = str(uri)
    parts = _userinfo(text)
    if parts is not None and parts[2] is not None:
        scheme, user, _, host = parts
        text = f"{scheme}{user}:***@{host}"
    return _SECRET_PARAM.sub(r"\1***", text)


#: seconds libpq waits to connect (and log in) unless the URI or PGCONNECT_TIMEOUT says
CONNECT_TIMEOUT_S = 30


def _postgres_uri(uri: str) -> str:
    """The URI handed to libpq: ``postgresql://``, the user and password percent-encoded
    (a password pasted as it is -- ``Pa55#word`` -- logs in instead of failing or being
    cut at the ``#``; one already encoded stays as it was), and a connect timeout of
    :data:`CONNECT_TIMEOUT_S` unless the URI or ``PGCONNECT_TIMEOUT`` sets one (libpq
    waits for ever by default: a nightly job would hang on a server that accepts the
    connection and never answers)."""
    text = str(uri).replace("postgres://", "postgresql://", 1)
    parts = _userinfo(text)
    if parts is not None:
        scheme, user, password, host = parts
        login = quote(unquote(user), safe="")
        if password is not None:
            login += ":" + quote(unquote(password), safe="")
        text = f"{scheme}{login}@{host}"
    if "connect_timeout=" not in text.lower() and not os.environ.get("PGCONNECT_TIMEOUT"):
        text += ("&" if "?" in text else "?") + f"connect_timeout={CONNECT_TIMEOUT_S}"
    return text


def _duckdb_path(uri: str) -> str:
    """The file of a DuckDB URI: ``duckdb:///abs/x.duckdb`` -> ``/abs/x.duckdb``,
    ``duckdb://rel/x.duckdb`` -> ``rel/x.duckdb``, a bare path as it is; or ``:memory:``."""
    text = str(uri).strip()
    rest = text.split("://", 1)[1] if "://" in text else text
    return ":memory:" if rest.strip("/") in ("", ":memory:") else rest


def _secrets(uri: str) -> list[str]:
    """The passwords of ``uri`` (as written and decoded; and any ``password=`` parameter)
    an error message must never show, if one repeats them: those of 8 characters or more
    that are not the user's name. A driver does not repeat a password it was given; what
    it repeats is a URI, which is replaced whole (:func:`_scrub`). Replacing a short
    password wherever its letters occur in a message (``analyst``, ``127``, ``e``) would
    say where it is, and garble the message."""
    found = re.findall(r"password=([^&;\s]+)", uri, flags=re.IGNORECASE)
    parts = _userinfo(uri)
    user = parts[1] if parts is not None else ""
    if parts is not None and parts[2]:
        found += [parts[2], unquote(parts[2])]
    return sorted({s for s in found if len(s) >= 8 and s != user}, key=len, reverse=True)


#: a line of a driver's message that points into the SQL (``LINE 1: SELECT ...`` and the
#: carets under it), and the ADBC driver's ``Query was: <the SQL, on as many lines>`` up to
#: its ``. SQLSTATE: ...``: left out of ours, as they would show the engine's wrapper of a
#: query
_POINTER = re.compile(r"LINE \d+:.*|\^+")
_QUERY_WAS = re.compile(r"^Query was: .*?(?=^\. SQLSTATE|\Z)", re.MULTILINE | re.DOTALL)


def one_line(message: str) -> str:
    r"""A driver's message on one line (a libpq error comes on two, ``\tIs the server
    running on that host ...?`` on the second, and ends with an empty one): its lines
    stripped and joined -- after a sentence's end with a space, else with ``; `` -- the
    blank ones and those pointing into the SQL left out.

    >>> one_line('... failed: Connection refused\n\tIs the server running?\n')
    '... failed: Connection refused; Is the server running?'
    >>> one_line('Catalog Error: Table touchez does not exist!\nDid you mean "touches"?')
    'Catalog Error: Table touchez does not exist! Did you mean "touches"?'
    >>> one_line('ERROR: bad "x"\nLINE 1: SELECT (\n ^\n\nQuery was: SELECT (\n1)\n. SQLSTATE: 2')
    'ERROR: bad "x"; SQLSTATE: 2'
    """
    text = _QUERY_WAS.sub("", str(message))
    lines = [line.strip().removeprefix(". ") for line in text.splitlines()]
    text = ""
    for line in (x for x in lines if x and not _POINTER.fullmatch(x)):
        text += ("" if not text else " " if text.endswith((".", "!", "?", ":")) else "; ") + line
    return text


def _scrub(message: str, uri: str) -> str:
    """``message`` without the URI's secrets: the URI (as given and as handed to the
    driver) shown redacted, then any long password left."""
    for form in sorted({uri, _postgres_uri(uri)}, key=len, reverse=True):
        message = message.replace(form, redacted(uri))
    for secret in _secrets(uri):
        message = message.replace(secret, "***")
    return _SECRET_PARAM.sub(r"\1***", message)


#: a percent-encoded character: ``%2F``
_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")


def _connect_hints(uri: str, text: str, write: bool) -> str:
    """What a failed connection's error adds, never showing a password:

    - the login refused and the URI's password holds ``%`` and two hex digits: it was read
      as percent-encoded (a password already encoded stays as it is), so a password with a
      literal ``%2F`` in it was changed; encode its ``%`` as ``%25`` or use ``PGPASSWORD``;
    - (a read) ``ATTRIBUTION_DATABASE_URI`` set to another URI: it was not used, as
      ``--database`` and the config's ``[inputs.database] uri`` come first.
    """
    hints = []
    parts = _userinfo(uri)
    password = parts[2] if parts is not None else None
    refused = "authentication failed" in text or "password" in text.lower()
    if refused and password and _ENCODED.search(password):
        hints.append(
            "the password in the URI holds '%' and two hex digits, which are read as a "
            "percent-encoded character (a password already encoded stays as it is): if that "
            "'%' is the password's own, write it as %25, or leave the password out of the URI "
            "and set PGPASSWORD (or ~/.pgpass)"
        )
    env = os.environ.get("ATTRIBUTION_DATABASE_URI")
    if not write and env and env.strip() != uri.strip():
        hints.append(
            f"ATTRIBUTION_DATABASE_URI is set ({redacted(env)}) but was not used: --database "
            "and the config's [inputs.database] uri come before it; pass --database "
            '"$ATTRIBUTION_DATABASE_URI" (or drop the uri from the config), or keep the '
            "password in PGPASSWORD or ~/.pgpass"
        )
    return "".join(f"; {hint}" for hint in hints)


def unused_env_note(used: str | None) -> str | None:
    """The note of a run whose queries read ``used`` (``--database`` or the config's URI)
    while ``ATTRIBUTION_DATABASE_URI`` names another database: the variable loses, said
    (a nightly job's environment pointing at staging would otherwise read production in
    silence); None when it is unset, the same URI, or no query reads a database."""
    env = os.environ.get("ATTRIBUTION_DATABASE_URI")
    if not used or not env or env.strip() == str(used).strip():
        return None
    return (
        f"note: ATTRIBUTION_DATABASE_URI ({redacted(env)}) is not used: the queries read "
        f"{redacted(used)} (--database and the config's [inputs.database] uri come before "
        'the variable; pass --database "$ATTRIBUTION_DATABASE_URI" to read it)'
    )


class Database:
    """An open connection to a DuckDB file or a PostgreSQL server (:func:`open_database`).

    :meth:`query` returns a result as an Arrow table; :meth:`transaction` yields a
    :class:`Transaction` whose appends are committed together, or not at all.
    """

    def __init__(self, uri: str, *, write: bool = False) -> None:
        self.uri = str(uri)
        self.kind: Kind = database_kind(self.uri)
        self.name = redacted(self.uri)
        self._con: Any = None
        #: how the last :meth:`transaction` ended
        self.outcome = "none"
        try:
            if self.kind == "duckdb":
                import duckdb

                path = _duckdb_path(self.uri)
                if path != ":memory:" and not write and not Path(path).is_file():
                    raise ConfigError(f"database file not found: {path}")
                if path != ":memory:" and write:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._con = duckdb.connect(path, read_only=not write and path != ":memory:")
            else:
                try:
                    import adbc_driver_postgresql.dbapi as pg
                except ImportError:
                    raise ConfigError(
                        f"reading PostgreSQL ({self.name}) needs the ADBC PostgreSQL driver: "
                        "pip install 'attribution-engine[postgres]'"
                    ) from None
                self._con = pg.connect(_postgres_uri(self.uri))
        except ConfigError:
            raise
        except Exception as exc:  # the driver's own errors: said once, without secrets
            text = _scrub(one_line(str(exc)) or type(exc).__name__, self.uri)
            if self.kind == "duckdb" and "Could not set lock on file" in text:
                # DuckDB's own advice (open it read-only) is wrong for a writer
                holder = re.search(r"\(PID (\d+)\)", text)
                advice = (
                    ": DuckDB allows one writer, and a reader that holds the file open (a "
                    "BI tool, a notebook) blocks writes; close it, or write to PostgreSQL"
                    if write
                    else ": DuckDB lets no other process read a file while one writes it; "
                    "run when that process has finished, or read a copy of the file"
                )
                raise ConfigError(
                    f"cannot open {self.name}: the file is locked by another process"
                    + (f" (PID {holder.group(1)})" if holder else "")
                    + advice
                ) from None
            raise ConfigError(
                f"cannot connect to {self.name}: {text}{_connect_hints(self.uri, text, write)}"
            ) from None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def error(self, exc: BaseException) -> str:
        """The driver's message of ``exc`` on one line (:func:`one_line`), with no secret of
        the URI in it."""
        return _scrub(one_line(str(exc)) or type(exc).__name__, self.uri)

    def query(self, sql: str) -> pa.Table:
        """The result of ``sql`` as an Arrow table (no Python loop over rows)."""
        if self.kind == "duckdb":
            return self._con.sql(sql).to_arrow_table()
        cursor = self._con.cursor()
        try:
            # the driver sends COPY (<sql>) TO STDOUT: a line break keeps a query's last
            # line comment (-- ...) from swallowing the parenthesis
            cursor.execute(sql + "\n")
            table = cursor.fetch_arrow_table()
        finally:
            cursor.close()
        self._con.rollback()  # a read leaves no transaction open
        return table

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A transaction: committed when the block ends, rolled back (nothing written) when
        it raises.

        :attr:`outcome` says how the last one ended: ``"committed"`` (COMMIT returned),
        ``"rolled_back"`` (stopped or failed before COMMIT, or COMMIT refused: nothing
        written) or ``"unknown"`` (stopped -- Ctrl-C, SIGTERM -- while COMMIT was on its way:
        the server may have committed it).

        DuckDB's session is set to UTC first: a time with a time zone appended to a column
        without one (a pre-created ``TIMESTAMP``, a ``DATE``, text) is then written on UTC's
        clock, as PostgreSQL writes it, never on the clock of the machine's ``TZ`` (which
        shifted every touch time of a run by its offset)."""
        from attribution.inputs._db_append import Transaction

        self.outcome = "open"
        if self.kind == "duckdb":
            self._con.execute("SET TimeZone = 'UTC'")
            self._con.begin()
            handle: Any = self._con
        else:
            handle = self._con.cursor()
        try:
            yield Transaction(self, handle)
            if self.kind != "duckdb":
                handle.close()
            self.outcome = "committing"
            self._con.commit()
            self.outcome = "committed"
        except BaseException as exc:
            stopped = not isinstance(exc, Exception)  # KeyboardInterrupt (SIGTERM), a panic
            self.outcome = "unknown" if self.outcome == "committing" and stopped else (
                "rolled_back")
            try:
                self._con.rollback()
            except Exception:  # a connection lost, a COMMIT already refused: nothing to undo
                pass
            finally:
                if self.kind != "duckdb":
                    with suppress(Exception):
                        handle.close()
            raise


def open_database(uri: str, *, write: bool = False) -> Database:
    """An open :class:`Database` for ``uri`` (see the module's URIs); ``write``: to append
    (a DuckDB file is then created if missing; otherwise it is opened read-only)."""
    return Database(uri, write=write)


def check_write_target(uri: str) -> None:
    """Open the ``--write-to`` database for writing and close it, before a run starts, so a
    DuckDB file another process holds or a refused login stops the run before its work (and
    before a nightly state takes the night's rows). A DuckDB file not there yet is left
    uncreated (the write-back makes it)."""
    if database_kind(uri) == "duckdb":
        path = _duckdb_path(uri)
        if path == ":memory:" or not Path(path).is_file():
            return
    with open_database(uri, write=True):
        pass


def result_hash(frame: pl.DataFrame) -> str:
    """A sha256 of a query result: of its column names, types and each row's hash (Polars'
    ``hash_rows``, stable within a Polars version): it changes when any value does."""
    digest = hashlib.sha256(repr(list(frame.schema.items())).encode())
    if frame.height and frame.width:
        digest.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class SqlTable:
    """An input table that is the result of a SQL query against a database.

    Anything that reads a table takes one (``attribute``, ``attribute_partitioned``, the
    funnel and economics, the command line's ``--database URI --touches-sql "SELECT ..."``).
    The query runs once per object; its result is validated like a file (errors name the
    query and the user's column, rows counted 1-based in the result). The manifest records
    the redacted URI, the query text, the rows and :func:`result_hash` of the result.

    Examples
    --------
    >>> import duckdb, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "crm.duckdb"
    >>> with duckdb.connect(str(path)) as con:
    ...     _ = con.execute("CREATE TABLE t AS SELECT 'c1' AS contact_id, 1 AS n")
    >>> SqlTable(f"duckdb:///{path}", "SELECT * FROM t").frame().to_dicts()
    [{'contact_id': 'c1', 'n': 1}]
    """

    uri: str
    query: str
    _result: dict[str, pl.DataFrame] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    def __post_init__(self) -> None:
        database_kind(self.uri)
        if not isinstance(self.query, str) or not self.query.strip():
            raise ConfigError(f"the query for {redacted(self.uri)} is empty")

    @property
    def name(self) -> str:
        """How errors and the manifest name the table: the redacted URI and the query."""
        return f"{redacted(self.uri)} query: {_one_line(self.query)}"

    def frame(self, table: str | None = None) -> pl.DataFrame:
        """The query's result (run on first use, then kept)."""
        if "frame" not in self._result:
            with open_database(self.uri) as database:
                try:
                    arrow = database.query(self.query)
                except Exception as exc:
                    raise InputError(
                        f"the query failed: {database.error(exc)}",
                        table=table,
                        source=self.name,
                    ) from None
            self._result["frame"] = readable(arrow, table, self.name)
        return self._result["frame"]

    def describe(self, rows: int) -> dict[str, Any]:
        """The manifest entry: redacted URI, query text, rows and the result's hash."""
        return {
            "source": redacted(self.uri),
            "query": self.query,
            "rows": rows,
            "sha256": result_hash(self.frame()),
        }


def _pg_type(field: pa.Field) -> str:
    return str((field.metadata or {}).get(b"POSTGRESQL:type", b"").decode())


def readable(arrow: pa.Table, table: str | None, source: str) -> pl.DataFrame:
    """A query's Arrow result as a frame the loader reads, or an InputError naming the
    query and the column. Column by column (no row loop):

    - two columns of one name: an error naming them (give each its own ``AS``);
    - PostgreSQL ``money``: an error (the driver gives whole cents, in a unit the server's
      ``lc_monetary`` decides: ``$12.50`` arrives as 1250), saying to cast it;
    - PostgreSQL ``numeric``: its text read as a number (Float64), as DuckDB's DECIMAL is;
    - a UUID: its canonical text (``0cc175b9-c0f1-b6a8-31c3-99e269772661``);
    - an interval (no column of the engine is one): left out of the result.
    """
    names = arrow.column_names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(
            f"the query returns the column(s) {', '.join(map(repr, repeated))} more than once",
            table=table,
            source=source,
            hint="give each column its own name (SELECT ..., x AS other_name)",
        )
    columns: dict[str, pl.Series] = {}
    for described, column in zip(arrow.schema, arrow.columns, strict=True):
        kind = described.type
        if _pg_type(described) == "money":
            raise InputError(
                f"column '{described.name}' is a PostgreSQL money, which arrives as whole cents "
                "($12.50 as 1250)",
                table=table,
                source=source,
                column=described.name,
                hint=f"cast it in the query: {described.name}::numeric",
            )
        if pa.types.is_interval(kind):
            continue
        if isinstance(kind, pa.BaseExtensionType):
            storage = pa.chunked_array([c.storage for c in column.chunks], type=kind.storage_type)
            series = pl.Series(described.name, storage)
            if kind.extension_name == "arrow.uuid":
                series = _uuid_text(series.bin.encode("hex")).alias(described.name)
            elif _pg_type(described) == "numeric" and series.dtype == pl.String:
                series = series.cast(pl.Float64, strict=False)
            columns[described.name] = series
            continue
        columns[described.name] = pl.Series(described.name, column)
    return pl.DataFrame(list(columns.values())) if columns else pl.DataFrame()


def _uuid_text(hexed: pl.Series) -> pl.Series:
    """32 hex digits as a UUID's text (8-4-4-4-12)."""
    frame = hexed.to_frame("h")
    h = pl.col("h")
    return frame.select(
        pl.concat_str(
            [h.str.slice(0, 8), h.str.slice(8, 4), h.str.slice(12, 4), h.str.slice(16, 4),
             h.str.slice(20, 12)],
            separator="-",
        )
    ).to_series()


def subquery(query: str) -> str:
    """``query`` as a subquery the engine wraps (``SELECT ... FROM (<query>) AS
    _attribution_q``): on lines of its own, so a last line comment (``-- ...``) ends
    before the parenthesis."""
    return f"(\n{query}\n) AS _attribution_q"


def _one_line(query: str, limit: int = 80) -> str:
    text = " ".join(query.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
