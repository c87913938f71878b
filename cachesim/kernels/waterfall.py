"""Where the time goes: a waterfall from the dense kernel to a hashed kernel, one cost at a time.

:func:`waterfall` prices the dense kernel and the hashed kernel with the issue-aware model
(:func:`cachesim.kernels.predict` with ``cost_model="issue"``) and then swaps the hashed kernel's terms in,
group by group, re-applying the overlap rule after each swap:

1. ``dense``: the dense kernel;
2. ``+ index arithmetic``: the hashed kernel's instruction issue (index computation and its load
   instructions, from the compiled loop) and, for HashedNet, its ``index`` term (hash microbenchmark);
3. ``+ load issue``: its L1 wavefronts (one per distinct line a warp load touches; a scattered gather
   takes one per element), for HashedNet its ``gather`` term (gathered-tile microbenchmark, serial with
   the index) and for ROAST its ``lsu`` term (tile-load microbenchmark: scalar loads stored to shared
   memory where the tile start is not 16-byte aligned);
4. ``+ extra L2 traffic``: its L2 sectors;
5. ``+ DRAM``: its DRAM bytes and latency (and its own ``compute`` and ``resident`` terms, which differ from
   dense's only through the compiled occupancy), which gives the hashed kernel's prediction.

Each step's ``delta_s`` is what that cost adds. Where the caller passes measured times of the ablation
kernels (same shape, memory and configuration), :attr:`Waterfall.ablations` sets each measured delta
beside the predicted one: HashedNet ``arith-only - dense`` (index arithmetic), ``table - dense`` (the
scatter) and ``hash - dense``; ROAST ``hash - table`` (the in-loop index) and ``align 1 - align 64``
(scalar vs vector loads).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CacheSimError
from .cost import issue_pace

__all__ = ["STEPS", "Waterfall", "WaterfallStep", "waterfall"]

#: Step labels and the terms each one swaps in.
STEPS = (("dense", ()), ("+ index arithmetic", ("issue", "index")),
         ("+ load issue", ("L1", "gather", "lsu", "lsu_excess")),
         ("+ extra L2 traffic", ("L2",)), ("+ DRAM", ("DRAM", "latency", "compute", "resident")))


@dataclass(frozen=True)
class WaterfallStep:
    """One step: its label, the predicted time after it, and what it added."""

    label: str
    predicted_s: float
    delta_s: float

    def to_dict(self) -> dict:
        return {"label": self.label, "predicted_s": self.predicted_s, "delta_s": self.delta_s}


@dataclass(frozen=True)
class Waterfall:
    """Dense -> hashed kernel, step by step (see the module notes)."""

    kernel: str
    index: str | None
    align: int | None
    shape: str
    memory: int
    config: str
    steps: tuple
    ablations: tuple = field(default_factory=tuple)

    @property
    def total_s(self) -> float:
        return self.steps[-1].predicted_s

    def to_dict(self) -> dict:
        return {"kernel": self.kernel, "index": self.index, "align": self.align, "shape": self.shape,
                "memory": self.memory, "config": self.config, "steps": [s.to_dict() for s in self.steps],
                "ablations": [dict(a) for a in self.ablations]}


def _time(terms: dict, overlap_fraction: float = 1.0) -> float:
    """The overlap rule of :func:`cachesim.kernels.cost.predict_gpu_issue` (tensor-core work and issue
    overlapping by the target's measured ``overlap_fraction``)."""
    return terms["latency"] + issue_pace(terms, overlap_fraction)


def _steps(dense: dict, hashed: dict, overlap_fraction: float = 1.0) -> tuple:
    cur = dict(dense)
    out, prev = [], None
    for label, names in STEPS:
        for n in names:
            cur[n] = hashed[n]
        t = _time(cur, overlap_fraction)
        out.append(WaterfallStep(label, t, 0.0 if prev is None else t - prev))
        prev = t
    return tuple(out)


def _ablation_pairs(kernel: str, index, align) -> list:
    if kernel == "hashednet":
        return [("index arithmetic", ("hashednet", "arith-only", None), ("dense", None, None)),
                ("scatter (table index)", ("hashednet", "table", None), ("dense", None, None)),
                ("total", ("hashednet", index, None), ("dense", None, None))]
    pairs = [("total", ("roast", index, align), ("dense", None, None))]
    if index == "hash":
        pairs.append(("in-loop index", ("roast", "hash", align), ("roast", "table", align)))
    if align != 64:
        pairs.append(("scalar loads", ("roast", "table", align), ("roast", "table", 64)))
    return pairs


def _variant(kernel, index, align) -> str:
    if kernel == "dense":
        return "dense"
    return f"roast-{index}-a{align}" if kernel == "roast" else f"hashednet-{index}"


def waterfall(kernel, shape, *, index=None, align=None, memory, block="128x128x64", group_m=8, num_warps=4,
              num_stages=4, target="h200", analytic=True, measured=None) -> Waterfall:
    """Waterfall from the dense kernel to ``kernel`` (``"roast"`` or ``"hashednet"``) with its index path.

    Parameters
    ----------
    kernel : {"roast", "hashednet"}
    shape : str or tuple
    index, align :
        As :func:`cachesim.kernels.predict` (defaults: ROAST ``hash``/1, HashedNet ``hash``).
    memory : int
        Shared-array size (elements).
    measured : dict, optional
        ``{variant: seconds}`` of measured kernels at the same case (variant names as the records:
        ``dense``, ``roast-table-a64``, ``hashednet-arith-only`` ...); fills :attr:`Waterfall.ablations`.

    Returns
    -------
    Waterfall
    """
    from .issue import describe
    from .prediction import predict

    if kernel not in ("roast", "hashednet"):
        raise CacheSimError(f"kernel={kernel!r}: the waterfall goes from dense to 'roast' or 'hashednet'")
    desc = describe(kernel, index, align)
    common = dict(dtype="bf16", block=block, group_m=group_m, num_warps=num_warps, num_stages=num_stages,
                  analytic=analytic, cost_model="issue")

    def run(k, i, a):
        return predict(k, shape, target, memory=None if k == "dense" else memory, index=i, align=a, **common)

    dense, hashed = run("dense", None, None), run(kernel, desc.index, desc.align)
    from .targets import get_target

    phi = (get_target(target).calibration or {}).get("overlap_fraction", 1.0)
    steps = _steps(dense.terms, hashed.terms, phi)
    ablations = []
    for label, num, den in _ablation_pairs(kernel, desc.index, desc.align):
        pn = hashed if num == (kernel, desc.index, desc.align) else run(*num)
        pd = dense if den[0] == "dense" else run(*den)
        row = {"ablation": label, "numerator": _variant(*num), "denominator": _variant(*den),
               "predicted_delta_s": pn.predicted_time_s - pd.predicted_time_s, "measured_delta_s": None}
        if measured and row["numerator"] in measured and row["denominator"] in measured:
            row["measured_delta_s"] = measured[row["numerator"]] - measured[row["denominator"]]
        ablations.append(tuple(row.items()))
    cfg = f"{dense.block}-g{group_m}-w{num_warps}-s{num_stages}"
    return Waterfall(kernel, desc.index, desc.align, str(dense.shape), memory, cfg, steps, tuple(ablations))
