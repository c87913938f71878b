"""Where the CPU gather's time goes as the shared array grows past each cache level.

For each ``memory_bytes``, :func:`cpu_waterfall` starts from the backend's dense copy of ``W`` and adds,
one at a time, the terms of :func:`cachesim.kernels.cpu_cost.predict_cpu_gather`:

1. ``dense copy``: the backend's plain copy of ``W`` (measured, ``cpu_micro`` record);
2. ``+ index load & arithmetic``: the backend's gather loop with every read of ``M`` an L1 hit, minus the
   copy (index stream, bounds check, address arithmetic);
3. ``+ L1 misses (L2 hits)``, ``+ L2 misses (L3 hits)``, ``+ DRAM (latency / MLP)``: the latency of the
   line accesses each level serves, divided by the memory-level parallelism. When the DRAM bandwidth term
   is larger than the latency sum, the three steps are scaled so that they add up to the memory term.

A dense matmul that follows the gather (gather-then-matmul) costs the same for every scheme; pass its
time per element of ``W`` as ``matmul_ns`` to start the waterfall from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validate import check_choice
from .cpu_calibration import BACKENDS, CpuCalibration
from .cpu_cost import SCHEMES, predict_cpu_gather

__all__ = ["CPU_STEPS", "CpuWaterfall", "CpuWaterfallRow", "cpu_waterfall"]

CPU_STEPS = ("dense copy", "+ index load & arithmetic", "+ L1 misses (L2 hits)", "+ L2 misses (L3 hits)",
             "+ DRAM (latency / MLP)")
_SHORT = ("dense copy", "+idx&arith", "+L1 misses", "+L2 misses", "+DRAM/MLP")


@dataclass(frozen=True)
class CpuWaterfallRow:
    """One array size: cumulative predicted ns per element after each step of :data:`CPU_STEPS`."""

    memory_bytes: int
    cumulative_ns: tuple
    deltas_ns: tuple
    dominant: str

    @property
    def total_ns(self) -> float:
        return self.cumulative_ns[-1]

    def to_dict(self) -> dict:
        return {"memory_bytes": self.memory_bytes, "dominant": self.dominant,
                "steps": [{"label": s, "predicted_ns": c, "delta_ns": d}
                          for s, c, d in zip(CPU_STEPS, self.cumulative_ns, self.deltas_ns)]}


@dataclass(frozen=True)
class CpuWaterfall:
    """The CPU gather waterfall of one scheme and backend over array sizes."""

    scheme: str
    backend: str
    matmul_ns: float
    rows: tuple

    def to_dict(self) -> dict:
        return {"scheme": self.scheme, "backend": self.backend, "matmul_ns": self.matmul_ns,
                "steps": list(CPU_STEPS), "rows": [r.to_dict() for r in self.rows]}

    def format(self) -> str:
        """A text table: one line per size, the cumulative ns per element after each step."""
        head = f"{'memory':>10} " + " ".join(f"{s:>12}" for s in _SHORT) + "  dominant"
        lines = [f"CPU gather W = M[idx], {self.scheme}, {self.backend}: ns per element after each step"
                 + (f" (from a dense matmul of {self.matmul_ns:.3g} ns)" if self.matmul_ns else ""), head]
        for r in self.rows:
            lines.append(f"{_fmt_bytes(r.memory_bytes):>10} "
                         + " ".join(f"{c:>12.3f}" for c in r.cumulative_ns) + f"  {r.dominant}")
        return "\n".join(lines)


def _fmt_bytes(b: int) -> str:
    for unit, s in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if b >= unit and b % unit == 0:
            return f"{b // unit} {s}"
    return f"{b} B"


def cpu_waterfall(memory_bytes, cal: CpuCalibration, *, scheme: str = "hashednet", backend: str = "torch",
                  tile=(32, 64), matmul_ns: float = 0.0) -> CpuWaterfall:
    """Waterfall rows (see the module notes) for each size in ``memory_bytes`` (an int or a sequence).

    Notes
    -----
    Steps add up to the prediction: ``copy + (base - copy) + s (lat_L2 + lat_L3 + lat_D) = base + memory``
    with :math:`s = \\text{memory} / \\sum \\text{lat}` (1 when latency-bound).
    """
    scheme = check_choice("scheme", scheme, SCHEMES)
    backend = check_choice("backend", backend, BACKENDS)
    sizes = [memory_bytes] if isinstance(memory_bytes, int) else list(memory_bytes)
    rows = []
    for mb in sizes:
        p = predict_cpu_gather(scheme, mb, backend, cal, tile)
        copy = cal.copy_ns[backend]
        lat = sum(p.latency_ns)
        scale = p.memory_ns / lat if lat > 0 else 0.0
        deltas = (matmul_ns + copy, p.base_ns - copy, *(x * scale for x in p.latency_ns))
        cum, acc = [], 0.0
        for d in deltas:
            acc += d
            cum.append(acc)
        rows.append(CpuWaterfallRow(memory_bytes=int(mb), cumulative_ns=tuple(cum), deltas_ns=deltas,
                                    dominant=p.dominant))
    return CpuWaterfall(scheme=scheme, backend=backend, matmul_ns=float(matmul_ns),
                        rows=tuple(rows))
