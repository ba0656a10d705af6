"""Inputs: sources, schema checks, run config files, channel taxonomy, and the reading of
real exports (blank cells as missing values, timestamps in the user's formats, errors that
name the user's column and file lines), which the CRM importers share."""

from attribution.inputs._account_inputs import (
    SEGMENTS,
    Accounts,
    Subscriptions,
    load_accounts,
    load_subscriptions,
)
from attribution.inputs._limits import (
    MAX_AMOUNT,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_PATH_CHARS,
    MAX_TEXT_CHARS,
)
from attribution.inputs._reading import (
    END_OF_DAY,
    INVISIBLE,
    US_TIMESTAMP_FORMATS,
    blank_as_null,
    blanks_as_null,
    check_parsed,
    locate,
    parse_date,
    parse_timestamp,
)
from attribution.inputs._sources import Source, read_source, table_format
from attribution.inputs._timestamp_hints import timestamp_hint
from attribution.inputs._warehouse_stamps import warehouse_iso

__all__ = [
    "END_OF_DAY",
    "INVISIBLE",
    "MAX_AMOUNT",
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PATH_CHARS",
    "MAX_TEXT_CHARS",
    "SEGMENTS",
    "US_TIMESTAMP_FORMATS",
    "Accounts",
    "Source",
    "Subscriptions",
    "blank_as_null",
    "blanks_as_null",
    "check_parsed",
    "load_accounts",
    "load_subscriptions",
    "locate",
    "parse_date",
    "parse_timestamp",
    "read_source",
    "table_format",
    "timestamp_hint",
    "warehouse_iso",
]
