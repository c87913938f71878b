"""Measured knees of the gather times against the simulated per-level miss curves."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..._deprecate import renamed_kwargs
from ..._validate import check_int
from ...errors import CacheSimError
from .simulate import SimulatedGatherSweep
from .timing import GatherSweep

__all__ = ["KneeComparison", "LevelKnee", "MeasuredStep", "compare_knees", "half_rise_knee",
           "measured_steps"]


@renamed_kwargs(h_bytes="memory_bytes")
def half_rise_knee(memory_bytes, curve) -> int | None:
    """Smallest ``H`` at which ``curve`` has risen half-way from its first value to its largest value.

    Notes
    -----
    :math:`H^* = \\min\\{H : f(H) \\ge (f(H_0) + \\max f) / 2\\}`; for a random gather into a level of
    capacity :math:`C` the miss ratio is about :math:`1 - C/H`, so :math:`H^* \\approx 2C`. Returns None
    when the curve does not rise (max - first below 1e-9 or below 5 % of the first value).
    """
    h = np.asarray(memory_bytes, dtype=np.int64)
    f = np.asarray(curve, dtype=float)
    if h.shape != f.shape or h.ndim != 1 or h.size < 2:
        raise CacheSimError(f"memory_bytes and curve must be 1-D of equal length >= 2 (got {h.shape}, "
                            f"{f.shape})")
    lo, hi = f[0], np.nanmax(f)
    if hi - lo <= max(1e-9, 0.05 * abs(lo)):
        return None
    return int(h[np.flatnonzero(f >= (lo + hi) / 2)[0]])


@dataclass(frozen=True)
class MeasuredStep:
    """A significant rise of the measured time between ``H / 2`` and ``H``."""

    h_bytes: int
    ratio: float  # median t(H) / median t(H/2)


@dataclass(frozen=True)
class LevelKnee:
    """One cache level: its simulated knee and the knee the measured times put it at.

    Attributes
    ----------
    level : str
    simulated_h : int or None
        Half-rise knee of the simulated misses (None if they never rise).
    shift : int
        x2 steps by which the fit moves this level's simulated miss curve to match the measured times.
    measured_h : int or None
        ``simulated_h * 2**shift`` when the level is visible in the time, else None.
    penalty_ns : float
        Fitted time per miss of this level (ns), >= 0.
    contribution : float
        ``penalty_ns * (rise of misses per element)`` / ``base_ns``: how much this level adds to the time.
    agree : bool
        Visible and ``|shift| <= 1``.
    cause : str
        Why not, when ``agree`` is False.
    """

    level: str
    simulated_h: int | None
    shift: int
    measured_h: int | None
    penalty_ns: float
    contribution: float
    agree: bool
    cause: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class KneeComparison:
    """Measured HashedNet gather times explained by the simulated per-level miss curves.

    Attributes
    ----------
    levels : tuple of LevelKnee
        One verdict per simulated level, nearest the core first.
    base_ns : float
        Fitted time per element with no value-read misses (the idx/W stream and the loop).
    residual : float
        Root-mean-square relative error of the fit.
    steps : tuple of MeasuredStep
        Significant measured steps (for reference; see :func:`measured_steps`).
    backend, hierarchy : str
    """

    levels: tuple
    base_ns: float
    residual: float
    steps: tuple
    backend: str
    hierarchy: str

    def level(self, name: str) -> LevelKnee:
        """The verdict for the level called ``name``."""
        by_name = {lk.level: lk for lk in self.levels}
        if name not in by_name:
            raise CacheSimError(f"level={name!r} is not in the comparison: {list(by_name)}")
        return by_name[name]

    def to_dict(self) -> dict:
        """Plain data (levels and steps as dicts), for JSON."""
        return asdict(self)

    def all_agree(self) -> bool:
        return all(lk.agree for lk in self.levels)

    def format(self) -> str:
        lines = [f"knees, measured {self.backend} vs simulated {self.hierarchy} (fit: base "
                 f"{self.base_ns:.2f} ns/elem, rms rel. residual {self.residual:.3f})",
                 "  level simulated  measured shift  ns/miss  adds"]
        for lk in self.levels:
            s = "-" if lk.simulated_h is None else _fmt_bytes(lk.simulated_h)
            m = "-" if lk.measured_h is None else _fmt_bytes(lk.measured_h)
            lines.append(f"  {lk.level:5s} {s:>9s} {m:>9s} {lk.shift:+5d} {lk.penalty_ns:8.2f} "
                         f"{lk.contribution:5.0%}  {'agree' if lk.agree else 'MISS: ' + lk.cause}")
        if self.steps:
            lines.append("  significant measured steps: "
                         + ", ".join(f"{_fmt_bytes(s.h_bytes)} x{s.ratio:.2f}" for s in self.steps))
        return "\n".join(lines)


def _fmt_bytes(b: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if b >= 1 << shift:
            return f"{b / (1 << shift):g} {unit}"
    return f"{b} B"


@renamed_kwargs(pattern="scheme")
def measured_steps(sweep: GatherSweep, scheme: str = "hashednet", backend: str = "torch",
                   threshold: float = 1.15, clock: str = "wall") -> tuple:
    """Significant rises of the measured time per element between consecutive sizes.

    Notes
    -----
    A step at ``H`` is significant when :math:`\\tilde t(H) / \\tilde t(H/2) > \\text{threshold}` (medians)
    and :math:`\\min t(H) > \\max t(H/2)` over the repeats.
    """
    h = sweep.h_bytes()
    by_h = {t.h_bytes: t for t in sweep.timings if t.pattern == scheme and t.backend == backend}
    out = []
    for a, b in zip(h[:-1], h[1:]):
        ta, tb = by_h.get(int(a)), by_h.get(int(b))
        if ta is None or tb is None:
            continue
        ratio = tb.median(clock) / ta.median(clock)
        if ratio > threshold and min(tb.repeats(clock)) > max(ta.repeats(clock)):
            out.append(MeasuredStep(int(b), float(ratio)))
    return tuple(out)


def compare_knees(sweep: GatherSweep, simulated: SimulatedGatherSweep, *, backend: str = "torch",
                  max_shift: int = 3, max_shift_up: int = 1, visible: float = 0.10,
                  threshold: float = 1.15, clock: str = "wall") -> KneeComparison:
    r"""Fit the measured HashedNet times with the simulated per-level miss curves, each shifted in H.

    Parameters
    ----------
    sweep : GatherSweep
        Measured times (e.g. ``GatherSweep.from_cases(record.cases)``); sizes in x2 steps.
    simulated : SimulatedGatherSweep
        Simulated misses in consecutive x2 steps, covering the measured sizes (a wider range lets shifted
        curves be read without clamping at the ends).
    backend : str
        Which measured backend to use.
    max_shift, max_shift_up : int
        Shifts tried per level, in x2 steps: ``-max_shift .. +max_shift_up``. A level cannot hold more than
        its size, so a knee far above the simulated one is not physical; one step up allows for a victim
        (exclusive) level that adds the capacity of the level above.
    visible : float
        A level is visible when its fitted contribution at the largest size is at least this fraction of
        the base time.
    threshold : float
        For the list of significant measured steps (:func:`measured_steps`).
    clock : {"wall", "cpu"}
        Which measured times to fit.

    Returns
    -------
    KneeComparison

    Notes
    -----
    Model: :math:`t(H) = b + \sum_L p_L\, [m_L(H / 2^{s_L}) - m_L(H_0)]`, with :math:`m_L` the simulated
    misses per element of level :math:`L`, :math:`p_L \ge 0` (ns per miss) and :math:`b` fitted by
    non-negative least squares in relative error, keeping fits with :math:`p_1 \le p_2 \le \dots` (a miss
    further from the core costs at least as much), for every shift vector :math:`s \in
    [-S, S_+]^{K}`; the best fit wins (ties: the smaller :math:`\sum |s_L|`). The measured knee of a
    visible level is :math:`H^*_L 2^{s_L}` with :math:`H^*_L` the simulated half-rise knee; it agrees
    when :math:`|s_L| \le 1`.
    """
    max_shift = check_int("max_shift", max_shift, low=0)
    max_shift_up = check_int("max_shift_up", max_shift_up, low=0)
    h, t, pos, h_sim = _common_sizes(sweep, simulated, backend, clock)
    names = simulated.level_names
    rises = [c - c[0] for c in (simulated.curve("hashednet", name) for name in names)]  # simulated grid
    sv, coef, rnorm = _best_fit(t, rises, pos, range(-max_shift, max_shift_up + 1))
    base = float(coef[0])
    levels = tuple(_level_knee(name, h_sim, rises[k], pos, int(sv[k]), float(coef[k + 1]), base, visible)
                   for k, name in enumerate(names))
    residual = float(rnorm / np.sqrt(h.size))
    hierarchy = simulated.results[0].hierarchy if simulated.results else "?"
    steps = measured_steps(sweep, "hashednet", backend, threshold, clock)
    return KneeComparison(levels, base, residual, steps, f"{backend}/{clock}", hierarchy)


def _common_sizes(sweep: GatherSweep, simulated: SimulatedGatherSweep, backend: str, clock: str):
    """Measured sizes inside the simulated x2 grid: ``(h, t, pos, h_sim)``, ``pos`` = index of ``h`` there."""
    h_meas = sweep.h_bytes()
    h_sim = simulated.h_bytes()
    if h_sim.size < 2 or np.any(h_sim[1:] != 2 * h_sim[:-1]):
        raise CacheSimError(f"simulated sizes must be consecutive x2 steps (got {h_sim.tolist()})")
    h = np.array([x for x in h_meas if h_sim[0] <= x <= h_sim[-1]], dtype=np.int64)
    if h.size < 4 or np.any(h[1:] != 2 * h[:-1]):
        raise CacheSimError("measured and simulated sizes must share at least 4 consecutive x2 steps "
                            f"(common sizes: {h.tolist()})")
    t_all = dict(zip(h_meas.tolist(), sweep.curve("hashednet", backend, clock).tolist()))
    t = np.array([t_all[int(x)] for x in h])
    pos = np.round(np.log2(h / h_sim[0])).astype(int)
    return h, t, pos, h_sim


def _shifted(d: np.ndarray, pos: np.ndarray, s: int) -> np.ndarray:
    """``d(H / 2^s)`` at the grid positions ``pos`` (clamped to the simulated range)."""
    return d[np.clip(pos - s, 0, d.size - 1)]


def _best_fit(t: np.ndarray, rises: list, pos: np.ndarray, shifts: range):
    r"""Best ``(shift vector, coefficients [base, p_1..p_K], rnorm)`` over every shift vector in ``shifts^K``.

    Vectors are tried in order of :math:`\sum |s_L|`, so a tie keeps the smaller shifts. Fits whose
    penalties are not non-decreasing (a miss further from the core costs at least as much) lose to any
    ordered fit; if none is ordered, the best of all wins.
    """
    import itertools

    from scipy.optimize import nnls

    w = 1.0 / t
    best = best_any = None
    grid = sorted(itertools.product(shifts, repeat=len(rises)), key=lambda sv: sum(abs(x) for x in sv))
    for sv in grid:
        x = np.column_stack([np.ones(t.size)] + [_shifted(r, pos, s) for r, s in zip(rises, sv)])
        coef, rnorm = nnls(x * w[:, None], t * w)
        cand = (tuple(sv), coef, rnorm)
        if best_any is None or rnorm < best_any[2] * (1 - 1e-9):
            best_any = cand
        pens = coef[1:]
        ordered = np.all(np.diff(pens) >= -1e-9 * max(1.0, float(np.max(pens, initial=0.0))))
        if ordered and (best is None or rnorm < best[2] * (1 - 1e-9)):
            best = cand
    return best if best is not None else best_any


def _level_knee(name: str, h_sim: np.ndarray, rise: np.ndarray, pos: np.ndarray, shift: int, penalty: float,
                base: float, visible: float) -> LevelKnee:
    """The verdict for one level from its fitted shift and penalty."""
    h_s = half_rise_knee(h_sim, rise) if np.ptp(rise) > 0 else None
    contribution = penalty * float(np.max(_shifted(rise, pos, shift))) / base if base > 0 else float("inf")
    if h_s is None:
        return LevelKnee(name, None, shift, None, penalty, contribution, False,
                         "the simulated misses of this level do not rise over the sweep")
    if contribution < visible:
        cause = (f"not visible in the time: its misses add {contribution:.0%} < {visible:.0%} of the "
                 f"base (served by the next level with the latency overlapped by out-of-order execution; "
                 f"the idx/W stream dominates)")
        return LevelKnee(name, h_s, shift, None, penalty, contribution, False, cause)
    h_m = int(h_s * 2.0 ** shift)
    agree = abs(shift) <= 1
    return LevelKnee(name, h_s, shift, h_m, penalty, contribution, agree,
                     "" if agree else _miss_cause(name, shift, h_m))


def _miss_cause(level: str, shift: int, h_m: int) -> str:
    if shift < 0:
        return (f"the measured knee is {abs(shift)} x2-steps below the simulated one: this process sees an "
                f"effective {level} of about {_fmt_bytes(h_m // 2)}, less than the preset's (the cache is "
                f"shared with other cores/tenants, or its policy is not LRU)")
    return (f"the measured knee is {shift} x2-steps above the simulated one: an effective {level} of about "
            f"{_fmt_bytes(h_m // 2)}, more than the preset's (a victim/exclusive level adds the capacity of "
            f"the level above, or the preset's size is wrong)")
