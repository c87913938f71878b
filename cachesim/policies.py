"""Pure-Python replacement policies of one cache set: one small class per policy.

Every policy has the same interface (the contract tested in ``tests/test_cachesim_policies.py``):

- ``hit(way)``: the resident line in ``way`` was accessed;
- ``fill(way)``: a new line was installed in ``way``;
- ``invalidate(way)``: the line in ``way`` was removed (back-invalidation, exclusive move-up);
- ``victim()``: the way to replace when every way is valid.

Invalid ways are always filled first (lowest index) by the set itself, so ``victim()`` is only
asked when the set is full. These classes are the readable oracle; the compiled kernels in
:mod:`cachesim._kernel` implement the same rules on arrays.
"""

from __future__ import annotations

MASK64 = (1 << 64) - 1


class XorShift64:
    """Marsaglia's xorshift64 (shifts 13, 7, 17), the random stream shared with the kernels."""

    def __init__(self, state: int):
        if not 0 < state <= MASK64:
            raise ValueError(f"state={state} must be in [1, 2**64)")
        self.state = state

    def next(self) -> int:
        """Advance and return the new 64-bit state."""
        x = self.state
        x ^= (x << 13) & MASK64
        x ^= x >> 7
        x ^= (x << 17) & MASK64
        self.state = x
        return x


class LRU:
    """Least recently used: evict the way touched longest ago (recency list, oldest first)."""

    def __init__(self, ways: int, rng: XorShift64 | None = None):
        self.ways = ways
        self.order: list[int] = []

    def hit(self, way: int) -> None:
        self.order.remove(way)
        self.order.append(way)

    def fill(self, way: int) -> None:
        if way in self.order:
            self.order.remove(way)
        self.order.append(way)

    def invalidate(self, way: int) -> None:
        if way in self.order:
            self.order.remove(way)

    def victim(self) -> int:
        return self.order[0]


class MRU(LRU):
    """Most recently used: evict the way touched last (good for cyclic scans larger than the set)."""

    def victim(self) -> int:
        return self.order[-1]


class FIFO(LRU):
    """First in, first out: evict the way filled longest ago; hits change nothing.

    ``order`` (as in :class:`LRU`) is the fill order, oldest first.
    """

    def hit(self, way: int) -> None:
        pass

    @property
    def queue(self) -> list[int]:
        """The fill order, oldest first (same list as ``order``)."""
        return self.order


class Random:
    """Random replacement: ``victim = rng.next() mod ways`` (any number of ways); hits change nothing.

    The generator is shared by all sets of a level, as in the kernels.
    """

    def __init__(self, ways: int, rng: XorShift64 | None = None):
        self.ways = ways
        self.rng = rng if rng is not None else XorShift64(1)

    def hit(self, way: int) -> None:
        pass

    def fill(self, way: int) -> None:
        pass

    def invalidate(self, way: int) -> None:
        pass

    def victim(self) -> int:
        return self.rng.next() % self.ways


class PLRU:
    """Tree pseudo-LRU for a power-of-two number of ways.

    ``ways - 1`` bits in heap order (node 0 is the root, children of node ``i`` are ``2i + 1``
    (left, bit value 0) and ``2i + 2`` (right, 1)). A bit points to the half to evict next; an
    access to a way sets every bit on its path to point *away* from it. The victim follows the bits
    from the root.
    """

    def __init__(self, ways: int, rng: XorShift64 | None = None):
        if ways & (ways - 1):
            raise ValueError(f"PLRU needs power-of-two ways, got {ways}")
        self.ways = ways
        self.depth = ways.bit_length() - 1
        self.bits = [0] * (ways - 1)

    def _point_away(self, way: int) -> None:
        node = 0
        for d in range(self.depth - 1, -1, -1):
            b = (way >> d) & 1
            self.bits[node] = 1 - b
            node = 2 * node + 1 + b

    def hit(self, way: int) -> None:
        self._point_away(way)

    def fill(self, way: int) -> None:
        self._point_away(way)

    def invalidate(self, way: int) -> None:
        pass

    def victim(self) -> int:
        node = way = 0
        for _ in range(self.depth):
            b = self.bits[node]
            way = (way << 1) | b
            node = 2 * node + 1 + b
        return way


POLICY_CLASSES = {"lru": LRU, "fifo": FIFO, "random": Random, "plru": PLRU, "mru": MRU}
