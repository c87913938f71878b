"""GPU measurement harness: correctness checks, timings and ceilings for the dense / ROAST / HashedNet GEMMs.

Runs where torch sees a CUDA device (the drivers ``drivers/gpu_*.py`` call it); the checks
also run on the CPU under ``TRITON_INTERPRET=1`` at tiny shapes. Every function returns plain dicts that
the scripts store with :func:`cachesim.measure.records.write_record` -- the measuring process writes the
numbers, nothing edits them afterwards.

Implementations timed (``impl``):

* ``cublas_dense``: ``x @ W`` through torch (cuBLAS), autograd backward;
* ``triton_dense`` / ``triton_roast`` / ``triton_hashednet``: the fused kernels of
  :mod:`cachesim.measure.triton_kernels`, identical tiling;
* ``triton_roast_aligned``: diagnostic, ROAST with tile starts rounded down to 16 elements (vector loads);
* ``triton_roast_vec``: ROAST, same hash, B tile loaded with aligned 16-byte vector loads then shifted;
* ``gather_roast`` / ``gather_hashednet``: ``W = lambda M[idx]`` then cuBLAS (``roast_theory.torch_layers``
  ``HashedLinear``), autograd backward (a scatter-add into ``M``).

A training step is forward + input and weight gradients + an SGD update of the stored parameter.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

from ..errors import CacheSimError
from . import triton_kernels as tk

__all__ = [
    "IMPLS",
    "TOLERANCE",
    "GemmCase",
    "ceilings",
    "check_case",
    "env_report",
    "rel_error",
    "time_case",
]

IMPLS = ("cublas_dense", "triton_dense", "triton_roast", "triton_hashednet", "gather_roast",
         "gather_hashednet", "triton_roast_aligned", "triton_roast_vec")

#: Pass thresholds on ||out - ref|| / ||ref|| (METHOD.md: fp32 far under 1e-3, tf32 near 3e-4,
#: bf16 between 1e-3 and 1e-2).
TOLERANCE = {"fp32": 1e-4, "tf32": 2e-3, "bf16": 1.5e-2}
_SEED = {"dense": 0, "roast": 1, "hashednet": 2, "roast_aligned": 1, "roast_vec": 1}


@dataclass(frozen=True)
class GemmCase:
    """One GEMM ``Y[M, N] = X[M, K] W[K, N]`` with a compressed weight of ``m_slots`` stored values.

    Parameters
    ----------
    batch, in_features, out_features : int
        ``M``, ``K``, ``N``.
    m_slots : int
        Size of the shared array (ROAST) / the layer's array (HashedNet).
    precision : {"fp32", "tf32", "bf16"}
        fp32 operands with exact products, fp32 operands with TF32 products, or bf16 operands (fp32
        accumulation in every case).
    tile : TileConfig
    seed : int
    """

    batch: int
    in_features: int
    out_features: int
    m_slots: int
    precision: str = "bf16"
    tile: tk.TileConfig = tk.TileConfig()
    seed: int = 0

    def __post_init__(self):
        for name in ("batch", "in_features", "out_features", "m_slots"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise CacheSimError(f"{name}={v!r} must be an integer >= 1")
        if self.precision not in TOLERANCE:
            raise CacheSimError(f"precision={self.precision!r} must be one of {tuple(TOLERANCE)}")

    @property
    def compression(self) -> float:
        return self.in_features * self.out_features / self.m_slots

    @property
    def scale(self) -> float:
        """Module scale ``lambda = (1/sqrt(K)) / 0.04``."""
        return (1.0 / math.sqrt(self.in_features)) / 0.04

    def khash(self, method: str) -> tk.KernelHash:
        """Kernel parameters drawn from ``seed + {dense: 0, roast: 1, hashednet: 2}``."""
        return tk.KernelHash.random(method, self.m_slots, self.seed + _SEED[method])

    def describe(self) -> dict:
        t = self.tile
        return {"M": self.batch, "K": self.in_features, "N": self.out_features, "m_slots": self.m_slots,
                "compression": self.compression, "precision": self.precision, "scale": self.scale,
                "block_m": t.block_m, "block_n": t.block_n, "block_k": t.block_k, "group_m": t.group_m,
                "num_warps": t.num_warps, "num_stages": t.num_stages, "seed": self.seed}


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover
        raise CacheSimError("the GPU harness needs torch") from exc
    return torch


def _dtype(torch, precision):
    return torch.bfloat16 if precision == "bf16" else torch.float32


def rel_error(out, ref) -> float:
    """``||out - ref|| / ||ref||`` in float64; ``inf`` if ``out`` has a NaN/inf (an unwritten element)."""
    torch = _torch()
    o = out.detach().to(torch.float64)
    r = ref.detach().to(device=o.device, dtype=torch.float64)
    if not bool(torch.isfinite(o).all()):
        return math.inf
    return float(torch.linalg.vector_norm(o - r) / torch.linalg.vector_norm(r))


def reference_index(case: GemmCase, method: str) -> tuple[np.ndarray, str]:
    """Slot of every weight from the CPU hash formulas, independent of the kernels.

    Uses ``roast_theory.hashes`` (``make_family("rz-stable" | "hashednet-triton", seed)``, whose parameter
    draw :meth:`KernelHash.random` reproduces) when it imports, else the numpy formulas of
    :mod:`cachesim.measure.triton_kernels`. Returns ``(index, source)``.
    """
    h = case.khash(method)
    k, n = case.in_features, case.out_features
    if method == "dense":
        return np.arange(k * n, dtype=np.int64).reshape(k, n), "row-major"
    if method == "roast_aligned":
        return tk.roast_index_reference(k, n, case.tile.block_k, case.tile.block_n, h.params, h.m_slots,
                                        h.prime, align=tk.ALIGNED_START), "triton_kernels numpy reference"
    try:
        from roast_theory import hashes
    except ImportError:
        hashes = None
    if hashes is not None:
        roast = method in ("roast", "roast_vec")
        fam = hashes.make_family("rz-stable" if roast else "hashednet-triton", _SEED[method] + case.seed)
        if tuple(fam.r) != h.params:
            raise CacheSimError(f"roast_theory.hashes draws R={fam.r} but KernelHash.random drew {h.params}")
        kk = np.arange(k)
        nn = np.arange(n)
        if roast:
            bk, bn = case.tile.block_k, case.tile.block_n
            kb, nb = np.meshgrid(np.arange(-(-k // bk)), np.arange(-(-n // bn)), indexing="ij")
            starts = fam.tile_starts(kb, nb, h.span(case.tile))
            idx = (starts[kk // bk][:, nn // bn] + ((kk % bk) * bn)[:, None] + (nn % bn)[None, :])
        else:
            # full grids: hashes.py accumulates in place, so its keys must already have the output shape
            k2, n2 = np.meshgrid(kk, nn, indexing="ij")
            idx = fam.element_slots(k2, n2, h.m_slots)
        return np.asarray(idx, dtype=np.int64), "roast_theory.hashes"
    if method in ("roast", "roast_vec"):
        return tk.roast_index_reference(k, n, case.tile.block_k, case.tile.block_n, h.params, h.m_slots,
                                        h.prime), "triton_kernels numpy reference"
    return tk.hashednet_index_reference(k, n, h.params, h.m_slots, h.prime), "triton_kernels numpy reference"


def _inputs(torch, case: GemmCase, device, gen_seed: int):
    g = torch.Generator(device="cpu").manual_seed(gen_seed)
    dt = _dtype(torch, case.precision)
    x = torch.randn(case.batch, case.in_features, generator=g).to(device=device, dtype=dt)
    dy = torch.randn(case.batch, case.out_features, generator=g).to(device=device, dtype=dt)
    return x, dy


def check_case(case: GemmCase, method: str, device="cuda") -> dict:
    """Check the fused kernels of ``method`` against a float64 reference built from the numpy hash.

    Outputs are poisoned with NaN before each launch (an unwritten element gives ``inf`` error); the
    gradient buffer starts from a random fp32 vector, so the check also proves that hashed methods ADD.

    Returns
    -------
    dict
        ``index_match`` (kernel-computed index == numpy formula), ``err_fwd``, ``err_dx``, ``err_db``,
        ``tolerance``, ``passed``.
    """
    torch = _torch()
    if method not in _SEED:
        raise CacheSimError(f"method={method!r} must be one of {tuple(_SEED)}")
    dt = _dtype(torch, case.precision)
    ieee = case.precision == "fp32"
    h = case.khash(method)
    k, n, m = case.in_features, case.out_features, case.batch
    idx_ref, idx_source = reference_index(case, method)
    idx_kernel = tk.kernel_index(h, k, n, case.tile, device=device)
    index_match = bool(np.array_equal(idx_kernel, idx_ref))
    x, dy = _inputs(torch, case, device, case.seed + 101)
    g = torch.Generator(device="cpu").manual_seed(case.seed + 7)
    if method == "dense":
        b = (torch.randn(k, n, generator=g) / math.sqrt(k)).to(device=device, dtype=dt)
        scale = 1.0
        w64 = b.to(torch.float64)
        grad0 = torch.zeros(k, n, dtype=torch.float32, device=device)
    else:
        b = (0.04 * torch.randn(case.m_slots, generator=g)).to(device=device, dtype=dt)
        scale = case.scale
        idx_t = torch.as_tensor(idx_ref, device=device)
        w64 = scale * b.to(torch.float64)[idx_t]
        grad0 = torch.randn(case.m_slots, generator=g).to(device=device, dtype=torch.float32)
    x64, dy64 = x.to(torch.float64), dy.to(torch.float64)
    y = torch.full((m, n), float("nan"), dtype=dt, device=device)
    tk.matmul(x, b, h, case.tile, scale=scale, ieee=ieee, out=y)
    dx = torch.full((m, k), float("nan"), dtype=dt, device=device)
    tk.matmul_dx(dy, b, h, k, case.tile, scale=scale, ieee=ieee, out=dx)
    grad = grad0.clone()
    if method == "dense":
        grad.fill_(float("nan"))
    tk.matmul_db(x, dy, h, grad, case.tile, scale=scale, ieee=ieee)
    if device != "cpu":
        torch.cuda.synchronize()
    dw64 = x64.T @ dy64
    if method == "dense":
        db_ref = dw64
    else:
        db_ref = grad0.to(torch.float64).index_add(0, idx_t.reshape(-1), scale * dw64.reshape(-1))
    out = {
        "method": method,
        "index_match": index_match,
        "err_fwd": rel_error(y, x64 @ w64),
        "err_dx": rel_error(dx, dy64 @ w64.T),
        "err_db": rel_error(grad, db_ref),
        "tolerance": TOLERANCE[case.precision],
        "reference": f"float64 on {device}, index from {idx_source}",
    }
    worst = max(out["err_fwd"], out["err_dx"], out["err_db"])
    out["passed"] = bool(index_match and worst <= out["tolerance"])
    return out


# ------------------------------------------------------------------------------------------------ timing
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


def _gather_layer(torch, case: GemmCase, method: str, mem_values, idx_np, device):
    """A ``roast_theory.torch_layers.HashedLinear`` on ``mem_values`` (falls back to inline torch)."""
    try:
        from roast_theory import torch_layers as tl

        memory = tl.SharedMemory(1, dtype="float32", device="cpu")
        memory.m_slots = case.m_slots
        memory.weight = torch.nn.Parameter(mem_values)
        layer = tl.HashedLinear(case.in_features, case.out_features, memory, idx_np, scale=case.scale,
                                bias=False)
        return layer, memory.weight, "roast_theory.torch_layers.HashedLinear"
    except ImportError:  # pragma: no cover - torch_layers missing
        pass
    weight = torch.nn.Parameter(mem_values)
    idx = torch.as_tensor(idx_np, device=device).reshape(-1)

    def layer(x):
        return x @ (torch.index_select(weight, 0, idx).view(case.in_features, case.out_features) * case.scale)

    return layer, weight, "inline index_select + matmul"


def time_case(case: GemmCase, impl: str, device="cuda", *, train=True, lr=1e-3, rep_ms=100,
              timer: str = "do_bench") -> dict:
    """Median time of the forward pass (and of a training step) of ``impl`` on ``case``.

    Returns
    -------
    dict
        ``impl``, ``fwd_ms``, ``train_ms`` (forward + dX + dW/dM + SGD update, or None), ``source`` of
        the gather layer where relevant.
    """
    torch = _torch()
    if impl not in IMPLS:
        raise CacheSimError(f"impl={impl!r} must be one of {IMPLS}")
    if timer not in ("do_bench", "events"):
        raise CacheSimError(f"timer={timer!r} must be 'do_bench' or 'events'")
    dt = _dtype(torch, case.precision)
    tf32 = case.precision == "tf32"
    ieee = case.precision == "fp32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    m, k, n = case.batch, case.in_features, case.out_features
    x, dy = _inputs(torch, case, device, case.seed + 202)
    g = torch.Generator(device="cpu").manual_seed(case.seed + 9)
    res = {"impl": impl, "source": None}
    if impl.startswith("triton_"):
        method = impl.split("_", 1)[1]
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

        res["source"] = "cachesim.measure.triton_kernels"
    elif impl == "cublas_dense":
        w = torch.nn.Parameter((torch.randn(k, n, generator=g) / math.sqrt(k)).to(device=device, dtype=dt))
        xg = x.clone().requires_grad_(True)

        def fwd():
            with torch.no_grad():
                return x @ w

        def step():
            y = xg @ w
            y.backward(dy)
            with torch.no_grad():
                w.sub_(lr * w.grad)
            w.grad = None
            xg.grad = None

        res["source"] = "torch.matmul (cuBLAS)"
    else:
        method = impl.split("_", 1)[1]
        idx_np = tk.kernel_index(case.khash(method), k, n, case.tile, device=device)
        mem = (0.04 * torch.randn(case.m_slots, generator=g)).to(device=device, dtype=dt)
        layer, weight, res["source"] = _gather_layer(torch, case, method, mem, idx_np, device)
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

    if timer == "events":
        res["fwd_ms"] = _bench_events(fwd)
        res["train_ms"] = _bench_events(step) if train else None
    else:
        res["fwd_ms"] = _bench(fwd, rep_ms=rep_ms)
        res["train_ms"] = _bench(step, rep_ms=rep_ms) if train else None
    res["timer"] = timer
    torch.backends.cuda.matmul.allow_tf32 = False
    return res


# ------------------------------------------------------------------------------------------- environment
def _run(cmd) -> str:
    if shutil.which(cmd[0]) is None:
        return f"{cmd[0]}: not found"
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{cmd[0]} failed: {exc}"
    return (p.stdout + p.stderr).strip()


def env_report() -> dict:
    """nvidia-smi, torch / triton / CUDA versions, device properties and ``ncu --version``."""
    torch = _torch()
    out = {"nvidia_smi": _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.sm,"
                                             "clocks.max.sm,clocks.mem,power.limit", "--format=csv"]),
           "ncu_version": _run(["ncu", "--version"]),
           "torch": torch.__version__, "torch_cuda": torch.version.cuda}
    try:
        import triton

        out["triton"] = triton.__version__
    except ImportError:
        out["triton"] = None
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        out["device_name"] = p.name
        out["sm_count"] = p.multi_processor_count
        out["l2_bytes"] = getattr(p, "L2_cache_size", None)
        out["capability"] = f"{p.major}.{p.minor}"
        out["total_memory"] = p.total_memory
    return out
