"""Why a file could not be read, said in one line naming the file and its 1-based line.

The CSV and NDJSON readers fail with messages about their own internals (``invalid utf-8
sequence``, ``found more fields than defined in 'Schema'`` and a suggestion of a reader
option, ``Syntax at character 88``). When a read fails, :func:`read_failure` looks at the
file again to say what is wrong and where:

- **not UTF-8**: the first byte that is not UTF-8, its byte offset and its line
  (:func:`utf8_problem`); the hint says how to save the file as UTF-8;
- **a CSV line with more fields than the header**: its line (a cell with the separator in
  it and no quotes, or a file delimited by ``;`` or tabs), with a hint about the delimiter
  when the header holds ``;``, a tab or ``|``;
- **an NDJSON line that is not JSON**: its line.

These run only after a read failed (the data path never pays for them) and look at the
lines with vectorised expressions (no loop over rows in Python).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._column_guess import guess_column

if TYPE_CHECKING:
    from attribution.inputs._sources import Source

__all__ = [
    "COMMA_HINT",
    "DECIMAL_COMMA_HOW",
    "check_has_rows",
    "check_repeated_headers",
    "check_text_file",
    "header_as_written",
    "missing_column_hint",
    "mixed_header_hint",
    "months_as_columns",
    "number_hint",
    "read_failure",
    "semicolon_note",
    "separator_hint",
    "unreadable",
    "utf8_problem",
]

def check_has_rows(source: Source, table: str, blank: int = 0) -> None:
    """An InputError naming the file when ``source`` has no data row (reads one row), or
    when its ``blank`` rows (dropped) were all it had."""
    if blank or source.frame.head(1).collect().height == 0:
        names = source.frame.collect_schema().names()
        raise InputError(
            f"the table has no data rows: {blank} blank row(s) under its header"
            if blank
            else "the table has no data rows (an empty or header-only file, or a query that "
            "returned no row)",
            table=table,
            source=source.name,
            hint=f"columns found: {', '.join(names) or 'none'}",
        )


#: a number with a comma that no reader takes (inputs/_money.py reads '1,500.00', not '1,5')
COMMA_HINT = (
    "a decimal comma ('1,5', or any comma in a ';'-separated file) is never guessed: give "
    "--decimal-comma ([formats] decimal_comma = true in a config; decimal_comma=True in "
    "Python) to read the numbers with a decimal comma ('1.414,27' is 1414.27), or write them "
    "with '.' as the decimal point"
)
#: a finance sheet's money: a currency sign, or US thousands groups before a decimal point
_MONEY_TEXT = re.compile(r"\s*[$€£¥].*|.*[$€£¥]\s*|\s*\d{1,3}(,\d{3})+\.\d+\s*")


def number_hint(example: str) -> str:
    """The hint of a number that does not read: money in a form a money column does not
    read (``€24,379.07``; a money column reads ``$24,379.07``:
    :mod:`attribution.inputs._money`), a comma (never guessed: ``1,5``), or neither."""
    # the import's hint for a sign or code it does not read ('₹', 'CHF'); imported here:
    # the importers package reads tables through this one
    from attribution.importers._amount_hints import amount_hint, unread_sign

    if _MONEY_TEXT.fullmatch(example) or unread_sign(example, codes=True):
        return amount_hint(
            example,
            "write 24379.07 (an amount column also reads $24,379.07, £24,379.07 or GBP "
            "24,379.07: one currency sign, $, £, € or ¥, or ISO 4217 code, before or after "
            "the amount, commas between groups of three digits, '.' as the decimal point; no "
            "other sign or code)",
            codes=True,
        )
    if "," in example:
        return COMMA_HINT
    return "numbers must use '.' as the decimal point and no thousands separator"


_BLOCK = 1 << 22
_MAX_LINES_SHOWN = 5
#: Delimiters a CSV file may use instead of the comma, with their names in a hint.
_OTHER_SEPARATORS = {";": "';'", "\t": "tabs", "|": "'|'"}

UTF8_HINT = (
    "save the file as UTF-8 (Excel: Save As 'CSV UTF-8'; or convert it, e.g. "
    "iconv -f cp1252 -t utf-8 FILE > FILE-utf8.csv for a Windows / Latin-1 export)"
)


def utf8_problem(path: Path) -> tuple[int, int, bytes] | None:
    """The first bytes of ``path`` that are not UTF-8: (1-based line, 0-based byte offset,
    the bytes), or None when the whole file is UTF-8. Decodes by blocks (the codec's C
    loop), so a file of any size is read in bounded memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, newlines = 0, 0
    tail = b""  # the bytes of an unfinished character at the end of the previous block
    with path.open("rb") as handle:
        while True:
            block = handle.read(_BLOCK)
            final = not block
            try:
                decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                # ``exc.object`` is the undecoded tail of the previous block and this block
                data, at = bytes(exc.object), exc.start
                line = newlines - tail.count(b"\n") + data[:at].count(b"\n") + 1
                bad = data[at : max(exc.end, at + 1)]
                return line, offset - len(tail) + at, bad
            if final:
                return None
            pending = decoder.getstate()[0]
            newlines += block.count(b"\n")
            offset += len(block)
            tail = bytes(pending)


#: What a UTF-16 file (Excel "Unicode Text", PowerShell ``>``) is told.
UTF16_MESSAGE = (
    "the file is UTF-16 text; save it as UTF-8 (Excel: CSV UTF-8) or "
    "iconv -f utf-16 -t utf-8 FILE > FILE-utf8.csv"
)
#: What a file whose lines end with a carriage return alone (classic Mac OS) is told.
CR_MESSAGE = (
    "the file's lines end with a carriage return alone (classic Mac OS line ends), so it "
    "reads as one line; save it with Windows or Unix line ends (Excel: CSV UTF-8), or "
    "tr '\\r' '\\n' < FILE > FILE-lf.csv"
)
_HEAD = 1 << 16


def text_file_problem(path: Path) -> str | None:
    """What makes ``path`` (a CSV / TSV / NDJSON file) unreadable as UTF-8 lines, from its
    first 64 KiB, or None: UTF-16 (a byte-order mark ``FF FE`` / ``FE FF``, or every other
    byte NUL: no UTF-8 text holds NUL bytes at every other position), or lines ended by a
    carriage return alone (a CR and no line feed in the first 64 KiB)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD)
    except OSError:  # the reader reports it
        return None
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return UTF16_MESSAGE
    pairs = len(head) // 2
    if pairs >= 2:
        even, odd = head[0 : 2 * pairs : 2].count(0), head[1 : 2 * pairs : 2].count(0)
        if max(even, odd) >= 0.4 * pairs:
            return UTF16_MESSAGE
    if b"\r" in head and b"\n" not in head:
        return CR_MESSAGE
    return None


def check_text_file(path: Path, table: str) -> None:
    """An :class:`InputError` naming ``path`` in one line when :func:`text_file_problem`
    finds one (never the file's bytes: a UTF-16 header read as UTF-8 is full of NULs)."""
    problem = text_file_problem(path)
    if problem is not None:
        raise InputError(problem, table=table, source=str(path))


def header_as_written(name: str) -> str:
    """A CSV header as its file means it. Polars keeps the doubled quotes of a quoted
    header cell (a header written ``contact ""id""`` inside quotes is read with both pairs);
    each pair stands for one quote (``contact "id"``). The one rule of run and import."""
    return name.replace('""', '"')


def csv_separator(path: Path, fmt: str = "csv") -> str:
    """The cell separator of a CSV / TSV file: a tab for ``.tsv``; for ``.csv`` a comma, or
    ``;`` when the header line holds ``;`` and no comma (*decision*: Excel in a
    comma-decimal locale writes ``;`` even for "CSV UTF-8 (Comma delimited)", so such a file
    is read as what it unambiguously is, and said; a header with both is read with commas).
    Reads only the first line (at most 64 KiB)."""
    if fmt == "tsv":
        return "\t"
    try:
        with path.open("rb") as handle:
            head = handle.readline(1 << 16).decode("utf-8", errors="replace").lstrip("\ufeff")
    except OSError:  # the reader reports it
        return ","
    return ";" if ";" in head and "," not in head else ","


#: How a run is told to read numbers with a decimal comma (inputs/_numbers.py).
DECIMAL_COMMA_HOW = (
    "--decimal-comma ([formats] decimal_comma = true in a config; decimal_comma=True in Python)"
)


def semicolon_note(decimal_comma: bool = False, option: str = DECIMAL_COMMA_HOW) -> str:
    """What a run and an import say of a file read as ``;``-separated
    (:func:`csv_separator`): how its numbers were read, with the decimal comma (``option``
    given: ``decimal_comma``) or without (then a number that is not plainly a decimal point
    is an error naming its lines: a comma, or dots before groups of three alone)."""
    read = (
        "read as ';'-separated (its header has ';' and no comma: Excel in a comma-decimal "
        "locale writes it so); "
    )
    if decimal_comma:
        return read + (
            "its numbers were read with a decimal comma, as asked ('1.414,27' is 1414.27, "
            "'4.744' is 4744)"
        )
    return read + (
        "a number with a comma ('1,5', '1.414,27') or with dots before groups of three "
        "alone ('4.744': 4.744 or 4744?) is an error naming its lines, never a misread "
        f"number; give {option} to read them with a decimal comma"
    )


def mixed_header_hint(source: Source, columns: Sequence[str]) -> str | None:
    """A hint when a file was read with commas because its header holds both ``;`` and
    ``,`` (:func:`csv_separator`: ``Monat;Kanal;Kosten (EUR, netto)``, a German finance
    sheet's header with a comma inside a name), else None."""
    if source.separator != "," or not any(";" in c for c in columns):
        return None
    header = ",".join(columns)
    inside = [name for name in header.split(";") if "," in name][:2]
    return (
        "the file was read as comma-separated because its header holds both ';' and ',' (a "
        "header with both is never guessed); the comma is inside the column name(s) "
        + ", ".join(repr(n) for n in inside)
        + ": remove it (e.g. 'Kosten (EUR netto)'), and the file is read as ';'-separated"
    )


def separator_hint(columns: Sequence[str], separator: str = ",") -> str | None:
    """A hint when a header read with ``separator`` looks delimited by another character
    (one column holding ``;``, tabs or ``|``), else None."""
    header = "".join(columns)
    for other, name in _OTHER_SEPARATORS.items():
        if other != separator and other in header and separator not in header:
            how = "give the file a .tsv extension" if other == "\t" else (
                "save it with commas between the cells"
            )
            return f"the file looks delimited by {name}, not {separator!r}: {how}"
    return None


def titled_separator_hint(path: Path, separator: str) -> str | None:
    """A hint when ``path``, not read with ``separator``, is a report whose header below its
    title lines (:func:`attribution.inputs._preamble.report_title`) is delimited by another
    character (LinkedIn's tab-separated "CSV"), else None."""
    from attribution.inputs._preamble import report_title

    for other, name in _OTHER_SEPARATORS.items():
        if other == separator:
            continue
        title = report_title(path, other)
        if title is not None:
            how = "give the file a .tsv extension (its title lines are then skipped)" if (
                other == "\t") else "save it with commas between the cells"  # fmt: skip
            return (
                f"the file looks delimited by {name}, not {separator!r}, below a report's title "
                f"of {title[0]} line(s) ({title[1]!r}): its header is line {title[0] + 1}; {how}"
            )
    return None


def _text_lines(path: Path) -> pl.Series:
    """The file's physical lines (``\\r`` stripped), as text."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return pl.Series("line", [text]).str.split("\n").explode().str.strip_suffix("\r")


def _ragged_lines(path: Path, separator: str) -> tuple[list[int], int] | None:
    """The first 1-based lines holding more fields than the header, and the header's
    number of fields. A quoted cell is one field (quotes removed before counting); lines
    inside or around a cell that spans lines (an odd number of quotes) are not judged."""
    lines = _text_lines(path)
    unquoted = lines.str.replace_all(r'"[^"\n]*"', "")
    fields = unquoted.str.count_matches(separator, literal=True) + 1
    balanced = lines.str.count_matches('"', literal=True) % 2 == 0
    frame = pl.DataFrame({"fields": fields, "balanced": balanced}).with_row_index(
        "line", offset=1
    )
    if frame.height == 0:
        return None
    width = int(frame.get_column("fields")[0])
    # inside a multi-line cell: after an odd number of unbalanced lines
    inside = (~pl.col("balanced")).cast(pl.Int64).cum_sum() % 2 == 1
    bad = frame.filter(
        (pl.col("line") > 1) & pl.col("balanced") & ~inside.shift(1, fill_value=False)
        & (pl.col("fields") > width)
    )
    if bad.height == 0:
        return None
    return bad.get_column("line").head(_MAX_LINES_SHOWN).to_list(), width


def _unclosed_quote(path: Path, separator: str) -> tuple[int, str] | None:
    """The 1-based line where a quote opens that no later quote closes (the file holds an
    odd number of quotes), and the header's name of the cell it opens; None when every
    quote is closed."""
    lines = _text_lines(path)
    quotes = lines.str.count_matches('"', literal=True)
    if int(quotes.sum() or 0) % 2 == 0:
        return None
    # the last line where the count of quotes so far turns odd: it stays odd to the end
    before_line = (quotes.cum_sum() % 2).shift(1, fill_value=0)
    line = int(before_line.eq(0).arg_true().max() or 0)  # type: ignore[arg-type]
    text = str(lines[line])
    at = text.rfind('"')  # the line holds an odd number of quotes: the last one opens
    before = re.sub(r'"[^"]*"', "", text[:at])
    header = [c.strip().strip('"') for c in str(lines[0]).split(separator)]
    index = before.count(separator)
    return line + 1, header[index] if index < len(header) else f"#{index + 1}"


def _bad_json_lines(path: Path) -> list[int]:
    """The first 1-based lines of an NDJSON file that are not JSON (blank lines are
    skipped, as the reader skips them)."""
    lines = _text_lines(path).to_frame().with_row_index("n", offset=1)
    text = pl.col("line").str.strip_chars()
    bad = lines.filter(
        (text.str.len_bytes() > 0) & text.str.json_path_match("$").is_null()
    )
    return bad.get_column("n").head(_MAX_LINES_SHOWN).to_list()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_failure(
    path: Path, fmt: str, table: str, exc: BaseException, separator: str | None = None
) -> InputError:
    """The :class:`InputError` to raise when reading ``path`` (``fmt``: ``csv``, ``tsv`` or
    ``ndjson``) as ``table`` failed with ``exc``: one line naming the file and, where the
    file shows it, the 1-based line and the likely cause."""
    source = str(path)
    origin = 1 if fmt == "ndjson" else 2  # the header is line 1 of a CSV file
    numbering = ("lines", origin)
    try:
        bad = utf8_problem(path)
    except OSError as err:
        return InputError(f"cannot read the file: {err.strerror or err}", table=table,
                          source=source)
    if bad is not None:
        line, offset, raw = bad
        return InputError(
            f"not UTF-8 text: byte {raw[:4].hex(' ')} at byte offset {offset:,}",
            table=table,
            source=source,
            rows=[line - origin],
            numbering=numbering,
            hint=UTF8_HINT,
        )
    if fmt in ("csv", "tsv"):
        separator = separator or ("\t" if fmt == "tsv" else ",")
        ragged = _ragged_lines(path, separator)
        if ragged is not None:
            lines, width = ragged
            header = _text_lines(path).head(1).to_list()
            hint = separator_hint(header, separator) or titled_separator_hint(path, separator) or (
                f"a cell holding {separator!r} must be quoted (\"a{separator}b\"); "
                "every line needs the header's fields"
            )
            return InputError(
                f"line(s) with more fields than the header's {width}",
                table=table,
                source=source,
                rows=[line - origin for line in lines],
                numbering=numbering,
                hint=hint,
            )
        opened = _unclosed_quote(path, separator)
        if opened is not None:
            line, column = opened
            return InputError(
                f"a quote opened in column {column!r} is never closed: the rest of the file "
                "is inside one cell",
                table=table,
                source=source,
                rows=[line - origin],
                numbering=numbering,
                hint='close the quote, or double a quote inside a quoted cell ("say ""hi""")',
            )
        return InputError(f"cannot read the CSV: {_first_line(exc)}", table=table,
                          source=source)
    lines = _bad_json_lines(path)
    if lines:
        return InputError(
            "line(s) that are not valid JSON",
            table=table,
            source=source,
            rows=[line - origin for line in lines],
            numbering=numbering,
            hint="NDJSON holds one JSON object per line",
        )
    return InputError(f"cannot read the NDJSON: {_first_line(exc)}", table=table,
                      source=source)


def unreadable(source: Source, table: str, exc: Exception) -> InputError:
    """The :class:`InputError` for a read of ``source`` that failed inside Polars (a file
    not UTF-8, a CSV line with too many fields, an NDJSON line that is not JSON): one line
    naming the file and the 1-based line (:func:`read_failure`)."""
    path = source.text_path  # a UTF-16 file's UTF-8 copy: its lines are the file's
    fmt = path.suffix.lower().lstrip(".") if path is not None else ""
    if path is not None and fmt in ("csv", "tsv", "ndjson", "jsonl", "json"):
        kind = "ndjson" if fmt in ("jsonl", "json") else fmt
        return read_failure(path, kind, table, exc).replace(source=source.name)
    first = str(exc).strip().splitlines()
    return InputError(
        f"cannot read the table: {first[0] if first else type(exc).__name__}",
        table=table,
        source=source.name,
    )


def check_repeated_headers(
    available: Sequence[str], read: Collection[str], table: str, source: Source
) -> None:
    """A header written twice in a CSV file (the reader names the second copy
    ``<name>_duplicated_0``) is an error naming it and both 1-based positions when the run
    reads that column (``read``: ours and the ones the config maps); a repeated column the
    run does not read is left alone."""
    for position, name in enumerate(available):
        match = re.fullmatch(r"(.+)_duplicated_\d+", name)
        if match is None or match.group(1) not in available or match.group(1) not in read:
            continue
        first = list(available).index(match.group(1))
        raise InputError(
            f"the header {match.group(1)!r} is written twice (columns {first + 1} and "
            f"{position + 1}): which one to read is not clear",
            table=table,
            source=source.name,
            column=match.group(1),
            hint="rename or delete one of the two columns",
        )


#: a month as a column header: ``Jan-25``, ``January 2025``, ``2025-01``, ``01/2025``
_MONTH_HEADER = re.compile(
    r"(?i)(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?[\s\-/']*(\d{2}|\d{4})"
    r"|\d{4}[-/.]\d{1,2}|\d{1,2}[-/.]\d{4}"
)


def months_as_columns(table: str, available: Sequence[str]) -> str | None:
    """The hint for a spend sheet laid out wide (``Channel,Jan-25,Feb-25,...``): one row
    per channel and month is needed. Never reshaped in silence: which columns are months
    and what their cells hold is the user's to say."""
    months = [c for c in available if _MONTH_HEADER.fullmatch(c.strip())]
    if table != "spend" or len(months) < 2:
        return None
    others = [c for c in available if c not in months]
    return (
        f"months as columns ({', '.join(repr(m) for m in months[:3])}, ...: "
        f"{len(months)} of them): one row per channel and month is needed, with columns "
        "channel, month, amount; unpivot the sheet (Excel: Data > From Table/Range, select "
        f"the month columns, Transform > Unpivot Columns; pandas: df.melt(id_vars={others!r}, "
        "var_name='month', value_name='amount'))"
    )


def missing_column_hint(
    table: str, wanted: Sequence[str], available: Sequence[str], hint: str | None = None
) -> str:
    """The hint of a missing column (``wanted``: ours, one or a group of alternatives): the
    user's column that is ours but for case and spaces (``Channel``) or close to it, with
    the mapping to write, then ``hint`` (the table's own); else the columns there are. A
    spend sheet with months as columns is said so first (:func:`months_as_columns`)."""
    if (wide := months_as_columns(table, available)) is not None:
        return wide
    folded = {c.strip().lower().replace(" ", "_"): c for c in reversed(available)}
    pairs: dict[str, str] = {}
    for ours in wanted:
        theirs = guess_column(ours, folded)  # never an id column for an answer column
        if theirs is not None and folded.get(theirs, theirs) not in pairs.values():
            pairs[ours] = folded.get(theirs, theirs)
    parts = [
        f"did you mean {theirs!r}? map it in [columns.{table}] ({ours} = \"{theirs}\")"
        for ours, theirs in pairs.items()
    ]
    if hint:
        parts.append(hint)
    if not parts:
        parts.append(
            "available: " + ", ".join(f"'{c}'" for c in sorted(available)) + f"; map yours "
            f"in [columns.{table}] (our name = \"your column\")"
        )
    return "; ".join(parts)


def zone_name_hint(example: str) -> str | None:
    """What to write instead of a zone name after a time (``09:00:00 EST``,
    ``... Europe/Berlin``), or None when ``example`` ends in none (UTC and GMT are read)."""
    zone = re.search(r"\d\s*\(?([A-Za-z]{2,5}|[A-Za-z]+/[A-Za-z_]+)\)?\s*$", example)
    if zone is None or zone.group(1).upper() in ("Z", "AM", "PM", "UTC", "GMT"):
        return None
    return (
        f"a zone name ('{zone.group(1)}') is not read (EST or CET stand for several "
        "offsets): write the offset (2025-03-01T09:00:00-05:00), or remove the name and "
        "give the zone with --timezone America/New_York (RunOptions(timezone=...))"
    )
