"""``POST /v1/attribute`` for the CRM's everyday request, answered before routing.

FastAPI's routing and dependency injection cost a scoring request about as much as scoring
it (~0.3 ms of the ~1 ms a 20-touch request costs the worker). :class:`ScoringFastPath`
answers the request that needs none of it: a body with a ``Content-Length`` of at most
:data:`~service.api.routes.attribute.INLINE_BYTES`, in the plain form
(:func:`~service.api.body.read_plain`), within every limit, for a model set already
resolved and fitted (:meth:`~service.core.scoring.ScorerCache.cached`: on a named snapshot
or on the current one while its pointer is unchanged; rule-based models alone while nothing
is published) and
small enough to score on the event loop. It does what the route does for such a request
(parse, check, score, render: the same functions), so the answer is the route's, byte for
byte.

Every other request, and any request whose checks or scoring raise, goes on to the app with
its body replayed: the route then answers it, errors included, exactly as before. The key
check, the body-size limit and the timing header stay outside (outer middleware).
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from ..core.asgi import HttpMiddleware
from .body import read_plain
from .routes.attribute import INLINE_BYTES, INLINE_ROWS, _render, check_request

__all__ = ["ScoringFastPath"]

PATH = "/v1/attribute"


class ScoringFastPath(HttpMiddleware):
    """Pure ASGI middleware, innermost: see the module docstring."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is None or length > INLINE_BYTES:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        content = _answer(scope, raw)
        if content is None:
            await self.app(scope, _replay(raw, receive), send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(content)).encode()),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": content})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _answer(scope: Scope, raw: bytes) -> bytes | None:
    """The route's answer for a request it would score on the event loop, else None."""
    state = scope["app"].state
    body = read_plain(raw)
    if body is None:
        return None
    try:
        rows = check_request(body, state.settings)
        if rows > INLINE_ROWS or rows > state.scoring.small_rows:
            return None
        models = list(body.models)
        scoring = state.scorers.cached(models, body.snapshot)
        if scoring is None or not scoring.scorer.small_engine:
            return None
        render = _render(scoring.scorer.labels, scoring, body.journeys)
        content: bytes = render(scoring.scorer.score(body.journeys))
    except Exception:  # the route answers it, and words any error
        return None
    return content


def _replay(raw: bytes, receive: Receive) -> Receive:
    """``receive`` that gives the body already read, then what the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        message: Message = await receive()
        return message

    return replay

