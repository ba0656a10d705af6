"""The architecture's sealed faces: service/ and benchmarks/ use public names only, the CLI
imports the service only inside ``serve``, and library modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import in a file, nested ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, []) for a in node.names)
    return out


def _private(module: str, names: list[str]) -> bool:
    parts = module.split(".")
    if parts[0] != "attribution":
        return False
    return any(p.startswith("_") for p in parts[1:]) or any(
        n.startswith("_") for n in names if module == "attribution"
    )


@pytest.mark.parametrize("folder", ["service", "benchmarks"])
def test_faces_import_only_public_names(folder: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        # the project's own files: not virtual environments or other hidden folders
        if not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
        for line, module, names in _imports(path)
        if _private(module, names)
    ]
    assert found == []


def test_the_private_import_check_can_fail(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from attribution.engine._memory import attribute\n")
    assert [m for _, m, n in _imports(probe) if _private(m, n)] == ["attribution.engine._memory"]


@pytest.mark.parametrize(
    "module", sorted(p.name for p in (ROOT / "attribution" / "cli").glob("*.py"))
)
def test_cli_imports_the_service_only_inside_serve(module: str) -> None:
    tree = ast.parse((ROOT / "attribution" / "cli" / module).read_text())
    top = [
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("service")
    ]
    assert top == []


#: Small modules: a library module over this many lines says why in its docstring's first
#: line (``One piece: <why>``).
MAX_MODULE_LINES = 600


def _too_long(path: Path) -> bool:
    text = path.read_text()
    doc = ast.get_docstring(ast.parse(text)) or ""
    return len(text.splitlines()) > MAX_MODULE_LINES and not doc.startswith("One piece:")


def test_library_modules_are_small_or_say_why() -> None:
    found = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "attribution").rglob("*.py"))
        if _too_long(path)
    ]
    assert found == []


def test_the_module_size_check_can_fail(tmp_path: Path) -> None:
    body = "x = 1\n" * MAX_MODULE_LINES
    long = tmp_path / "long.py"
    long.write_text('"""A module."""\n' + body)
    said = tmp_path / "said.py"
    said.write_text('"""One piece: a table of constants."""\n' + body)
    assert _too_long(long)
    assert not _too_long(said)
