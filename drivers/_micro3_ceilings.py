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


def _tma_stream_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def tma_stream(desc, out_ptr, K, HMASK, NCB, BK: tl.constexpr, BN: tl.constexpr):
        pid = tl.program_id(0)
        col = (pid % NCB) * BN
        acc = tl.zeros((BK, BN), dtype=tl.float32)
        for k in range(0, K):
            row = ((pid // NCB + k) * BK) & HMASK
            acc += desc.load([row, col]).to(tl.float32)
        tl.store(out_ptr + pid, tl.sum(acc))

    return tma_stream


def tma_l2_group(ctx, rows, memory_bytes=(24 << 20,), per_sm_list=(1, 2, 4), stages_list=(3, 4),
                 tile=(64, 128), k_steps=256, col_blocks=8) -> None:
    """``tma-l2`` rows: bytes/s that TMA box copies (no tensor-core work: each box is added into an fp32
    register tile) draw from an L2-resident array, by programs per SM and pipeline stages; the L2 ceiling
    of the TMA load path (the pointer path's is the ``l2`` group). Checked against numpy."""
    import numpy as np
    import triton
    from triton.tools.tensor_descriptor import TensorDescriptor

    torch, dev, sms = ctx["torch"], ctx["device"], ctx["sms"]
    kern = _tma_stream_kernel()
    bk, bn = tile
    cols = col_blocks * bn
    for nbytes in memory_bytes:
        n_rows = nbytes // 2 // cols
        n_rows = 1 << (n_rows.bit_length() - 1)
        g = torch.Generator(device=dev).manual_seed(11)
        m = torch.randn(n_rows * cols, device=dev, generator=g).to(ctx["tile_dtype"])
        desc = TensorDescriptor.from_tensor(m.view(n_rows, cols), [bk, bn])
        for per_sm in per_sm_list:
            for stages in stages_list:
                programs = sms * per_sm
                out = torch.empty(programs, dtype=torch.float32, device=dev)

                def fn(out=out, programs=programs, stages=stages, desc=desc, hmask=n_rows - 1):
                    kern[(programs,)](desc, out, k_steps, hmask, col_blocks, BK=bk, BN=bn, num_warps=4,
                                      num_stages=stages)
                fn()
                ok = True
                if per_sm == per_sm_list[0] and stages == stages_list[0]:
                    mat = m.float().cpu().numpy().reshape(n_rows, cols)
                    want = []
                    for p in range(min(programs, 8)):
                        c0, tot = (p % col_blocks) * bn, 0.0
                        for k in range(k_steps):
                            r0 = ((p // col_blocks + k) * bk) & (n_rows - 1)
                            tot += float(mat[r0:r0 + bk, c0:c0 + bn].sum())
                        want.append(tot)
                    ok = bool(np.allclose(out.cpu().numpy()[:len(want)], want, rtol=1e-3, atol=1e-1))
                ms = triton.testing.do_bench(fn, warmup=5, rep=40) if dev == "cuda" else float("nan")
                moved = programs * k_steps * bk * bn * 2
                rows.append({"type": "tma-l2", "name": "tma-stream", "memory_bytes": n_rows * cols * 2,
                             "tile": list(tile), "programs_per_sm": per_sm, "num_warps": 4,
                             "num_stages": stages, "programs": programs, "k_steps": k_steps,
                             "bytes": moved, "seconds": ms * 1e-3, "bytes_per_second": moved / (ms * 1e-3),
                             "equal_numpy": ok})
                ctx["save"]()


def a_matrix(ctx, bm, bk, astream=0, generator=None):
    """A of the microbenchmarks: a fixed ``bm x bk`` tile, or (``astream``) an ``8 bm x astream bk`` matrix
    whose tile :func:`a_tile` a program multiplies at each step."""
    torch = ctx["torch"]
    shape = (8 * bm, astream * bk) if astream else (bm, bk)
    return torch.randn(*shape, device=ctx["device"], generator=generator).to(ctx["tile_dtype"])


def a_tile(am, p, k, bm, bk, astream):
    """The A tile program ``p`` multiplies at step ``k`` (numpy, as the kernels address it: row block ``p mod
    8``, column block ``k mod astream``; the whole ``am`` without ``astream``)."""
    if not astream:
        return am
    r, c = (p % 8) * bm, (k % astream) * bk
    return am[r:r + bm, c:c + bk]


def _a_operand(ctx, g, bm, bk, abox):
    """``(A tensor, the kernel's A argument)``: :func:`a_matrix`, with its TMA descriptor of ``bm x bk``
    boxes for ``abox``."""
    from triton.tools.tensor_descriptor import TensorDescriptor

    a = a_matrix(ctx, bm, bk, abox, g)
    return a, (TensorDescriptor.from_tensor(a, [bm, bk]) if abox else a)


def tma_table_group(ctx, rows, log2_sizes=(20, 25), per_sm_list=(1, 2), elements_per_sm=1 << 23, stages=3,
                    tile=(64, 128), bm=128, columns=0, abox=0, num_warps=4) -> None:
    """``tma-table`` rows: B elements/s of the TMA ROAST box path whose row comes from an int32 start table
    read in the k-loop (as the TMA table kernels read theirs) vs the same rows computed by the in-loop hash,
    fed to ``tl.dot`` with a fixed A tile; 1 and 2 programs of 4 warps per SM. Both read the same rows;
    the table one is checked against numpy.

    ``columns`` (the ``tma_table_kernel`` group): the kernels' table layout, entry ``(k, column)`` at ``k x
    columns + column``, program ``pid`` reading column ``pid mod columns`` (0: entry ``pid x K + k``).
    ``abox`` (the ``tma_table_abox*`` groups): A's box copied by TMA at every k-step, column block ``k mod
    abox`` of an ``8 bm x abox bk`` A, row block ``pid mod 8``, as the TMA kernels' loop copies it.
    ``num_warps`` per program."""
    import numpy as np
    from triton.tools.tensor_descriptor import TensorDescriptor

    torch, dev, sms = ctx["torch"], ctx["device"], ctx["sms"]
    kern = ctx["kern"]["tma_tile"]  # gpu_micro3's TMA box-path kernel, rows from the table (TABLE) or hash
    bk, bn = tile
    smul = 0x9E3779B1 & 0x7FFFFFFF
    for lg in log2_sizes:
        memory = 1 << lg
        g = torch.Generator(device=dev).manual_seed(5)
        a, a_arg = _a_operand(ctx, g, bm, bk, abox)
        m = torch.randn(memory + bk * bn, device=dev, generator=g).to(ctx["tile_dtype"])
        desc = TensorDescriptor.from_tensor(m.view(memory // bn + bk, bn), [bk, bn])
        for per_sm in per_sm_list:
            programs = sms * per_sm
            K = max(4, elements_per_sm // (bk * bn * per_sm))
            n_entries = K * columns if columns else programs * K
            ids = (np.arange(n_entries, dtype=np.int64) * smul) & (memory - 1)
            table = torch.tensor((ids // bn).astype(np.int32), device=dev)
            out = torch.empty(programs * bm * bn, dtype=torch.float32, device=dev)
            for use_table in (True, False):
                def fn(out=out, table=table, programs=programs, K=K, use_table=use_table, a=a_arg, desc=desc,
                       hmask=memory - 1):
                    kern[(programs,)](a, desc, table, out, K, smul, hmask, 1, ROAST=True, TABLE=use_table,
                                      BM=bm, BK=bk, BN=bn, TCOLS=columns, ABOX=abox, num_warps=num_warps,
                                      num_stages=stages)
                fn()
                ok = True
                if use_table and per_sm == per_sm_list[0]:
                    am = a.float().cpu().numpy()
                    mm = m.float().cpu().numpy()
                    p = programs - 1
                    tab = table.cpu().numpy()
                    rws = tab.reshape(K, columns)[:, p % columns] if columns else tab.reshape(programs, K)[p]
                    want = sum(a_tile(am, p, k, bm, bk, abox) @ mm[r * bn:(r + bk) * bn].reshape(bk, bn)
                               for k, r in enumerate(rws))
                    got = out.cpu().numpy().reshape(programs, bm, bn)[p]
                    ok = bool(np.allclose(got, want, rtol=2e-2, atol=5e-1))
                secs = ctx["timer"](fn)
                rows.append({"type": "tma-table", "name": "tma-table" if use_table else "tma-hash",
                             "path": "table" if use_table else "hash", "tile": [bk, bn], "align": bn,
                             "layout": "kernel" if columns else "program", "columns": columns,
                             "a_box": bool(abox), "a_rows": bm,
                             "memory": memory, "memory_bytes": 2 * memory, "num_warps": num_warps,
                             "num_stages": stages,
                             "programs_per_sm": per_sm, "K": K, "programs": programs, "seconds": secs,
                             "elements_per_second": programs * K * bk * bn / secs, "equal_numpy": ok})
                ctx["save"]()
