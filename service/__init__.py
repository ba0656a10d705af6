"""The HTTP API of :mod:`attribution` (FastAPI): ``create_app`` builds it, ``serve`` runs it.

A thin layer: it parses requests, calls the library and serialises; no credit maths here.
"""

from .core.config import Settings
from .main import create_app, serve

__all__ = ["Settings", "create_app", "serve"]
