"""Thin routes: parse, call the library, serialise."""
