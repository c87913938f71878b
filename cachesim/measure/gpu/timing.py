"""GPU timings: device ceilings and the forward / training-step time of one implementation on one case."""

from __future__ import annotations

import math

import numpy as np

from ...errors import CacheSimError
from .. import triton_kernels as tk
from .cases import IMPLS, GemmCase, _dtype, _inputs, _torch

__all__ = ["ceilings", "time_case"]


def _bench(fn, warmup_ms=25, rep_ms=100) -> float:
    """Median milliseconds of ``fn`` by ``triton.testing.do_bench`` (CUDA events, L2 flushed before each)."""
    import triton.testing

    return float(triton.testing.do_bench(fn, warmup=warmup_ms, rep=rep_ms, return_mode="median"))


def _bench_events(fn, warmup=2, reps=10) -> float:
    """The authors' method: ``warmup`` untimed calls, then the median of ``reps`` CUDA-event timings (ms),
    L2 NOT flushed between repetitions."""
    torch = _torch()
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times))


def ceilings(device="cuda", rep_ms=200) -> dict:
    """Measured ceilings: device copy GB/s (read + write) and 8192^3 matmul TFLOP/s (bf16, tf32, fp32)."""
    torch = _torch()
    out = {}
    nbytes = 4 << 30
    src = torch.randn(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    ms = _bench(lambda src=src, dst=dst: dst.copy_(src), rep_ms=rep_ms)
    out["copy_gbps"] = 2 * nbytes / (ms * 1e-3) / 1e9
    out["copy_bytes"] = nbytes
    del src, dst
    n = 8192
    flops = 2.0 * n**3
    for name, dt, tf32 in (("bf16", torch.bfloat16, False), ("tf32", torch.float32, True),
                           ("fp32", torch.float32, False)):
        a = torch.randn(n, n, device=device).to(dt)
        b = torch.randn(n, n, device=device).to(dt)
        torch.backends.cuda.matmul.allow_tf32 = tf32
        ms = _bench(lambda a=a, b=b: a @ b, rep_ms=rep_ms)
        out[f"matmul_{name}_tflops"] = flops / (ms * 1e-3) / 1e12
    torch.backends.cuda.matmul.allow_tf32 = False
    return out


def _gather_layer(torch, case: GemmCase, mem_values, idx_np):
    """A ``roast_theory.torch_layers.HashedLinear`` on ``mem_values``: ``(layer, stored parameter)``."""
    from roast_theory import torch_layers as tl

    memory = tl.SharedMemory(1, dtype="float32", device="cpu")
    memory.m_slots = case.m_slots
    memory.weight = torch.nn.Parameter(mem_values)
    layer = tl.HashedLinear(case.in_features, case.out_features, memory, idx_np, scale=case.scale, bias=False)
    return layer, memory.weight


def _triton_fns(torch, case: GemmCase, method: str, x, dy, g, device, lr):
    """``(fwd, step)`` of the fused kernels of ``method`` (a key of :data:`SEED_OFFSET`)."""
    dt = _dtype(torch, case.precision)
    ieee = case.precision == "fp32"
    m, k, n = case.batch, case.in_features, case.out_features
    h = case.khash(method)
    if method == "dense":
        b = (torch.randn(k, n, generator=g) / math.sqrt(k)).to(device=device, dtype=dt)
        scale = 1.0
        grad = torch.zeros(k, n, dtype=torch.float32, device=device)
    else:
        b = (0.04 * torch.randn(case.m_slots, generator=g)).to(device=device, dtype=dt)
        scale = case.scale
        grad = torch.zeros(case.m_slots, dtype=torch.float32, device=device)
    y = torch.empty(m, n, dtype=dt, device=device)
    dx = torch.empty(m, k, dtype=dt, device=device)

    def fwd():
        tk.matmul(x, b, h, case.tile, scale=scale, ieee=ieee, out=y)

    def step():
        tk.matmul(x, b, h, case.tile, scale=scale, ieee=ieee, out=y)
        tk.matmul_dx(dy, b, h, k, case.tile, scale=scale, ieee=ieee, out=dx)
        if method != "dense":
            grad.zero_()
        tk.matmul_db(x, dy, h, grad, case.tile, scale=scale, ieee=ieee)
        b.sub_(lr * grad)

    return fwd, step


def _autograd_fns(torch, layer, weight, x, dy, lr):
    """``(fwd, step)`` of a torch layer: no-grad forward; forward + backward + SGD update of ``weight``."""
    xg = x.clone().requires_grad_(True)

    def fwd():
        with torch.no_grad():
            return layer(x)

    def step():
        y = layer(xg)
        y.backward(dy)
        with torch.no_grad():
            weight.sub_(lr * weight.grad)
        weight.grad = None
        xg.grad = None

    return fwd, step


def _torch_fns(torch, case: GemmCase, impl: str, x, dy, g, device, lr):
    """``(fwd, step, source)`` of ``cublas_dense`` or a gather-then-matmul implementation."""
    dt = _dtype(torch, case.precision)
    k, n = case.in_features, case.out_features
    if impl == "cublas_dense":
        w = torch.nn.Parameter((torch.randn(k, n, generator=g) / math.sqrt(k)).to(device=device, dtype=dt))
        return (*_autograd_fns(torch, lambda inp: inp @ w, w, x, dy, lr), "torch.matmul (cuBLAS)")
    method = impl.split("_", 1)[1]
    idx_np = tk.kernel_index(case.khash(method), k, n, case.tile, device=device)
    mem = (0.04 * torch.randn(case.m_slots, generator=g)).to(device=device, dtype=dt)
    layer, weight = _gather_layer(torch, case, mem, idx_np)
    return (*_autograd_fns(torch, layer, weight, x, dy, lr), "roast_theory.torch_layers.HashedLinear")


def time_case(case: GemmCase, impl: str, device="cuda", *, train=True, lr=1e-3, rep_ms=100,
              timer: str = "do_bench") -> dict:
    """Median time of the forward pass (and of a training step) of ``impl`` on ``case``.

    Returns
    -------
    dict
        ``impl``, ``fwd_ms``, ``train_ms`` (forward + dX + dW/dM + SGD update, or None), ``source`` of
        the implementation, ``timer``.
    """
    torch = _torch()
    if impl not in IMPLS:
        raise CacheSimError(f"impl={impl!r} must be one of {IMPLS}")
    if timer not in ("do_bench", "events"):
        raise CacheSimError(f"timer={timer!r} must be 'do_bench' or 'events'")
    torch.backends.cuda.matmul.allow_tf32 = case.precision == "tf32"
    x, dy = _inputs(torch, case, device, case.seed + 202)
    g = torch.Generator(device="cpu").manual_seed(case.seed + 9)
    res = {"impl": impl}
    if impl.startswith("triton_"):
        fwd, step = _triton_fns(torch, case, impl.split("_", 1)[1], x, dy, g, device, lr)
        res["source"] = "cachesim.measure.triton_kernels"
    else:
        fwd, step, res["source"] = _torch_fns(torch, case, impl, x, dy, g, device, lr)
    if timer == "events":
        res["fwd_ms"] = _bench_events(fwd)
        res["train_ms"] = _bench_events(step) if train else None
    else:
        res["fwd_ms"] = _bench(fwd, rep_ms=rep_ms)
        res["train_ms"] = _bench(step, rep_ms=rep_ms) if train else None
    res["timer"] = timer
    torch.backends.cuda.matmul.allow_tf32 = False
    return res
