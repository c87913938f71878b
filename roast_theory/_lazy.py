"""Names a package re-exports, imported from their submodules on first use (module ``__getattr__``, PEP 562).

A package ``__init__`` that imports every submodule makes ``import roast_theory`` pay for numba and scipy
(about 0.4 s) even when the caller wants one hash family or the analytic cost model of
:mod:`cachesim.kernels`. :func:`lazy_exports` keeps ``from roast_theory import verify`` and
``roast_theory.verify`` working while importing ``roast_theory.verify`` only when one of its names is first
asked for.
"""

from __future__ import annotations

import importlib
import sys
import types


class _Package(types.ModuleType):
    """A package module whose re-exported names resolve on first use (:func:`lazy_exports`).

    The import system binds a submodule to its package's attribute when it first loads it; where the
    package re-exports a name spelled like that submodule (``verify`` of ``verify.py``), the name wins."""

    def __setattr__(self, name: str, value) -> None:
        where = self.__dict__.get("_lazy_where", {})
        if isinstance(value, types.ModuleType) and where.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]):
    """``(__getattr__, __dir__)`` for ``package``, resolving the names ``exports`` lists on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        ``{full submodule name: names it provides}``.

    Notes
    -----
    A name is looked up in its submodule on first access and stored in the package's namespace, so later
    accesses cost nothing. Any other attribute that names a submodule (``roast_theory.symbolic``) imports
    it; anything else raises :class:`AttributeError`.
    """
    where = {name: module for module, names in exports.items() for name in names}
    pkg = sys.modules[package]
    pkg.__class__ = _Package
    pkg._lazy_where = where

    def __getattr__(name: str):
        module = where.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif not name.startswith("__"):
            try:
                value = importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(pkg, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(pkg)) | set(where))

    return __getattr__, __dir__
