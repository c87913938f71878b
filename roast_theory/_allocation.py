"""Private: the exact integer minimiser of ``sum_l Q_l / m_l`` over whole-slot budgets.

Minimise ``f(m_1, ..., m_k) = sum_l Q_l / m_l`` over integers ``m_l >= 1`` with ``sum_l m_l = m``
(``Q_l >= 0``). Each term is convex in ``m_l``: the gain of the ``j``-th extra slot of module ``l``,
``Q_l / j - Q_l / (j + 1) = Q_l / (j (j + 1))``, decreases with ``j``. For a separable convex objective
the optimum takes the ``m - k`` largest gains over all modules (an exchange argument), which is what
greedy marginal allocation does. To avoid ``m`` heap steps, all gains above a threshold ``tau`` (found by
bisection so that they fit; they are among the ``m - k`` largest) are taken at once, and the few remaining
slots are placed greedily.
"""

from __future__ import annotations

import heapq
import math

import numpy as np


def _count_above(q: np.ndarray, tau: float) -> np.ndarray:
    """Extra slots ``j >= 1`` per module whose gain ``q / (j (j + 1))`` exceeds ``tau`` (all of them)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(q > 0, q / tau, 0.0)
    j = np.floor((np.sqrt(1.0 + 4.0 * r) - 1.0) / 2.0)
    for _ in range(2):  # fix rounding so that exactly the gains with q / (j (j + 1)) > tau are counted
        j = np.where((j > 0) & ~(q / np.maximum(j * (j + 1.0), 1.0) > tau), j - 1.0, j)
        j = np.where(q / ((j + 1.0) * (j + 2.0)) > tau, j + 1.0, j)
    return j.astype(np.int64)


def integer_optimal_slots(q, memory: int) -> np.ndarray:
    """Integers ``m_l >= 1`` summing to ``memory`` minimising ``sum_l q_l / m_l`` (``len(q) <= memory``)."""
    q = np.asarray(q, dtype=np.float64)
    k = q.size
    spare = memory - k
    slots = np.ones(k, dtype=np.int64)
    if spare > 0 and q.max() > 0:
        hi = float(q.max())  # count_above(hi) = 0 <= spare
        lo = hi / (4.0 * (memory + 2.0) ** 2)  # the largest module alone counts more than spare
        for _ in range(200):
            mid = math.sqrt(lo * hi)
            if _count_above(q, mid).sum() > spare:
                lo = mid
            else:
                hi = mid
            if hi / lo < 1 + 1e-12:
                break
        slots += _count_above(q, hi)
    left = memory - int(slots.sum())
    heap = [(-q[l] / (slots[l] * (slots[l] + 1.0)), l) for l in range(k)]
    heapq.heapify(heap)
    for _ in range(left):
        _, l = heapq.heappop(heap)
        slots[l] += 1
        heapq.heappush(heap, (-q[l] / (slots[l] * (slots[l] + 1.0)), l))
    return slots
