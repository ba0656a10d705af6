"""Every error response, in one place: ``{"error": {"type", "message", "field"?}}``.

The library's exception classes map to status codes and types here; so do request
validation errors (with the field path, e.g. ``journeys[0].touches[2].timestamp``), the
service's own errors and anything unexpected (500, logged, no internals leaked)::

    attribution.ModelNotFoundError   -> 422 model_not_found   (message lists the valid names)
    attribution.ModelParameterError  -> 422 model_parameter
    attribution.InputError and kids  -> 422 input / column_not_found / schema / null_value /
                                            duplicate_key     (field = column or field path)
    attribution.ConfigError          -> 422 config
    RequestValidationError           -> 422 validation        (field = first error's path)
    ServiceError(status, type, ...)  -> its own status        (400, 401, 404, 409, 413, 422,
                                                               429 with Retry-After, 503)
    HTTPException                    -> its status            (e.g. 404 for unknown routes)
    anything else                    -> 500 internal
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import Message, Receive, Scope, Send

import attribution
from attribution import AttributionError
from attribution.inputs import INVISIBLE

from .asgi import HttpMiddleware
from .responses import FastJSONResponse

log = logging.getLogger("attribution.service")

_LIBRARY_STATUS: list[tuple[type[AttributionError], str]] = [
    (attribution.ModelNotFoundError, "model_not_found"),
    (attribution.ModelParameterError, "model_parameter"),
    (attribution.ColumnNotFoundError, "column_not_found"),
    (attribution.SchemaError, "schema"),
    (attribution.NullValueError, "null_value"),
    (attribution.DuplicateKeyError, "duplicate_key"),
    (attribution.InputError, "input"),
    (attribution.ConfigError, "config"),
    (attribution.EmptyResultError, "empty_result"),
    (AttributionError, "attribution"),
]
#: Pattern of ids, channels and names (Rust regex, as pydantic runs it): no control character
#: (C0, DEL, C1: NUL, tab, newline, ...) and at least one character that is neither
#: whitespace nor invisible (zero-width space, joiners, word joiner, BOM: blank as the
#: library reads a file's cells, attribution.inputs.INVISIBLE).
CLEAN_TEXT = (r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f" + INVISIBLE
              + r"][^\x00-\x1f\x7f-\x9f]*$")
_PATTERN_MESSAGES = {
    CLEAN_TEXT: "must not be blank and must not contain control characters "
                "(NUL, tab, newline, ...)",
}
INTERNAL_MESSAGE = "internal server error; the service log has the details"
_HTTP_TYPES = {400: "bad_request", 401: "unauthorized", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               422: "validation", 500: "internal"}


class ServiceError(Exception):
    """An error the service raises on purpose, with its status, type and field."""

    def __init__(self, status: int, type: str, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.field = field
        self.headers = headers


def error_body(type: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def error_bytes(type: str, message: str, field: str | None = None) -> bytes:
    """:func:`error_body` rendered as every other response is (orjson), for the ASGI
    middlewares that answer before FastAPI (401, 413)."""
    return orjson.dumps(error_body(type, message, field))


def _request_fields() -> dict[str, str]:
    """Command-line flag -> the run request's field (the run option's name), e.g.
    ``--allow-empty`` -> ``allow_empty``: library messages name the flags."""
    return {**_OTHER_FLAGS,
            **{flag: name for name, spec in attribution.option_flags() for flag in spec.flags}}


#: Flags of `attribution run` that are no run option's own but a request field of a run:
#: the timestamp formats (``--timestamp-format``, the request's ``timestamp_formats``) and
#: the input files (``--spend`` is the request's ``spend``), new-user report 12 #5.
_OTHER_FLAGS = {
    "--timestamp-format": "timestamp_formats",
    **{f"--{name.replace('_', '-')}": name for name in (
        "touches", "stages", "spend", "accounts", "subscriptions", "surveys",
        "survey_labels", "truth", "experiments", "plan", "benchmarks", "influence_csv")},
}


_FLAG = re.compile(r"--[a-z][a-z0-9-]*")


def for_http(message: str) -> str:
    """A library message as an HTTP client reads it: the command-line flags it names become
    the request's fields (``--allow-empty`` -> ``'allow_empty'``); flags without a request
    field stay as they are."""
    fields = _request_fields()
    return _FLAG.sub(lambda m: f"'{fields[m.group()]}'" if m.group() in fields else m.group(),
                     message)


def describe_library_error(
    exc: AttributionError, tables: Collection[str] = ()
) -> tuple[str, str, str | None]:
    """(type, message, field) of a library error; also used for failed runs' status. An
    input error about one of ``tables`` (a run request's table fields) names that field,
    its column in the message."""
    kind = next(t for cls, t in _LIBRARY_STATUS if isinstance(exc, cls))
    text = str(exc)
    if (isinstance(exc, attribution.InputError) and exc.table == "journeys"
            and exc.source is None and not exc.rows):
        # a scoring request's field, as a JSON client names it: not worded as a file's
        # table and column ("journeys[0].touches[3].touch_id: ...")
        text = f"{exc.column}: {exc.message}" if exc.column else exc.message
        if exc.hint:
            text += f". Hint: {exc.hint}"
    message = for_http(text)
    if isinstance(exc, attribution.ModelNotFoundError) and "available:" not in message:
        message += "; available: " + ", ".join(attribution.available_models())
    if isinstance(exc, attribution.InputError) and exc.table in tables:
        return kind, message, exc.table
    field = getattr(exc, "column", None) or getattr(exc, "option", None)
    return kind, message, field


def field_path(loc: Sequence[str | int]) -> str:
    """``("body", "journeys", 0, "touches", 2, "timestamp")`` ->
    ``journeys[0].touches[2].timestamp``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(part)):
            out += ("." if out else "") + str(part)
        else:  # a union member's tag, e.g. "function-after[...]": not part of the data path
            continue
    return out or "body"


def _response(status: int, type: str, message: str, field: str | None = None,
              headers: dict[str, str] | None = None) -> JSONResponse:
    return FastJSONResponse(error_body(type, message, field), status_code=status,
                            headers=headers)


async def _library(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AttributionError)
    kind, message, field = describe_library_error(exc)
    return _response(422, kind, message, field)


async def _service(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return _response(exc.status, exc.type, exc.message, exc.field, exc.headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    message, field = validation_message(list(exc.errors()), exc.body)
    return _response(422, "validation", message, field)


def validation_message(errors: list[Any], document: Any = None) -> tuple[str, str | None]:
    """(message, field) of request validation errors: the first one's, with a count."""
    if not errors:
        return "invalid request", None
    first = errors[0]
    if first.get("type") == "json_invalid":
        return _json_message(first, document), "body"
    field = field_path(first.get("loc", ()))
    pattern = (first.get("ctx") or {}).get("pattern")
    text = _PATTERN_MESSAGES.get(pattern) if isinstance(pattern, str) else None
    if first.get("type") in _TIME_ERRORS:
        text = _time_message(first)
    message = f"{field}: {text or first.get('msg', 'invalid value')}"
    if len(errors) > 1:
        # the other fields at fault too, so that a client mapping CRM fields fixes them in
        # one round trip (new-user report 12 #3); the first one's text only
        others = list(dict.fromkeys(
            path for path in (field_path(e.get("loc", ())) for e in errors[1:])
            if path != field))
        listed = ", ".join(others[:_MAX_FIELDS_LISTED]) + (
            ", ..." if len(others) > _MAX_FIELDS_LISTED else "")
        message += (f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''}"
                    f"{', at ' + listed if others else ''})")
    return message, field


#: The other fields at fault a validation message names, at most.
_MAX_FIELDS_LISTED = 10


#: pydantic's errors of a timestamp it could not read (its own wording names no form)
_TIME_ERRORS = frozenset({"datetime_from_date_parsing", "datetime_parsing", "datetime_type",
                          "date_from_datetime_parsing", "date_parsing"})
_SLASHED = re.compile(r"\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b.*")
_ZONE_NAME = re.compile(r".*\d\s*\(?([A-Za-z]{2,5}|[A-Za-z]+/[A-Za-z_]+)\)?\s*")


def _time_message(error: Any) -> str:
    """A timestamp pydantic could not read, said as the forms it takes, with the value sent
    and, for a CRM's usual forms, what to send instead."""
    value = error.get("input")
    shown = repr(value) if len(repr(value)) <= 64 else repr(value)[:60] + "...'"
    head = ("must be an ISO 8601 timestamp string, e.g. 2025-01-31T09:00:00Z or "
            "2025-01-31T09:00:00-08:00 (a date alone, 2025-01-31, is read too); got " + shown)
    if isinstance(value, str) and _SLASHED.fullmatch(value):
        return (f"{head}: a month/day/year or day.month.year date is never guessed (3/1/2025 "
                "is March 1st or January 3rd): send year-month-day, 2025-03-01")
    if isinstance(value, str) and (zone := _ZONE_NAME.fullmatch(value)) and \
            zone.group(1).upper() not in ("Z", "UTC", "AM", "PM"):
        return (f"{head}: a zone name ('{zone.group(1)}') is not read (EST or CET stand for "
                "several offsets): send the UTC offset (-08:00) or the time in UTC (Z)")
    reason = str((error.get("ctx") or {}).get("error") or "").strip()
    return f"{head} ({reason})" if reason else head


def error_parts(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """(status, JSON body, headers) the handlers answer for ``exc``; for work done away from
    the app (a scoring process), which renders its errors itself."""
    if isinstance(exc, ServiceError):
        return exc.status, error_body(exc.type, exc.message, exc.field), exc.headers
    if isinstance(exc, AttributionError):
        kind, message, field = describe_library_error(exc)
        return 422, error_body(kind, message, field), None
    if isinstance(exc, RequestValidationError):
        message, field = validation_message(list(exc.errors()), exc.body)
        return 422, error_body("validation", message, field), None
    log.error("unhandled error in scoring: %r", exc, exc_info=exc)
    return 500, error_body("internal", "internal server error; the service log has the "
                                       "details"), None


def _json_message(error: Any, document: Any) -> str:
    """``the body is not valid JSON: Expecting value at line 1, column 37``."""
    loc = list(error.get("loc", ()))
    position = loc[-1] if loc and isinstance(loc[-1], int) else None
    reason = (error.get("ctx") or {}).get("error") or "invalid JSON"
    message = f"the body is not valid JSON: {reason}"
    if position is None:
        return message
    if not isinstance(document, str):
        return f"{message} at character {position + 1}"
    head = document[:position]
    line = head.count("\n") + 1
    column = position - (head.rfind("\n") + 1) + 1
    return f"{message} at line {line}, column {column}"


@contextmanager
def model_errors(models: Sequence[Any] | None) -> Iterator[None]:
    """Library model errors raised inside, as 422s whose ``field`` is the model's place in
    the request (``models[2]``), or ``models`` when no single model is at fault."""
    try:
        yield
    except (attribution.ModelNotFoundError, attribution.ModelParameterError) as exc:
        kind, message, _ = describe_library_error(exc)
        field = "models"
        for i, model in enumerate(models or ()):
            try:
                attribution.RunOptions(models=[model])
            except (attribution.ModelNotFoundError, attribution.ModelParameterError):
                field = f"models[{i}]"
                break
        raise ServiceError(422, kind, message, field=field) from exc


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kind = _HTTP_TYPES.get(exc.status_code, "error")
    headers = dict(exc.headers) if exc.headers else None
    message = str(exc.detail)
    if exc.status_code == 405:  # Starlette names the first route of the path only
        allowed = _allowed(request)
        headers = (headers or {}) | {"Allow": ", ".join(allowed)}
        message = (f"{request.method} is not a method of {request.url.path}: send it as "
                   f"{' or '.join(m for m in allowed if m != 'HEAD')}")
    field = "body" if exc.status_code == 413 else None
    return _response(exc.status_code, kind, message, field, headers)


def _allowed(request: Request) -> list[str]:
    """Every method some route of the request's path accepts."""
    routes = request.app.router.routes
    return [method for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                   for route in routes)]


async def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _response(500, "internal", INTERNAL_MESSAGE)


class InternalErrors(HttpMiddleware):
    """Pure ASGI middleware: the JSON 500 for anything unexpected, answered here.

    Starlette's outermost error handler re-raises after answering, and uvicorn then closes
    the connection: the client's next request on that keep-alive connection fails with a
    reset. Answered here, the exception ends with the response and the connection stays
    usable. (An error after the response has started still closes it: nothing else is
    honest then.)
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            if started:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await _response(500, "internal", INTERNAL_MESSAGE)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_middleware(InternalErrors)  # innermost middleware: just outside the routes
    app.add_exception_handler(AttributionError, _library)
    app.add_exception_handler(ServiceError, _service)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _internal)
