"""The contacts table of a contact-level night (:mod:`attribution.engine._incremental`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from attribution.engine._input_counts import contacts_frame
from attribution.engine._result import AttributionResult
from attribution.engine._stages import load_input
from attribution.inputs._schema import CONTACTS
from attribution.options import RunOptions
from attribution.typing import TableLike

__all__ = ["NightContacts"]


@dataclass(frozen=True)
class NightContacts:
    """The contacts table of a per-entity night, read whole every night as a full run reads
    it (it is not kept in the state: a contact moving to another account changes no journey
    at contact level, only the account its touches carry, which the answer attaches from the
    table as it is now)."""

    frame: pl.DataFrame | None
    described: dict[str, Any] | None

    @classmethod
    def read(cls, contacts: TableLike | None, accounts: Any, options: RunOptions) -> NightContacts:
        if contacts is None:
            return cls(None, None)
        table = load_input(contacts, CONTACTS, options)
        frame = contacts_frame(table, options, accounts=accounts is not None)
        return cls(frame, table.source.describe(table.rows_in))

    def answered(self, result: AttributionResult) -> AttributionResult:
        """``result``'s manifest lists the contacts table, as a full run's does."""
        if self.described is not None:
            result.manifest["inputs"]["contacts"] = self.described
        return result
