"""The journal's public surface and its place in the dependency order."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import harbour.journal as journal_package

PACKAGE_DIR = Path(journal_package.__file__).resolve().parent
FORBIDDEN_PREFIXES = (
    "harbour.venue",
    "harbour.broker",
    "harbour.sim",
    "harbour.api",
    "harbour.cli",
)


def test_surface_all_sorted_and_matches_public_names() -> None:
    public = {
        name
        for name, value in vars(journal_package).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }

    assert journal_package.__all__ == sorted(journal_package.__all__)
    assert set(journal_package.__all__) == public


def test_surface_journal_imports_no_engine_or_edge_package() -> None:
    offending = []
    for source in sorted(PACKAGE_DIR.glob("*.py")):
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offending += [
                f"{source.name}: {name}" for name in names if name.startswith(FORBIDDEN_PREFIXES)
            ]

    assert offending == []


def test_surface_every_module_has_docstring() -> None:
    missing = [
        source.name
        for source in sorted(PACKAGE_DIR.glob("*.py"))
        if ast.get_docstring(ast.parse(source.read_text())) is None
    ]

    assert missing == []
