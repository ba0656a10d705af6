"""The service's JSON response class: orjson renders it (several times faster than the
standard library's json, and it writes UTF-8 as it is)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """``JSONResponse`` rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
