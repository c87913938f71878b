"""Where the CPU gather's time goes as the shared array grows past each cache level.

For each ``memory_bytes``, :func:`cpu_waterfall` starts from the backend's dense copy of ``W`` and adds,
one at a time, the terms of :func:`cachesim.kernels.cpu_cost.predict_cpu_gather`:

1. ``dense copy``: the backend's plain copy of ``W`` (measured, ``cpu_micro`` record);
2. ``+ index load & arithmetic``: the backend's gather loop with every read of ``M`` an L1 hit, minus the
   copy (index stream, bounds check, address arithmetic);
3. ``+ L1 misses (L2 hits)``, ``+ L2 misses (L3 hits)``, ``+ DRAM (latency / MLP)``: the latency of the
   line accesses each level serves, divided by the memory-level parallelism. When the DRAM bandwidth term
   is larger than the latency sum, the three steps are scaled so that they add up to the memory term.

Gather-then-matmul (``W = M[idx]; X @ W``): pass ``matmul=batch`` (the rows of ``X``) and the waterfall
starts from the dense layer instead (:data:`MATMUL_STEPS`):

1. ``dense matmul``: single-thread ``X @ W`` priced from the measured GFLOP/s at that batch
   (:meth:`CpuCalibration.matmul_ns`, the ``matmul`` cases of the ``cpu_micro`` record);
2. ``+ gather loop``: the whole gather with every read of ``M`` an L1 hit (the dense layer has no copy:
   it reads ``W`` directly), then the same three miss steps as above.

The matmul is the same for every scheme and every size of ``M``, so this shows at which array size the
gather stops being a small addition to the matmul (for HashedNet, once ``M`` is past L3; ROAST stays a
small addition). ``measured`` (``{memory_bytes: ns per element}``) puts a measured time beside a row's
prediction (the ``gather-matmul`` check points of the record). The older ``matmul_ns`` adds a given time
per element before the dense copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from .._validate import check_choice, check_int
from .cpu_calibration import BACKENDS, CpuCalibration
from .cpu_cost import SCHEMES, predict_cpu_gather

__all__ = ["CPU_STEPS", "MATMUL_STEPS", "CpuWaterfall", "CpuWaterfallRow", "cpu_waterfall"]

CPU_STEPS = ("dense copy", "+ index load & arithmetic", "+ L1 misses (L2 hits)", "+ L2 misses (L3 hits)",
             "+ DRAM (latency / MLP)")
MATMUL_STEPS = ("dense matmul", "+ gather loop (index, arithmetic, W write)", *CPU_STEPS[2:])
_SHORT = {CPU_STEPS: ("dense copy", "+idx&arith", "+L1 misses", "+L2 misses", "+DRAM/MLP"),
          MATMUL_STEPS: ("dense matmul", "+gather loop", "+L1 misses", "+L2 misses", "+DRAM/MLP")}


@dataclass(frozen=True)
class CpuWaterfallRow:
    """One array size: cumulative predicted ns per element after each step of ``labels`` (:data:`CPU_STEPS`
    or :data:`MATMUL_STEPS`); ``dominant`` is the gather's largest term, or with a matmul the largest step."""

    memory_bytes: int
    cumulative_ns: tuple
    deltas_ns: tuple
    dominant: str
    labels: tuple = CPU_STEPS
    measured_ns: float | None = None

    @property
    def total_ns(self) -> float:
        return self.cumulative_ns[-1]

    def to_dict(self) -> dict:
        out = {"memory_bytes": self.memory_bytes, "dominant": self.dominant,
               "steps": [{"label": s, "predicted_ns": c, "delta_ns": d}
                         for s, c, d in zip(self.labels, self.cumulative_ns, self.deltas_ns)]}
        return out if self.measured_ns is None else out | {"measured_ns": self.measured_ns}


@dataclass(frozen=True)
class CpuWaterfall:
    """The CPU gather waterfall of one scheme and backend over array sizes."""

    scheme: str
    backend: str
    matmul_ns: float
    rows: tuple
    steps: tuple = CPU_STEPS
    batch: int | None = None

    def to_dict(self) -> dict:
        out = {"scheme": self.scheme, "backend": self.backend, "matmul_ns": self.matmul_ns,
               "steps": list(self.steps), "rows": [r.to_dict() for r in self.rows]}
        return out if self.batch is None else out | {"batch": self.batch}

    def format(self) -> str:
        """A text table: one line per size, the cumulative ns per element after each step."""
        meas = any(r.measured_ns is not None for r in self.rows)
        head = (f"{'memory':>10} " + " ".join(f"{s:>12}" for s in _SHORT[self.steps]) + "  dominant"
                + ("  (measured)" if meas else ""))
        if self.batch is not None:
            title = (f"CPU gather-then-matmul W = M[idx]; X @ W (X of {self.batch} rows), {self.scheme}, "
                     f"{self.backend}: ns per element of W after each step")
        else:
            title = (f"CPU gather W = M[idx], {self.scheme}, {self.backend}: ns per element after each step"
                     + (f" (from a dense matmul of {self.matmul_ns:.3g} ns)" if self.matmul_ns else ""))
        if meas:
            title += "; (measured) = the torch layer with index_select, fastest repeat"
        lines = [title, head]
        for r in self.rows:
            lines.append(f"{_fmt_bytes(r.memory_bytes):>10} "
                         + " ".join(f"{c:>12.3f}" for c in r.cumulative_ns) + f"  {r.dominant}"
                         + (f"  ({r.measured_ns:.3f})" if r.measured_ns is not None else ""))
        return "\n".join(lines)


def _fmt_bytes(b: int) -> str:
    for unit, s in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if b >= unit and b % unit == 0:
            return f"{b // unit} {s}"
    return f"{b} B"


def cpu_waterfall(memory_bytes, cal: CpuCalibration, *, scheme: str = "hashednet", backend: str = "torch",
                  tile=(32, 64), matmul_ns: float = 0.0, matmul: int | None = None,
                  measured: dict | None = None) -> CpuWaterfall:
    """Waterfall rows (see the module notes) for each size in ``memory_bytes`` (an int or a sequence).

    Parameters
    ----------
    matmul : int, optional
        Batch (rows of ``X``) of the dense matmul that follows the gather: start from ``dense matmul``
        (:data:`MATMUL_STEPS`), priced by :meth:`CpuCalibration.matmul_ns`.
    measured : dict, optional
        ``{memory_bytes: measured ns per element}`` shown beside the rows of those sizes.

    Notes
    -----
    Steps add up to the prediction: ``copy + (base - copy) + s (lat_L2 + lat_L3 + lat_D) = base + memory``
    with :math:`s = \\text{memory} / \\sum \\text{lat}` (1 when latency-bound); with ``matmul``,
    ``t_mm + base + s (lat_L2 + lat_L3 + lat_D)``.
    """
    scheme = check_choice("scheme", scheme, SCHEMES)
    backend = check_choice("backend", backend, BACKENDS)
    sizes = [memory_bytes] if isinstance(memory_bytes, int) else list(memory_bytes)
    mm = cal.matmul_ns(check_int("matmul", matmul, low=1)) if matmul is not None else None
    measured = measured or {}
    rows = []
    for mb in sizes:
        p = predict_cpu_gather(scheme, mb, backend, cal, tile)
        copy = cal.copy_ns[backend]
        lat = sum(p.latency_ns)
        scale = p.memory_ns / lat if lat > 0 else 0.0
        head = (matmul_ns + copy, p.base_ns - copy) if mm is None else (mm, p.base_ns)
        deltas = (*head, *(x * scale for x in p.latency_ns))
        dominant = p.dominant if mm is None else max(zip(deltas, MATMUL_STEPS))[1]
        rows.append(CpuWaterfallRow(memory_bytes=int(mb), cumulative_ns=tuple(accumulate(deltas)),
                                    deltas_ns=deltas, dominant=dominant,
                                    labels=CPU_STEPS if mm is None else MATMUL_STEPS,
                                    measured_ns=measured.get(int(mb))))
    return CpuWaterfall(scheme=scheme, backend=backend, matmul_ns=float(matmul_ns if mm is None else mm),
                        rows=tuple(rows), steps=CPU_STEPS if mm is None else MATMUL_STEPS, batch=matmul)
