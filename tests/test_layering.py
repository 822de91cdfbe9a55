"""Layering read from the source with ast: config/ imports nothing from crm_store, and bench/
nothing from tests/ (benchmarks must not depend on test fixtures or fakes)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (functions too), including
    ``importlib.import_module("x")`` and ``__import__("x")`` with a literal name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = getattr(func, "id", None) or getattr(func, "attr", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def test_import_reader_sees_nested_and_dynamic_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import os\nfrom a.b import c\n"
        "def f():\n    from crm_store.engine import x\n    import importlib\n"
        "    importlib.import_module('tests.fakes')\n    return __import__('zz')\n"
    )
    assert imported_modules(source) == {"os", "a.b", "crm_store.engine", "importlib", "tests.fakes", "zz"}


@pytest.mark.parametrize(("package", "forbidden"), [("config", "crm_store"), ("bench", "tests")])
def test_package_does_not_import(package: str, forbidden: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in sorted(imported_modules(path))
        if name == forbidden or name.startswith(f"{forbidden}.")
    ]
    assert offenders == []
