"""Import direction of the cachesim core and kernels (every import statement, also inside functions)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "cachesim"
#: Command-line modules are exempt: they move to the application package.
CLI = {"cli.py", "_cli_replay.py", "_cli_misscurve.py", "_cli.py", "_cli_explain.py"}


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def _modules(folder: Path):
    return [p for p in sorted(folder.glob("*.py")) if p.name not in CLI]


@pytest.mark.parametrize("path", _modules(CORE), ids=lambda p: p.name)
def test_core_imports_no_upper_layer(path):
    bad = {m for m in _imports(path)
           if m.startswith(("cachesim.kernels", "cachesim.measure", "roast_theory"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _modules(CORE / "kernels"), ids=lambda p: p.name)
def test_kernels_do_not_import_measure(path):
    bad = {m for m in _imports(path) if m.startswith("cachesim.measure")}
    assert not bad, f"kernels/{path.name} imports {sorted(bad)}"


def test_no_import_cycle_in_core_and_kernels():
    mods = {".".join(p.relative_to(ROOT).with_suffix("").parts): p
            for p in _modules(CORE) + _modules(CORE / "kernels")}
    graph = {m: {d for d in _imports(p) if d in mods and d != m} for m, p in mods.items()}
    # __init__ re-exports everything; edges into a package __init__ from its own modules are not cycles
    for m in graph:
        graph[m].discard("cachesim.__init__")
    state: dict = {}

    def visit(m, stack):
        state[m] = 1
        for d in graph[m]:
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_the_walker_sees_function_level_imports(tmp_path):
    src = "def f():\n    from .kernels import predict\n    import roast_theory.hashes\n"
    p = tmp_path / "cachesim" / "x.py"
    p.parent.mkdir()
    p.write_text(src)
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        assert {"cachesim.kernels", "roast_theory.hashes"} <= _imports(p)
    finally:
        ROOT = old
