"""Closed-form variance of a 768 x 3072 layer in 32 x 64 tiles with one sign per tile (target: < 1 s).

2-D tiles map to the 1-D theory as the RzLinear B-tiles: element (k, n) is in tile (k // 32, n // 64) at
offset (k % 32) * 64 + n % 64, so Z = 2048 and there are 24 * 48 = 1152 tiles. The C2 lag sums run by FFT
over the tile matrix (O(n log Z)); the peer is the direct pair-by-pair evaluation of the same sum
(one cross-correlation per ordered tile pair), timed on a subset of tile pairs and scaled to all pairs.

Run: python benchmarks/bench_theory.py
"""

import time

import numpy as np

from roast_theory.moments import block_tile_moments


def main() -> None:
    rng = np.random.default_rng(0)
    k, n, bk, bn = 768, 3072, 32, 64
    x = rng.standard_normal((k, n))
    w = 0.02 * rng.standard_normal((k, n))
    memory = k * n // 16
    block_tile_moments(x, w, memory, (bk, bn), "tile")  # warm-up (FFT plans, imports)
    for sign in ("tile", "element", "none"):
        t0 = time.perf_counter()
        res = block_tile_moments(x, w, memory, (bk, bn), sign)
        dt = time.perf_counter() - t0
        print(f"closed form sign={sign:7s}: {dt * 1e3:8.1f} ms  variance={res.variance:.6g}  "
              f"mean={res.mean:.6g}")
    t0 = time.perf_counter()
    res = block_tile_moments(x, w, memory, (bk, bn), "tile")
    t_fft = time.perf_counter() - t0

    # peer: direct evaluation, sum over ordered tile pairs of sum_d [C_ab(d)^2 + C_ab(d) D_ab(d)]
    tiles_x = x.reshape(k // bk, bk, n // bn, bn).transpose(0, 2, 1, 3).reshape(-1, bk * bn)
    tiles_w = w.reshape(k // bk, bk, n // bn, bn).transpose(0, 2, 1, 3).reshape(-1, bk * bn)
    n_tiles = tiles_x.shape[0]
    sample = 40
    t0 = time.perf_counter()
    for a in range(sample):
        b = (a + 1) % n_tiles
        c = np.correlate(tiles_w[b], tiles_x[a], mode="full")
        d = np.correlate(tiles_x[b], tiles_w[a], mode="full")
        _ = float(c @ c + c @ d)
    t_pair = (time.perf_counter() - t0) / sample
    t_direct = t_pair * n_tiles * (n_tiles - 1)
    print(f"layer {k}x{n}, tiles {bk}x{bn} (Z={bk * bn}, {n_tiles} tiles), memory={memory}")
    print(f"FFT closed form (per-tile sign): {t_fft:.3f} s   (target < 1 s: {'OK' if t_fft < 1 else 'SLOW'})")
    print(f"direct pair loop (estimated from {sample} pairs): {t_direct:.1f} s   "
          f"ratio {t_direct / t_fft:.0f}x")


if __name__ == "__main__":
    main()
