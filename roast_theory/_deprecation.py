"""Old spellings kept for one release: renamed keyword arguments and attributes warn and still work."""

from __future__ import annotations

import functools
import warnings

from .errors import RoastTheoryError


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Emit the one :class:`DeprecationWarning` of a renamed name."""
    warnings.warn(f"{old} is deprecated and will be removed: use {new}", DeprecationWarning,
                  stacklevel=stacklevel)


def rename_kwargs(kwargs: dict, renames: dict[str, str], *, stacklevel: int = 4) -> dict:
    """``kwargs`` with every old key of ``renames`` (``{old: new}``) moved to its new key, with a warning."""
    for old, new in renames.items():
        if old in kwargs:
            if new in kwargs:
                raise RoastTheoryError(f"got {new}= and its deprecated spelling {old}=: give only {new}=")
            warn_renamed(f"{old}=", f"{new}=", stacklevel=stacklevel)
            kwargs[new] = kwargs.pop(old)
    return kwargs


def renamed_kwargs(**renames: str):
    """Decorator: the function also accepts the old keyword names ``old=new`` (deprecated)."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(*args, **rename_kwargs(kwargs, renames))

        return wrapper

    return decorate


def renamed_attribute(old: str, new: str) -> property:
    """A property ``old`` that reads (and, where allowed, writes) ``new`` with a deprecation warning."""

    def fget(self):
        warn_renamed(f"{type(self).__name__}.{old}", f".{new}")
        return getattr(self, new)

    def fset(self, value):
        warn_renamed(f"{type(self).__name__}.{old}", f".{new}")
        setattr(self, new, value)

    return property(fget, fset, doc=f"Deprecated alias of :attr:`{new}`.")


def renamed_fields(**renames: str):
    """Class decorator: ``__init__`` accepts the old keyword names and each old name is an attribute alias."""

    def decorate(cls):
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            init(self, *args, **rename_kwargs(kwargs, renames))

        cls.__init__ = __init__
        for old, new in renames.items():
            setattr(cls, old, renamed_attribute(old, new))
        return cls

    return decorate
