"""Every test here must give the same verdict on any machine: none may read this machine's caches."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_host_caches(monkeypatch):
    """Make the ``host`` preset (this machine's ``/sys`` caches) fail any test that asks for it."""
    from cachesim import presets

    def host(*_args, **_kwargs):
        raise AssertionError("a test verdict must not depend on this machine's /sys caches ('host' preset)")

    monkeypatch.setitem(presets._PRESETS, "host", host)
    monkeypatch.setattr(presets, "host_hierarchy", host)


@pytest.fixture(autouse=True)
def _triton_interpreter_numpy_index(monkeypatch):
    """Triton 3.6's interpreter turns a scalar loop bound into a Python int with ``int(array)``, which
    numpy >= 2.4 refuses for 1-element arrays: give its tensors an ``__index__`` that reads the element.
    A no-op unless ``TRITON_INTERPRET=1`` and triton imports."""
    import os

    if os.environ.get("TRITON_INTERPRET") != "1":
        return
    try:
        import triton.runtime.interpreter as ti
    except ImportError:
        return
    orig = ti._patch_lang_tensor

    def patched(tensor, scope):
        orig(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

    monkeypatch.setattr(ti, "_patch_lang_tensor", patched)


def _load_driver(name: str):
    """Import ``drivers/<name>.py`` as a module (the drivers are scripts, not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "drivers" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_driver_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def load_driver():
    """``load_driver("gpu_micro2")``: a driver script imported as a module."""
    return _load_driver
