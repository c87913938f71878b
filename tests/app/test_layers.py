"""The import graph: layers point one way, and no two modules import each other (directly or in a loop).

Every ``import`` statement is read from the source with :mod:`ast`: function-level imports too (they run
too), and module names handed to ``importlib`` as strings. Relative imports are resolved, and ``from
package import name`` counts as importing the submodule ``package.name`` when that file exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("roast_theory", "cachesim", "roast_toolkit")

#: layer -> the layers it may import (itself included).
ALLOWED = {
    "theory": {"theory"},
    "core": {"core"},
    "kernels": {"core", "kernels", "theory"},
    "measure": {"core", "kernels", "measure", "theory"},
    "app": {"core", "kernels", "measure", "theory", "app"},
}


def layer(module: str) -> str | None:
    """The layer of a first-party module name, ``None`` for third-party modules."""
    top = module.split(".")[0]
    if top == "roast_theory":
        return "theory"
    if top == "roast_toolkit":
        return "app"
    if top != "cachesim":
        return None
    if module == "cachesim.kernels" or module.startswith("cachesim.kernels."):
        return "kernels"
    if module == "cachesim.measure" or module.startswith("cachesim.measure."):
        return "measure"
    return "core"


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    base = package.split(".")
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str) -> set[str]:
    """First-party modules imported anywhere in ``module``'s source."""
    path = MODULES[module]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES)
    if "importlib" in found_names(path) or "lazy_exports" in path.read_text():  # modules named as strings
        # and imported with importlib (directly, or by roast_theory._lazy.lazy_exports)
        found.update(n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
                     and isinstance(n.value, str) and n.value in MODULES)
    return {m for m in found if layer(m) is not None and m in MODULES}


def found_names(path: Path) -> set[str]:
    """Top-level names of every module imported by the file at ``path``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


GRAPH = {m: imports_of(m) for m in MODULES}


def test_the_packages_are_found():
    assert {"roast_theory.hashes", "cachesim.engine", "cachesim.kernels.gemm_gpu", "cachesim.measure.records",
            "roast_toolkit.report"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    mine = layer(module)
    bad = sorted(t for t in GRAPH[module] if layer(t) not in ALLOWED[mine])
    assert not bad, f"{module} (layer {mine}) imports {bad}, allowed layers: {sorted(ALLOWED[mine])}"


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    # A package's __init__ re-exports its submodules; a submodule reaching up to its own package (or an
    # ancestor) is that re-export, not a cycle of its own, so those edges are left out.
    graph = {m: {t for t in ts if t not in _ancestors(m)} for m, ts in GRAPH.items()}
    assert strongly_connected(graph) == []


def test_the_checker_sees_a_back_edge_and_a_cycle():
    assert layer("cachesim.kernels.cost") == "kernels" and "measure" not in ALLOWED["kernels"]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
