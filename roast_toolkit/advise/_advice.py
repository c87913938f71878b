"""The advisor's computation and its frozen result."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from roast_theory import RoastTheoryError
from roast_theory._validate import check_choice, check_int, check_matrix_shape, check_tile_pair

#: Tile shapes ``(BK, BN)`` tried by default (the ROAST tile is the kernel's ``BLOCK_K x BLOCK_N``).
DEFAULT_TILES = ((16, 16), (16, 32), (32, 32), (32, 64), (64, 32), (64, 64))
DEFAULT_ALIGNS = (1, 8, 64)


@dataclass(frozen=True)
class AdviceRow:
    """One candidate: tile ``(BK, BN)``, alignment, closed-form variance of one output, predicted time."""

    tile: tuple
    align: int
    variance: float
    bias: float
    predicted_time_s: float
    dominant: str
    pareto: bool
    cost_model: str = "roofline"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["tile"] = list(self.tile)
        return out


@dataclass(frozen=True)
class Advice:
    """All candidates of :func:`advise`; ``pareto()`` are those no other candidate beats on both axes."""

    shape: tuple
    memory: int
    target: str
    batch: int
    sign: str
    rows: tuple
    seconds: float

    def pareto(self) -> tuple:
        """Rows on the Pareto front (lower variance and lower time are better), fastest first."""
        return tuple(sorted((r for r in self.rows if r.pareto), key=lambda r: r.predicted_time_s))

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "memory": self.memory, "target": self.target, "batch": self.batch,
                "sign": self.sign, "seconds": self.seconds, "rows": [r.to_dict() for r in self.rows],
                "pareto": [r.to_dict() for r in self.pareto()]}

    def to_table(self) -> str:
        head = (f"{'tile':>9s} {'align':>5s} {'variance':>12s} {'time (us)':>10s} {'bound':>8s} "
                f"{'model':>8s}  pareto")
        lines = [head, "-" * len(head)]
        for r in sorted(self.rows, key=lambda r: (r.predicted_time_s, r.variance)):
            lines.append(f"{r.tile[0]:>4d}x{r.tile[1]:<4d} {r.align:5d} {r.variance:12.6g} "
                         f"{r.predicted_time_s * 1e6:10.3f} {r.dominant:>8s} {r.cost_model:>8s}  "
                         f"{'*' if r.pareto else ''}")
        return "\n".join(lines)

    def plot(self, ax=None):
        """Variance against predicted time, the Pareto front joined; returns the matplotlib figure."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(6.5, 4.2))
        else:
            fig = ax.figure
        for a in sorted({r.align for r in self.rows}):
            pts = [r for r in self.rows if r.align == a]
            ax.scatter([r.predicted_time_s * 1e6 for r in pts], [r.variance for r in pts], label=f"align={a}")
            for r in pts:
                ax.annotate(f"{r.tile[0]}x{r.tile[1]}", (r.predicted_time_s * 1e6, r.variance), fontsize=7)
        front = self.pareto()
        ax.plot([r.predicted_time_s * 1e6 for r in front], [r.variance for r in front], "k--", lw=1,
                label="Pareto front")
        ax.set_xlabel(f"predicted kernel time on {self.target} (us), batch M = {self.batch}")
        ax.set_ylabel("closed-form variance of one output")
        ax.set_title(f"ROAST tiles for a {self.shape[0]} x {self.shape[1]} layer, memory = {self.memory}")
        ax.legend(fontsize=8)
        return fig


def _pareto_flags(times, variances) -> list:
    out = []
    for i, (t, v) in enumerate(zip(times, variances)):
        dominated = any((t2 <= t and v2 <= v) and (t2 < t or v2 < v)
                        for j, (t2, v2) in enumerate(zip(times, variances)) if j != i)
        out.append(not dominated)
    return out


def _vectors(shape, x, w, seed):
    """One output of ``y = a W``: ``x[k, n] = a_k [n = 0]``; random ``a ~ N(0, 1)``, ``W ~ N(0, 1/K)``."""
    k, n = shape
    rng = np.random.default_rng(seed)
    if w is None:
        w = rng.standard_normal((k, n)) / np.sqrt(k)
    if x is None:
        x = np.zeros((k, n))
        x[:, 0] = rng.standard_normal(k)
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if x.shape != (k, n) or w.shape != (k, n):
        raise RoastTheoryError(f"x and w must have shape {(k, n)}: got {x.shape} and {w.shape}")
    return x, w


def _time(shape, target, dtype, tile, memory, align, block_m, cost_model):
    """``(seconds, dominant term, model used)``: the issue-aware model where it covers the case."""
    from cachesim.errors import CacheSimError
    from cachesim.kernels import predict

    block = (block_m, tile[1], tile[0])
    if cost_model == "issue":
        try:
            p = predict("roast", shape, target, dtype=dtype, block=block, memory=memory, align=align,
                        tile=tile, index="hash")
            return p.predicted_time_s, p.dominant, "issue"
        except CacheSimError:
            pass  # an alignment or target the issue model does not describe: the traffic roofline
    p = predict("roast", shape, target, dtype=dtype, block=block, memory=memory, analytic=True)
    return p.predicted_time_s, p.dominant, "roofline"


def advise(shape, memory, target="h200", tiles=None, aligns=DEFAULT_ALIGNS, *, batch=512, sign="element",
           x=None, w=None, seed=0, dtype="bf16", block_m=64, cost_model="issue") -> Advice:
    """Tile shapes and alignments for a ``(K, N)`` ROAST layer: closed-form variance vs predicted time.

    Parameters
    ----------
    shape : (int, int)
        Weight shape ``(K, N)`` of ``y = x W``.
    memory : int
        Shared-array size in elements.
    target : str
        Cost-model target (``"h200"``, ``"h100"``).
    tiles : sequence of (BK, BN), optional
        Candidate ROAST tiles (default :data:`DEFAULT_TILES`, those that fit ``memory`` and the shape).
    aligns : sequence of int
        Candidate start alignments (kernel placement: starts are multiples of ``align`` below
        ``memory - BK * BN``).
    batch : int
        Representative batch ``M`` of the predicted GEMM ``(M, K, N)``.
    sign : {"element", "tile", "none"}
        Sign convention of the variance (``"none"`` is the RzLinear kernel; its closed form costs
        ``O(n Z^2)`` time and ``O(Z^2)`` memory per tile shape, shared between the alignments).
    x, w : array_like (K, N), optional
        Input and weight; default one output column with ``a ~ N(0, 1)`` and ``W ~ N(0, 1/K)``.
    seed : int
        Seed of the default ``x, w``.
    dtype : str
        GEMM dtype of the cost model.
    block_m : int
        ``BLOCK_M`` of the kernel (the ROAST tile fixes ``BLOCK_K x BLOCK_N``).
    cost_model : {"issue", "roofline"}
        ``"issue"``: the issue-aware model (``predict(..., align=, tile=, index="hash")``), which prices the
        alignment (1, 8, 64); cases it does not cover fall back to the traffic roofline (``analytic=True``,
        independent of the alignment). Each row records the model used.

    Returns
    -------
    Advice

    Notes
    -----
    Variance: :func:`roast_theory.block_tile_moments_by_align` (kernel placement, all ``aligns`` of one
    tile at once; equal to :func:`roast_theory.block_tile_moments` per alignment) (the
    alignment changes it through the number of starts ``S = ceil((memory - BK BN) / align)`` and the lags
    that can collide). Time: :func:`cachesim.kernels.predict` (``kernel="roast"``, block
    ``(block_m, BN, BK)``), evaluated in a second thread while the closed forms run.
    """
    from roast_theory import block_tile_moments_by_align

    t0 = time.perf_counter()
    k, n = check_matrix_shape("shape", shape)
    m = check_int("memory", memory, low=2)
    sign = check_choice("sign", sign, ("element", "tile", "none"))
    cost_model = check_choice("cost_model", cost_model, ("issue", "roofline"))
    batch = check_int("batch", batch, low=1)
    aligns = tuple(check_int(f"aligns[{i}]", a, low=1) for i, a in enumerate(aligns))
    cand = [check_tile_pair(t) for t in (DEFAULT_TILES if tiles is None else tiles)]
    cand = [t for t in cand if t[0] * t[1] < m and t[0] <= k and t[1] <= n]
    if not cand:
        raise RoastTheoryError(f"no tile fits memory={m} and shape={(k, n)}: give smaller tiles")
    xv, wv = _vectors((k, n), x, w, seed)
    rows = []
    # The cost model runs in a second thread while the closed forms run here: both spend most of their
    # time in numpy, BLAS and nogil numba kernels, which release the GIL.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        times = {(tile, a): pool.submit(_time, (batch, k, n), target, dtype, tile, m, a, block_m, cost_model)
                 for tile in cand for a in aligns}
        for tile in cand:
            for a, res in zip(aligns, block_tile_moments_by_align(xv, wv, m, tile, sign, aligns)):
                sec, dom, used = times[(tile, a)].result()
                rows.append((tile, a, res.variance, res.bias, sec, dom, used))
    finally:  # on an error, predictions not yet started are dropped instead of awaited
        pool.shutdown(wait=True, cancel_futures=True)
    flags = _pareto_flags([r[4] for r in rows], [r[2] for r in rows])
    out = tuple(AdviceRow(tile=tuple(r[0]), align=r[1], variance=float(r[2]), bias=float(r[3]),
                          predicted_time_s=float(r[4]), dominant=str(r[5]), pareto=f, cost_model=r[6])
                for r, f in zip(rows, flags))
    return Advice(shape=(k, n), memory=m, target=target, batch=batch, sign=sign, rows=out,
                  seconds=time.perf_counter() - t0)
