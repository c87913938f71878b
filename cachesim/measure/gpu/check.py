"""Correctness of the fused kernels against a float64 reference indexed by the CPU hash formulas."""

from __future__ import annotations

import math

import numpy as np

from ...errors import CacheSimError
from .. import triton_kernels as tk
from .cases import SEED_OFFSET, TOLERANCE, GemmCase, _dtype, _inputs, _torch

__all__ = ["check_case", "reference_index", "rel_error"]


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
    draw :meth:`KernelHash.random` reproduces); the diagnostic ``roast_aligned`` uses the numpy formula of
    :mod:`cachesim.measure.triton_kernels`. Returns ``(index, source)``.
    """
    from roast_theory import hashes

    h = case.khash(method)
    k, n = case.in_features, case.out_features
    if method == "dense":
        return np.arange(k * n, dtype=np.int64).reshape(k, n), "row-major"
    if method == "roast_aligned":
        return tk.roast_index_reference(k, n, case.tile.block_k, case.tile.block_n, h.params, h.m_slots,
                                        h.prime, align=tk.ALIGNED_START), "triton_kernels numpy reference"
    roast = method in ("roast", "roast_vec")
    fam = hashes.make_family("rz-stable" if roast else "hashednet-triton", SEED_OFFSET[method] + case.seed)
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
    if method not in SEED_OFFSET:
        raise CacheSimError(f"method={method!r} must be one of {tuple(SEED_OFFSET)}")
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

