"""Habits of the roast_theory package that a test can hold: short functions, no import of cachesim."""

from __future__ import annotations

import ast
import pathlib

import roast_theory

PACKAGE = pathlib.Path(roast_theory.__file__).parent
MAX_LINES = 80


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "report" not in path.relative_to(PACKAGE).parts:  # the report moves to the application package
            yield path, ast.parse(path.read_text(), str(path))


def test_no_function_outside_numba_kernels_is_longer_than_80_lines():
    long = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if any("jit" in ast.unparse(d) for d in node.decorator_list):
                    continue
                n = node.end_lineno - node.lineno + 1
                if n > MAX_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({n} lines)")
    assert not long, long


def test_theory_imports_nothing_from_cachesim():
    back = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            back += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] == "cachesim"]
    assert not back, back
