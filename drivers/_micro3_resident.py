"""Two groups of ``drivers/gpu_micro3.py``: the dense loop's rate by programs per SM, and the host's share of
a ``do_bench`` timing.

* ``dense_resident``: the fused dense kernel of :mod:`cachesim.measure.triton_fast` at every configuration
  of ``triton_fast.CONFIGS`` on a launch of exactly ``132 x r`` programs (``r`` = 1, 2, 3 programs dealt to
  each SM): ``M = 4 BM`` (four row blocks), ``N = 33 r BN``, ``K = 8192`` (a shape family no timing record
  holds), checked against ``torch.matmul``. ``dense_ceiling`` (8192^3) gives each configuration's rate
  with its occupancy's programs resident; these rows give it where the launch deals fewer programs to an SM
  than it could hold (one program of four warps per SM leaves each k-step's load and MMA latencies
  exposed). Each row records the compiled registers and shared bytes.
* ``launch_floor``: whether a ``do_bench`` median can be the host's time rather than the kernel's. The
  fast records time ``fn`` = the Python wrapper of a Triton launch; ``do_bench`` enqueues an L2 flush,
  the start event, ``fn``, the end event, and the device runs the flush while the host prepares the next
  launch. When the host takes longer than the flush, the device waits between the start event and the
  kernel, and the median is that wait plus the kernel. Rows, for two fast dense kernels of the 256-row
  layer (256 x 4096 x 4096, one program per SM): the ``do_bench`` median, the host seconds per ``fn`` call
  (a loop of calls without synchronisation, divided by the count), and the kernel's seconds from CUDA-graph
  replays (a graph of flush + kernel pairs less a graph of the flushes alone: no host work between the
  launches), each with the host idle and with every host core kept busy by a spinning process.
"""

from __future__ import annotations

import functools
import time


def _dense_problem(ctx, m, k, n, seed=7):
    torch, dev = ctx["torch"], ctx["device"]
    dt = ctx["tile_dtype"]
    g = torch.Generator(device=dev).manual_seed(seed)
    x = torch.randn(m, k, device=dev, generator=g).to(dt)
    b = torch.randn(k, n, device=dev, generator=g).to(dt)
    return x, b, torch.empty(m, n, device=dev, dtype=dt)


def dense_resident_group(ctx, rows, per_sm_list=(1, 2, 3), K=8192, row_blocks=4, configs=None) -> None:
    """``dense-resident`` rows: TFLOP/s of the fused dense kernel at ``132 r`` programs (module notes)."""
    import triton
    from gpu_micro3 import compiled_info

    from cachesim.measure import triton_fast as tf

    torch, dev, sms = ctx["torch"], ctx["device"], ctx["sms"]
    for r in per_sm_list:
        for cfg in configs or tf.CONFIGS:
            if time.monotonic() > ctx["timer"].deadline:
                rows.append({"type": "skipped", "name": "dense-resident", "config": cfg.label(),
                             "programs_per_sm": r, "reason": "budget"})
                continue
            cols = max(1, sms * r // row_blocks)
            m, n = row_blocks * cfg.block_m, cols * cfg.block_n
            t0 = time.monotonic()
            try:
                x, b, out = _dense_problem(ctx, m, K, n)
                prep = tf.FastWeight("dense", "dense").prepare(K, n, dev)
                out.fill_(float("nan"))
                _, kernel = tf.fast_matmul(x, b, prep, cfg, out=out, return_kernel=True)
                ref = torch.matmul(x.float(), b.float())
                err = float((out.float() - ref).norm() / ref.norm())
                ms = triton.testing.do_bench(functools.partial(tf.fast_matmul, x, b, prep, cfg, out=out),
                                             warmup=5, rep=50) if dev == "cuda" else float("nan")
                meta = compiled_info(kernel, cfg.num_warps, r)
                rows.append({"type": "dense-resident", "name": "dense-resident", "config": cfg.label(),
                             "programs_per_sm": r, "programs": row_blocks * cols, "M": m, "K": K, "N": n,
                             "seconds": ms * 1e-3, "tflops": 2.0 * m * K * n / (ms * 1e-3) / 1e12,
                             "rel_err": err, "equal_numpy": bool(err < 1e-2), **meta,
                             "timer": "triton.testing.do_bench median", "elapsed_s": time.monotonic() - t0})
            except Exception as exc:  # noqa: BLE001 - record the configuration's failure, go on
                rows.append({"type": "error", "name": "dense-resident", "config": cfg.label(),
                             "programs_per_sm": r, "error": f"{type(exc).__name__}: {exc}"[:500]})
            ctx["save"]()


def _spin(stop):  # a host core kept busy until ``stop`` is set (a separate process)
    while not stop.is_set():
        pass


class _HostLoad:
    """Context manager: ``n`` spinning processes (every host core busy) while the block runs."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.stop = ctx.Event()
        self.procs = [ctx.Process(target=_spin, args=(self.stop,), daemon=True) for _ in range(self.n)]
        for p in self.procs:
            p.start()
        time.sleep(1.0)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        return False


def _host_seconds_per_call(fn, torch, calls=200) -> float:
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    t1 = time.perf_counter()
    torch.cuda.synchronize()
    return (t1 - t0) / calls


def _graph_seconds(fn, torch, replays=50) -> float:
    """Seconds of ``fn`` per call from CUDA-graph replays: one graph of ``replays`` x (L2 flush, ``fn``),
    one of the flushes alone, both timed with events around the whole replay; their difference over
    ``replays`` (no host work between the launches of a replay)."""
    import triton

    cache = triton.runtime.driver.active.get_empty_cache_for_benchmark()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graphs = []
    for with_fn in (True, False):
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(replays):
                cache.zero_()
                if with_fn:
                    fn()
        graphs.append(graph)
    times = []
    for graph in graphs:
        graph.replay()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) * 1e-3)
    return (times[0] - times[1]) / replays


def launch_floor_group(ctx, rows, shape=(256, 4096, 4096), configs=("128x128x64-g8-w4-s5",
                                                                     "128x64x64-g8-w4-s4"),
                       load_procs=None) -> None:
    """``launch-floor`` rows (module notes): idle, then every host core busy."""
    import contextlib
    import os

    from gpu_sass_offline import config_of

    from cachesim.measure import triton_fast as tf

    torch, dev = ctx["torch"], ctx["device"]
    m, k, n = shape
    x, b, out = _dense_problem(ctx, m, k, n)
    prep = tf.FastWeight("dense", "dense").prepare(k, n, dev)
    ref = torch.matmul(x.float(), b.float())
    nproc = load_procs or os.cpu_count() or 1
    for host in ("idle", "loaded"):
        with _HostLoad(nproc) if host == "loaded" else contextlib.nullcontext():
            for cfg in (config_of(label) for label in configs):
                if time.monotonic() > ctx["timer"].deadline:
                    rows.append({"type": "skipped", "name": "launch-floor", "config": cfg.label(),
                                 "host": host, "reason": "budget"})
                    continue
                fn = functools.partial(tf.fast_matmul, x, b, prep, cfg, out=out)
                out.fill_(float("nan"))
                fn()
                err = float((out.float() - ref).norm() / ref.norm())
                row = {"type": "launch-floor", "name": "launch-floor", "config": cfg.label(), "host": host,
                       "load_processes": nproc if host == "loaded" else 0, "M": m, "K": k, "N": n,
                       "rel_err": err, "equal_numpy": bool(err < 1e-2)}
                if dev == "cuda":
                    row.update(_floor_times(fn, torch))
                rows.append(row)
                ctx["save"]()


def _floor_times(fn, torch) -> dict:
    """``do_bench`` medians, host seconds per call, CUDA-graph seconds (three of each) and the L2 flush."""
    import triton

    out = {"do_bench_s": [triton.testing.do_bench(fn, warmup=5, rep=50) * 1e-3 for _ in range(3)],
           "host_s_per_call": [_host_seconds_per_call(fn, torch) for _ in range(3)]}
    try:
        out["graph_s"] = [_graph_seconds(fn, torch) for _ in range(3)]
    except Exception as exc:  # noqa: BLE001 - keep the do_bench and host numbers
        out["graph_error"] = f"{type(exc).__name__}: {exc}"[:500]
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    cache = triton.runtime.driver.active.get_empty_cache_for_benchmark()
    start.record()
    for _ in range(20):
        cache.zero_()
    end.record()
    torch.cuda.synchronize()
    out["flush_s"] = start.elapsed_time(end) * 1e-3 / 20
    return out
