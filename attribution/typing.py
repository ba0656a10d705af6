"""Type aliases of the public API, in one place.

Examples
--------
>>> from attribution.typing import Level
>>> import typing
>>> typing.get_args(Level)
('contact', 'account')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Literal, TypeAlias

import polars as pl
import pyarrow as pa

from attribution.inputs._database import SqlTable

__all__ = [
    "ContactScope",
    "Duration",
    "Level",
    "ModelLike",
    "ParallelDeals",
    "Progress",
    "TableLike",
]

#: Whose journeys: a contact's own touches, or every contact of an account.
Level: TypeAlias = Literal["contact", "account"]
#: Account level: whose touches make an account's journey (see ``RunOptions.contact_scope``).
ContactScope: TypeAlias = Literal["account", "opportunity_roles", "primary"]
#: Deals of one entity that overlap in time (see ``RunOptions.parallel_deals``).
ParallelDeals: TypeAlias = Literal["earliest", "share"]
#: A model request: a registry name (``"markov:order=2"``), a ``(name, params)`` pair or a
#: ``{"name": ..., "params": {...}}`` mapping.
ModelLike: TypeAlias = str | tuple[str, Mapping[str, Any]] | Mapping[str, Any]
#: Anything the library reads as a table: a Polars frame, an Arrow table, a file path
#: (Parquet, CSV, TSV, NDJSON) or a query against a database (:class:`attribution.SqlTable`).
TableLike: TypeAlias = (
    pl.DataFrame | pl.LazyFrame | pa.Table | str | os.PathLike[str] | SqlTable
)
#: A duration: ``"90d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"45s"`` or a timedelta (a number
#: without a unit is refused: the type admits it so that the error can say so).
Duration: TypeAlias = str | int | float | timedelta
#: Called with the name of each pipeline stage as it starts.
Progress: TypeAlias = Callable[[str], None]
