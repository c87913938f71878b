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
