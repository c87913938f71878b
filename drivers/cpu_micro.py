"""CPU microbenchmarks that price the CPU gather model (single thread, this machine).

Run from the repository root::

    PYTHONPATH=. python drivers/cpu_micro.py [--quick] [--matmul] [--sweep] \
        --out measurements/cpu/cpu_micro_N.json --sweep-out measurements/cpu/gather_paired_N.json

Cases written (kind ``cpu_micro``; every time is the median of ``--repeats`` runs after one warm-up; each
case also stores the minimum over the repeats (key suffix ``_min``) and the median process CPU time
(``cpu_`` prefix, ``time.process_time``): the calibration prices with the minimum, the repeat least
disturbed by other tenants of a shared machine, see :mod:`cachesim.kernels.cpu_calibration`):

* ``chase``   pointer chasing through a random cyclic permutation of the 64-byte lines of an array of
  ``memory_bytes`` (one dependent load per step): the load-to-use latency of a uniformly random line of an
  array of that size, page walks included (4 KiB pages, like the gather's arrays).
* ``independent`` the sum of ``a[idx[i]]`` with ``idx`` uniform over a float32 array of ``memory_bytes``
  (independent loads, the out-of-order core overlaps as many misses as it can track): time per load.
  Memory-level parallelism = (chase latency - L1 latency) / (independent time - its in-L1 time).
* ``stream``  a numba copy loop of two float32 arrays of 4 Mi elements (8 bytes moved per element):
  the single-thread streaming cost per byte.
* ``backend-base`` each gather backend (``torch.index_select`` / ``numpy.take``) on a 2048 x 2048 int64
  index that walks a 4 KiB array sequentially (``idx = i mod 1024``): the per-element cost of the
  backend's loop (index load, bounds check, address arithmetic, the idx and W streams) without any miss
  of the shared array.
* ``backend-gather`` each backend's gather (the same calls as ``backend-base``) on a 2048 x 2048 int64
  index drawn uniformly over a float32 array of ``memory_bytes``, at every size of the chase: the
  memory-level parallelism of the backend's own loop (its extra time over ``backend-base`` against the
  chase latencies of the lines it misses), read at the L2, L3 and DRAM anchors only.
* ``dense-copy`` each backend's plain copy of a 2048 x 2048 float32 array (``torch.Tensor.copy_`` /
  ``numpy.copyto``): the dense reference of the hashed/dense-copy ratio.
* ``matmul`` (``--matmul``) single-thread ``torch.matmul`` float32 ``X @ W``, ``X`` of ``batch x 2048``,
  ``W`` 2048 x 2048, for each batch of :data:`MATMUL_BATCHES`: GFLOP/s (``2 * batch * 2048 * 2048`` flops)
  and ns per element of ``W``; the dense matmul that a gather-then-matmul layer runs after ``W = M[idx]``.
* ``gather-matmul`` (``--matmul``) the real torch layer ``W = M[idx]; X @ W`` (advanced indexing with the
  2-D index, then the matmul; ``gather: "M[idx]"``) and the same with ``torch.index_select`` on the flat
  index (``gather: "index_select"``, the backend the gather model is calibrated for) at a few sizes and one
  batch, HashedNet and ROAST: a check of the gather-then-matmul prediction, never used to set a constant.

None of these is the gather sweep the model is judged on (measurements/cpu/gather_sweep.json); the record
also stores the machine's cache geometry (``hierarchy``, resolved from /sys at measuring time) and the load
average before and after.

``--sweep`` then re-times the gather sweep itself (``cachesim.measure.gather_sweep``: 2048 x 2048 float32
``W``, HashedNet and ROAST 32 x 64, torch and numpy, 4 KiB ... 512 MiB) in the same process, so that the
model can be compared with a sweep measured in the same machine state as its constants; it is written to
a separate record (kind ``cpu_gather_paired``, ``--sweep-out``) and is never used to set a constant.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cachesim.measure.records import write_record  # noqa: E402

LINE = 64
SHAPE = (2048, 2048)


def _numba_kernels():
    import numba

    @numba.njit(cache=False)
    def chase(nxt, start, steps):
        p = start
        for _ in range(steps):
            p = nxt[p]
        return p

    @numba.njit(cache=False)
    def independent(a, idx):
        s = 0.0
        for i in range(idx.size):
            s += a[idx[i]]
        return s

    @numba.njit(cache=False)
    def copy(dst, src):
        for i in range(src.size):
            dst[i] = src[i]
    return chase, independent, copy


#: Batch sizes (rows of ``X``) of the dense matmul microbenchmark and of the CPU waterfall's matmul step.
MATMUL_BATCHES = (1, 16, 128, 1024)
#: (batch, shared-array sizes in bytes) of the measured gather-then-matmul check points.
GATHER_MATMUL = (128, (64 << 10, 256 << 20))


def _time_stats(fn, repeats: int) -> tuple[float, float, float]:
    """(median wall, minimum wall, median process CPU time) seconds of ``repeats`` calls after a warm-up."""
    fn()
    ts, cs = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    return float(np.median(ts)), float(np.min(ts)), float(np.median(cs))


def _fields(key: str, stats, scale: float) -> dict:
    """``{key: median, key_min: minimum, cpu_key: CPU-time median}``, each seconds times ``scale``."""
    med, low, cpu = stats
    return {key: med * scale, f"{key}_min": low * scale, f"cpu_{key}": cpu * scale}


def _chain(n_lines: int, rng) -> np.ndarray:
    """``nxt`` over int64 slots: slot ``8 * line`` points to the slot of the next line of a random cycle."""
    order = rng.permutation(n_lines)
    nxt = np.zeros(n_lines * (LINE // 8), dtype=np.int64)
    nxt[order * (LINE // 8)] = np.roll(order, -1) * (LINE // 8)
    return nxt


def chase_case(kern, memory_bytes: int, steps: int, repeats: int, rng) -> dict:
    nxt = _chain(memory_bytes // LINE, rng)
    t = _time_stats(lambda: kern(nxt, 0, steps), repeats)
    return {"type": "chase", "memory_bytes": memory_bytes, "steps": steps,
            **_fields("ns_per_load", t, 1e9 / steps)}


def independent_case(kern, memory_bytes: int, n: int, repeats: int, rng) -> dict:
    a = rng.standard_normal(memory_bytes // 4, dtype=np.float32)
    idx = rng.integers(0, a.size, n, dtype=np.int64)
    t = _time_stats(lambda: kern(a, idx), repeats)
    return {"type": "independent", "memory_bytes": memory_bytes, "loads": n,
            **_fields("ns_per_load", t, 1e9 / n)}


def stream_case(kern, repeats: int, rng) -> dict:
    src = rng.standard_normal(SHAPE[0] * SHAPE[1], dtype=np.float32)
    dst = np.empty_like(src)
    t = _time_stats(lambda: kern(dst, src), repeats)
    return {"type": "stream", "elements": src.size, "bytes_per_element": 8,
            **_fields("ns_per_byte", t, 1e9 / (8 * src.size))}


def _gathers(m: np.ndarray, idx: np.ndarray, out: np.ndarray) -> dict:
    """``{backend: call}``: ``out = m[idx]`` by ``torch.index_select`` and by ``numpy.take`` (the torch
    tensors share the arrays' memory)."""
    import torch

    m_t, i_t, o_t = (torch.from_numpy(x) for x in (m, idx, out))
    return {"torch": lambda: torch.index_select(m_t, 0, i_t, out=o_t),
            "numpy": lambda: np.take(m, idx, out=out)}


def backend_cases(repeats: int, rng) -> list:
    import torch

    torch.set_num_threads(1)
    n = SHAPE[0] * SHAPE[1]
    m = rng.standard_normal(1024, dtype=np.float32)
    idx = np.arange(n, dtype=np.int64) % m.size
    out = np.empty(n, dtype=np.float32)
    src = rng.standard_normal(n, dtype=np.float32)
    o_t, s_t = torch.from_numpy(out), torch.from_numpy(src)
    runs = {**{("backend-base", b): fn for b, fn in _gathers(m, idx, out).items()},
            ("dense-copy", "torch"): lambda: o_t.copy_(s_t),
            ("dense-copy", "numpy"): lambda: np.copyto(out, src)}
    return [{"type": typ, "backend": b, "elements": n, **_fields("ns_per_element", _time_stats(fn, repeats),
                                                                 1e9 / n)}
            for (typ, b), fn in runs.items()]


def backend_gather_cases(sizes: list, repeats: int, rng) -> list:
    """``backend-gather`` cases: each backend's gather with a uniform random index over each size."""
    import torch

    torch.set_num_threads(1)
    n = SHAPE[0] * SHAPE[1]
    out = np.empty(n, dtype=np.float32)
    cases = []
    for mb in sizes:
        m = rng.standard_normal(mb // 4, dtype=np.float32)
        idx = rng.integers(0, m.size, n, dtype=np.int64)
        for b, fn in _gathers(m, idx, out).items():
            cases.append({"type": "backend-gather", "backend": b, "memory_bytes": mb, "elements": n,
                          **_fields("ns_per_element", _time_stats(fn, repeats), 1e9 / n)})
        print(cases[-2], cases[-1], file=sys.stderr, flush=True)
    return cases


def matmul_cases(repeats: int, rng) -> list:
    """``matmul`` cases: single-thread ``X @ W`` at each of :data:`MATMUL_BATCHES` (see the module notes)."""
    import torch

    torch.set_num_threads(1)
    k, n = SHAPE
    w = torch.from_numpy(rng.standard_normal(SHAPE, dtype=np.float32))
    out = []
    for batch in MATMUL_BATCHES:
        x = torch.from_numpy(rng.standard_normal((batch, k), dtype=np.float32))
        t = _time_stats(lambda x=x: torch.matmul(x, w), repeats)
        flops = 2.0 * batch * k * n
        out.append({"type": "matmul", "batch": batch, "shape": [batch, k, n], "flops": flops,
                    "gflops": flops / t[0] / 1e9, "gflops_max": flops / t[1] / 1e9,
                    **_fields("ns_per_element", t, 1e9 / (k * n))})
    return out


def gather_matmul_cases(repeats: int) -> list:
    """``gather-matmul`` cases: the torch layer ``W = M[idx]; X @ W`` (a check, never a constant)."""
    import torch

    from cachesim.measure.cpu.patterns import gather_indices

    torch.set_num_threads(1)
    batch, sizes = GATHER_MATMUL
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.standard_normal((batch, SHAPE[0]), dtype=np.float32))
    out = []
    for mb in sizes:
        m = torch.from_numpy(rng.standard_normal(mb // 4, dtype=np.float32))
        for scheme in ("hashednet", "roast"):
            flat = torch.from_numpy(gather_indices(scheme, mb // 4, *SHAPE, seed=3))
            idx = flat.view(SHAPE)
            runs = {"M[idx]": lambda m=m, idx=idx: x @ m[idx],
                    "index_select": lambda m=m, flat=flat: x @ torch.index_select(m, 0, flat).view(SHAPE)}
            for gather, fn in runs.items():
                t = _time_stats(fn, repeats)
                out.append({"type": "gather-matmul", "scheme": scheme, "backend": "torch", "gather": gather,
                            "memory_bytes": mb, "batch": batch, "tile": [32, 64],
                            **_fields("ns_per_element", t, 1e9 / flat.numel())})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="measurements/cpu/cpu_micro.json")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sweep", action="store_true", help="also re-time the gather sweep (see above)")
    ap.add_argument("--sweep-out", default="measurements/cpu/gather_paired.json")
    ap.add_argument("--matmul", action="store_true",
                    help="also the dense matmul group and the measured gather-then-matmul points")
    ap.add_argument("--quick", action="store_true", help="few sizes, 3 repeats, nothing written")
    args = ap.parse_args(argv)
    taken = [p for p in (args.out, args.sweep_out if args.sweep else None)
             if p and not args.quick and os.path.exists(p)]
    if taken:
        ap.error(f"{taken[0]} exists: records are never overwritten, pass a new --out / --sweep-out "
                 "(the comparison calibrates from the newest cpu_micro record)")
    repeats = 3 if args.quick else args.repeats
    top = 16 if args.quick else 29
    sizes = [1 << k for k in range(12, top + 1, 2 if args.quick else 1)]
    rng = np.random.default_rng(1)
    chase, independent, copy = _numba_kernels()
    load_before = os.getloadavg()
    cases = []
    for mb in sizes:
        steps = 1 << 22 if mb <= 1 << 20 else 1 << 20
        cases.append(chase_case(chase, mb, steps, repeats, rng))
        cases.append(independent_case(independent, mb, 1 << 22, repeats, rng))
        print(cases[-2], cases[-1], file=sys.stderr, flush=True)
    cases.append(stream_case(copy, repeats, rng))
    cases += backend_cases(repeats, rng)
    cases += backend_gather_cases(sizes, repeats, rng)
    if args.matmul:
        cases += matmul_cases(repeats, rng) + gather_matmul_cases(repeats)
    load_after = os.getloadavg()
    for c in cases[-17 if args.matmul else -5:]:
        print(c, file=sys.stderr)
    nb = __import__("numba").__version__
    notes = (f"single thread; medians (and minima, process CPU time) of {repeats} after one warm-up; "
             f"numba {nb}; "
             f"loadavg(1,5,15) before {tuple(round(x, 2) for x in load_before)}, after "
             f"{tuple(round(x, 2) for x in load_after)} (a 2-core VM shared with other jobs)")
    if not args.quick:
        rec = write_record(args.out, "cpu_micro", cases, notes=notes, hierarchy="host")
        print(f"wrote {rec.path}", file=sys.stderr)
    if args.sweep:
        _sweep(args, sizes, repeats)
    return 0


def _sweep(args, sizes: list, repeats: int) -> None:
    from cachesim.measure import gather_sweep

    load_before = os.getloadavg()
    sweep = gather_sweep(sizes, repeats=repeats, warmup=1,
                         progress=lambda s: print(s, file=sys.stderr, flush=True))
    load_after = os.getloadavg()
    notes = (f"W = M[idx], W 2048x2048 float32, int64 idx, ROAST tile 32x64 circular, single thread; median "
             f"of {repeats} after 1 warm-up; measured right after the cpu_micro record of the same run; "
             f"loadavg(1,5,15) before {tuple(round(x, 2) for x in load_before)}, after "
             f"{tuple(round(x, 2) for x in load_after)}")
    if not args.quick:
        rec = write_record(args.sweep_out, "cpu_gather_paired", sweep.to_cases(), notes=notes,
                           hierarchy="host")
        print(f"wrote {rec.path}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
