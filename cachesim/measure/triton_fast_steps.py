"""Ready-made training-step cases for timing and checking on a device (ROAST, HashedNet, dense, cuBLAS).

:func:`train_step_cases` builds, for one shape ``(M, K, N)`` and one shared-array size, a zero-argument
callable per implementation, each running one complete SGD step (see the step functions of
:mod:`cachesim.measure.triton_fast_bwd` for exactly what a step contains) on its own operands, so a timer
(``triton.testing.do_bench``) can call them directly. :func:`check_train_steps` runs each once and compares
``Y``, ``dX``, the gradient of the stored array and the updated array with float64 references computed
from the gathered dense weight ``W = memory[idx]``.

Case names: ``cublas`` (torch autograd, ``nn.Linear`` layout), ``triton-dense`` (the same Triton tiling
as the hashed kernels, dense weight), ``roast-a{align}`` (tile starts ``"rz-aligned"`` with ``align``),
``roast-autograd-a{align}`` (the same kernels inside :class:`~.roast_linear.RoastLinear` and autograd),
``hashednet-hash`` (the authors' element hash), ``hashednet-mulshift`` (power-of-two ``memory`` only) and
``hashednet-table`` (a precomputed int32 index of the authors' hash). When ``fwd_config`` is given the
hashed steps use the fast forward of :mod:`cachesim.measure.triton_fast` (its ``FastWeight`` prepares the
same table / index the backward reads); otherwise the reference forward of ``triton_fast_bwd``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..errors import CacheSimError
from . import triton_fast_bwd as fb

__all__ = ["StepCase", "check_train_steps", "train_step_cases", "tune_backward"]

#: Relative-error thresholds of :func:`check_train_steps` by dtype (fp32 runs TF32 unless ``ieee``).
TOLERANCE = {"float32": 2e-3, "bfloat16": 1.5e-2, "float16": 5e-3}
_HASHEDNET = ("hash", "mulshift", "table")


@dataclass(frozen=True)
class StepCase:
    """One implementation's training step on its own operands (from :func:`train_step_cases`; checked by
    :func:`check_train_steps`).

    Attributes
    ----------
    name : str
    run : callable
        ``run() -> (Y, dX, grad)``; every call is one SGD step (updates ``stored`` in place).
    stored : torch.Tensor
        The updated parameter: the shared array, or the dense weight (``(K, N)``; ``(N, K)`` for cuBLAS).
    slots : callable or None
        ``slots() -> (K, N)`` int64 slot of every weight in ``stored`` from ``roast_theory`` (computed on
        first use and cached: only the checks need it); None for the dense cases.
    x, dy : torch.Tensor
        The step's input ``(M, K)`` and output gradient ``(M, N)``.
    lr, scale : float
        Learning rate and module scale ``lambda`` (1 for cuBLAS: its weight holds ``lambda W``).
    """

    name: str
    run: object
    stored: object
    slots: object
    x: object
    dy: object
    lr: float
    scale: float


def _dtype(torch, dtype):
    """The torch dtype named by ``dtype`` (bfloat16, float32 or float16)."""
    dt = getattr(torch, dtype, None) if isinstance(dtype, str) else None
    if dt not in (torch.float32, torch.bfloat16, torch.float16):
        raise CacheSimError(f"dtype={dtype!r} must be 'bfloat16', 'float32' or 'float16'")
    return dt


def _operands(torch, m, k, n, dtype, device, seed):
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(m, k, generator=g, device=device).to(dtype)
    dy = (torch.randn(m, n, generator=g, device=device) / np.sqrt(n)).to(dtype)
    return x, dy


def _memory(torch, size, dtype, device, seed):
    g = torch.Generator(device=device).manual_seed(seed + 1)
    return (0.04 * torch.randn(size, generator=g, device=device)).to(dtype)


def _roast_case(torch, x, dy, memory, tile, align, seed, lr, scale, fwd_config, bwd_config, dw_config):
    from roast_theory import hashes

    from .roast_linear import start_table

    k, n = x.shape[1], dy.shape[1]
    mem = _memory(torch, memory, x.dtype, x.device, seed)
    forward = None
    if fwd_config is not None:
        from . import triton_fast as tf

        prep = tf.FastWeight("roast", "table", memory=memory, tile=tile, align=align, seed=seed).prepare(
            k, n, x.device)
        table = prep.aux
        forward = fb.fast_forward(prep, fwd_config)
    else:
        table = torch.as_tensor(start_table(k, n, tile, memory, align=align, seed=seed)).to(x.device)
    grad = torch.zeros(memory, dtype=torch.float32, device=x.device)
    slots = functools.cache(lambda: hashes.tile_slot_index(table.cpu().numpy(), k, n, tile))

    def run():
        return fb.roast_train_step(x, mem, table, dy, lr, tile, align=align, scale=scale, grad_memory=grad,
                                   config=bwd_config, forward=forward, dw_config=dw_config)

    return StepCase(f"roast-a{align}", run, mem, slots, x, dy, lr, scale)


def _roast_autograd_case(torch, x, dy, memory, tile, align, seed, lr, scale, fwd_config, bwd_config,
                         dw_config):
    """:class:`RoastLinear` through torch autograd, stepped like ``triton_fast_bwd.cublas_train_step``."""
    from roast_theory.torch_layers import SharedMemory

    from .roast_linear import RoastLinear

    k, n = x.shape[1], dy.shape[1]
    shared = SharedMemory.from_tensor(_memory(torch, memory, x.dtype, x.device, seed))
    layer = RoastLinear(k, n, shared, tile=tile, align=align, seed=seed, scale=scale, config=bwd_config,
                        dw_config=dw_config, fwd_configs=None if fwd_config is None else (fwd_config,),
                        forward_kernel="reference" if fwd_config is None else "auto")
    param = shared.weight

    def run():
        param.grad = None
        xl = x.detach().requires_grad_(True)
        y = layer(xl)
        y.backward(dy)
        with torch.no_grad():
            param.add_(param.grad, alpha=-lr)
        return y.detach(), xl.grad, param.grad

    return StepCase(f"roast-autograd-a{align}", run, param, layer.slot_index, x, dy, lr, scale)


def _hashednet_case(torch, kind, x, dy, memory, tile, seed, lr, scale, fwd_config, bwd_config, dw_config):
    from roast_theory import hashes

    k, n = x.shape[1], dy.shape[1]
    fam = hashes.make_family("hashednet-mulshift" if kind == "mulshift" else "hashednet-triton", seed)
    slots = functools.cache(lambda: fam.element_slots(np.arange(k)[:, None], np.arange(n)[None, :], memory))
    kw = {"mulshift": {"mulshift": fam.r}, "hash": {"params": fam.r}}.get(kind)
    forward = None
    if fwd_config is not None:
        from . import triton_fast as tf

        prep = tf.FastWeight("hashednet", kind, memory=memory, seed=seed).prepare(k, n, x.device)
        if kind == "table":
            kw = {"index": prep.aux}
        forward = fb.fast_forward(prep, fwd_config)
    elif kind == "table":
        kw = {"index": torch.as_tensor(slots().astype(np.int32)).to(x.device)}
    mem = _memory(torch, memory, x.dtype, x.device, seed)
    grad = torch.zeros(memory, dtype=torch.float32, device=x.device)

    def run():
        return fb.hashednet_train_step(x, mem, dy, lr, tile, scale=scale, grad_memory=grad, config=bwd_config,
                                       forward=forward, dw_config=dw_config, **kw)

    return StepCase(f"hashednet-{kind}", run, mem, slots, x, dy, lr, scale)


def _dense_cases(torch, x, dy, tile, seed, lr, scale, bwd_config, dw_config):
    k, n = x.shape[1], dy.shape[1]
    g = torch.Generator(device=x.device).manual_seed(seed + 2)
    w_kn = (torch.randn(k, n, generator=g, device=x.device) / np.sqrt(k)).to(x.dtype)
    grad = torch.zeros(k, n, dtype=torch.float32, device=x.device)
    w_nk = torch.nn.Parameter(w_kn.t().contiguous() * scale)

    def run_triton():
        return fb.dense_train_step(x, w_kn, dy, lr, tile, scale=scale, grad_weight=grad, config=bwd_config,
                                   dw_config=dw_config)

    def run_cublas():
        return fb.cublas_train_step(x, w_nk, dy, lr)

    return [StepCase("cublas", run_cublas, w_nk, None, x, dy, lr, 1.0),
            StepCase("triton-dense", run_triton, w_kn, None, x, dy, lr, scale)]


def train_step_cases(m: int, k: int, n: int, memory: int, *, tile=(32, 64), align: int = 8,
                     dtype="bfloat16", device="cuda", seed: int = 0, lr: float = 1e-3,
                     scale: float | None = None, hashednet=_HASHEDNET, fwd_config=None,
                     bwd_config=None, dw_config=None, autograd: bool = True) -> dict:
    """One :class:`StepCase` per implementation for the shape ``X (M, K) @ W (K, N)``.

    Parameters
    ----------
    m, k, n : int
        Batch rows, ``in_features``, ``out_features``.
    memory : int
        Shared-array size (ROAST needs ``align | memory - BK*BN``; ``hashednet-mulshift`` is built only
        when ``memory`` is a power of two).
    tile, align : ROAST tile ``(BK, BN)`` and start alignment.
    dtype : str
        ``"bfloat16"``, ``"float32"`` or ``"float16"``.
    device : str
    seed : int
        Seed of the hashes and the operands.
    lr : float
    scale : float or None
        Module scale ``lambda`` (None: ``(1 / sqrt(K)) / 0.04``; the cuBLAS weight is pre-multiplied).
    hashednet : sequence of {"hash", "mulshift", "table"}
    fwd_config : triton_fast.FastConfig or None
        Fast forward configuration for the hashed steps (None: the reference forward).
    bwd_config : triton_fast_bwd.BwdConfig or None
        ``dX`` (and reference forward) configuration; None: the default ``BwdConfig()``.
    dw_config : triton_fast_bwd.BwdConfig or None
        Gradient-pass configuration (None: ``bwd_config``; the dense step needs ``split_m == 1``).

    autograd : bool
        Also build ``roast-autograd-a{align}``: :class:`~.roast_linear.RoastLinear` (same kernels) through
        torch autograd with an in-place SGD update, stepped exactly like the ``cublas`` case (its gradient
        reaches the parameter in the memory's dtype, one extra cast).

    Each of ``fwd_config``, ``bwd_config``, ``dw_config`` may also be a dict keyed by kind (``"roast"``,
    ``"dense"``, ``"hashednet-hash"``, ``"hashednet-mulshift"``, ``"hashednet-table"``, the keys of
    :func:`tune_backward`); a missing kind gets the default.

    Returns
    -------
    dict of str -> StepCase
    """
    torch = fb._torch()
    dt = _dtype(torch, dtype)
    bad = [h for h in hashednet if h not in _HASHEDNET]
    if bad:
        raise CacheSimError(f"hashednet={tuple(hashednet)!r} holds {bad[0]!r}: choose from {_HASHEDNET}")
    scale = (1.0 / np.sqrt(k)) / 0.04 if scale is None else fb._check_real("scale", scale)
    x, dy = _operands(torch, m, k, n, dt, device, seed)

    def pick(kind):
        fwd, bwd, dw = (c.get(kind) if isinstance(c, dict) else c
                        for c in (fwd_config, bwd_config, dw_config))
        bwd = fb.BwdConfig() if bwd is None else fb._check_config(bwd)
        return fwd, bwd, None if dw is None else fb._check_config(dw)

    _, bwd, dw = pick("dense")
    dw = None if dw is None or dw.split_m > 1 else dw
    cases = _dense_cases(torch, x, dy, tile, seed, lr, scale, bwd, dw)
    cases.append(_roast_case(torch, x, dy, memory, tile, align, seed, lr, scale, *pick("roast")))
    if autograd:
        cases.append(_roast_autograd_case(torch, x, dy, memory, tile, align, seed, lr, scale, *pick("roast")))
    for kind in hashednet:
        if kind == "mulshift" and memory & (memory - 1):
            continue
        cases.append(_hashednet_case(torch, kind, x, dy, memory, tile, seed, lr, scale,
                                     *pick(f"hashednet-{kind}")))
    return {c.name: c for c in cases}


def _rel(torch, got, ref) -> float:
    ref = ref.to(torch.float64)
    return float((got.to(torch.float64) - ref).norm() / ref.norm().clamp_min(1e-300))


def _references(torch, case: StepCase):
    """float64 ``(Y, dX, grad, updated)`` of one step of ``case`` from its current stored parameter."""
    before = case.stored.detach().to(torch.float64).clone()
    x64, d64 = case.x.to(torch.float64), case.dy.to(torch.float64)
    if case.name == "cublas":
        w = before.t()
    elif case.slots is None:
        w = before
    else:
        idx = torch.as_tensor(case.slots(), device=before.device)
        w = before[idx]
    g_kn = case.scale * x64.t() @ d64
    if case.name == "cublas":
        grad = g_kn.t()
    elif case.slots is None:
        grad = g_kn
    else:
        grad = torch.zeros_like(before).index_add_(0, idx.reshape(-1), g_kn.reshape(-1))
    return case.scale * x64 @ w, case.scale * d64 @ w.t(), grad, before - case.lr * grad


def check_train_steps(cases: dict) -> dict:
    """Run every case once; ``{name: {quantity: relative error}}`` against float64 references.

    Quantities ``y``, ``dx``, ``grad`` (of the stored parameter) and ``updated`` (the stored parameter
    after the step), each ``||got - ref|| / ||ref||`` with the references computed from the gathered
    dense weight ``W = stored[index]`` before the step; compare with :data:`TOLERANCE` of the dtype.
    """
    torch = fb._torch()
    out = {}
    for name, case in cases.items():
        y_ref, dx_ref, g_ref, upd_ref = _references(torch, case)
        y, dx, grad = case.run()
        out[name] = {"y": _rel(torch, y, y_ref), "dx": _rel(torch, dx, dx_ref),
                     "grad": _rel(torch, grad.reshape(g_ref.shape), g_ref),
                     "updated": _rel(torch, case.stored.detach(), upd_ref)}
    return out


def _pass_fns(torch, kind, x, dy, memory, tile, align, seed, scale):
    """``(dx_fn(config), dw_fn(config))`` launching one backward pass of ``kind`` on fixed operands."""
    from roast_theory import hashes

    from .roast_linear import start_table

    k, n = x.shape[1], dy.shape[1]
    size = k * n if kind == "dense" else memory
    mem = _memory(torch, size, x.dtype, x.device, seed)
    grad = torch.zeros(size, dtype=torch.float32, device=x.device)
    if kind == "roast":
        table = torch.as_tensor(start_table(k, n, tile, memory, align=align, seed=seed)).to(x.device)
        return (lambda c: fb.roast_dx(dy, mem, table, k, tile, align=align, scale=scale, config=c),
                lambda c: fb.roast_grad_memory(x, dy, table, grad, tile, align=align, scale=scale, config=c))
    if kind == "dense":
        w = mem.view(k, n)
        return (lambda c: fb._run_dx(torch, dy, w, fb._Addr("dense"), k, tile, scale, c, False, None),
                lambda c: fb._run_grad(torch, x, dy, grad, fb._Addr("dense"), tile, scale, c, False))
    name = "hashednet-mulshift" if kind == "hashednet-mulshift" else "hashednet-triton"
    fam = hashes.make_family(name, seed)
    if kind == "hashednet-table":
        idx = fam.element_slots(np.arange(k)[:, None], np.arange(n)[None, :], memory)
        kw = {"index": torch.as_tensor(idx.astype(np.int32)).to(x.device)}
    else:
        kw = {"mulshift": fam.r} if kind == "hashednet-mulshift" else {"params": fam.r}
    return (lambda c: fb.hashednet_dx(dy, mem, k, tile, scale=scale, config=c, **kw),
            lambda c: fb.hashednet_grad_memory(x, dy, grad, tile, scale=scale, config=c, **kw))


def tune_backward(m: int, k: int, n: int, memory: int, bench, *, tile=(32, 64), align: int = 8,
                  kinds=("roast",), dtype="bfloat16", device="cuda", seed: int = 0, configs=None) -> dict:
    """Time ``dX`` and the gradient pass of each kind over the candidate configurations.

    Parameters
    ----------
    m, k, n, memory, tile, align, dtype, device, seed
        As in :func:`train_step_cases`.
    bench : callable
        ``bench(fn) -> milliseconds`` (e.g. ``triton.testing.do_bench`` with ``return_mode="median"``).
    kinds : sequence of {"roast", "dense", "hashednet-hash", "hashednet-mulshift", "hashednet-table"}
    configs : sequence of BwdConfig or None
        Candidates (None: :data:`~.triton_fast_bwd.BWD_CONFIGS`), filtered per pass by
        :func:`~.triton_fast_bwd.bwd_configs`; the dense gradient keeps ``split_m == 1`` only.

    Returns
    -------
    dict
        ``{kind: {"dx" | "dw": {"best": BwdConfig, "ms": float, "all": [(config dict, ms or error)]}}}``;
        a failing configuration is recorded with its error and skipped.
    """
    torch = fb._torch()
    dt = _dtype(torch, dtype)
    x, dy = _operands(torch, m, k, n, dt, device, seed)
    scale = (1.0 / np.sqrt(k)) / 0.04
    out = {}
    for kind in kinds:
        fns = _pass_fns(torch, kind, x, dy, memory, tile, align, seed, scale)
        out[kind] = {}
        for pass_, fn in zip(("dx", "dw"), fns):
            cands = fb.bwd_configs(pass_, tile, dtype_bytes=x.element_size(),
                                   configs=fb.BWD_CONFIGS if configs is None else configs)
            if kind == "dense" and pass_ == "dw":
                cands = tuple(c for c in cands if c.split_m == 1)
            rows, best = [], None
            for c in cands:
                try:
                    ms = float(bench(lambda c=c, fn=fn: fn(c)))
                except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
                    rows.append((c.to_dict(), repr(exc)[:300]))
                    continue
                rows.append((c.to_dict(), ms))
                if best is None or ms < best[1]:
                    best = (c, ms)
            out[kind][pass_] = {"best": None if best is None else best[0],
                                "ms": None if best is None else best[1], "all": rows}
    return out
