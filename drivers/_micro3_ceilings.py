"""Two groups of ``drivers/gpu_micro3.py``: the launch cost under ``do_bench`` and the dense Triton loop's
sustained rate per configuration.

* ``launch``: ``triton.testing.do_bench`` (the fast records' timer: median, L2 flushed between repeats) of
  a kernel that does nothing but store one value, at 1 program and at 132 x k programs of 4 warps
  (k = 1, 4, 16): the time a launch costs inside the timed region, and what each further wave of empty
  programs adds.
* ``dense_ceiling``: the fused dense kernel of :mod:`cachesim.measure.triton_fast` (the ``dense`` variant)
  at every configuration of ``triton_fast.CONFIGS`` on an 8192 x 8192 x 8192 bf16 product (a shape no
  timing record holds), checked against ``torch.matmul``: the sustained tensor-core rate each compiled
  configuration reaches when neither the index path nor traffic limits it (TFLOP/s).
"""

from __future__ import annotations

import time


def _empty_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def empty(out_ptr):
        pid = tl.program_id(0)
        tl.store(out_ptr + pid, pid)

    return empty


def launch_group(ctx, rows, programs=(1, 132, 528, 2112)) -> None:
    """``launch`` rows: seconds per call of the empty kernel at each grid size (module notes)."""
    import triton

    torch, dev = ctx["torch"], ctx["device"]
    empty = _empty_kernel()
    sms = ctx["sms"]
    for p in programs:
        p = max(1, p * sms // 132)
        out = torch.empty(p, dtype=torch.int32, device=dev)
        fn = lambda out=out, p=p: empty[(p,)](out, num_warps=4)  # noqa: E731
        fn()
        ok = bool((out.cpu() == torch.arange(p, dtype=torch.int32)).all())
        ms = triton.testing.do_bench(fn, warmup=5, rep=40) if dev == "cuda" else float("nan")
        rows.append({"type": "launch", "name": "launch-empty", "programs": p, "num_warps": 4,
                     "seconds": ms * 1e-3, "equal_numpy": ok, "timer": "triton.testing.do_bench median"})
        ctx["save"]()


def dense_ceiling_group(ctx, rows, size=8192, configs=None) -> None:
    """``dense-ceiling`` rows: TFLOP/s of the fused dense kernel at each configuration (module notes)."""
    import triton

    from cachesim.measure import triton_fast as tf

    torch, dev = ctx["torch"], ctx["device"]
    dt = ctx["tile_dtype"]
    g = torch.Generator(device=dev).manual_seed(7)
    x = torch.randn(size, size, device=dev, generator=g).to(dt)
    b = torch.randn(size, size, device=dev, generator=g).to(dt)
    out = torch.empty(size, size, device=dev, dtype=dt)
    ref = None
    prep = tf.FastWeight("dense", "dense").prepare(size, size, dev)
    for cfg in configs or tf.CONFIGS:
        if time.monotonic() > ctx["timer"].deadline:
            rows.append({"type": "skipped", "name": "dense-ceiling", "config": cfg.label(),
                         "reason": "budget"})
            continue
        t0 = time.monotonic()
        try:
            tf.fast_matmul(x, b, prep, cfg, out=out)
            if ref is None:
                ref = torch.matmul(x, b).float()
            err = float((out.float() - ref).abs().max() / ref.abs().max())
            ms = triton.testing.do_bench(lambda cfg=cfg: tf.fast_matmul(x, b, prep, cfg, out=out),
                                         warmup=5, rep=50) if dev == "cuda" else float("nan")
            rows.append({"type": "dense-ceiling", "name": "dense-ceiling", "config": cfg.label(),
                         "M": size, "K": size, "N": size, "seconds": ms * 1e-3,
                         "tflops": 2.0 * size ** 3 / (ms * 1e-3) / 1e12, "rel_err": err,
                         "equal_numpy": err < 2e-2, "elapsed_s": time.monotonic() - t0})
        except Exception as exc:  # noqa: BLE001 - record the configuration's failure, go on
            rows.append({"type": "error", "name": "dense-ceiling", "config": cfg.label(),
                         "error": f"{type(exc).__name__}: {exc}"[:500]})
        ctx["save"]()
