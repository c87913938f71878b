"""Host-side helpers shared by the Triton kernel wrappers (private).

:mod:`~cachesim.measure.triton_kernels`, :mod:`~cachesim.measure.triton_fast`,
:mod:`~cachesim.measure.triton_fast_bwd` and :mod:`~cachesim.measure.roast_linear` share: the lazy import
of a kernel module (torch and triton are optional), the interpreter switch of the inline-PTX loads, the
launch-configuration fields and their checks, and the integer, power-of-two and tensor checks. Importing
this module needs neither torch nor triton.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

from .._validate import check_int, is_int, plain
from ..errors import CacheSimError


def import_torch(user: str = "the Triton kernels"):
    """``torch``, or :class:`CacheSimError` naming ``user`` when it does not import."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CacheSimError(f"{user} needs torch ({exc})") from None
    return torch


def import_kernels(module: str):
    """The private kernel module ``cachesim.measure.<module>`` (importing it needs torch and triton)."""
    try:
        import torch  # noqa: F401

        return importlib.import_module(f".{module}", __package__)
    except ImportError as exc:
        raise CacheSimError(f"the Triton kernels need torch and triton ({exc}): pip install triton") from None


def kernels_available(load) -> bool:
    """True when ``load()`` (a module's cached :func:`import_kernels`) succeeds."""
    try:
        load()
    except CacheSimError:
        return False
    return True


def use_asm() -> bool:
    """Inline PTX (the prefetched start loads) everywhere except under Triton's CPU interpreter."""
    return os.environ.get("TRITON_INTERPRET", "0") != "1"


def int_in(name: str, value, low: int = 1, high: int | None = None) -> int:
    """``value`` as a Python int in ``[low, high]`` (``high`` None: unbounded); bools are rejected."""
    return check_int(name, value, low=low, high=high)


def pow2_in(name: str, value, low: int = 1, high: int | None = None) -> int:
    """``value`` as a Python int, a power of two in ``[low, high]`` (``high`` None: unbounded)."""
    rng = f" in [{low}, {high}]" if high is not None else f" >= {low}"
    if not is_int(value):
        raise CacheSimError(f"{name}={plain(value)!r} must be an integer power of two{rng}")
    v = int(value)
    if v < low or (high is not None and v > high) or v & (v - 1):
        raise CacheSimError(f"{name}={v} must be a power of two{rng}")
    return v


@dataclass(frozen=True)
class LaunchConfig:
    """Program block ``(block_m, block_n, block_k)`` (powers of two >= 16), grouped program order
    ``group_m``, ``num_warps`` (a power of two) and software-pipeline depth ``num_stages``.

    A subclass may set the class attribute ``LIMITS``: upper bounds of (block, group_m, num_warps,
    num_stages), None for none.
    """

    block_m: int = 128
    block_n: int = 64
    block_k: int = 32
    group_m: int = 8
    num_warps: int = 4
    num_stages: int = 4

    LIMITS = (None, None, None, None)

    def __post_init__(self):
        block, group, warps, stages = self.LIMITS
        for name in ("block_m", "block_n", "block_k"):
            pow2_in(name, getattr(self, name), 16, block)
        int_in("group_m", self.group_m, 1, group)
        pow2_in("num_warps", self.num_warps, 1, warps)
        int_in("num_stages", self.num_stages, 1, stages)

    def label(self) -> str:
        return (f"{self.block_m}x{self.block_n}x{self.block_k}-g{self.group_m}-w{self.num_warps}"
                f"-s{self.num_stages}")


def check_tensor(torch, name: str, t, ndim: int):
    """``t`` must be a contiguous ``ndim``-dimensional torch tensor."""
    if not isinstance(t, torch.Tensor):
        raise CacheSimError(f"{name} has type {type(t).__name__}: must be a torch.Tensor")
    if t.ndim != ndim:
        raise CacheSimError(f"{name} has shape {tuple(t.shape)}: must be {ndim}-dimensional")
    if not t.is_contiguous():
        raise CacheSimError(f"{name} is not contiguous: pass .contiguous()")
    return t


def check_operand(torch, name: str, t, ndim: int, dtype=None, device=None):
    """:func:`check_tensor`, then ``dtype`` / ``device`` (those of the other operands, when given) and a
    float32, bfloat16 or float16 dtype."""
    check_tensor(torch, name, t, ndim)
    if dtype is not None and t.dtype != dtype:
        raise CacheSimError(f"{name} has dtype {t.dtype}: must be {dtype} like the other operands")
    if device is not None and t.device != device:
        raise CacheSimError(f"{name} is on {t.device}: must be on {device}")
    if t.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise CacheSimError(f"{name} has dtype {t.dtype}: must be float32, bfloat16 or float16")
    return t
