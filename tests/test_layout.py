"""The architecture's sealed faces: service/ and benchmarks/ use public names only, and the CLI
imports the service only inside ``serve``."""

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
