from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

import attribution
from attribution import JourneyScores, SnapshotStore
from attribution.inputs import END_OF_DAY

from ...core.batching import ScoringBusy, ScoringPool
from ...core.config import Settings
from ...core.errors import ServiceError, error_parts, model_errors
from ...core.scoring import FitPending, ScorerCache, Scoring
from ..body import read_plain
from ..campaigns import with_campaigns
from ..deps import ScorersDep, ScoringDep, SettingsDep
from ..schemas import AttributeRequest, AttributeResponse, errors

router = APIRouter(tags=["scoring"])


def _render(models: list[str], scoring: Scoring, journeys: Sequence[Any]
            ) -> Callable[[JourneyScores], bytes]:
    """The answer of ``journeys`` scored: every lane's (the fast path's too), so that one
    request gets the same bytes whichever answers it. Each touch-credit row carries the
    touch's ``campaign`` as sent (:func:`~service.api.campaigns.with_campaigns`)."""
    snapshot = scoring.snapshot
    head = {"models": models, "snapshot": snapshot.snapshot_id if snapshot else None,
            "run_id": snapshot.run_id if snapshot else None}

    def render(scores: JourneyScores) -> bytes:
        return with_campaigns(scores.to_json({**head, "unseen_channels": scoring.unseen(scores)}),
                              journeys)

    return render


#: Bodies up to this size are parsed on the event loop (a few ms); larger ones are parsed,
#: checked and scored in a scoring process.
INLINE_BYTES = 64 * 1024
#: Requests of up to this many rows of touch credit (touches x models) are scored on the
#: event loop: the small engine takes ~0.14 ms of CPU for 20 touches x 12 models and their
#: JSON answer about as much, less than handing them to the scoring thread and back. Larger
#: small requests go to that thread.
INLINE_ROWS = 600

_BODY = {"$ref": "#/components/schemas/AttributeRequest"}


def document_body(app: FastAPI) -> None:
    """Put :class:`AttributeRequest` in the app's OpenAPI schema (the route reads its body
    itself, so that large bodies are parsed away from the event loop)."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        schema = base()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if "AttributeRequest" not in components:
            own = AttributeRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(own.pop("$defs", {}))
            components["AttributeRequest"] = own
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def parse_request(raw: bytes) -> AttributeRequest:
    """The body as FastAPI would read it: JSON, then the model; errors as FastAPI's.

    A body in the plain form (:mod:`service.api.body`) is read without pydantic (same
    result, several times faster); any other goes through the schema."""
    plain = read_plain(raw)
    if plain is not None:
        return plain
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", exc.pos),
                                       "msg": "JSON decode error", "input": {},
                                       "ctx": {"error": exc.msg}}], body=exc.doc) from None
    except UnicodeDecodeError:
        raise ServiceError(400, "bad_request", "the body is not UTF-8 JSON") from None
    except RecursionError:  # e.g. 20,000 nested '[': no request of ours nests beyond 6
        raise ServiceError(400, "bad_request", "the body nests JSON arrays or objects too "
                           "deeply to be a scoring request", field="body") from None
    except ValueError as exc:  # Python's limit on an integer's digits (4,300): a client's
        raise ServiceError(400, "bad_request", "the body is not JSON a scoring request can "
                           f"hold: {str(exc).split(';')[0]}", field="body") from None
    try:
        return AttributeRequest.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=data) from None


def check_request(body: AttributeRequest, settings: Settings) -> int:
    """The request's rows of touch credit (touches x models), within every limit."""
    if len(body.journeys) > settings.max_journeys:
        raise ServiceError(
            422, "limit_exceeded",
            f"{len(body.journeys):,} journeys sent; the limit is {settings.max_journeys:,} per "
            "request (ATTRIBUTION_MAX_JOURNEYS)", field="journeys")
    for j, journey in enumerate(body.journeys):
        if len(journey["touches"]) > settings.max_touches_per_journey:
            raise ServiceError(
                422, "limit_exceeded",
                f"journeys[{j}] has {len(journey['touches']):,} touches; the limit is "
                f"{settings.max_touches_per_journey:,} per journey "
                "(ATTRIBUTION_MAX_TOUCHES_PER_JOURNEY): a run credits a journey's last "
                "max_touches_per_journey touches (5,000 by default), so send the last ones "
                "its run credits, or have the limit raised to the run's cap (a request stays "
                "within ATTRIBUTION_MAX_CREDIT_ROWS and ATTRIBUTION_MAX_BODY_BYTES)",
                field=f"journeys[{j}].touches")
    touches = sum(len(journey["touches"]) for journey in body.journeys)
    rows = touches * len(body.models)
    if rows > settings.max_credit_rows:
        raise ServiceError(
            422, "limit_exceeded",
            f"{touches:,} touches x {len(body.models)} models = {rows:,} rows of "
            f"touch credit; the limit is {settings.max_credit_rows:,} per request "
            "(ATTRIBUTION_MAX_CREDIT_ROWS): send fewer touches (journeys) or models per "
            "request, or have the limit raised",
            field="journeys")
    return rows


_TOUCH_TIME = re.compile(r"journeys\[(\d+)\]\.touches\[(\d+)\]\.timestamp")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextlib.contextmanager
def touch_times(journeys: Sequence[Any]) -> Iterator[None]:
    """The library's error for a touch after its conversion, with both instants in UTC and,
    for a conversion sent as a date alone, how that date was read (new-user report 18, M10:
    a US org's afternoon touch on the close date is after the end of that day in UTC)."""
    try:
        yield
    except attribution.InputError as exc:
        found = _TOUCH_TIME.fullmatch(str(exc.column or ""))
        if found is None:
            raise
        try:
            journey = journeys[int(found.group(1))]
            touch = journey["touches"][int(found.group(2))]["timestamp"]
            conversion = journey["conversion"]["timestamp"]
            late = isinstance(touch, datetime) and isinstance(conversion, datetime) \
                and _utc(touch) > _utc(conversion)
        except (IndexError, KeyError, TypeError):
            late = False
        if not late:
            raise
        dated = conversion.tzinfo is None and conversion.time() == END_OF_DAY
        how = ("; a conversion sent as a date alone is the end of that day in UTC: send the "
               "close date with the org's end of day and its offset, e.g. "
               f"{conversion.date().isoformat()}T{END_OF_DAY:%H:%M:%S}-07:00" if dated else "")
        raise ServiceError(
            422, "input",
            f"{exc.column}: touch is after its conversion ({_utc(touch).isoformat()}, the "
            f"conversion {_utc(conversion).isoformat()}{how}); send only the touches to "
            "credit, which happen at or before the conversion", field=exc.column) from exc


# --- large requests, in a scoring process -------------------------------------------------------

_PROCESS: dict[str, Any] = {}


def init_process(settings: Settings) -> None:
    """A scoring process's own settings and scorer cache."""
    _PROCESS["settings"] = settings
    _PROCESS["scorers"] = ScorerCache(SnapshotStore.beside(settings.runs_dir),
                                      size=settings.scorer_cache_size,
                                      fitted_models=settings.fitted_models)


#: A large request's response above this size comes back from its scoring process as a file
#: in the pool's spool directory, and is sent from there in chunks of CHUNK_BYTES: the
#: server's event loop never unpickles, holds or writes a whole 10 MB body at once (which
#: stalled the small requests it serves meanwhile).
SPOOL_BYTES = 1024 * 1024
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class Spooled:
    """A response body written to a file by a scoring process."""

    path: str
    size: int


def score_in_process(raw: bytes, spool: str | None = None
                     ) -> tuple[int, bytes | Spooled, dict[str, str] | None]:
    """(status, body, headers) of a request, all of it done here: parse, check, fit or
    find the scorer, score and render; errors rendered as the app's handlers would. A body
    above :data:`SPOOL_BYTES` is written to a file in ``spool`` (when given)."""
    settings: Settings = _PROCESS["settings"]
    scorers: ScorerCache = _PROCESS["scorers"]
    try:
        body = parse_request(raw)
        check_request(body, settings)
        models = list(body.models)
        with model_errors(models), touch_times(body.journeys):
            scoring = scorers.cached(models, body.snapshot) or scorers.get(models, body.snapshot)
            render = _render(scoring.scorer.labels, scoring, body.journeys)
            content = render(scoring.scorer.score(body.journeys))
    except Exception as exc:  # every answer goes back as data: nothing to unpickle
        status, payload, headers = error_parts(exc)
        return status, orjson.dumps(payload), headers
    if spool is not None and len(content) > SPOOL_BYTES:
        try:
            return 200, _spooled(content, spool), None
        except OSError:  # the spool is full (a small /dev/shm) or gone: send the bytes
            pass
    return 200, content, None


def _spooled(content: bytes, spool: str) -> Spooled:
    handle, path = tempfile.mkstemp(prefix="response-", suffix=".json", dir=spool)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return Spooled(path, len(content))


def _discard(answer: tuple[int, bytes | Spooled, dict[str, str] | None]) -> None:
    """The spooled body of an answer nobody waits for any more (the client went away)."""
    if isinstance(answer[1], Spooled):
        with contextlib.suppress(OSError):
            os.unlink(answer[1].path)


class SpooledResponse(Response):
    """A spooled body, sent in chunks of :data:`CHUNK_BYTES` (same headers as a
    ``Response`` of those bytes); the file is removed once opened."""

    def __init__(self, spooled: Spooled, status_code: int = 200) -> None:
        super().__init__(None, status_code, {"content-length": str(spooled.size)},
                         media_type="application/json")
        self.spooled = spooled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with open(self.spooled.path, "rb") as source:
            os.unlink(self.spooled.path)
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            while chunk := source.read(CHUNK_BYTES):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _in_process(pool: ScoringPool, raw: bytes) -> Response:
    try:
        status, content, headers = await pool.large(score_in_process, raw, pool.spool_dir(),
                                                    discard=_discard)
    except ScoringBusy:
        raise ServiceError(
            429, "busy", f"every scoring process is busy and {pool.waiting} more requests "
            "wait (ATTRIBUTION_SCORING_WORKERS, ATTRIBUTION_SCORING_WAITING); retry after a "
            "second, or send smaller requests", headers={"Retry-After": "1"}) from None
    if isinstance(content, Spooled):
        return SpooledResponse(content, status)
    return Response(content, status_code=status, headers=headers,
                    media_type="application/json")


@router.post("/attribute", response_model=AttributeResponse,
             responses=errors(400, 401, 404, 409, 413, 422, 429, 503),
             openapi_extra={"requestBody": {"required": True,
                                            "content": {"application/json": {"schema": _BODY}}}})
async def attribute(request: Request, settings: SettingsDep, scorers: ScorersDep,
                    pool: ScoringDep) -> Response:
    """Per-touch and per-channel credit for each journey under each model.

    Send exactly the touches to credit (at or before the conversion): each journey's touches
    go to its own conversion. Data-driven models (markov, shapley, counterfactual) are
    fitted on a published model snapshot: ``snapshot`` if given, else the current one (409
    when none is published); the response names it and lists ``unseen_channels``.
    At most ``ATTRIBUTION_MAX_CREDIT_ROWS`` touches x models per request; requests above
    2,000 are scored in separate processes (429 when all are busy and enough wait).
    """
    raw = await request.body()
    if len(raw) > INLINE_BYTES:
        return await _in_process(pool, raw)
    body = parse_request(raw)
    rows = check_request(body, settings)
    if rows > pool.small_rows:
        return await _in_process(pool, raw)
    models = list(body.models)
    scoring = scorers.cached(models, body.snapshot)
    if scoring is None:
        # resolving models, reading the snapshot and fitting touch the disk: not on the loop
        with model_errors(models):
            while scoring is None:
                try:
                    scoring = await run_in_threadpool(scorers.get, models, body.snapshot,
                                                      wait=False)
                except FitPending as pending:  # another request fits it: wait, no thread held
                    await asyncio.wrap_future(pending.future)
    render = _render(scoring.scorer.labels, scoring, body.journeys)
    # parameters that give non-finite credit; a touch after its conversion, with the instants
    with model_errors(models), touch_times(body.journeys):
        if rows <= INLINE_ROWS and scoring.scorer.small_engine:
            content = render(scoring.scorer.score(body.journeys))
        else:
            content = await pool.small(scoring.scorer, body.journeys, render)
    return Response(content, media_type="application/json")
