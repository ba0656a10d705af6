"""Ad-platform spend exports -> the spend table, the channel set by the importer.

Google Ads' downloaded "Campaign report" (title lines ``Campaign report`` and the date range,
then ``Day, Campaign, ..., Currency code, Cost, Impr., Clicks``, then ``Total: ...`` rows) and
LinkedIn Campaign Manager's "Campaign Performance Report" (six lines of report facts, then
``Start Date (in UTC), ..., Campaign Name, Currency, Total Spent, Impressions, Clicks``) have
no channel column: each file is one channel, ``google_ads`` / ``linkedin`` (the taxonomy's
names for their touches). The title lines are skipped as ``run`` skips them
(:mod:`attribution.inputs._preamble`), the total rows dropped and counted, the amounts read
as the importers read them, and the currencies through the importers' rules: files in
different currencies (or one file in several) need ``--currency-rates``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from attribution._reporting_currency import ISO_4217
from attribution.engine._files import atomic_directory, write_json_atomic, write_parquet_atomic
from attribution.exceptions import OutputExistsError, SchemaError
from attribution.importers._currency import deal_amounts
from attribution.importers._read import (
    Export,
    _fold,
    parse_amounts,
    parse_timestamps,
    read_export,
)
from attribution.importers._report_text import report_layout, utf8_text
from attribution.importers._result import ImportFiles, ImportReport, begin
from attribution.inputs._currency_column import CURRENCY as CURRENCY_COLUMN

#: platform -> (channel, date columns, month columns, campaign, cost, impressions, clicks)
PLATFORMS: dict[str, dict[str, Any]] = {
    "google_ads": {
        "channel": "google_ads",
        "date": ["Day", "Date"],
        "month": ["Month"],
        "campaign": ["Campaign", "Campaign name"],
        "amount": ["Cost", "Spend", "Amount spent"],
        "impressions": ["Impr.", "Impressions"],
        "clicks": ["Clicks"],
    },
    "linkedin": {
        "channel": "linkedin",
        "date": ["Start Date (in UTC)", "Start Date", "Day", "Date"],
        "month": ["Month"],
        "campaign": ["Campaign Name", "Campaign"],
        "amount": ["Total Spent", "Amount Spent", "Spend", "Cost"],
        "impressions": ["Impressions"],
        "clicks": ["Clicks"],
    },
}
#: headers only one platform's export writes (compared as columns are found: case, spaces
#: and punctuation ignored): a file given as one platform that has none of its own and some
#: of the other's is the other's report, refused (its spend would be the wrong channel's)
MARKERS: dict[str, tuple[str, ...]] = {
    "google_ads": (
        "Impr.", "Currency code", "Campaign state", "Avg. CPC", "Avg. cost", "Cost / conv.",
        "Conv. rate", "Interaction rate", "Search impr. share",
    ),
    "linkedin": (
        "Start Date (in UTC)", "End Date (in UTC)", "Total Spent", "Campaign Group Name",
        "Campaign Group ID", "Average CPC", "Average CPM", "Click Through Rate",
        "Total Engagements", "Viral Impressions",
    ),
}  # fmt: skip
#: platform -> what its export is called and the option that takes it
EXPORTS = {
    "google_ads": ("a Google Ads campaign report", "--google-ads"),
    "linkedin": ("a LinkedIn Campaign Manager export", "--linkedin-ads"),
}
SPEND_FILE = "spend.parquet"
SPEND_COLUMNS: dict[str, pl.DataType] = {
    "channel": pl.String(),
    "date": pl.Date(),
    "month": pl.String(),
    "campaign": pl.String(),
    "amount": pl.Float64(),
    "impressions": pl.Int64(),
    "clicks": pl.Int64(),
}


@dataclass
class SpendImport:
    """The spend table of ad-platform exports and its import report."""

    spend: pl.DataFrame
    report: dict[str, Any]

    def write(self, out: str | Path) -> Path:
        """``spend.parquet`` and ``import_report.json`` into ``out`` (new), atomically."""
        out = Path(out)
        if out.exists():
            raise OutputExistsError(f"{out} already exists; choose a new --out directory")
        with atomic_directory(out) as tmp:
            write_parquet_atomic(tmp / SPEND_FILE, self.spend)
            write_json_atomic(tmp / ImportFiles.REPORT, self.report)
        return out


def import_ads(
    *,
    google_ads: str | Path | None = None,
    linkedin_ads: str | Path | None = None,
    timestamp_formats: Sequence[str] | None = None,
    decimal_comma: bool = False,
    currency_rates: str | Path | None = None,
    out: str | Path | None = None,
) -> SpendImport:
    """Import Google Ads / LinkedIn Campaign Manager campaign reports into one spend table
    (``channel``, ``date`` or ``month``, ``campaign``, ``amount``, ``impressions``,
    ``clicks``), each file's rows on its platform's channel."""
    files = {"google_ads": google_ads, "linkedin": linkedin_ads}
    given = {k: v for k, v in files.items() if v is not None}
    if not given:
        raise SchemaError("give at least one report: --google-ads FILE, --linkedin-ads FILE")
    report, formats = begin(
        "ads", timestamp_formats, decimal_comma=decimal_comma, currency_rates=currency_rates
    )
    frames = []
    currencies: dict[str, str | None] = {}
    per_file: dict[str, Any] = {}
    for platform, path in given.items():
        frame, currency = _platform(platform, Path(path), report, formats)
        frames.append(frame)
        currencies[platform] = currency
        per_file[platform] = report.currency
    _one_currency(currencies, report)
    spend = pl.concat(frames, how="diagonal_relaxed")
    if {"date", "month"} <= set(spend.columns):
        raise SchemaError(
            "some reports are by day and others by month: the spend table is one or the other",
            table="spend",
            hint="download every report with the Day segment (Google Ads: Segment > Time > "
            "Day; LinkedIn: Time breakdown Daily)",
        )
    code = _spend_currency(currencies)
    when = "date" if "date" in spend.columns else "month"
    spend = spend.select(
        [(pl.col(c) if c in spend.columns else pl.lit(None)).cast(t).alias(c)
         for c, t in SPEND_COLUMNS.items() if c in (when, "channel") or c not in ("date", "month")]
    ).sort("channel", when, "campaign", nulls_last=True)  # fmt: skip
    if code is not None:  # the amounts' currency travels with them (as the CRM imports')
        spend = spend.with_columns(pl.lit(code).alias(CURRENCY_COLUMN))
    payload = {
        "crm": "ads",
        "files": report.files,
        "drops": report.drops,
        "outputs": {SPEND_FILE: spend.height},
        "spend": {
            str(c): round(float(a), 2)
            for c, a in spend.group_by("channel").agg(pl.col("amount").sum()).sort("channel").rows()
        },
        "currency": per_file,
        "options": {
            "decimal_comma": decimal_comma,
            "currency_rates": str(currency_rates) if currency_rates else None,
        },
        "notes": report.notes,
    }
    result = SpendImport(spend, payload)
    if out is not None:
        result.write(out)
    return result


def _platform(
    platform: str, path: Path, report: ImportReport, formats: Sequence[str]
) -> tuple[pl.DataFrame, str | None]:
    """One report's rows as spend rows, with its currency (converted by the rates: the
    reporting one; ``None``: none written)."""
    names = PLATFORMS[platform]
    # LinkedIn's "CSV": UTF-16, tab-separated, title lines (importers/_report_text.py)
    with utf8_text(path, platform, report.notes) as text:
        separator, skip = report_layout(text) if text.is_file() else (",", 0)
        export = read_export(text, platform, skip_lines=skip, separator=separator)
    export = replace(export, path=path)
    if separator == "\t" and path.suffix.lower() != ".tsv":
        report.notes.append(f"{platform}: the report's cells are separated by tabs: read so")
    _refuse_other_platform(export, platform)
    if skip:
        report.notes.append(
            f"{platform}: the report's {skip} title line(s) above its header were skipped"
        )
    day = export.column(names["date"], required=False)
    month = export.column(names["month"], required=False) if day is None else None
    if day is None and month is None:
        export.require(names["date"])  # the error, with a did-you-mean
    when = day or month
    assert when is not None
    amount = export.require(names["amount"])
    campaign = export.column(names["campaign"], required=False)
    impressions = export.column(names["impressions"], required=False)
    clicks = export.column(names["clicks"], required=False)
    report.read(
        export,
        {"date" if day else "month": when, "amount": amount, "campaign": campaign,
         "impressions": impressions, "clicks": clicks, "channel": f"(set: {names['channel']})"},
    )  # fmt: skip
    # Google Ads' 'Total: Account' / 'Total: Campaigns' rows: in the report's first column,
    # whichever it is (the date, or the campaign when the report is laid out by campaign);
    # a row with no date is no day's spend either (a total, a subtotal, a blank line)
    texts = [c for c, t in export.frame.schema.items() if t == pl.String]
    total = pl.any_horizontal(
        *(pl.col(c).str.contains(r"(?i)^\s*total\s*(:|$)").fill_null(False) for c in texts)
    )
    dateless = ~total & pl.col(when).cast(pl.String).str.strip_chars().fill_null("").eq("")
    totals, blank = export.frame.select(total.sum().alias("t"), dateless.sum().alias("b")).row(0)
    report.drop(platform, "the report's total row ('Total: ...')", totals)
    report.drop(platform, f"a row without a {when!r} (a subtotal or a blank line)", blank)
    export = replace(export, frame=export.frame.filter(~total & ~dateless))
    report.kept(platform, export.frame.height)
    report.currency = {}
    value = deal_amounts(export, amount, report)
    stamp = parse_timestamps(export, when, formats, "date" if day else "month")
    frame = export.frame.select(
        pl.lit(names["channel"]).alias("channel"),
        (stamp.dt.date().alias("date") if day else stamp.dt.strftime("%Y-%m").alias("month")),
        (pl.col(campaign) if campaign else pl.lit(None, pl.String)).alias("campaign"),
        value.alias("amount"),
        _count(export, impressions, "impressions"),
        _count(export, clicks, "clicks"),
    )
    return frame, report.currency.get("currency")


def _refuse_other_platform(export: Export, platform: str) -> None:
    """A file given as ``platform`` whose headers are the other platform's (none of
    :data:`MARKERS` of its own, some of the other's): an error naming the file, what it looks
    like and the option that takes it."""
    headers = {_fold(c) for c in export.frame.columns}
    found = {p: [m for m in markers if _fold(m) in headers] for p, markers in MARKERS.items()}
    other = next(p for p in MARKERS if p != platform)
    if found[platform] or not found[other]:
        return
    what, option = EXPORTS[other]
    given, given_option = EXPORTS[platform]
    raise SchemaError(
        f"the file looks like {what} (its header has {', '.join(map(repr, found[other][:3]))}),"
        f" not {given}: given as {given_option}, its spend would be channel "
        f"{PLATFORMS[platform]['channel']!r}'s",
        table=platform,
        source=export.name,
        hint=f"give it as {option} {export.name}",
    )


def _count(export: Export, column: str | None, ours: str) -> pl.Expr:
    """An impressions / clicks count (``1,234`` read as 1234); none: null."""
    if column is None:
        return pl.lit(None, pl.Int64).alias(ours)
    return parse_amounts(export, column, ours).cast(pl.Int64).alias(ours)


def _spend_currency(currencies: dict[str, str | None]) -> str | None:
    """The one ISO currency of every report's amounts (each report's as :func:`_platform`
    gives it: the reporting one when converted by the rates), None when some report's is
    unknown."""
    codes = set(currencies.values())
    code = codes.pop() if len(codes) == 1 else None
    return code if code in ISO_4217 else None


def _one_currency(currencies: dict[str, str | None], report: ImportReport) -> None:
    """Reports in different currencies (without ``--currency-rates``, which converts each
    to the reporting one) would be summed as one: an error naming them."""
    written = {p: c for p, c in currencies.items() if c is not None}
    if len(set(written.values())) > 1 and report.currency_rates is None:
        shown = ", ".join(f"{p} in {c}" for p, c in written.items())
        raise SchemaError(
            f"the reports are in different currencies ({shown}); summed as one the spend "
            "would be wrong",
            table="spend",
            hint="give --currency-rates rates.csv (columns currency,rate: the value of one unit "
            "in your reporting currency, which has rate 1)",
        )
