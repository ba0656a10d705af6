"""What an import gives: the canonical tables, the import report, and the atomic write of
both into one directory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from attribution._reporting_currency import ISO_4217
from attribution.engine._files import atomic_directory, write_json_atomic, write_parquet_atomic
from attribution.exceptions import OutputExistsError
from attribution.importers._read import DEFAULT_TIMESTAMP_FORMATS, Export, ambiguous_dates_note
from attribution.importers._zones import naive_zone_note
from attribution.inputs._currency_column import CURRENCY as CURRENCY_COLUMN
from attribution.inputs._read_errors import semicolon_note
from attribution.inputs._reading import NAIVE_ZONE


class ImportFiles:
    """File names of an import directory."""

    TOUCHES: Final = "touches.parquet"
    STAGES: Final = "stages.parquet"
    CONTACTS: Final = "contacts.parquet"
    SURVEYS: Final = "surveys.parquet"
    REPORT: Final = "import_report.json"


#: Canonical columns and types of the written tables (README, "Input formats").
TOUCH_COLUMNS: dict[str, pl.DataType] = {
    "touch_id": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "channel": pl.String(),
    "contact_id": pl.String(),
    "account_id": pl.String(),
    "campaign": pl.String(),
    "touch_type": pl.String(),
    "utm_source": pl.String(),
    "utm_medium": pl.String(),
}
STAGE_COLUMNS: dict[str, pl.DataType] = {
    "timestamp": pl.Datetime("us", "UTC"),
    "stage": pl.String(),
    "contact_id": pl.String(),
    "account_id": pl.String(),
    "opportunity_id": pl.String(),
    "value": pl.Float64(),
    "lead_source": pl.String(),
}
CONTACT_COLUMNS: dict[str, pl.DataType] = {
    "contact_id": pl.String(),
    "account_id": pl.String(),
    "role": pl.String(),
    "lead_source": pl.String(),
    "email": pl.String(),  # a survey answered by e-mail joins its contact (surveys._emails)
}
SURVEY_COLUMNS: dict[str, pl.DataType] = {
    "response": pl.String(),
    "contact_id": pl.String(),
    "account_id": pl.String(),
    "opportunity_id": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
}


def conform(frame: pl.DataFrame, columns: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """``frame`` with exactly ``columns`` (missing ones null), in that order and type; a
    frame of no columns (an import without that table) is an empty table, not a row of
    nulls."""
    if frame.width == 0:
        return pl.DataFrame(schema=dict(columns))
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in columns.items()
        ]
    )


@dataclass
class ImportReport:
    """Counts and mappings gathered while importing (written as ``import_report.json``)."""

    crm: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    drops: list[dict[str, Any]] = field(default_factory=list)
    value_mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: counts about the contacts' accounts an importer adds (``contacts_account_from_deals``)
    accounts: dict[str, int] = field(default_factory=dict)
    #: per file, the lines of a report footer left out before the rows were read (counted
    #: in ``rows_read`` and as a drop, so read = kept + dropped still holds)
    footer_lines: dict[str, int] = field(default_factory=dict)
    #: the files read (their dates read month-first: ``ambiguous_dates_note``)
    exports: list[Export] = field(default_factory=list)
    #: counts the import report gives beside the drops (``counts`` in the JSON): events and
    #: values changed or not made, e.g. ``close_dates_end_of_day``
    counts: dict[str, int] = field(default_factory=dict)
    #: how amounts are written: a decimal comma (``--decimal-comma``) instead of a point
    decimal_comma: bool = False
    #: free-text columns (the self-reported answer) whose null tokens (``N/A``) are kept as
    #: written: the survey coder reads them as don't-know answers, as in ``run``
    free_text: tuple[str, ...] = ()
    #: the stage the next run converts on: ``closed_won`` (the deals' wins), or
    #: ``customer`` for a HubSpot portal without deals (lifecycle dates)
    conversion_stage: str = "closed_won"
    #: ``--currency-rates``: the rates file converting several currencies to one
    currency_rates: Path | None = None
    #: the deals' currency (``importers._currency``): the column, the currency, counts
    currency: dict[str, Any] = field(default_factory=dict)
    #: the deals and won deals per pipeline (``importers._hubspot_pipelines``)
    pipelines: dict[str, Any] = field(default_factory=dict)

    def read(self, export: Export, columns: Mapping[str, str | None]) -> None:
        """Record a file read and the columns used (ours -> theirs)."""
        self.exports.append(export)
        self.files[export.label] = {
            "path": export.name,
            "rows_read": export.frame.height
            + export.blank_rows
            + self.footer_lines.get(export.label, 0),
            "rows_kept": export.frame.height,
            "columns": {k: v for k, v in columns.items() if v is not None},
        }
        self.drop(export.label, "blank row (every cell empty)", export.blank_rows)
        if export.separator == ";":
            note = semicolon_note(self.decimal_comma, "--decimal-comma")
            self.notes.append(f"{export.label} '{export.name}': {note}")

    def currency_code(self) -> str | None:
        """The one ISO 4217 currency the import's amounts are in (converted by
        ``--currency-rates``: the reporting one), None when unknown (no currency column, or
        the CRM's converted amount in its company currency, whose code the export omits)."""
        code = self.currency.get("currency")
        return code if code in ISO_4217 else None

    def kept(self, label: str, rows: int) -> None:
        self.files[label]["rows_kept"] = int(rows)

    def drop(self, label: str, reason: str, count: int) -> None:
        """Count rows of ``label`` left out, and why (zero counts are not recorded)."""
        if count:
            self.drops.append({"file": label, "reason": reason, "count": int(count)})

    def mapped(self, what: str, mapping: Mapping[str, str]) -> None:
        if mapping:
            self.value_mappings.setdefault(what, {}).update(
                {str(k): str(v) for k, v in sorted(mapping.items())}
            )


@dataclass
class ImportResult:
    """The canonical tables of one CRM import and its report.

    ``touches``, ``stages`` and ``contacts`` follow README "Input formats" (``contacts`` also
    keeps the CRM's own ``lead_source``); ``surveys`` is set when a self-reported column was
    named. :meth:`write` puts them, with ``import_report.json``, into one directory.
    """

    touches: pl.DataFrame
    stages: pl.DataFrame
    contacts: pl.DataFrame
    surveys: pl.DataFrame | None
    report: dict[str, Any]

    def write(self, out: str | Path) -> Path:
        """Write the import into ``out`` atomically (built under a temporary name beside it and
        renamed; ``out`` must not exist yet). Returns ``out``."""
        out = Path(out)
        if out.exists():
            raise OutputExistsError(f"{out} already exists; choose a new --out directory")
        with atomic_directory(out) as tmp:
            write_parquet_atomic(tmp / ImportFiles.TOUCHES, self.touches)
            write_parquet_atomic(tmp / ImportFiles.STAGES, self.stages)
            write_parquet_atomic(tmp / ImportFiles.CONTACTS, self.contacts)
            if self.surveys is not None:
                write_parquet_atomic(tmp / ImportFiles.SURVEYS, self.surveys)
            write_json_atomic(tmp / ImportFiles.REPORT, self.report)
        return out


def begin(
    crm: str,
    timestamp_formats: Sequence[str] | None,
    *,
    decimal_comma: bool = False,
    free_text: str | None = None,
    currency_rates: str | Path | None = None,
) -> tuple[ImportReport, tuple[str, ...]]:
    """An import's empty report (holding the options of how values are read: ``free_text``,
    the self-reported column) and its timestamp formats (default: the US CRM ones)."""
    report = ImportReport(
        crm,
        decimal_comma=decimal_comma,
        free_text=(free_text,) if free_text else (),
        currency_rates=Path(currency_rates) if currency_rates is not None else None,
    )
    return report, tuple(timestamp_formats or DEFAULT_TIMESTAMP_FORMATS)


def finish(
    report: ImportReport,
    touches: pl.DataFrame,
    stages: pl.DataFrame,
    contacts: pl.DataFrame,
    surveys: pl.DataFrame | None,
    out: str | Path | None = None,
) -> ImportResult:
    """Conform the tables, sort them, and put the output counts into the report; with ``out``,
    also write the import there (:meth:`ImportResult.write`)."""
    touches = conform(touches, TOUCH_COLUMNS).sort("timestamp", "touch_id", nulls_last=True)
    stages = (
        conform(stages, STAGE_COLUMNS)
        .unique(maintain_order=True)
        .sort("timestamp", "opportunity_id", "contact_id", "stage", nulls_last=True)
    )
    code = report.currency_code()
    if code is not None:
        # the amounts' currency travels with them: a run on this import (the printed next
        # command, `[inputs] import = DIR`, an HTTP run) reports in it without an option
        stages = stages.with_columns(pl.lit(code).alias(CURRENCY_COLUMN))
    contacts = conform(contacts, CONTACT_COLUMNS).sort("contact_id")
    if report.crm != "ga4":  # GA4 names its busy pseudo ids before stitching (_ga4.py)
        from attribution.importers._busy import note_busy_contacts

        note_busy_contacts(report, touches, contacts)
    if surveys is not None:
        surveys = conform(surveys, SURVEY_COLUMNS).unique(maintain_order=True)
    outputs = {
        ImportFiles.TOUCHES: touches.height,
        ImportFiles.STAGES: stages.height,
        ImportFiles.CONTACTS: contacts.height,
    }
    if surveys is not None:
        outputs[ImportFiles.SURVEYS] = surveys.height
    stage_counts = dict(stages.group_by("stage").len().sort("stage").iter_rows())
    payload = {
        "crm": report.crm,
        "files": report.files,
        "drops": report.drops,
        "value_mappings": report.value_mappings,
        "outputs": outputs,
        "stages": stage_counts,
        "conversions_closed_won": int(
            stages.filter(pl.col("stage") == "closed_won")
            .select(pl.col("opportunity_id").n_unique())
            .item()
        ),
        "conversion_stage": report.conversion_stage,
        "conversions": int(
            stages.filter(pl.col("stage") == report.conversion_stage)
            .select(pl.coalesce("opportunity_id", "contact_id").n_unique())
            .item()
        ),
        "accounts": _account_counts(report, touches, contacts),
        "counts": report.counts,
        "currency": report.currency,
        **({"pipelines": report.pipelines} if report.pipelines else {}),
        "options": {
            "decimal_comma": report.decimal_comma,
            "timezone": NAIVE_ZONE.get() or "UTC",  # import --timezone: naive dates' zone
            "currency_rates": str(report.currency_rates) if report.currency_rates else None,
        },
        "notes": [
            *report.notes,
            *filter(None, [ambiguous_dates_note(report.exports), naive_zone_note(report.exports)]),
        ],
    }
    result = ImportResult(touches, stages, contacts, surveys, payload)
    if out is not None:
        result.write(out)
    return result


def _account_counts(
    report: ImportReport, touches: pl.DataFrame, contacts: pl.DataFrame
) -> dict[str, int]:
    """The report's ``accounts``: how many contacts and touches have an account (what a run
    at ``--level account`` needs), with the importer's own counts (e.g. accounts taken from
    deals)."""
    no_account = pl.col("account_id").is_null()
    return {
        "contacts": contacts.height,
        "contacts_without_account": int(contacts.select(no_account.sum()).item()),
        **report.accounts,
        "touches": touches.height,
        "touches_without_account": int(touches.select(no_account.sum()).item()),
    }


def nothing_kept(report: Mapping[str, Any]) -> str | None:
    """Why an import kept nothing (every table it writes is empty: every row dropped), with
    each file's rows read and the drops counted by reason; ``None`` when it kept something.
    ``attribution import`` exits 3 with it (an empty answer), writing nothing."""
    if any(report["outputs"].values()):
        return None
    files = []
    for label, info in report["files"].items():
        drops = "; ".join(
            f"{d['count']:,} {d['reason']}" for d in report["drops"] if d["file"] == label
        )
        files.append(
            f"{label}: {info['rows_read']:,} row(s) read, {info['rows_kept']:,} kept"
            + (f" (dropped: {drops})" if drops else "")
        )
    return "the import kept nothing: " + (", ".join(files) or "no rows read")
