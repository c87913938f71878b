"""Old spellings kept for one release: renamed keyword arguments and attributes, with a DeprecationWarning."""

from __future__ import annotations

import functools
import warnings

__all__ = ["deprecated_alias", "renamed_kwargs"]


def renamed_kwargs(**renames):
    """Decorator: accept the old keyword names ``renames = {old: new}`` with a ``DeprecationWarning``.

    Passing both the old and the new name is a ``TypeError``.
    """

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {old}= (deprecated) and {new}=")
                    warnings.warn(f"{fn.__name__}({old}=...) is deprecated: use {new}=...",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper

    return deco


def deprecated_alias(new: str, old: str):
    """A read-only property ``old`` that returns attribute ``new`` with a ``DeprecationWarning``."""

    def get(self):
        warnings.warn(f"{type(self).__name__}.{old} is deprecated: use .{new}", DeprecationWarning,
                      stacklevel=2)
        return getattr(self, new)

    return property(get, doc=f"Deprecated spelling of :attr:`{new}`.")
