"""One library entry point for the kernel models: :func:`predict` (traffic + cost of one kernel).

``predict(kernel, shape, target, ...)`` validates its inputs, plans the kernel, counts its traffic (trace
simulation, or the analytic model on a GPU) and prices it with the roofline cost model
(:mod:`cachesim.kernels.cost`). The ``cachesim kernel`` command, the report and the measurement
comparison all call it; none of them re-implements the plan -> simulate -> predict pipeline.

Kernels (``kernel``):

* ``"dense"``, ``"roast"``, ``"hashednet"``: the tiled GEMM ``Y = X W`` (GPU: the Triton kernel of
  :mod:`cachesim.kernels.gemm_gpu`; CPU: the blocked loop nest of :mod:`cachesim.kernels.gemm_cpu`);
* ``"gather-roast"``, ``"gather-hashednet"``: materialise ``W = M[idx]``, then the dense GEMM
  (:mod:`cachesim.kernels.gather`). These are *two-part* kernels: see :class:`KernelPrediction`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .._deprecate import renamed_kwargs
from ..errors import CacheSimError
from ._common import (
    ALL_KERNELS,
    MAX_MEMORY,
    Block,
    GemmShape,
    canonical_dtype,
    check_choice,
    check_int,
    dtype_bytes,
)
from .cost import CostPrediction, CostTerm, index_matrix_bytes, n_waves, predict_cpu, predict_gpu
from .targets import GPU_TARGETS, TARGETS, GpuTarget, get_target

__all__ = ["KERNELS", "KernelPrediction", "predict"]

#: Kernel implementations :func:`predict` knows.
KERNELS = ALL_KERNELS
#: Traffic fields every GPU traffic object has (the gather kernel sums its two parts over these).
GPU_TRAFFIC_FIELDS = ("load_instructions", "l1_sector_requests", "l1_sector_misses", "l2_sector_requests",
                      "l2_sector_misses", "write_sector_requests", "dram_bytes")


@dataclass(frozen=True)
class KernelPrediction:
    """Traffic and predicted time of one kernel on one target (returned by :func:`predict`).

    Attributes
    ----------
    kernel : str
        ``"dense"``, ``"roast"``, ``"hashednet"``, ``"gather-roast"`` or ``"gather-hashednet"``.
    shape : GemmShape
    target : str
    dtype : str
    block : Block
    memory : int or None
        Shared-array size in elements, as given (ignored by the dense kernel).
    backward : bool
    model : {"simulation", "analytic"}
    traffic : object
        ``GpuTraffic`` / ``AnalyticTraffic`` (GPU GEMM), ``CpuTraffic`` (CPU GEMM) or ``GatherTraffic``.
    cost : CostPrediction
        For a one-part kernel, the cost model's prediction. For a two-part kernel (gather, then matmul)
        the parts are priced separately (``parts``) and ``cost`` combines them: times add, ``terms``
        add term by term, ``dominant`` is the dominant term of the slower part.
    parts : tuple of (str, CostPrediction)
        ``(("gather", ...), ("matmul", ...))`` for the gather kernels, else empty.
    options : dict
        The remaining inputs (``group_m``, ``num_warps``, ``num_stages``, ``seed``, ``family``,
        ``load_path``, ``loop_tiles``, ``tf32``).
    description : KernelDescription or None
        The index path (``kernel``, ``index``, ``align``) when the issue-aware cost model priced the kernel.
    issue : IssueEstimate or None
        Its instruction-issue quantities (occupancy, waves, cycles per iteration).
    """

    kernel: str
    shape: GemmShape
    target: str
    dtype: str
    block: Block
    memory: int | None
    backward: bool
    model: str
    traffic: object
    cost: CostPrediction
    parts: tuple = ()
    options: dict = field(default_factory=dict, compare=False)
    description: object = None
    issue: object = None

    @property
    def predicted_time_s(self) -> float:
        """Predicted kernel time in seconds (``cost.predicted_time_s``)."""
        return self.cost.predicted_time_s

    @property
    def dominant(self) -> str:
        """Name of the term that sets the pace (``cost.dominant``)."""
        return self.cost.dominant

    @property
    def terms(self) -> dict:
        """``{term name: seconds}`` of every cost term, ``latency`` last."""
        return {t.name: t.seconds for t in self.cost.terms}

    def ratio(self, other: KernelPrediction) -> float:
        """Predicted slowdown ``self.predicted_time_s / other.predicted_time_s``."""
        if not isinstance(other, KernelPrediction):
            raise CacheSimError(f"other must be a KernelPrediction, got {type(other).__name__}")
        return self.predicted_time_s / other.predicted_time_s

    def to_dict(self) -> dict:
        """The JSON object of ``cachesim kernel --json`` (same keys, same order, same numbers)."""
        out = {"kernel": self.kernel, "backward": self.backward, "shape": str(self.shape),
               "target": self.target, "dtype": self.dtype, "block": str(self.block),
               "memory": self.memory}
        if self.target not in GPU_TARGETS:
            return out | _cpu_counts(self.traffic) | _tail(self, with_terms=False)
        if self.parts:
            return out | _gather_dict(self) | _tail(self, with_terms=False)
        d = _traffic_dict(self.traffic)
        d.pop("by_operand", None)
        out |= {k: (float(v) if isinstance(v, float) else v) for k, v in d.items()
                if k not in ("kernel", "backward", "target")}
        if self.description is not None:
            return out | _issue_tail(self)
        return out | _tail(self, with_terms=True)


def _tail(p: KernelPrediction, *, with_terms: bool) -> dict:
    if not with_terms:
        return {"predicted_time_s": p.predicted_time_s, "dominant": p.dominant, "model": p.model}
    return {"model": p.model, "predicted_time_s": p.predicted_time_s, "dominant": p.dominant,
            "terms_s": p.terms}


def _issue_tail(p: KernelPrediction) -> dict:
    tma = {}
    if p.description.tma:  # the schedule asked for and the one compiled (issue.schedule), and dX or not
        tma = {"schedule": p.options.get("schedule", "plain"), "transpose": bool(p.options.get("transpose"))}
    return {"index": p.description.index, "align": p.description.align, "loads": p.description.loads, **tma,
            "cost_model": "issue",
            "model": p.model, "predicted_time_s": p.predicted_time_s, "dominant": p.dominant,
            "terms": p.terms, "issue": {k: v for k, v in p.issue.to_dict().items() if k != "description"}}


def _traffic_dict(tr) -> dict:
    if hasattr(tr, "to_dict"):
        return tr.to_dict()
    return {k: getattr(tr, k) for k in GPU_TRAFFIC_FIELDS if hasattr(tr, k)}


def _gather_dict(p: KernelPrediction) -> dict:
    """Summed counts of the GPU gather and matmul, then each part with its own time (CLI order)."""
    g, mm = p.traffic.gather, p.traffic.matmul
    costs = dict(p.parts)
    d = {k: getattr(g, k) + getattr(mm, k) for k in GPU_TRAFFIC_FIELDS}
    for name, tr in (("gather", g), ("matmul", mm)):
        d[name] = {k: getattr(tr, k) for k in GPU_TRAFFIC_FIELDS} | {
            "predicted_time_s": costs[name].predicted_time_s, "dominant": costs[name].dominant}
    return d


def _cpu_counts(traffic) -> dict:
    """Integer counters of the CPU part(s), summed (flops excluded), in the order of ``to_dict``."""
    parts = [traffic.gather, traffic.matmul] if hasattr(traffic, "gather") else [traffic]
    d: dict = {}
    for part in parts:
        for k, v in part.to_dict().items():
            if isinstance(v, int) and k != "flops":
                d[k] = d.get(k, 0) + v
    return d


def _combine(kernel: str, target: str, parts: list[tuple[str, CostPrediction]]) -> CostPrediction:
    """Sum of sequential parts: times add, terms add by name, dominant of the slowest part."""
    total, terms = 0.0, {}
    dom, dom_t = "", -1.0
    for _, c in parts:
        total += c.predicted_time_s
        if c.predicted_time_s > dom_t:
            dom, dom_t = c.dominant, c.predicted_time_s
        for t in c.terms:
            prev = terms.get(t.name)
            terms[t.name] = t if prev is None else CostTerm(t.name, prev.seconds + t.seconds, prev.source)
    return CostPrediction(kernel, target, total, dom, tuple(terms.values()))


def _memory_arg(memory):
    if memory is None:
        return None
    return check_int("memory", memory, low=1, high=MAX_MEMORY)


@renamed_kwargs(tiles="loop_tiles", kind="kernel")
def predict(kernel, shape, target="h200", *, dtype="fp32", block="128x64x32", memory=None, backward=False,
            group_m=8, num_warps=4, num_stages=3, seed=0, family=None, load_path="auto",
            loop_tiles="32x32x32", analytic=False, tf32=True, index=None, align=None,
            cost_model=None, tile=None, schedule="plain", transpose=False) -> KernelPrediction:
    """Traffic and predicted time of one kernel on one target.

    Parameters
    ----------
    kernel : {"dense", "roast", "hashednet", "gather-roast", "gather-hashednet"}
        The kernel implementation.
    shape : str, tuple or GemmShape
        ``"MxKxN"`` (or ``(M, K, N)``) of ``Y = X W`` with ``X: M x K``, ``W: K x N``.
    target : str
        ``"h200"``, ``"h100"`` (GPU) or ``"zen4"``, ``"host"``, ``"intel-server"`` (CPU).
    dtype : {"fp32", "fp16", "bf16"}
    block : str, tuple or Block
        ``"BLOCK_MxBLOCK_NxBLOCK_K"`` (or a tuple in that order): the GPU program tile; on a CPU only
        ``BLOCK_N x BLOCK_K`` matter (the ROAST tile shape ``(BK, BN)``).
    memory : int, optional
        Shared-array size in elements; required by every kernel except ``dense``.
    backward : bool
        The backward-weight GEMM ``dW = X^T dY`` (GPU GEMMs only).
    group_m, num_warps, num_stages : int
        Program order, warps per program and pipeline stages of the GPU kernel.
    seed : int
        Hash seed.
    family : str or object, optional
        Hash family (default: the kernel's exact formula).
    load_path : {"auto", "ld", "ldgsts", "tma"}
        GPU global-load path (``auto``: ``ldgsts`` when ``num_stages > 1``); ``tma``: the TMA kernels
        (:mod:`cachesim.kernels.tma`; issue-aware cost model, dense and ROAST).
    loop_tiles : str or tuple
        ``"TMxTNxTK"`` tiles of the CPU loop nest.
    analytic : bool
        GPU GEMMs: use the closed-form traffic model instead of the trace simulation.
        The gather kernels are always simulated.
    tf32 : bool
        fp32 matmuls run on TF32 tensor cores (Triton's default); ``False`` prices true fp32.
    index, align, tile : optional
        Index path, ROAST tile-start alignment (1/8/64) and ROAST tile ``(BK, BN)`` of the fused kernel
        (:func:`cachesim.kernels.issue.describe`); any of them selects ``cost_model="issue"``.
    cost_model : {"roofline", "issue"}, optional
        ``"roofline"`` (the traffic roofline, unchanged) or ``"issue"`` (:mod:`cachesim.kernels.issue`;
        GPU GEMM forward kernels on a calibrated target).
    schedule : {"plain", "persistent", "warp-specialized"}
        Launch schedule of a TMA kernel (``load_path="tma"`` only): one program per block, one program
        per SM walking the blocks, or that with Triton's warp specialisation asked for (priced as what the
        compiler produced: :func:`cachesim.kernels.tma.compiled_schedule`).
    transpose : bool
        TMA kernels: the input-gradient GEMM ``dX = dY W^T`` of the layer ``shape`` (``M x N x K``: the
        reduction runs over ``N``; ``block`` is ``BLOCK_M x BLOCK_N x BLOCK_K`` of that GEMM).

    Returns
    -------
    KernelPrediction

    Raises
    ------
    CacheSimError
        Naming the bad argument, its value and what is allowed.

    Notes
    -----
    GPU: ``predicted_time_s = latency + max(compute, L1, L2, DRAM)`` with the latency term paying one
    DRAM latency per wave of ``ceil(programs / SMs)`` programs (:func:`cachesim.kernels.predict_gpu`).
    A gather kernel is priced as its two parts run one after the other: ``t = t_gather + t_matmul``.
    ``tiles=`` is a deprecated alias of ``loop_tiles=``.
    """
    kernel = check_choice("kernel", kernel, KERNELS)
    dtype = canonical_dtype(dtype)  # aliases: float32, tf32, float16, bfloat16, ...
    c = dict(shape=GemmShape.parse(shape), block=Block.parse(block), dtype=dtype, memory=_memory_arg(memory),
             group_m=group_m, num_warps=num_warps, num_stages=num_stages, seed=seed, family=family,
             load_path=load_path, loop_tiles=loop_tiles, tf32=tf32, schedule=_schedule(schedule, load_path),
             transpose=_transpose(transpose, load_path, backward))
    t = _check_flags(dtype, target, backward, analytic)
    model = _cost_model(cost_model, index, align, tile, load_path)
    if model == "issue":
        return _gemm_gpu_issue(kernel, backward, c, t, analytic=analytic, desc=(index, align, tile))
    return _roofline(kernel, backward, c, t, analytic)


def _roofline(kernel, backward, c, t, analytic) -> KernelPrediction:
    """:func:`predict` with the traffic roofline: GPU gather or GEMM, or a CPU kernel."""
    if isinstance(t, GpuTarget):
        if kernel.startswith("gather"):
            if backward:
                raise CacheSimError("--backward is not modelled for the gather kernels")
            return _gather_gpu(kernel, c, t)
        return _gemm_gpu(kernel, backward, c, t, analytic=analytic)
    if backward or analytic:
        raise CacheSimError(f"--backward / --analytic are GPU-only (target={t.name!r} is a CPU)")
    return _cpu(kernel, c, t)


def _make(kernel, c, t, *, backward, model, traffic, cost, parts=()) -> KernelPrediction:
    opts = {k: c[k] for k in ("group_m", "num_warps", "num_stages", "seed", "family", "load_path",
                              "loop_tiles", "tf32", "schedule", "transpose") if k in c}
    return KernelPrediction(kernel, c["shape"], t.name, c["dtype"], c["block"], c["memory"], backward, model,
                            traffic, cost, tuple(parts), opts)


def _gemm_traffic(kernel, c, t, *, analytic, backward=False, memory=None, l1_bytes=None):
    """The plan of the fused GEMM and its traffic (expected when ``analytic``, else simulated; ``l1_bytes``:
    the L1 capacity, by default what one program's carve-out leaves)."""
    from .analytic import analytic_gemm
    from .gemm_gpu import plan_gemm

    plan = plan_gemm(kernel, c["shape"], block=c["block"], backward=backward, group_m=c["group_m"],
                     num_warps=c["num_warps"], num_stages=c["num_stages"], dtype=c["dtype"],
                     memory=memory, seed=c["seed"], family=c["family"], load_path=c["load_path"],
                     tables=not analytic)  # the closed form reads no slot / tile-start table
    if analytic:
        return plan, analytic_gemm(plan, target=t, l1_bytes=l1_bytes)
    from .gpu_sim import simulate_gemm_gpu  # numba: loaded only when the traffic is simulated

    return plan, simulate_gemm_gpu(plan, target=t, l1_bytes=l1_bytes)


def _gemm_gpu(kernel, backward, c, t, *, analytic) -> KernelPrediction:
    plan, traffic = _gemm_traffic(kernel, c, t, analytic=analytic, backward=backward, memory=c["memory"])
    cost = predict_gpu(traffic, t, dtype=c["dtype"], tf32=c["tf32"],
                       n_waves=n_waves(plan.n_programs, t.num_sms))
    return _make(kernel, c, t, backward=backward, model="analytic" if analytic else "simulation",
                 traffic=traffic, cost=cost)


def _check_flags(dtype, target, backward, analytic):
    """Validate ``dtype``, ``backward``, ``analytic``; return the resolved target."""
    dtype_bytes(dtype)
    t = get_target(check_choice("target", target, TARGETS))
    if not isinstance(backward, bool):
        raise CacheSimError(f"backward={backward!r} must be True or False")
    if not isinstance(analytic, bool):
        raise CacheSimError(f"analytic={analytic!r} must be True or False")
    return t


def _cost_model(cost_model, index, align, tile=None, load_path="auto") -> str:
    if cost_model is None:
        chosen = index is not None or align is not None or tile is not None or load_path == "tma"
        return "issue" if chosen else "roofline"
    if load_path == "tma" and cost_model != "issue":
        raise CacheSimError(f"load_path='tma' needs cost_model='issue' (got cost_model={cost_model!r}): the "
                            "roofline prices the pointer kernels' traffic")
    model = check_choice("cost_model", cost_model, ("roofline", "issue"))
    if model == "roofline" and (index is not None or align is not None):
        raise CacheSimError(f"index={index!r} / align={align!r} need cost_model='issue' (the roofline has "
                            "no index path)")
    return model


def _gemm_gpu_issue(kernel, backward, c, t, *, analytic, desc) -> KernelPrediction:
    """The fused GEMM priced by the issue-aware model (:func:`cachesim.kernels.cost.predict_gpu_issue`)."""
    from .cost import predict_gpu_issue
    from .issue import describe, estimate_issue, resident_l1_bytes

    if not isinstance(t, GpuTarget):
        raise CacheSimError(f"target={t.name!r}: the issue-aware cost model prices GPU kernels (h200)")
    tma = c["load_path"] == "tma"
    desc = describe(kernel, *desc, loads="tma" if tma else "pointer")
    if c.get("transpose"):  # dX = dY W^T: its own GEMM, reduction over the layer's N
        s = c["shape"]
        c = dict(c, shape=GemmShape(s.m, s.n, s.k))
    if tma:  # the same sectors as the aligned cp.async kernel, copied by TMA (cachesim.kernels.tma)
        c = dict(c, load_path="ldgsts")
    if backward:
        raise CacheSimError("backward=True: the issue-aware model covers the forward kernels only")
    if t.calibration is None:
        raise CacheSimError(f"target={t.name!r} has no calibration for the issue-aware cost model "
                            "(measured ceilings exist for: h200)")
    traffic_kernel = "dense" if desc.index == "arith-only" else kernel
    kw = dict(group_m=c["group_m"], num_warps=c["num_warps"], num_stages=c["num_stages"],
              schedule=c["schedule"] if tma else "plain", transpose=bool(c.get("transpose")))
    # the L1 the resident programs leave (occupancy from the compiled listing) sizes the simulated L1
    _, traffic = _gemm_traffic(traffic_kernel, c, t, analytic=analytic,
                               l1_bytes=resident_l1_bytes(desc, c["block"], t, **kw),
                               memory=None if traffic_kernel == "dense" else c["memory"])
    if tma:
        from .tma import tma_traffic

        s, b = c["shape"], c["block"]
        whole_rows = s.k * s.n * -(-s.m // b.bm) * dtype_bytes(c["dtype"]) / t.sector_bytes
        traffic = tma_traffic(traffic, b_sectors=whole_rows if desc.kernel == "roast" else None)
    issue = estimate_issue(desc, c["shape"], c["block"], t, traffic=traffic, memory=c["memory"], **kw)
    extra = 0.0
    if desc.kernel == "hashednet" and desc.index == "table":  # its index matrix, once per row of programs
        extra = index_matrix_bytes(issue) * issue.grid[0] / t.sector_bytes
    cost = predict_gpu_issue(traffic, t, desc, issue, dtype=c["dtype"], tf32=c["tf32"],
                             n_waves=issue.waves, extra_l2_sectors=extra)
    p = _make(kernel, c, t, backward=False, model="analytic" if analytic else "simulation", traffic=traffic,
              cost=cost)
    return replace(p, description=desc, issue=issue)


def _schedule(schedule, load_path) -> str:
    """Validated ``schedule``: one of :data:`cachesim.kernels.tma.SCHEDULES`, other than ``plain`` only with
    ``load_path="tma"``."""
    from .tma import SCHEDULES

    if schedule not in SCHEDULES:
        raise CacheSimError(f"schedule={schedule!r} must be one of {', '.join(SCHEDULES)}")
    if schedule != "plain" and load_path != "tma":
        raise CacheSimError(f"schedule={schedule!r} needs load_path='tma' (got load_path={load_path!r}): "
                            "only the TMA kernels have a persistent schedule")
    return schedule


def _transpose(transpose, load_path, backward) -> bool:
    """Validated ``transpose``: True only for the TMA kernels' forward-shaped ``dX`` GEMM."""
    if not isinstance(transpose, bool):
        raise CacheSimError(f"transpose={transpose!r} must be True or False")
    if transpose and (load_path != "tma" or backward):
        raise CacheSimError(f"transpose=True needs load_path='tma' and backward=False (got load_path="
                            f"{load_path!r}, backward={backward!r}): the dX kernel is a TMA kernel")
    return transpose


def _need_memory(kernel, c) -> None:
    if c["memory"] is None:
        raise CacheSimError(f"--memory is required for kernel {kernel!r}")


def _gather_gpu(kernel, c, t) -> KernelPrediction:
    from .gather import gather_gpu

    _need_memory(kernel, c)
    g = gather_gpu(kernel, c["shape"], c["memory"], target=t, block=c["block"], dtype=c["dtype"],
                   seed=c["seed"], family=c["family"], group_m=c["group_m"], num_warps=c["num_warps"],
                   num_stages=c["num_stages"], load_path=c["load_path"])
    cg = predict_gpu(g.gather, t, dtype=c["dtype"], tf32=c["tf32"])
    programs = (c["shape"].m // c["block"].bm) * (c["shape"].n // c["block"].bn)
    cm = predict_gpu(g.matmul, t, dtype=c["dtype"], tf32=c["tf32"], n_waves=n_waves(programs, t.num_sms))
    parts = [("gather", cg), ("matmul", cm)]
    return _make(kernel, c, t, backward=False, model="simulation", traffic=g,
                 cost=_combine(kernel, t.name, parts), parts=parts)


def _cpu(kernel, c, t) -> KernelPrediction:
    from .gather import gather_cpu
    from .gemm_cpu import simulate_gemm_cpu

    if kernel.startswith("gather"):
        _need_memory(kernel, c)
        traffic = gather_cpu(kernel, c["shape"], c["memory"], target=t, block=c["block"], dtype=c["dtype"],
                             seed=c["seed"], family=c["family"], loop_tiles=c["loop_tiles"])
        pieces = [("gather", traffic.gather), ("matmul", traffic.matmul)]
    else:
        traffic = simulate_gemm_cpu(kernel, c["shape"], target=t, loop_tiles=c["loop_tiles"],
                                    block=c["block"], dtype=c["dtype"], memory=c["memory"], seed=c["seed"],
                                    family=c["family"])
        pieces = [(kernel, traffic)]
    parts = [(name, predict_cpu(p.accesses, p.dram_bytes, p.flops, t, dtype=c["dtype"], kernel=p.kernel))
             for name, p in pieces]
    cost = parts[0][1] if len(parts) == 1 else _combine(kernel, t.name, parts)
    return _make(kernel, c, t, backward=False, model="simulation", traffic=traffic, cost=cost,
                 parts=parts if len(parts) > 1 else ())
