"""The package's shape, read from its source (AST): the rules the layout promises.

- no import cycle between modules, imports inside functions included;
- every exception class of the toolkit is defined in ``errors.py`` (the simulator's own in
  ``sim/``, which imports nothing from the rest but the standard-library leaves ``timebase``
  and ``shipped``);
- no module imports another module's private name (``from x import _y``);
- ``bench/`` is imported only by ``cli.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "kisresearch"
SIM_MAY_IMPORT = {"kisresearch.timebase", "kisresearch.shipped"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _imports(name: str) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) for every import in ``name``, lazy ones included."""
    is_pkg = MODULES[name].name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    found = []
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            names = [a.name for a in node.names]
            found.append((target, names))
            # "from . import x" imports the module x
            found += [(f"{target}.{n}", []) for n in names if f"{target}.{n}" in MODULES]
    return [(t, n) for t, n in found if t.split(".")[0] == "kisresearch"]


def _resolve(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        edges = {_resolve(t) for t, _ in _imports(name)}
        # importing a.b.c runs a/__init__ and a/b/__init__ first: those are not edges we wrote
        graph[name] = {e for e in edges if e and e != name and not name.startswith(e + ".")}
    return graph


def test_no_import_cycle() -> None:
    graph = _graph()
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, [*path, node])
        done.add(node)

    for name in sorted(graph):
        visit(name, [])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def _is_exception(node: ast.ClassDef, known: set[str]) -> bool:
    names = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
    return bool(names & known) or any(
        n.endswith(("Error", "Exception", "Interrupt")) for n in names
    )


def test_exceptions_live_in_errors_py() -> None:
    builtin = {n for n in dir(__builtins__) if n.endswith(("Error", "Exception"))} | {
        "KeyboardInterrupt",
        "CancelledError",
        "TimeoutError",
        "BaseException",
    }
    defined = {
        name: [
            c.name
            for c in ast.walk(tree)
            if isinstance(c, ast.ClassDef) and _is_exception(c, builtin)
        ]
        for name, tree in TREES.items()
    }
    stray = {
        name: classes
        for name, classes in defined.items()
        if classes and name != "kisresearch.errors" and not name.startswith("kisresearch.sim")
    }
    assert not stray, stray
    assert len(defined["kisresearch.errors"]) >= 15  # the scan sees the tree it guards


def test_sim_imports_nothing_from_the_rest() -> None:
    outside = {
        (name, t)
        for name in MODULES
        if name.startswith("kisresearch.sim")
        for t, _ in _imports(name)
        if not t.startswith("kisresearch.sim") and t not in SIM_MAY_IMPORT
    }
    assert not outside, sorted(outside)


def test_no_private_name_crosses_a_module() -> None:
    crossing = sorted(
        (name, t, n)
        for name in MODULES
        for t, names in _imports(name)
        for n in names
        if n.startswith("_") and n != "__version__"
    )
    assert not crossing, crossing


def test_bench_is_imported_only_by_the_cli() -> None:
    users = sorted(
        {
            name
            for name in MODULES
            if not name.startswith("kisresearch.bench")
            for t, _ in _imports(name)
            if t.startswith("kisresearch.bench")
        }
    )
    assert users == ["kisresearch.cli"], users


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith("kisresearch.sim")))
def test_modules_stay_small(name: str) -> None:
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines < 700, f"{name}: {lines} lines; split it"
