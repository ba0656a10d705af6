from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

import attribution
import attribution.inputs
from attribution import AttributionError

from ...core.errors import ServiceError, describe_library_error, model_errors
from ...core.runs import RunJob, gone_message
from ...core.storage import data_dir_problem
from ..deps import RunsDep, SettingsDep, SnapshotsDep
from ..schemas import (
    ChannelCreditResponse,
    RunList,
    RunListQuery,
    RunRequest,
    RunStatus,
    errors,
    errors_json,
)

router = APIRouter(prefix="/runs", tags=["runs"])


#: the longest file or directory name most file systems take (NAME_MAX)
NAME_MAX = 255


def _data_file(data_dir: Path, name: str, field: str) -> Path:
    """A file under the data directory; anything else is a 400 naming the field.

    Messages name the file as the client did, never by its absolute server path.
    """
    def bad(why: str) -> ServiceError:
        return ServiceError(400, "bad_path", f"'{name}' {why}", field=field)

    relative = Path(name)
    if relative.is_absolute() or name.startswith(("~", "\\")) or "\x00" in name:
        raise bad("must be a path relative to the data directory")
    long = next((part for part in relative.parts if len(os.fsencode(part)) > NAME_MAX), None)
    if long is not None:
        raise bad(f"has a component of {len(os.fsencode(long))} bytes; file and directory "
                  f"names are at most {NAME_MAX}")
    try:
        root = data_dir.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            raise bad("resolves outside the data directory")
        found = path.is_file()
    except RuntimeError:  # Python 3.11's Path.resolve on a symbolic link loop
        raise bad("cannot be resolved: a symbolic link loop") from None
    except OSError as exc:  # too long, a loop (ELOOP), no permission, ...
        raise bad(f"cannot be read: {exc.strerror or type(exc).__name__}") from None
    if not found:
        problem = data_dir_problem(data_dir)
        raise bad("is not a file in the data directory" + (f" ({problem})" if problem else ""))
    return path


#: the request's files: tables and other files under the data directory
FILES = ("touches", "stages", "contacts", "events", "accounts", "channel_rules", "spend",
         "subscriptions", "surveys", "survey_labels", "truth", "experiments", "plan",
         "benchmarks", "currency_rates")
#: the request's files read as tables (the others: channel_rules and plan are TOML, truth
#: JSON, benchmarks CSV whatever its name)
TABLES = ("touches", "stages", "contacts", "events", "accounts", "spend", "subscriptions",
          "surveys", "survey_labels", "experiments")


def _check_table_format(field: str, path: Path, redact: Callable[[Any], Any]) -> None:
    """A table file whose extension the library reads no table from (``README.md``, a
    workbook) is a 400 naming the field, when the run is requested (new-user report 12 #6:
    it was a 202, then a run failed at load with no field). The message is the library's
    (what the file is, the extensions it reads), the file named relative to the data
    directory."""
    if attribution.table_format(path) is not None:
        return
    message = f"'{path.name}': no table is read from a file of the extension '{path.suffix}'"
    try:
        attribution.inputs.read_source(path, table=field)  # raises, saying what the file is
    except AttributionError as exc:
        message = redact(str(exc))
    raise ServiceError(400, "bad_path", message, field=field)


#: run options a request cannot set: they name server-side state (a database to write to,
#: incremental state)
SERVER_OPTIONS = ("write_to", "state", "late_window")


def _options(body: RunRequest, files: dict[str, Path],
             redact: Callable[[Any], Any]) -> attribution.RunOptions:
    """The run's options: every RunOptions field the request gives (absent: the library's
    default), checked now: unknown models, bad parameters or a bad lookback are a 422
    naming the field, not a failed run."""
    given: dict[str, Any] = {
        name: getattr(body, name)
        for name in attribution.RunOptions.names()
        if name not in SERVER_OPTIONS and getattr(body, name, None) is not None
    }
    if "models" in given:
        given["models"] = list(given["models"])
    aliases = (body.economics or {}).get("segment_aliases")  # as a config's [economics]
    if aliases is not None and "segment_aliases" not in given:  # gives it: the lookback's too
        given["segment_aliases"] = aliases
    for name in ("channel_rules", "currency_rates"):  # files under the data directory
        if name in files:
            given[name] = files[name]
    # a bad rates file: a 422 naming the request's field, its message without server paths
    with _library_errors(redact, None, ("currency_rates",)), model_errors(body.models):
        options = attribution.RunOptions(**given)
    if "plan" in files and "touches" in files and "exclude_touch_types" not in given:
        # a plan's CAC leaves out the sales follow-ups by default, as the command line's
        # `run --plan` and `plan` do: one plan on the same data, one CAC
        sla = body.sla if isinstance(body.sla, dict) else {}
        column = (options.columns or {}).get("touches", {}).get("touch_type", "touch_type")
        with _library_errors(redact, "touches"):
            types = attribution.plan_touch_types(
                files["touches"], column=column, sales=sla.get("sales_touch_types")
            )
        if types:
            options = options.replace(exclude_touch_types=types)
    if options.segment_windows is not None and "accounts" not in files:
        raise ServiceError(422, "input", "the lookback is given per segment, which needs the "
                           "accounts table (each account's segment): give 'accounts'",
                           field="lookback")
    return options


@contextmanager
def _library_errors(redact: Callable[[Any], Any], field: str | None,
                    tables: Collection[str] = ()) -> Iterator[None]:
    """A library error raised inside as a 422 naming ``field`` (else the request's field of
    the table at fault, one of ``tables``, its column in the message; else the option at
    fault), its message with no absolute server path."""
    try:
        yield
    except AttributionError as exc:
        kind, message, at = describe_library_error(exc, tables)
        raise ServiceError(422, kind, redact(message), field=field or at) from None


def _b2b(body: RunRequest, files: dict[str, Path], options: attribution.RunOptions,
         redact: Callable[[Any], Any]) -> attribution.B2BInputs:
    """The B2B inputs and settings of the run (attribution.analyse), checked now: a bad
    setting, plan, benchmark table or target, or a bad row of a small B2B table (spend,
    accounts, subscriptions, experiments, surveys), is a 422 naming the field (the table's),
    the file, the column and the lines, not a failed run."""
    events = files.get("events")
    if "plan" in files:
        if "spend" not in files:
            raise ServiceError(422, "input", "the plan check needs the spend table: give "
                               "'spend'", field="plan")
        if events is not None:
            raise ServiceError(422, "input", "the plan check needs 'touches' and 'stages' "
                               "(the funnel and the channel that sourced each MQL), not "
                               "'events'", field="plan")
        with _library_errors(redact, "plan"):
            attribution.read_plan(files["plan"])
    with _library_errors(redact, "benchmarks"):  # a bad table: InputError
        try:
            benchmarks = attribution.load_benchmarks(files.get("benchmarks"),
                                                     targets=body.targets, where="targets")
        except attribution.ConfigError as exc:  # a bad target
            raise ServiceError(422, "config", redact(str(exc)), field="targets") from None
    with _library_errors(redact, None, tables=files):
        b2b = attribution.B2BInputs(
            touches=None if events is not None else files["touches"],
            stages=None if events is not None else files["stages"],
            events=events,
            contacts=files.get("contacts"),
            spend=files.get("spend"),
            accounts=files.get("accounts"),
            subscriptions=files.get("subscriptions"),
            surveys=files.get("surveys"),
            survey_labels=files.get("survey_labels"),
            truth=files.get("truth"),
            experiments=files.get("experiments"),
            plan=files.get("plan"),
            economics=body.economics,
            alerts=body.alerts,
            sla=body.sla,
            benchmarks=benchmarks,
            influence_csv=body.influence_csv,
        )
        b2b.check(options)  # the small tables; the touch log is read by the run
    return b2b


@router.post("", status_code=202, response_model=RunStatus,
             responses=errors(400, 401, 413, 422, 429, 503))
def start_run(body: RunRequest, settings: SettingsDep, runs: RunsDep,
              http: Request) -> dict[str, Any]:
    """Start a batch run over files in the data directory; poll GET /v1/runs/{run_id}.

    The run is the command line's ``attribution run``: the attribution, then the B2B stage
    (decision model, survey benchmark, economics, funnel and alerts, plan check, calibration,
    SLAs) on the B2B inputs given. 429 (with Retry-After) when the queue is full; 503 when
    the runs directory cannot take the run (read-only, full: what GET /readyz says) or the
    service is shutting down."""
    files = {name: _data_file(settings.data_dir, value, name)
             for name in FILES if (value := getattr(body, name)) is not None}
    for name in TABLES:
        if name in files:
            _check_table_format(name, files[name], runs.redact)
    options = _options(body, files, runs.redact)
    b2b = _b2b(body, files, options, runs.redact)
    request = body.model_dump(exclude_none=True) | {"models": list(options.models or ())}
    reason = runs.not_ready(settings.runs_min_free_bytes)
    if reason is not None:
        raise ServiceError(503, "not_ready", reason)
    return runs.submit(RunJob(
        touches=files["events"] if "events" in files else files["touches"],
        stages=None if "events" in files else files["stages"],
        contacts=files.get("contacts"),
        accounts=files.get("accounts"),
        options=options,
        request=request,
        b2b=b2b,
        tables=tuple(name for name in TABLES if name in files),
        request_id=getattr(http.state, "request_id", None),
    ))


def _publications(snapshots: attribution.SnapshotStore
                  ) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A run's status with what was published from it (new-user report 18, M7): the ids of
    its snapshots (newest first) and whether the current one, which scoring uses when a
    request names none, is one of them. Read once per request: every snapshot's record and
    the store's pointer (a damaged pointer: no run is current, as GET /v1/models/snapshots
    then says)."""
    by_run: dict[str, list[str]] = {}
    for snapshot in snapshots.all():  # newest first
        by_run.setdefault(snapshot.run_id, []).append(snapshot.snapshot_id)
    current = snapshots.current_id()

    def published(status: dict[str, Any]) -> dict[str, Any]:
        ids = by_run.get(str(status.get("run_id")), [])
        return status | {"snapshots": ids, "current": current is not None and current in ids}

    return published


@router.get("", response_model=RunList, responses=errors(401, 422))
def list_runs(runs: RunsDep, snapshots: SnapshotsDep,
              query: Annotated[RunListQuery, Query()]) -> dict[str, Any]:
    """The runs, newest first (run ids begin with their UTC creation time): each one's
    status as GET /v1/runs/{run_id} gives it, without its manifest and request; only those
    of ``?status=`` when given (``succeeded``: the runs that can be published); at most
    ``?limit=`` (100; 1,000 at most). Each says the snapshots published from it and whether
    the current one is among them (``current``: the run scoring answers from)."""
    published = _publications(snapshots)
    return {"runs": [published(s) for s in runs.recent(status=query.status,
                                                       limit=query.limit)]}


@router.get("/{run_id}", response_model=RunStatus, responses=errors(401, 404))
def get_run(run_id: str, runs: RunsDep, snapshots: SnapshotsDep) -> dict[str, Any]:
    """Status and progress; the manifest when succeeded, the error when failed; the
    snapshots published from it and whether the current one is among them."""
    status = runs.get(run_id)
    if status is None:
        raise ServiceError(404, "not_found", f"no run '{run_id}'", field="run_id")
    return _publications(snapshots)(status)


def _succeeded_run(runs: RunsDep, run_id: str, what: str) -> Path:
    """The directory of a run that has succeeded: 404 for an unknown run, 409 (naming
    ``what`` the caller wanted) for one still queued, running or failed, 410 for one that
    succeeded and whose directory was removed since."""
    run_dir = runs.run_dir(run_id)
    if run_dir is None:
        status = runs.get(run_id)
        if status is None:
            raise ServiceError(404, "not_found", f"no run '{run_id}'", field="run_id")
        if status["status"] == "succeeded":  # and its directory removed since
            raise ServiceError(410, "gone", gone_message(run_id), field="run_id")
        raise ServiceError(409, "conflict", f"run '{run_id}' is {status['status']}; {what} "
                           "is there once it has succeeded", field="run_id")
    return run_dir


@router.get("/{run_id}/channel-credit", response_model=ChannelCreditResponse,
            responses=errors(401, 404, 409, 410))
def channel_credit(run_id: str, runs: RunsDep, model: str | None = None) -> dict[str, Any]:
    """Channel credit rows of a finished run, for one model (``?model=``) or all."""
    run_dir = _succeeded_run(runs, run_id, "channel credit")
    frame = pl.read_parquet(run_dir / attribution.RunFiles.CHANNEL_CREDIT)
    if model is not None:
        labels = frame.get_column("model").unique(maintain_order=True).to_list()
        if model not in labels:
            # the run's models are its manifest's: a run that attributed no conversion (an
            # allow_empty run) has them and no rows, an empty answer, not "no such model"
            listed = _manifest_models(run_dir)
            if model not in listed:
                raise ServiceError(404, "not_found", f"model '{model}' is not in run "
                                   f"'{run_id}'; its models: {', '.join(listed) or 'none'}",
                                   field="model")
        frame = frame.filter(pl.col("model") == model)
    return {"run_id": run_id, "model": model, "rows": frame.to_dicts()}


def _manifest_models(run_dir: Path) -> list[str]:
    """The labels of a run's models, from its manifest (none when it cannot be read)."""
    try:
        manifest = json.loads((run_dir / attribution.RunFiles.MANIFEST).read_text())
        return [str(m["label"]) if isinstance(m, dict) else str(m)
                for m in manifest.get("models") or []]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []


@router.get("/{run_id}/report", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}},
                       **errors_json(401, 404, 409, 410)})
def report(run_id: str, runs: RunsDep) -> HTMLResponse:
    """The run's HTML report (the page ``report.html`` in its run directory)."""
    page = _succeeded_run(runs, run_id, "the report") / attribution.RunFiles.REPORT
    if not page.is_file():
        raise ServiceError(404, "not_found", f"run '{run_id}' has no report", field="run_id")
    return HTMLResponse(page.read_text(encoding="utf-8"))
