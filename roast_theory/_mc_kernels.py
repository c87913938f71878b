"""Vectorised Monte Carlo kernels: a placement plan, batched hash draws, batched sketch estimators.

A :class:`Plan` describes where every element may go: its tile, its in-tile offset, and the memory
segment of its module (global sharing: one segment of ``m`` slots; local sharing: disjoint segments).
``draw_starts`` / ``draw_sign_draws`` draw ``B`` independent hashings at once (numpy random streams);
``fused_estimates`` turns them into one value per trial in a private numba kernel that computes each
slot on the fly, keeps one scratch array of ``m`` slots and clears only the touched slots (``O(n)`` per
trial). For huge ``m`` the slots are materialised (``slots_from_starts``), relabelled, and summed by
``inner_products`` / ``weight_sq_errors``. ``*_reference`` are plain ``np.bincount`` versions the
tests compare against; every kernel also runs with ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .hashes import family_class
from .mappings import tile_coordinates

#: Most elements (trials x n, or trials x m bins) held at once.
BLOCK_ELEMENTS = 20_000_000
#: Above this many slots the kernels relabel the block's used slots ``0..u-1`` (``u <= b n``) first.
SCRATCH_SLOTS = 1 << 22
_NO_SIGN = np.ones((1, 1), np.int8)


@dataclass(frozen=True, eq=False)
class Plan:
    """Tiles of all modules laid out over their memory segments.

    ``elem_tile[i]``/``elem_offset[i]``: tile and in-tile offset of element ``i``; per tile ``t``:
    module ``tile_module[t]``, keys ``(tile_kb[t], tile_nb[t])`` inside its module, segment
    ``[seg_base[t], seg_base[t] + seg_size[t])``. ``t_size`` is the full tile size ``BK * BN``.
    """

    elem_tile: np.ndarray
    elem_offset: np.ndarray
    tile_module: np.ndarray
    tile_kb: np.ndarray
    tile_nb: np.ndarray
    seg_base: np.ndarray
    seg_size: np.ndarray
    t_size: int
    m_total: int
    n_modules: int
    align: int = 1

    @property
    def n(self) -> int:
        return int(self.elem_tile.size)

    @property
    def n_tiles(self) -> int:
        return int(self.tile_kb.size)


def make_plan(shapes, tile: tuple[int, int], seg_sizes, *, shared: bool) -> Plan:
    """Plan for modules of ``shapes`` (1-D or 2-D), all in one segment (``shared``) or one each."""
    elem_tile, elem_off, t_mod, t_kb, t_nb, t_base, t_size_seg = [], [], [], [], [], [], []
    n_tiles = 0
    base = 0
    for l, shape in enumerate(shapes):
        _, _, kb, nb, off = tile_coordinates(shape, tile)
        n_nb = int(nb.max()) + 1
        tid = (kb * n_nb + nb).ravel()
        n_t = int(tid.max()) + 1
        elem_tile.append(tid + n_tiles)
        elem_off.append(off.ravel())
        t_mod.append(np.full(n_t, l, np.int64))
        t_kb.append(np.arange(n_t, dtype=np.int64) // n_nb)
        t_nb.append(np.arange(n_t, dtype=np.int64) % n_nb)
        seg = seg_sizes[0] if shared else seg_sizes[l]
        t_base.append(np.full(n_t, 0 if shared else base, np.int64))
        t_size_seg.append(np.full(n_t, seg, np.int64))
        base += 0 if shared else seg
        n_tiles += n_t
    m_total = seg_sizes[0] if shared else base
    return Plan(np.concatenate(elem_tile), np.concatenate(elem_off), np.concatenate(t_mod),
                np.concatenate(t_kb), np.concatenate(t_nb), np.concatenate(t_base),
                np.concatenate(t_size_seg), tile[0] * tile[1], int(m_total), len(shapes))


def block_sizes(trials: int, per_trial: int):
    """Split ``trials`` into blocks of at most ``BLOCK_ELEMENTS // per_trial`` trials."""
    b = max(1, BLOCK_ELEMENTS // max(per_trial, 1))
    done = 0
    while done < trials:
        size = min(b, trials - done)
        yield size
        done += size


def draw_starts(rng: np.random.Generator, plan: Plan, b: int, family: str, placement: str) -> np.ndarray:
    """``(b, n_tiles)`` tile starts, relative to each tile's segment.

    Ideal: independent uniform in ``[0, span_t)``. Kernel family: per trial and module, fresh parameters
    ``R`` drawn uniform in ``[0, P)`` (the law of ``make_family(name, fresh_seed)``), then the exact
    formula at the tile's keys, reduced mod ``span_t``. ``span_t = seg_size`` (circular) or
    ``seg_size - T`` (kernel).
    """
    span = plan.seg_size if placement == "circular" else plan.seg_size - plan.t_size
    if family == "ideal":
        if plan.align > 1:
            n_s = -(-span // plan.align)
            return rng.integers(0, n_s[None, :], size=(b, plan.n_tiles), dtype=np.int64) * plan.align
        if np.all(span == span[0]):
            return rng.integers(0, int(span[0]), size=(b, plan.n_tiles), dtype=np.int64)
        return rng.integers(0, span[None, :], size=(b, plan.n_tiles), dtype=np.int64)
    cls = family_class(family)
    r = cls.draw_params(rng, b * plan.n_modules).reshape(b, plan.n_modules, cls.n_params)
    if plan.n_modules == 1:  # one draw per trial: (b, 1) broadcasts over the tiles, no (b, n_tiles) copies
        params = [r[:, :, j] for j in range(cls.n_params)]
    else:
        params = [r[:, plan.tile_module, j] for j in range(cls.n_params)]
    raw = cls.formula(params, plan.tile_kb[None, :], plan.tile_nb[None, :])
    return raw % span[None, :]


def slots_from_starts(plan: Plan, s: np.ndarray, placement: str) -> np.ndarray:
    """``(b, n)`` absolute slots ``seg_base + (s_t + offset) [mod seg_size]`` (numpy reference)."""
    if plan.n_tiles == plan.n and plan.t_size == 1:  # element hashing: offsets are 0, no wrap
        h = s
    else:
        h = s[:, plan.elem_tile] + plan.elem_offset[None, :]
        if placement == "circular":  # s + o < 2 * seg_size: one subtraction wraps
            seg = plan.seg_size[plan.elem_tile][None, :]
            h -= seg * (h >= seg)
    if np.any(plan.seg_base):
        h = h + plan.seg_base[plan.elem_tile][None, :]
    return h


def draw_slots(rng: np.random.Generator, plan: Plan, b: int, family: str, placement: str) -> np.ndarray:
    """``(b, n)`` absolute slots of ``b`` independent hashings."""
    return slots_from_starts(plan, draw_starts(rng, plan, b, family, placement), placement)


def draw_sign_draws(rng: np.random.Generator, plan: Plan, b: int, sign: str) -> np.ndarray | None:
    """int8 signs: ``(b, n)`` per element, ``(b, n_tiles)`` per tile, ``None`` for no sign."""
    if sign == "none":
        return None
    size = (b, plan.n) if sign == "element" else (b, plan.n_tiles)
    g = rng.integers(0, 2, size=size, dtype=np.int8)
    g *= 2
    g -= 1
    return g


def expand_signs(plan: Plan, g: np.ndarray | None, sign: str) -> np.ndarray | None:
    """Per-element ``(b, n)`` signs from :func:`draw_sign_draws`."""
    return g[:, plan.elem_tile] if sign == "tile" else g


def draw_signs(rng: np.random.Generator, plan: Plan, b: int, sign: str) -> np.ndarray | None:
    """``(b, n)`` int8 signs (per element or per tile), or ``None`` for no sign."""
    return expand_signs(plan, draw_sign_draws(rng, plan, b, sign), sign)


@njit(cache=True)
def _fused_kernel(starts, elem_tile, elem_off, seg_size, seg_base, circular, g, sign_mode, x, w, m,
                  want_inner, out):  # pragma: no cover - compiled
    b = starts.shape[0]
    n = elem_tile.size
    mw = np.zeros(m)
    hbuf = np.empty(n, np.int64)
    gbuf = np.empty(n)
    for t in range(b):
        for i in range(n):
            tile = elem_tile[i]
            p = starts[t, tile] + elem_off[i]
            if circular and p >= seg_size[tile]:
                p -= seg_size[tile]
            p += seg_base[tile]
            if sign_mode == 0:
                gi = 1.0
            elif sign_mode == 1:
                gi = float(g[t, i])
            else:
                gi = float(g[t, tile])
            hbuf[i] = p
            gbuf[i] = gi
            mw[p] += gi * w[i]
        acc = 0.0
        if want_inner:
            for i in range(n):
                acc += gbuf[i] * x[i] * mw[hbuf[i]]
        else:
            for i in range(n):
                d = gbuf[i] * mw[hbuf[i]] - w[i]
                acc += d * d
        for i in range(n):
            mw[hbuf[i]] = 0.0
        out[t] = acc


def fused_estimates(plan: Plan, starts: np.ndarray, g: np.ndarray | None, sign: str, placement: str,
                    x: np.ndarray | None, w: np.ndarray, what: str) -> np.ndarray:
    """Per trial ``<w_hat, x>`` (``what="inner"``) or ``|w_hat - w|^2`` straight from tile starts and
    sign draws (one numba pass; slots are never materialised). Needs ``m_total <= SCRATCH_SLOTS``."""
    out = np.empty(starts.shape[0])
    mode = {"none": 0, "element": 1, "tile": 2}[sign]
    w_ = np.ascontiguousarray(w, dtype=np.float64)
    x_ = w_ if x is None else np.ascontiguousarray(x, dtype=np.float64)
    g_ = _NO_SIGN if g is None else np.ascontiguousarray(g)
    _fused_kernel(np.ascontiguousarray(starts, dtype=np.int64), plan.elem_tile, plan.elem_offset,
                  plan.seg_size, plan.seg_base, placement == "circular", g_, mode, x_, w_, plan.m_total,
                  what == "inner", out)
    return out


def _bins(h: np.ndarray, m: int):
    """Flat bin keys ``trial * m + slot`` (compacted with ``np.unique`` when ``b * m`` is large)."""
    b = h.shape[0]
    keys = h + (np.arange(b, dtype=np.int64) * m)[:, None]
    if b * m <= 2 * BLOCK_ELEMENTS:
        bin_trial = None
        return keys.ravel(), b * m, bin_trial
    uniq, inv = np.unique(keys.ravel(), return_inverse=True)
    return inv.ravel(), uniq.size, uniq // m


def _per_trial(values: np.ndarray, b: int, m: int, bin_trial) -> np.ndarray:
    if bin_trial is None:
        return values.reshape(b, m).sum(axis=1)
    return np.bincount(bin_trial, weights=values, minlength=b)


@njit(cache=True)
def _slots_kernel(h, g, has_sign, x, w, m, want_inner, out):  # pragma: no cover - compiled
    """Per trial ``<w_hat, x>`` (``want_inner``) or ``|w_hat - w|^2`` from materialised slots ``h``."""
    b, n = h.shape
    mw = np.zeros(m)
    for t in range(b):
        for i in range(n):
            gi = g[t, i] if has_sign else 1.0
            mw[h[t, i]] += gi * w[i]
        acc = 0.0
        for i in range(n):
            gi = g[t, i] if has_sign else 1.0
            if want_inner:
                acc += gi * x[i] * mw[h[t, i]]
            else:
                d = gi * mw[h[t, i]] - w[i]
                acc += d * d
        for i in range(n):
            mw[h[t, i]] = 0.0
        out[t] = acc


def _compact(h: np.ndarray, m: int):
    """Relabel used slots 0..u-1 so the scratch array stays small (collisions are unchanged)."""
    if m <= max(SCRATCH_SLOTS, h.size):
        return h, m
    uniq, inv = np.unique(h, return_inverse=True)
    return inv.reshape(h.shape).astype(np.int64), int(uniq.size)


def _slot_estimates(h, g, x, w, m: int, want_inner: bool) -> np.ndarray:
    h, m = _compact(h, m)
    out = np.empty(h.shape[0])
    g_ = _NO_SIGN if g is None else np.ascontiguousarray(g)
    w_ = np.ascontiguousarray(w, dtype=np.float64)
    x_ = w_ if x is None else np.ascontiguousarray(x, dtype=np.float64)
    _slots_kernel(np.ascontiguousarray(h, dtype=np.int64), g_, g is not None, x_, w_, int(m), want_inner, out)
    return out


def inner_products(h, g, x, w, m: int) -> np.ndarray:
    """Per trial ``<w_hat, x> = sum_i g_i x_i (S w)[h(i)]`` (numba kernel)."""
    return _slot_estimates(h, g, x, w, m, True)


def weight_sq_errors(h, g, w, m: int) -> np.ndarray:
    """Per trial ``|w_hat - w|^2``, ``w_hat_i = g_i (S w)[h(i)]`` (numba kernel)."""
    return _slot_estimates(h, g, None, w, m, False)


def inner_products_reference(h: np.ndarray, g: np.ndarray | None, x: np.ndarray, w: np.ndarray,
                             m: int) -> np.ndarray:
    """Per trial ``<w_hat, x> = <S w, S x>`` for slots ``h`` and signs ``g`` (``np.bincount``)."""
    b = h.shape[0]
    keys, n_bins, bin_trial = _bins(h, m)
    gw = np.broadcast_to(w, h.shape) if g is None else g * w
    gx = np.broadcast_to(x, h.shape) if g is None else g * x
    mw = np.bincount(keys, weights=gw.ravel(), minlength=n_bins)
    mx = np.bincount(keys, weights=gx.ravel(), minlength=n_bins)
    return _per_trial(mw * mx, b, m, bin_trial)


def weight_sq_errors_reference(h: np.ndarray, g: np.ndarray | None, w: np.ndarray, m: int) -> np.ndarray:
    """Per trial ``|w_hat - w|^2`` with ``w_hat_i = g_i (S w)[h(i)]`` (``np.bincount``)."""
    keys, n_bins, _ = _bins(h, m)
    gw = np.broadcast_to(w, h.shape) if g is None else g * w
    mw = np.bincount(keys, weights=gw.ravel(), minlength=n_bins)
    w_hat = mw[keys].reshape(h.shape)
    if g is not None:
        w_hat *= g
    return ((w_hat - w) ** 2).sum(axis=1)


def slot_counts_window(starts: np.ndarray, t_size: int, m: int, placement: str) -> np.ndarray:
    """``(b, m)`` number of elements per slot when every tile is full: a length-``T`` window sum.

    ``count[b] = #{t : (b - s_t) mod m < T}`` (circular) or ``#{t : 0 <= b - s_t < T}`` (kernel).
    """
    b = starts.shape[0]
    keys = starts + (np.arange(b, dtype=np.int64) * m)[:, None]
    hist = np.bincount(keys.ravel(), minlength=b * m).reshape(b, m)
    pad = hist[:, m - (t_size - 1):] if placement == "circular" and t_size > 1 else np.zeros((b, t_size - 1))
    c = np.cumsum(np.concatenate([np.zeros((b, 1)), pad, hist], axis=1), axis=1)
    return c[:, t_size:] - c[:, :-t_size]


def slot_counts(h: np.ndarray, m: int) -> np.ndarray:
    """``(b, m)`` number of elements per slot from ``(b, n)`` slots."""
    b = h.shape[0]
    keys = h + (np.arange(b, dtype=np.int64) * m)[:, None]
    return np.bincount(keys.ravel(), minlength=b * m).reshape(b, m)
