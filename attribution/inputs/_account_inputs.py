"""The account-side input tables: ``accounts`` (segment, metro, region... of each account)
and ``subscriptions`` (revenue by account and month).

Both are read through the one load stage (:func:`attribution.inputs._schema.load`, with the
specs ``ACCOUNTS`` and ``SUBSCRIPTIONS``), so a bad file gets the same errors as the touch
log: the file, the user's column (``[columns.accounts]`` / ``[columns.subscriptions]``
renames) and its 1-based lines. Every b2b step that slices by account uses these loaders
and the objects they return, never a copy of its own:

- :func:`load_accounts` -> :class:`Accounts`: ``frame`` has one row per ``account_id``
  (a repeated id is an error naming its lines), ``segment`` trimmed and lower-cased with
  spaces and hyphens as ``_`` (``"Mid-Market"`` -> ``mid_market``; the expected segments are
  :data:`SEGMENTS` but any value is kept), ``metro`` / ``region`` / ``industry`` trimmed,
  ``employees`` a number. :meth:`Accounts.attach` adds account columns to any frame with an
  ``account_id`` (missing -> ``unknown``): that is how a conversion, a touch or a deal
  gets its segment. *Decision*: an 18-character Salesforce id (Data Loader's Account.csv)
  also stands for its 15-character form (a report's, and ``attribution import
  salesforce``'s) when no account has that form as its own id, so a Data Loader accounts
  table meets an import's ids (:meth:`Accounts.lookup`; the economics count the customers
  met this way, ``accounts_match.matched_by_15_character_id``).
- :func:`as_accounts` / :func:`as_subscriptions` take either a loaded object or anything
  :func:`load` reads (a path, a frame): what a public function's ``accounts=`` /
  ``subscriptions=`` parameter calls.
- :func:`load_subscriptions` -> :class:`Subscriptions`: ``frame`` has one row per account
  and month (``account_id``, ``month`` = the first of the month, ``mrr`` in USD): a date
  inside a month counts for that month, ``arr`` is divided by 12 where ``mrr`` is not
  given, and several rows of one account and month are summed (several products or
  invoices). A negative or missing amount is an error naming its lines.

Examples
--------
>>> import polars as pl
>>> acc = load_accounts(pl.DataFrame({"account_id": ["a1", "a2"],
...     "segment": ["SMB", " Mid-Market "]}))
>>> acc.frame.get_column("segment").to_list()
['smb', 'mid_market']
>>> acc.attach(pl.DataFrame({"account_id": ["a2", "a9", None]})).get_column("segment").to_list()
['mid_market', 'unknown', 'unknown']
>>> subs = load_subscriptions(pl.DataFrame({"account_id": ["a1", "a1", "a2"],
...     "month": ["2025-01-01", "2025-01-15", "2025-02-01"], "arr": [1200.0, 2400.0, 600.0]}))
>>> subs.frame.select("account_id", "mrr").rows()
[('a1', 300.0), ('a2', 50.0)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from attribution.exceptions import DuplicateKeyError, InputError
from attribution.inputs._salesforce_ids import salesforce_15
from attribution.inputs._schema import ACCOUNTS, ROW, SUBSCRIPTIONS, Table, TableSpec, load
from attribution.inputs._sources import TableLike

#: The segments the benchmarks and defaults know (any other value is kept as written).
SEGMENTS: Final = ("smb", "mid_market", "enterprise", "strategic")
#: The value of an account column for a key with no account row (or a null value).
UNKNOWN: Final = "unknown"
#: The optional descriptive columns of the accounts table, in order.
ACCOUNT_ATTRIBUTES: Final = ("segment", "metro", "region", "industry", "employees")
_MAX_ROWS = 5


@dataclass(frozen=True)
class Accounts:
    """The accounts table, checked: see the module docstring.

    Attributes
    ----------
    frame : pl.DataFrame
        ``account_id`` (unique) and the optional columns present (:attr:`attributes`), with
        ``_row`` (the source row).
    table : Table
        The loaded table (source, the user's column names) for errors about its rows.
    """

    frame: pl.DataFrame
    table: Table

    @property
    def attributes(self) -> tuple[str, ...]:
        """The optional columns the file has (of ``segment``, ``metro``, ``region``,
        ``industry``, ``employees``)."""
        return tuple(c for c in ACCOUNT_ATTRIBUTES if c in self.frame.columns)

    @property
    def source(self) -> str:
        """The file (or ``<DataFrame>``) the table came from."""
        return self.table.source.name

    def has(self, column: str) -> bool:
        """Whether the table has ``column`` with at least one value."""
        return column in self.frame.columns and self.frame.get_column(column).null_count() < (
            self.frame.height
        )

    def lookup(self, columns: Sequence[str] = ()) -> pl.DataFrame:
        """``account_id`` and ``columns`` of each account, and each account again under the
        15-character form of its id when the id is an 18-character Salesforce id (Data
        Loader's, the API's) and no account has that form as its own id: the form a
        Salesforce report and ``attribution import salesforce`` write, so the two kinds of
        export meet (module docstring). ``_id15``: True on those rows."""
        rows = self.frame.select("account_id", *columns)
        short = rows.with_columns(salesforce_15(pl.col("account_id")).alias("_15")).filter(
            pl.col("_15").is_not_null()
            & ~pl.col("_15").is_in(rows.get_column("account_id").implode())
            & (pl.col("_15").len().over("_15") == 1)  # two ids of one form: neither
        )
        alias = short.with_columns(pl.col("_15").alias("account_id")).drop("_15")
        return pl.concat(
            [rows.with_columns(pl.lit(False).alias("_id15")),
             alias.with_columns(pl.lit(True).alias("_id15"))]
        )  # fmt: skip

    def attach(
        self, frame: pl.DataFrame, columns: Sequence[str] = ("segment",), *, key: str = "account_id"
    ) -> pl.DataFrame:
        """``frame`` with the account ``columns`` joined on ``key`` (a column of account
        ids); a key with no account row, a null key or a null value gets ``unknown`` (text
        columns; ``employees`` stays null). A column the table lacks is all ``unknown``. A
        key in the 15-character form of an account's 18-character Salesforce id meets that
        account (:meth:`lookup`)."""
        text = [c for c in columns if c != "employees"]
        have = [c for c in columns if c in self.frame.columns]
        lookup = self.lookup(have).drop("_id15").rename({"account_id": key})
        out = frame.with_columns(pl.col(key).cast(pl.String)).join(
            lookup, on=key, how="left", coalesce=True
        )
        missing = [pl.lit(None, pl.String).alias(c) for c in text if c not in have]
        if missing:
            out = out.with_columns(missing)
        return out.with_columns(pl.col(c).fill_null(UNKNOWN) for c in text)


@dataclass(frozen=True)
class Subscriptions:
    """The subscriptions table, checked: one row per ``account_id`` and ``month`` with the
    month's ``mrr`` (see the module docstring).

    Attributes
    ----------
    frame : pl.DataFrame
        ``account_id``, ``month`` (a date, the first of the month), ``mrr`` (float, USD).
    table : Table
        The loaded table (source, the user's column names).
    amount : str
        ``mrr`` or ``arr``: the column the amounts came from (``mrr`` when both are given;
        rows without an MRR use ARR / 12).
    rows_in, months_merged : int
        Source rows read, and rows summed into an account-month another row already had.
    """

    frame: pl.DataFrame
    table: Table
    amount: str
    rows_in: int
    months_merged: int

    @property
    def source(self) -> str:
        """The file (or ``<DataFrame>``) the table came from."""
        return self.table.source.name


def _repeated_error(table: Table, frame: pl.DataFrame, column: str, what: str) -> InputError:
    dup = frame.filter(pl.col(column).is_duplicated() & pl.col(column).is_not_null())
    return table.error(
        DuplicateKeyError(
            f"{dup.get_column(column).n_unique()} {what} appear on more than one row",
            table=table.spec.name if table.spec else None,
            source=table.source.name,
            column=column,
            rows=dup.get_column(ROW).head(_MAX_ROWS).to_list(),
            hint="give one row per account (its current segment, metro, region...)",
        )
    )


def _rows_error(
    table: Table, bad: pl.DataFrame, column: str, message: str, hint: str
) -> InputError:
    return table.error(
        InputError(
            message,
            table=table.spec.name if table.spec else None,
            source=table.source.name,
            column=column,
            rows=bad.get_column(ROW).head(_MAX_ROWS).to_list(),
            hint=hint,
        )
    )


def _read(
    data: TableLike,
    spec: TableSpec,
    columns: Mapping[str, str] | None,
    formats: Mapping[str, Sequence[str]] | None,
) -> Table:
    """The load stage for one of these tables: a file must hold data rows."""
    return load(
        data,
        spec,
        columns=columns,
        formats=formats,
    )


def segment_spelling(expr: pl.Expr) -> pl.Expr:
    """A segment's one spelling: trimmed, lower case, runs of spaces / hyphens as ``_``."""
    return expr.str.strip_chars().str.to_lowercase().str.replace_all(r"[\s\-]+", "_")


def load_accounts(
    data: TableLike,
    *,
    columns: Mapping[str, str] | None = None,
    formats: Mapping[str, Sequence[str]] | None = None,
) -> Accounts:
    """Read and check the accounts table (``account_id`` required and unique; ``segment``,
    ``metro``, ``region``, ``industry``, ``employees`` optional). ``columns``: our column ->
    the user's (``[columns.accounts]``)."""
    table = _read(data, ACCOUNTS, columns, formats)
    frame = table.frame
    if frame.get_column("account_id").is_duplicated().any():
        raise _repeated_error(table, frame, "account_id", "account ids")
    text = [c for c in ("metro", "region", "industry") if c in frame.columns]
    frame = frame.with_columns(pl.col(c).str.strip_chars() for c in text)
    if "segment" in frame.columns:
        frame = frame.with_columns(segment_spelling(pl.col("segment")).alias("segment"))
    if "employees" in frame.columns:
        bad = frame.filter(pl.col("employees") < 0)
        if bad.height:
            raise _rows_error(
                table, bad, "employees", f"{bad.height} negative headcount(s)", "employees >= 0"
            )
    return Accounts(frame=frame, table=table)


def load_subscriptions(
    data: TableLike,
    *,
    columns: Mapping[str, str] | None = None,
    formats: Mapping[str, Sequence[str]] | None = None,
) -> Subscriptions:
    """Read and check the subscriptions table (``account_id``, ``month``, ``mrr`` or
    ``arr``): one row per account and month, as the module docstring says."""
    table = _read(data, SUBSCRIPTIONS, columns, formats)
    frame = table.frame
    has_mrr, has_arr = "mrr" in frame.columns, "arr" in frame.columns
    amount = pl.col("mrr") if has_mrr else pl.lit(None, pl.Float64)
    if has_arr:
        amount = amount.fill_null(pl.col("arr") / 12.0)
    frame = frame.with_columns(amount.alias("_mrr"))
    given = "mrr" if has_mrr else "arr"
    column = "mrr" if has_mrr and not has_arr else given
    missing = frame.filter(pl.col("_mrr").is_null())
    if missing.height:
        raise _rows_error(
            table,
            missing,
            column,
            f"{missing.height} row(s) without an amount",
            "each row needs its month's MRR (or ARR); a month without revenue is a row of 0 "
            "or no row",
        )
    negative = frame.filter(pl.col("_mrr") < 0)
    if negative.height:
        raise _rows_error(
            table,
            negative,
            column,
            f"{negative.height} negative amount(s)",
            "recurring revenue is >= 0; record a credit as a lower amount",
        )
    month = pl.col("month").dt.truncate("1mo")
    out = (
        frame.group_by("account_id", month.alias("month"))
        .agg(pl.col("_mrr").sum().alias("mrr"), pl.col(ROW).min())
        .sort("account_id", "month")
    )
    return Subscriptions(
        frame=out.select("account_id", "month", "mrr", ROW),
        table=table,
        amount=given,
        rows_in=table.rows_in,
        months_merged=frame.height - out.height,
    )


def as_accounts(data: Accounts | TableLike | None) -> Accounts | None:
    """``data`` as :class:`Accounts`: loaded already, or read now with our column names."""
    return data if isinstance(data, Accounts) or data is None else load_accounts(data)


def as_subscriptions(data: Subscriptions | TableLike | None) -> Subscriptions | None:
    """``data`` as :class:`Subscriptions`: loaded already, or read now with our names."""
    if data is None or isinstance(data, Subscriptions):
        return data
    return load_subscriptions(data)
