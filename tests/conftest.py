"""Shared test helpers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run_python(code: str, *, jit: bool = True, timeout: float = 120) -> str:
    """Run ``code`` in a fresh interpreter (``NUMBA_DISABLE_JIT=1`` when ``jit`` is false); return stdout."""
    env = dict(os.environ) if jit else dict(os.environ, NUMBA_DISABLE_JIT="1")
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def run_python():
    """``run_python(code, jit=True, timeout=120) -> stdout`` of a fresh interpreter (fails on exit != 0)."""
    return _run_python
