"""Importers: CRM exports (HubSpot, Salesforce, Pipedrive) and web-analytics events (GA4) ->
the canonical touches, stages, contacts and surveys tables, with an import report of every
row read, kept and dropped.

Modules: ``_read`` (one export read as text: blanks as missing, 1-based file lines, the user's
columns found by alias, dates / amounts / booleans parsed with errors naming file, column
and lines), ``_shared`` (role, stage and campaign-type mappings, self-reported answers),
``_result`` (the result, the report and the atomic write), ``_hubspot`` and ``_salesforce``
(with ``_salesforce_read``: ids and report footers, ``_salesforce_accounts``: accounts from
the members' own column and from deals, ``_salesforce_history``: OpportunityHistory),
``_hubspot_lifecycle`` (lifecycle dates, one column per stage; a portal without deals),
``_pipedrive`` (one row per deal -> stage events, contacts keyed by e-mail) and ``_ga4``
(events -> one touch per session, pseudo ids stitched to user ids), ``_ads`` (Google Ads /
LinkedIn campaign reports -> the spend table, the channel set by the importer).
"""

from attribution.importers._ads import SpendImport, import_ads
from attribution.importers._ga4 import import_ga4
from attribution.importers._hubspot import import_hubspot
from attribution.importers._pipedrive import import_pipedrive
from attribution.importers._read import DEFAULT_TIMESTAMP_FORMATS
from attribution.importers._result import ImportFiles, ImportResult
from attribution.importers._salesforce import import_salesforce

__all__ = [
    "DEFAULT_TIMESTAMP_FORMATS",
    "ImportFiles",
    "ImportResult",
    "SpendImport",
    "import_ads",
    "import_ga4",
    "import_hubspot",
    "import_pipedrive",
    "import_salesforce",
]
