"""Architecture rules, read from the source with ``ast`` (nothing is imported to check them).

(a) Imports flow one way: kernel <- ledger <- compliance (and prices) <- venue and broker
    (siblings: neither imports the other) <- journal (generic: imports no engine) <- sim
    and api <- cli. Every subpackage must be placed in this table.
(b) Money is exact: no float literal, ``float(`` call or true division in the core
    packages kernel, ledger, compliance and venue.
(c) Each subpackage's ``__init__.py`` has an ``__all__`` that is sorted (isort style:
    CONSTANTS, then Classes, then functions), names only things the module binds, and
    lists every public name it binds.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import harbour

ROOT = Path(harbour.__file__).parent

# package -> packages it may import (besides itself)
ALLOWED: dict[str, frozenset[str]] = {
    "kernel": frozenset(),
    "ledger": frozenset({"kernel"}),
    "compliance": frozenset({"kernel", "ledger"}),
    "prices": frozenset({"kernel", "ledger"}),
    "venue": frozenset({"kernel", "ledger", "compliance", "prices"}),
    "broker": frozenset({"kernel", "ledger", "compliance", "prices"}),
    "journal": frozenset({"kernel", "ledger", "compliance", "prices"}),
    "sim": frozenset({"kernel", "ledger", "compliance", "prices", "venue", "broker", "journal"}),
    "api": frozenset({"kernel", "ledger", "compliance", "prices", "venue", "broker", "journal"}),
    "cli": frozenset({"kernel", "ledger", "compliance", "prices", "venue", "broker", "journal", "sim", "api"}),
}
CORE = ("kernel", "ledger", "compliance", "prices", "venue", "broker")


def _subpackages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")) and any(p.rglob("*.py")))


def _modules(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports_in(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Absolute names of every module imported anywhere in ``source`` (relative imports resolved)."""
    here = module.split(".")
    package = here if is_package else here[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                yield node.lineno, ".".join(base + ([node.module] if node.module else []))
            elif node.module:
                yield node.lineno, node.module


def _imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    return _imports_in(path.read_text(), _module_name(path), path.name == "__init__.py")


def _violations(package: str) -> list[str]:
    allowed = ALLOWED[package] | {package}
    found = []
    for path in _modules(package):
        for line, name in _imported_modules(path):
            parts = name.split(".")
            if parts[0] != "harbour" or len(parts) < 2:
                continue
            if parts[1] not in allowed:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return found


def test_every_subpackage_has_a_place_in_the_layer_table() -> None:
    unplaced = [p for p in _subpackages() if p not in ALLOWED]

    assert unplaced == []


@pytest.mark.parametrize("package", _subpackages())
def test_package_imports_only_its_lower_layers(package: str) -> None:
    if package not in ALLOWED:
        pytest.fail(f"{package} is not in the layer table")

    violations = _violations(package)

    assert violations == []


def test_venue_and_broker_are_siblings_and_journal_knows_no_engine() -> None:
    assert "broker" not in ALLOWED["venue"] and "venue" not in ALLOWED["broker"]
    assert not {"venue", "broker"} & ALLOWED["journal"]
    assert not {"sim", "api", "cli"} & ALLOWED["journal"]


def test_import_checker_sees_relative_and_function_level_imports() -> None:
    source = "from . import codec\nfrom ..venue import engine\n\ndef f():\n    import harbour.cli.main\n"

    names = [name for _, name in _imports_in(source, "harbour.journal.replay", is_package=False)]

    assert names == ["harbour.journal", "harbour.venue", "harbour.cli.main"]


# --- (b) money is exact ------------------------------------------------------------------


def _float_uses_in(source: str, label: str) -> Iterator[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            yield f"{label}:{node.lineno} float literal {node.value!r}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float":
            yield f"{label}:{node.lineno} float() call"
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.Div):
            yield f"{label}:{node.lineno} true division"


def _float_uses(path: Path) -> Iterator[str]:
    return _float_uses_in(path.read_text(), str(path.relative_to(ROOT)))


def test_float_checker_sees_literals_calls_and_true_division() -> None:
    source = "a = 0.5\nb = float(x)\nc = y / 2\nd = y // 2\ne = 1e6\n"

    found = [use.split(" ", 1)[1] for use in _float_uses_in(source, "probe")]

    assert found == ["float literal 0.5", "float() call", "true division", "float literal 1000000.0"]


@pytest.mark.parametrize("package", CORE)
def test_core_package_uses_no_floats(package: str) -> None:
    uses = [use for path in _modules(package) for use in _float_uses(path)]

    assert uses == []


# --- (c) public surfaces -----------------------------------------------------------------


def _isort_key(name: str) -> tuple[int, str]:
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def _dunder_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = ast.literal_eval(node.value)
            return list(value)
    return None


def _bound_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names - {"__all__", "annotations"}


def _init_tree(package: str) -> ast.Module:
    init = ROOT / package / "__init__.py"
    assert init.exists(), f"harbour/{package} has modules but no __init__.py"
    return ast.parse(init.read_text())


@pytest.mark.parametrize("package", _subpackages())
def test_package_all_is_sorted(package: str) -> None:
    exported = _dunder_all(_init_tree(package))

    assert exported is not None, f"harbour/{package}/__init__.py has no __all__"
    assert exported == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)


@pytest.mark.parametrize("package", _subpackages())
def test_package_all_names_exactly_its_public_bindings(package: str) -> None:
    tree = _init_tree(package)
    exported = set(_dunder_all(tree) or [])

    public = {n for n in _bound_names(tree) if not n.startswith("_")}

    assert sorted(exported - public) == [], "exported but not bound"
    assert sorted(public - exported) == [], "bound publicly but not exported"


@pytest.mark.parametrize("package", [p for p in CORE] + ["journal"])
def test_package_all_names_resolve_at_import(package: str) -> None:
    module = importlib.import_module(f"harbour.{package}")

    missing = [name for name in module.__all__ if not hasattr(module, name)]

    assert missing == []
