"""Run configuration files (TOML): inputs, column and stage-name mappings, run options.

Example (every key optional except an input)::

    [inputs]                       # paths are relative to this file
    touches = "touches.parquet"    # or: events = "events.ndjson" (unified log)
    stages = "stages.parquet"
    contacts = "contacts.parquet"
    accounts = "accounts.parquet"  # account_id, segment, metro, region...: economics slices
    subscriptions = "subscriptions.parquet"  # account_id, month, mrr or arr: retention, NRR
    experiments = "experiments.csv"  # lift tests: calibrated credit beside the models'
    # or: import = "crm_import"    # a directory written by `attribution import ...`

    [inputs.database]              # any table as a query (DuckDB file or PostgreSQL)
    uri = "duckdb://warehouse.duckdb"    # a relative file is next to this config
    touches = "SELECT * FROM touches"    # (a table is a file or a query, not both)

    [run]                          # any run option (attribution.RunOptions), and out
    models = ["linear", "w_shaped", "time_decay:half_life=3d"]
    level = "contact"              # or "account"
    conversion_stage = "closed_won"
    lookback = "90d"
    out = "runs"

    [columns.touches]              # ours = "theirs"
    timestamp = "event_time"
    contact_id = "lead_id"

    [stage_names]                  # ours = "theirs" or ["theirs", ...]
    closed_won = ["Closed Won", "Won"]

    [milestones]                   # milestone role = stages marking it
    lead = ["lead", "mql"]

    [taxonomy]
    rules = "channel_rules.toml"

    [channels]                     # our channel = the data's other names for it
    linkedin = ["LinkedIn Ads", "li"]  # (every name is trimmed and lower-cased first)

    [formats]                      # strftime patterns for text dates, tried in order, then ISO
    timestamp = ["%m/%d/%Y %I:%M %p", "%m/%d/%Y"]   # every table's timestamp column
    decimal_comma = true           # numbers written 1.414,27 (4.744 is 4744); default false
    [formats.spend]                # or one table's column
    month = "%b %Y"

    [economics]                    # unit economics (needs [inputs] spend); all optional
    allocation = "customers"       # non-media costs reach channels by customers or spend
    gross_margin = 0.75           # or per segment: {smb = 0.7, enterprise = 0.85, all = 0.8}
    annual_churn = 0.15
    max_lifetime_years = 5         # LTV's lifetime, 1 / churn, capped at this many years
    guardrail_limit = 0.30         # loaded CAC / gross profit per customer, on the basis:
    guardrail_basis = "lifetime_gross_profit"  # or first_year_gross_profit, period_gross_profit
    segment_spend = "touches"      # spend split across segments by touches or customers
    monthly_lag_months = 2         # spend -> customers lag of the monthly figures (default:
                                   # the data's median months from first touch to close)
    [economics.costs]              # non-media costs for the same period as the spend
    sales_compensation = 350000
    tooling = 40000
    onboarding = 60000

    [benchmarks]                   # your own benchmark table, over the shipped one
    file = "benchmarks.csv"        # (rows replace the shipped rows of the same scope)

    [targets]                      # your targets: over the benchmark table's ranges
    mql_to_sql = [0.18, 0.25]      # low, high
    win_rate = 0.25                # a point target
    [targets.segment.smb]
    cac_payback_months = [3, 6]

    [sla]                          # sales and marketing SLAs (its presence turns them on)
    sales_touch_types = ["sales_call", "sales_email", "meeting"]
    speed_to_lead_hours = 24
    follow_up_touches = 3
    follow_up_days = 7
    sql_acceptance_rate = 0.15
    sql_acceptance_days = 30
    mql_to_sql_days = 14
    sql_to_opportunity_days = 14

    [alerts]                       # weekly alerts (with the funnel); all optional
    threshold = 3.5                # |z| a week must reach
    min_change = 0.25              # and a 25% change (rates: min_points = 0.05)
    mute = ["touches", "spend:events"]
    [alerts.thresholds]            # per metric
    cost_per_lead = 4.5
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attribution.b2b._analysis_inputs import ECONOMICS_KEYS, check_economics
from attribution.b2b._sla_targets import check_sla_settings
from attribution.exceptions import ConfigError, InputError, did_you_mean
from attribution.inputs._benchmarks import Benchmarks, load_benchmarks
from attribution.inputs._channels import check_channel_aliases
from attribution.inputs._column_map import mappable
from attribution.inputs._database import SqlTable, database_kind
from attribution.inputs._formats import check_timestamp_formats
from attribution.inputs._schema import SPECS
from attribution.inputs._toml import read_toml
from attribution.options import RunOptions, parse_role_multipliers

_SECTIONS = {
    "alerts",
    "inputs",
    "run",
    "columns",
    "stage_names",
    "milestones",
    "taxonomy",
    "economics",
    "formats",
    "channels",
    "benchmarks",
    "targets",
    "sla",
}
_INPUTS = {
    "touches",
    "stages",
    "contacts",
    "events",
    "spend",
    "accounts",
    "subscriptions",
    "surveys",
    "paths",
    "plan",
    "import",
    "experiments",
}
#: The [inputs] keys that are tables, not files of another kind: each may be a query of
#: [inputs.database].
_TABLES = _INPUTS - {"plan", "import", "paths"}
#: The tables an import directory (``attribution import ...``, ``[inputs] import``) holds:
#: the CRM and GA4 imports' (importers.ImportFiles), ``import ads``'s spend (SPEND_FILE)
_IMPORTED = ("touches", "stages", "contacts", "surveys", "spend")
#: The run options with a section of their own (checked here); every other run option is a
#: key of [run], as is ``out`` (the runs directory of the command line).
_SECTIONED = {  # option -> (the RunConfig attribute, where the file gives it)
    "columns": ("columns", "[columns]"),
    "stage_names": ("stage_names", "[stage_names]"),
    "milestones": ("milestones", "[milestones]"),
    "channel_rules": ("channel_rules", "[taxonomy] rules"),
    "timestamp_formats": ("formats", "[formats]"),
    "decimal_comma": ("decimal_comma", "[formats] decimal_comma"),
    "channel_aliases": ("channels", "[channels]"),
    "segment_aliases": ("segment_aliases", "[economics] segment_aliases"),
}
_RUN = (set(RunOptions.names()) - set(_SECTIONED)) | {"out"}
_MILESTONES = {"lead", "opportunity", "closed_won"}


@dataclass
class RunConfig:
    """A parsed config file; paths are absolute."""

    inputs: dict[str, Path | SqlTable] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    stage_names: dict[str, str | list[str]] = field(default_factory=dict)
    milestones: dict[str, list[str]] = field(default_factory=dict)
    channel_rules: Path | None = None
    economics: dict[str, Any] = field(default_factory=dict)
    #: [alerts]: the fields of attribution.AlertSettings (checked when read)
    alerts: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: [formats] as RunOptions.timestamp_formats takes them: column or table.column -> patterns
    formats: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: [formats] decimal_comma: numbers written with a decimal comma (RunOptions.decimal_comma)
    decimal_comma: bool = False
    #: [channels]: our channel -> the data's names for it (RunOptions.channel_aliases)
    channels: dict[str, str | list[str]] = field(default_factory=dict)
    #: [benchmarks] file: the user's benchmark table (over the shipped one)
    benchmarks_file: Path | None = None
    #: [targets]: the user's targets, over the benchmark table (checked at load)
    targets: dict[str, Any] = field(default_factory=dict)
    #: [sla]: the SLA settings given (checked; the rest take their defaults); None: no [sla]
    sla: dict[str, Any] | None = None

    @property
    def segment_aliases(self) -> dict[str, Any] | None:
        """[economics] segment_aliases: a run option too (RunOptions.segment_aliases), for
        the lookback per segment; the B2B stage reads it from [economics] as before."""
        value = self.economics.get("segment_aliases")
        return dict(value) if isinstance(value, dict) else value

    def benchmarks(self) -> Benchmarks:
        """The benchmark table this file gives: shipped, its [benchmarks] file, [targets]."""
        return load_benchmarks(
            self.benchmarks_file, targets=self.targets, where=f"config '{self.path}': [targets]"
        )

    def written(self) -> dict[str, tuple[Any, str]]:
        """The run options this file gives: option name -> (value, where the file gives it),
        for :meth:`attribution.RunOptions.written`."""
        where = f"config '{self.path}':"
        found = {
            name: (value, f"{where} [run] {name}")
            for name, value in self.run.items()
            if name != "out"
        }
        for name, (attribute, key) in _SECTIONED.items():
            value = getattr(self, attribute)
            if value:
                found[name] = (value, f"{where} {key}")
        return found

    def options(self, given: Mapping[str, tuple[Any, str]] | None = None) -> RunOptions:
        """The run options of this file, updated by ``given`` (e.g. command-line flags from
        :func:`attribution.options.read_flags`); a bad value is an error that names the key
        (or flag) that gave it."""
        return RunOptions.written({**self.written(), **(given or {})})


#: Where a key of another table belongs, as a hint says it: ``decimal_comma`` under [run] is
#: read by no one (it is a [formats] key), and a did-you-mean among [run]'s keys misleads.
_HOMES: dict[str, str] = {
    **{key: f"[inputs] ({key} = \"FILE\")" for key in _INPUTS},
    **{key: f"[run] ({key} = ...)" for key in _RUN},
    **{key: f"[economics] ({key} = ...)" for key in ECONOMICS_KEYS},
    "decimal_comma": "[formats] (decimal_comma = true)",
    "timestamp_formats": '[formats] (timestamp = ["%m/%d/%Y"], or a column\'s key)',
    "channel_rules": '[taxonomy] (rules = "FILE")',
    "rules": '[taxonomy] (rules = "FILE")',
    "channel_aliases": '[channels] (google_ads = ["Google Ads"])',
    "channels": '[channels] (google_ads = ["Google Ads"])',
    "stage_names": "[stage_names]",
    "milestones": "[milestones]",
    "columns": '[columns.<table>] (e.g. [columns.touches] channel = "Channel")',
}


def _unknown(keys: set[str], valid: set[str], where: str, path: Path) -> None:
    for key in sorted(keys - valid):
        home = _HOMES.get(key)
        hint = (
            f"it belongs in {home}, not in {where}"
            if home is not None and not home.startswith(where)
            else did_you_mean(key, sorted(valid))
        )
        raise ConfigError(f"config '{path}': unknown key '{key}' in {where}; {hint}")


def _section(data: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"config '{path}': [{name}] must be a table, got {value!r}")
    return value


def load_config(path: str | Path) -> RunConfig:
    """Read and check a TOML run configuration."""
    path = Path(path).resolve()
    data = read_toml(path, "config")
    _unknown(set(data), _SECTIONS, "the top level", path)
    base = path.parent
    inputs = dict(_section(data, "inputs", path))
    queries = _database(inputs.pop("database", None), base, path)
    _unknown(set(inputs), _INPUTS | {"database"}, "[inputs]", path)
    for key, value in inputs.items():
        if not isinstance(value, str):
            raise ConfigError(f"config '{path}': [inputs] {key} must be a path, got {value!r}")
    run = _section(data, "run", path)
    _unknown(set(run), _RUN, "[run]", path)
    if isinstance(run.get("role_multipliers"), str):
        # the command line's text ('default', 'decision_maker=2|user=0.5') in a file too
        try:
            run["role_multipliers"] = parse_role_multipliers(run["role_multipliers"])
        except InputError as exc:
            raise ConfigError(
                f"config '{path}': [run] role_multipliers {exc}, or a table: role_multipliers "
                "= {decision_maker = 2.0, champion = 1.5, user = 0.5}") from None
    columns = _section(data, "columns", path)
    _unknown(set(columns), set(SPECS), "[columns]", path)
    for table, mapping in columns.items():
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ConfigError(f"config '{path}': [columns.{table}] maps our name = \"theirs\"")
        valid = set(mappable(table, SPECS[table].columns))
        _unknown(set(mapping), valid, f"[columns.{table}]", path)
    milestones = _section(data, "milestones", path)
    _unknown(set(milestones), _MILESTONES, "[milestones]", path)
    stage_names = _section(data, "stage_names", path)
    for where, mapping in (("[stage_names]", stage_names), ("[milestones]", milestones)):
        for key, value in mapping.items():
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ConfigError(
                    f"config '{path}': {where} {key} must be a stage name or a list of them, "
                    f"got {value!r}"
                )
    taxonomy = _section(data, "taxonomy", path)
    _unknown(set(taxonomy), {"rules"}, "[taxonomy]", path)
    rules = taxonomy.get("rules")
    if rules is not None and not isinstance(rules, str):
        raise ConfigError(f"config '{path}': [taxonomy] rules must be a path, got {rules!r}")
    economics = _economics(_section(data, "economics", path), path)
    alerts = _alerts(_section(data, "alerts", path), path)
    formats_section = dict(_section(data, "formats", path))
    decimal_comma = formats_section.pop("decimal_comma", False)
    if not isinstance(decimal_comma, bool):
        raise ConfigError(
            f"config '{path}': [formats] decimal_comma must be true or false, got "
            f"{decimal_comma!r}"
        )
    formats = _formats(formats_section, path)
    channels = _section(data, "channels", path)
    try:
        check_channel_aliases(channels)
    except InputError as exc:
        raise ConfigError(f"config '{path}': [channels] {exc}") from None
    sla = None
    if "sla" in data:
        sla = _section(data, "sla", path)
        try:
            check_sla_settings(sla)
        except InputError as exc:
            raise ConfigError(f"config '{path}': [sla] {exc}") from None
    target = run.get("write_to")
    if isinstance(target, str) and target.strip():
        try:  # a relative DuckDB file is next to the config, as [inputs.database]'s
            if database_kind(target) == "duckdb":
                run["write_to"] = _duckdb_relative(target, base)
        except ConfigError as exc:
            raise ConfigError(f"config '{path}': [run] write_to: {exc}") from None
    for key in ("out", "state", "currency_rates"):  # paths: relative to the config file
        if key in run:
            if not isinstance(run[key], str):
                raise ConfigError(
                    f"config '{path}': [run] {key} must be a path, got {run[key]!r}"
                )
            run[key] = str((base / run[key]).resolve())
    resolved: dict[str, Path | SqlTable] = {k: (base / v).resolve() for k, v in inputs.items()}
    if "import" in resolved:
        _imported(resolved, run, path)
    for table in sorted(set(queries) & set(resolved)):
        raise ConfigError(
            f"config '{path}': {table} is given both as a file ([inputs] {table}) and as a "
            f"query ([inputs.database] {table}); keep one"
        )
    resolved.update(queries)
    bench = _section(data, "benchmarks", path)
    _unknown(set(bench), {"file"}, "[benchmarks]", path)
    if "file" in bench and not isinstance(bench["file"], str):
        raise ConfigError(
            f"config '{path}': [benchmarks] file must be a path, got {bench['file']!r}"
        )
    config = RunConfig(
        inputs=resolved,
        run=run,
        columns=columns,
        stage_names=stage_names,
        milestones=milestones,
        channel_rules=(base / rules).resolve() if rules else None,
        economics=economics,
        alerts=alerts,
        path=path,
        formats=formats,
        decimal_comma=decimal_comma,
        channels=channels,
        benchmarks_file=(base / bench["file"]).resolve() if "file" in bench else None,
        targets=_section(data, "targets", path),
        sla=sla,
    )
    if config.benchmarks_file is not None or config.targets:
        config.benchmarks()  # a bad file or target fails here, before any work starts
    return config


def _alerts(section: dict[str, Any], path: Path) -> dict[str, Any]:
    """Check [alerts] by building the settings (an unknown key or bad value names it)."""
    from attribution.b2b._alerts import AlertSettings  # the b2b room imports this module
    from attribution.exceptions import ModelParameterError

    try:
        AlertSettings.of(section)
    except (ModelParameterError, TypeError) as exc:
        raise ConfigError(f"config '{path}': [alerts] {exc}") from None
    return section


def _database(section: Any, base: Path, path: Path) -> dict[str, SqlTable]:
    """[inputs.database]: ``uri`` and one query per table (``touches = "SELECT ..."``); a
    DuckDB file's path is relative to the config file."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"config '{path}': [inputs.database] must be a table, got {section!r}")
    _unknown(set(section), _TABLES | {"uri"}, "[inputs.database]", path)
    uri = section.get("uri")
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError(
            f"config '{path}': [inputs.database] needs uri = \"duckdb:///file.duckdb\" or "
            "\"postgresql://user@host/db\""
        )
    try:
        if database_kind(uri) == "duckdb":
            uri = _duckdb_relative(uri, base)
        queries = {}
        for table, query in section.items():
            if table == "uri":
                continue
            if not isinstance(query, str):
                raise ConfigError(f"[inputs.database] {table} must be a query, got {query!r}")
            queries[table] = SqlTable(uri, query)
    except ConfigError as exc:
        raise ConfigError(f"config '{path}': {exc}") from None
    if not queries:
        raise ConfigError(
            f"config '{path}': [inputs.database] gives no query (e.g. touches = \"SELECT ...\")"
        )
    return queries


def _duckdb_relative(uri: str, base: Path) -> str:
    """A DuckDB URI or path with a relative file made relative to ``base``."""
    rest = uri.split("://", 1)[1] if "://" in uri else uri
    if rest.strip("/") in ("", ":memory:") or Path(rest).is_absolute():
        return uri
    return f"duckdb://{(base / rest).resolve()}"


def _imported(inputs: dict[str, Path | SqlTable], run: dict[str, Any], path: Path) -> None:
    """``[inputs] import = "DIR"``: the tables of an import directory, unless given one by
    one; its deals have several contacts each, so the run is at account level unless
    ``[run] level`` says otherwise."""
    folder = inputs.pop("import")
    assert isinstance(folder, Path)
    if not (folder / "import_report.json").is_file():
        raise ConfigError(
            f"config '{path}': [inputs] import = '{folder}' is not an import directory (no "
            "import_report.json); write one with 'attribution import "
            "hubspot|salesforce|pipedrive|ga4|ads'"
        )
    for table in _IMPORTED:
        if table not in inputs and (folder / f"{table}.parquet").is_file():
            inputs[table] = folder / f"{table}.parquet"
    run.setdefault("level", "account")
    # the import's conversions: closed-won deals, or a portal without deals' lifecycle
    # customers ('customer'), unless [run] conversion_stage says otherwise
    try:
        report = json.loads((folder / "import_report.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"config '{path}': [inputs] import = '{folder}': cannot read its "
            f"import_report.json ({exc}); write it again with 'attribution import'"
        ) from None
    stage = report.get("conversion_stage") if isinstance(report, dict) else None
    if isinstance(stage, str) and stage.strip():
        run.setdefault("conversion_stage", stage)


def _formats(section: dict[str, Any], path: Path) -> dict[str, tuple[str, ...]]:
    """[formats]: ``column = patterns`` or ``[formats.table]`` tables, flattened to the keys of
    ``RunOptions.timestamp_formats`` (``timestamp``, ``stages.timestamp``)."""
    flat: dict[str, Any] = {}
    for key, value in section.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{column}": v for column, v in value.items()})
        else:
            flat[key] = value
    try:
        return check_timestamp_formats(flat)
    except InputError as exc:
        raise ConfigError(f"config '{path}': [formats] {exc}") from None


def _economics(section: dict[str, Any], path: Path) -> dict[str, Any]:
    """Check [economics]: keyword arguments for ``unit_economics`` (ranges are checked there)."""
    _unknown(set(section), set(ECONOMICS_KEYS), "[economics]", path)
    try:
        return check_economics(section)
    except InputError as exc:
        raise ConfigError(f"config '{path}': [economics] {exc}") from None
