"""A request id on every request: the client's ``X-Request-ID`` when it is sane, else one
made here; echoed in the response's ``X-Request-ID`` header and kept in
``request.state.request_id``, so the log lines of a batch run name the request that
started it (a proxy's or a CRM's id then finds the run in the server's log)."""

from __future__ import annotations

import os
import re

from starlette.types import Message, Receive, Scope, Send

from .asgi import HttpMiddleware

HEADER = b"x-request-id"
#: an id taken as the client sent it: 1-128 characters of letters, digits and ``._:=+/-``
#: (a UUID, a ULID, base64, AWS's ``Root=1-...``); anything else (spaces, quotes, control
#: characters, a longer value) is replaced by one made here, never written to a log
SANE = re.compile(rb"[A-Za-z0-9._:=+/-]{1,128}")


def request_id(scope: Scope) -> str:
    """The client's sane ``X-Request-ID``, else a new random id (32 hex digits)."""
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            if SANE.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return os.urandom(16).hex()


class RequestId(HttpMiddleware):
    """Pure ASGI middleware: sets ``request.state.request_id`` and the response header."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        echo = (HEADER, rid.encode("ascii"))

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), echo]}
            await send(message)

        await self.app(scope, receive, tagged)
