"""Host-side helpers shared by the Triton wrappers (``cachesim.measure._triton_host``): checks and limits.

Needs neither torch nor triton (except where a test says so): the wrappers validate before any kernel
module is imported.
"""

from __future__ import annotations

import numpy as np
import pytest

from cachesim.errors import CacheSimError
from cachesim.measure import _triton_host as host
from cachesim.measure import triton_fast as tf
from cachesim.measure import triton_kernels as tk


@pytest.mark.parametrize("value, low, high, match", [
    (48, 16, None, r"x=48 must be a power of two >= 16"),
    (8, 16, None, r"x=8 must be a power of two >= 16"),
    (2048, 16, 1024, r"x=2048 must be a power of two in \[16, 1024\]"),
    (True, 1, None, r"x=True must be an integer power of two >= 1"),
    (2.0, 1, 8, r"x=2.0 must be an integer power of two in \[1, 8\]"),
])
def test_pow2_in_rejects_with_value_and_range(value, low, high, match):
    with pytest.raises(CacheSimError, match=match):
        host.pow2_in("x", value, low, high)


def test_pow2_in_and_int_in_accept_numpy_integers():
    assert host.pow2_in("x", np.int64(64), 16, 1024) == 64
    assert type(host.int_in("x", np.int32(3), 0, 3)) is int
    with pytest.raises(CacheSimError, match=r"x=4 must be an integer in \[0, 3\]"):
        host.int_in("x", 4, 0, 3)


def test_launch_limits_differ_per_config():
    """TileConfig keeps no upper bounds; FastConfig keeps its (blocks <= 1024, group_m <= 64, ...)."""
    big = dict(block_m=2048, group_m=100, num_warps=64, num_stages=9)
    assert tk.TileConfig(**big).label() == "2048x64x32-g100-w64-s9"
    for name, value in big.items():
        with pytest.raises(CacheSimError, match=rf"{name}={value} must be "):
            tf.FastConfig(**{name: value})
    assert tf.FastConfig() == tf.FastConfig(128, 128, 64, 8, 4, 4)
    assert tk.TileConfig() == tk.TileConfig(128, 64, 32, 8, 4, 4)
    assert tk.TileConfig() != tf.FastConfig(128, 64, 32)


def test_use_asm_is_off_only_under_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert not host.use_asm()
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert host.use_asm()


def test_missing_kernel_module_is_a_cachesim_error():
    with pytest.raises(CacheSimError, match="the Triton kernels need torch and triton"):
        host.import_kernels("_no_such_kernel_module")

    def fail():
        raise CacheSimError("no")

    assert host.kernels_available(fail) is False
    assert host.kernels_available(lambda: None) is True


def test_check_operand_names_the_operand():
    torch = pytest.importorskip("torch")
    x = torch.zeros(4, 8)
    with pytest.raises(CacheSimError, match=r"b has shape \(4, 8, 1\): must be 2-dimensional"):
        host.check_operand(torch, "b", torch.zeros(4, 8, 1), 2)
    with pytest.raises(CacheSimError, match=r"b is not contiguous"):
        host.check_operand(torch, "b", x.t(), 2)
    with pytest.raises(CacheSimError, match=r"b has dtype torch.float64: must be torch.float32 like"):
        host.check_operand(torch, "b", x.double(), 2, x.dtype, x.device)
    with pytest.raises(CacheSimError, match=r"b has dtype torch.int32: must be float32, bfloat16"):
        host.check_operand(torch, "b", x.int(), 2)
    assert host.check_operand(torch, "b", x, 2, x.dtype, x.device) is x
