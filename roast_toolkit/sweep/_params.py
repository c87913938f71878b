"""The parameters a sweep spec may name, per command: defaults and value checks.

Every checker takes ``(key, value)`` and returns the value in its canonical form (the form written to
the results table and used to match points on resume), or raises :class:`SweepError` naming the key and
the value. Keys are the option names of ``cachesim kernel`` / ``roast-theory variance|montecarlo`` with
underscores (hyphens are accepted too: ``group-m`` is ``group_m``).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

from .errors import SweepError

REQUIRED = object()  #: default of a parameter that every point must set


@dataclass(frozen=True)
class Param:
    """One sweep parameter: its name, default and checker."""

    name: str
    default: object
    check: Callable[[str, object], object]
    help: str = ""


def _show(value) -> str:
    return repr(value)


def integer(low: int | None = None) -> Callable[[str, object], int]:
    def check(key, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise SweepError(f"{key}={_show(value)} must be an integer" + (f" >= {low}" if low is not None
                                                                            else ""))
        if low is not None and value < low:
            raise SweepError(f"{key}={value} must be an integer >= {low}")
        return int(value)
    return check


def optional(check: Callable[[str, object], object]) -> Callable[[str, object], object]:
    """``None`` (spelled ``"none"`` or ``""`` in TOML, which has no null) or a value ``check`` accepts."""
    def opt(key, value):
        if value is None or (isinstance(value, str) and value.lower() in ("", "none")):
            return None
        return check(key, value)
    return opt


def choice(choices) -> Callable[[str, object], str]:
    choices = tuple(choices)

    def check(key, value):
        if not isinstance(value, str) or value not in choices:
            raise SweepError(f"{key}={_show(value)} is not allowed: choose one of {', '.join(choices)}")
        return value
    return check


def dtype_name(key, value) -> str:
    """A kernel dtype in any accepted spelling (``float16``, ``bf16``, ...), stored canonically (``fp16``)."""
    from cachesim.errors import CacheSimError
    from cachesim.kernels._common import canonical_dtype

    try:
        return canonical_dtype(value)
    except CacheSimError as exc:
        raise SweepError(f"{key}={_show(value)}: {exc}") from None


def boolean(key, value) -> bool:
    if not isinstance(value, bool):
        raise SweepError(f"{key}={_show(value)} must be true or false")
    return value


def fraction(key, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise SweepError(f"{key}={_show(value)} must be a number in (0, 1)")
    return float(value)


def text(key, value) -> str:
    if not isinstance(value, str) or not value:
        raise SweepError(f"{key}={_show(value)} must be a non-empty string")
    return value


def triple(key, value) -> str:
    """``"AxBxC"`` (or a list of three positive integers) as the text ``"AxBxC"``."""
    vals = value
    if isinstance(value, str):
        vals = value.lower().replace(" ", "").split("x")
        try:
            vals = [int(v) for v in vals]
        except ValueError:
            vals = None
    if (not isinstance(vals, list | tuple) or len(vals) != 3
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in vals)):
        raise SweepError(f"{key}={_show(value)} must look like AxBxC with positive integers, e.g. 64x64x64")
    return "x".join(str(v) for v in vals)


def _block(key, value) -> str:
    t = triple(key, value)
    for name, v in zip(("BLOCK_M", "BLOCK_N", "BLOCK_K"), t.split("x")):
        v = int(v)
        if v < 8 or v & (v - 1):
            raise SweepError(f"{key}={_show(value)}: {name}={v} must be a power of two >= 8")
    return t


def kernel_params() -> dict[str, Param]:
    """Parameters of a ``kernel`` sweep (those of :func:`cachesim.kernels.predict`)."""
    from cachesim.kernels._common import ALL_KINDS
    from cachesim.kernels._family import FAMILY_NAMES
    from cachesim.kernels.targets import TARGETS

    ps = [Param("kernel", REQUIRED, choice(ALL_KINDS), "kernel implementation"),
          Param("shape", REQUIRED, triple, "MxKxN of Y = X W"),
          Param("target", "h200", choice(TARGETS)),
          Param("dtype", "fp32", dtype_name),
          Param("block", "128x64x32", _block, "BLOCK_MxBLOCK_NxBLOCK_K"),
          Param("memory", None, optional(integer(1)), "shared array size in elements"),
          Param("backward", False, boolean),
          Param("group_m", 8, integer(1)),
          Param("num_warps", 4, integer(1)),
          Param("num_stages", 3, integer(1)),
          Param("seed", 0, integer(0)),
          Param("family", None, optional(choice(FAMILY_NAMES))),
          Param("load_path", "auto", choice(("auto", "ld", "ldgsts"))),
          Param("loop_tiles", "32x32x32", triple, "CPU loop-nest tiles TMxTNxTK"),
          Param("analytic", False, boolean)]
    return {p.name: p for p in ps}


def _theory_common() -> list[Param]:
    return [Param("n", None, optional(integer(1)), "length of synthetic x and w"),
            Param("data", "gaussian", choice(("gaussian", "rademacher", "uniform")),
                  "distribution of synthetic x and w"),
            Param("data_seed", 0, integer(0), "seed of synthetic x and w"),
            Param("x", None, optional(text), ".npy file of x (instead of n)"),
            Param("w", None, optional(text), ".npy file of w (instead of n)"),
            Param("memory", REQUIRED, integer(1), "number of shared slots m"),
            Param("tile", 1, integer(1), "chunk length"),
            Param("sign", "element", choice(("element", "tile", "none"))),
            Param("placement", "circular", choice(("circular", "kernel")))]


def variance_params() -> dict[str, Param]:
    """Parameters of a ``variance`` sweep (closed forms, :func:`roast_theory.tile_hashing_moments`)."""
    return {p.name: p for p in _theory_common()}


def montecarlo_params() -> dict[str, Param]:
    """Parameters of a ``montecarlo`` sweep (:func:`roast_theory.mc_inner_product`)."""
    ps = _theory_common() + [
        Param("trials", 100_000, integer(1)), Param("seed", 0, integer(0)),
        Param("family", "ideal", choice(("ideal", "rz-stable", "rz-v1", "hashednet-triton"))),
        Param("level", 0.95, fraction, "confidence level of the intervals")]
    return {p.name: p for p in ps}


#: command -> function returning its parameter table.
COMMANDS: dict[str, Callable[[], dict[str, Param]]] = {
    "kernel": kernel_params, "variance": variance_params, "montecarlo": montecarlo_params}

#: old spellings -> new ones (accepted with a DeprecationWarning).
DEPRECATED_KEYS = {"tiles": "loop_tiles", "m_slots": "memory"}


def params_of(command: str) -> dict[str, Param]:
    """The parameter table of ``command``."""
    if command not in COMMANDS:
        raise SweepError(f"command={command!r} is not allowed: choose one of {', '.join(COMMANDS)}")
    return COMMANDS[command]()
