"""``Server-Timing: app;dur=<ms>`` on every response: the time from the request reaching the
app to its response starting (key check, body read, parsing, scoring, rendering), without
the network. ``benchmarks/load_service.py`` reads it for a lone request's server time."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTiming:
    """Pure ASGI middleware: adds the ``Server-Timing`` header (milliseconds)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1e3
                headers = [*message.get("headers", ()),
                           (b"server-timing", f"app;dur={took:.3f}".encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)
