"""Request bodies are JSON: a body sent as another media type is a 415.

Every request body the API takes (``POST /v1/attribute``, ``/v1/runs``,
``/v1/models/snapshots``) is JSON. A body declared as something else (``text/plain``,
``application/x-www-form-urlencoded``: what ``curl -d`` sends without ``-H 'Content-Type:
application/json'``, ``application/xml``) is refused with 415 naming the header, not read as
JSON anyway. ``application/json`` and any ``application/*+json`` are taken, with or
without parameters (``; charset=utf-8``); a request without a ``Content-Type`` is read as
JSON (some HTTP clients send none), and so is a request without a body. A method no route
of the path takes (``PUT /v1/attribute``) is the router's 405 (or 404 for no such path)
whatever the body's media type, as with a JSON body: the method is the first thing wrong.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from .asgi import HttpMiddleware
from .limits import drain_body, send_error

__all__ = ["JsonBodyOnly", "is_json"]

#: the methods whose requests carry a body
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def is_json(content_type: bytes) -> bool:
    """``application/json`` or ``application/<anything>+json``, parameters ignored.

    >>> is_json(b"application/json; charset=utf-8"), is_json(b"application/problem+json")
    (True, True)
    >>> is_json(b"text/plain"), is_json(b"application/x-www-form-urlencoded")
    (False, False)
    """
    media = content_type.split(b";", 1)[0].strip().lower()
    kind, _, subtype = media.partition(b"/")
    return kind == b"application" and (subtype == b"json" or subtype.endswith(b"+json"))


def _routed(scope: Scope) -> bool:
    """Whether a route takes this request's method on its path (the app's routes, as the
    router will match them): a body sent to one that does not is answered as the router
    answers it, 405 naming the methods there are (``PUT /v1/attribute``) or 404, whatever
    its media type; its Content-Type is not the problem."""
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", None)
    if routes is None:
        return True  # no router to ask: refused as before
    return any(route.matches(scope)[0] == Match.FULL for route in routes)


class JsonBodyOnly(HttpMiddleware):
    """Pure ASGI middleware: 415 for a body of another declared media type (module
    docstring). Inside the body-size limit, so the body it reads and drops before answering
    (as the 413 does, so the client sees the answer, not a reset) is bounded by it."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in _WITH_BODY:
            headers = dict(scope.get("headers") or ())
            declared = headers.get(b"content-type")
            has_body = headers.get(b"content-length", b"0") != b"0" or (
                b"transfer-encoding" in headers)
            if (declared is not None and has_body and not is_json(declared)
                    and _routed(scope)):
                try:
                    await drain_body(receive)
                except HTTPException:  # above the body-size limit while draining
                    pass
                shown = declared.decode("latin-1")[:100]
                await send_error(
                    send, 415, "unsupported_media_type",
                    f"the body is sent as '{shown}': send it as JSON, with the header "
                    "'Content-Type: application/json'", field="Content-Type")
                return
        await self.app(scope, receive, send)
