"""Habits that enforce themselves: short functions, and no note citations or milestone labels in the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("roast_theory", "cachesim", "roast_toolkit")
SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
MAX_LINES = 80


def _is_numba_kernel(node: ast.AST) -> bool:
    for dec in getattr(node, "decorator_list", []):
        target = dec.func if isinstance(dec, ast.Call) else dec
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in ("njit", "jit", "vectorize", "guvectorize"):
            return True
    return False


def long_functions(path: Path, limit: int = MAX_LINES) -> list[str]:
    """``name (lines)`` of every function in ``path`` longer than ``limit`` lines, numba kernels aside."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not _is_numba_kernel(node):
            n = node.end_lineno - node.lineno + 1
            if n > limit:
                out.append(f"{node.name} ({n})")
    return out


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_is_longer_than_80_lines(path):
    assert long_functions(path) == []


def test_the_length_check_can_fail(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n" + "    x = 1\n" * 90 + "\n@njit\ndef g():\n" + "    y = 2\n" * 90)
    assert long_functions(src) == ["f (91)"]


def test_no_citations_of_private_notes_or_milestone_labels():
    pattern = re.compile(r"ROAST-NOTES|\(H[1-9][ab]?\)|\bH[1-9][ab]\b")
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in SOURCES
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []
