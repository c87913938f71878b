"""The ``hash_overlap`` group of ``drivers/gpu_micro3.py``: does the ROAST in-loop tile-start hash overlap the
tensor-core work?

The ``overlap`` group measured how far ``tl.dot`` overlaps *per-element* integer work (independent chains,
one per B element). The ROAST ``hash`` kernels compute something else in their k-loop: per k-step, the
start of each ROAST tile the step reads, a *scalar* chain of 64-bit multiplies and three remainders by
runtime divisors (``_tile_start`` of :mod:`cachesim.measure._triton_fast_jit`, ``B_MODE`` 2; each guarded
remainder takes its inline 32-bit path), whose result is the address of the B load. ``hash32`` (``B_MODE``
8) is the int32 formula with constant divisors.

The kernel here is the ``overlap`` group's k-loop (a 128x64 bf16 A tile loaded once, 128x128x64 ``tl.dot``
per step, B cycling through 8 blocks of a 128 KiB array) with B's block chosen by the tile-start hash:
``block = (sum of the G starts of the step) mod 8``, the starts computed by the fast kernels' own
``_tile_start`` for tile rows ``k G ... k G + G - 1`` of tile column ``pid mod NT`` (G = 1: one tile per
step, as the 64x128 tiles; G = 2: two, as the 32x64 tiles at BK = 64). ``MODE`` 0 chooses ``k mod 8``
(no hash). Rows: ``dot`` (MODE 0 with the dot), ``alu`` (MODE m, the dot replaced by an fp32 sum of B),
``both`` (MODE m with the dot), ``plain-alu`` (MODE 0 without the dot); 1 and 2 programs per SM of 4 and
8 warps. Summary rows give ``overlap_fraction = (dot + alu - both) / min(dot, alu)`` as the ``overlap``
group does (1: hidden under the dot, 0: one after the other).

A small case of every (MODE, G, dot) is checked against numpy, the starts recomputed on the host: MODE 2
from the start table of a ``table`` weight with the same family (``roast_theory.hashes``), MODE 8 from the
int32 formula.
"""

from __future__ import annotations

import numpy as np

BLK = dict(BM=128, BK=64, BN=128)
NB = 8                 # B blocks cycled through (128 KiB of bf16)
NT = 24                # tile columns the program ids map to (BERT's 3072 / 128)
MEMORY = 1 << 20       # shared-array elements the hash's modulus is taken for
TILE = (64, 128)
MODES = {0: None, 2: "hash", 8: "hash32"}


def _kernel():
    import triton
    import triton.language as tl

    from cachesim.measure import _triton_fast_jit

    global _tile_start  # Triton resolves the callee among the kernel's module globals
    _tile_start = _triton_fast_jit._tile_start

    @triton.jit
    def hash_overlap(a_ptr, b_ptr, out_ptr, K, NTC, r1, r2, r3, r4, r5, r7, prime, modulus,
                     MODE: tl.constexpr, G: tl.constexpr, DOT: tl.constexpr, NBMASK: tl.constexpr,
                     BM: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr):
        pid = tl.program_id(0)
        rm = tl.arange(0, BM)
        rk = tl.arange(0, BK)
        rn = tl.arange(0, BN)
        inner = rk[:, None] * BN + rn[None, :]
        a = tl.load(a_ptr + rm[:, None] * BK + rk[None, :])
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        accb = tl.zeros((BK, BN), dtype=tl.float32)
        nt = pid % NTC
        for k in range(0, K):
            if MODE == 0:
                blk = k & NBMASK
            else:
                s = _tile_start(k * G, nt, out_ptr, NTC, r1, r2, r3, r4, r5, r7, prime, modulus, MODE, 1)
                for g in tl.static_range(1, G):
                    s += _tile_start(k * G + g, nt, out_ptr, NTC, r1, r2, r3, r4, r5, r7, prime, modulus,
                                     MODE, 1)
                blk = s & NBMASK
            b = tl.load(b_ptr + blk * BK * BN + inner)
            if DOT:
                acc = tl.dot(a, b, acc)
            else:
                accb += b.to(tl.float32)
        if DOT:
            tl.store(out_ptr + pid * BM * BN + rm[:, None] * BN + rn[None, :], acc)
        else:
            tl.store(out_ptr + pid * BM * BN + inner, accb)

    return hash_overlap


def hash_args(mode: int, K: int, G: int) -> tuple:
    """``(r1, r2, r3, r4, r5, r7, prime, modulus)`` of the fast kernels' ``prepare`` for a ROAST weight of
    ``MEMORY`` elements with tiles :data:`TILE` covering ``K G`` tile rows and :data:`NT` tile columns."""
    from cachesim.measure import triton_fast as tf

    if mode == 0:
        return (0, 0, 0, 0, 0, 0, 1, 1)
    w = tf.FastWeight("roast", MODES[mode], MEMORY, TILE, 1, seed=1)
    return w.prepare(TILE[0] * K * G, TILE[1] * NT).args[:8]


def host_starts(mode: int, K: int, G: int) -> np.ndarray:
    """``(K G, NT)`` int64 tile starts, computed on the host (module notes)."""
    from cachesim.measure import triton_fast as tf

    if mode == 2:
        w = tf.FastWeight("roast", "table", MEMORY, TILE, 1, seed=1)
        return np.asarray(w.prepare(TILE[0] * K * G, TILE[1] * NT).aux.numpy(), dtype=np.int64)
    r1, r2, r3, r4, r5, r7, _prime, modulus = (int(v) for v in hash_args(8, K, G))
    kt = np.arange(K * G, dtype=np.int64)[:, None]
    nt = np.arange(NT, dtype=np.int64)[None, :]
    hi = (kt * r3 + nt * r2 + r1) % 45007
    lo = (kt * r7 + nt * r5 + r4) % 45007
    return (hi * 45007 + lo) % modulus


def reference(a, bits, to_float, programs, K, mode, G, dot) -> np.ndarray:
    """fp64 result of :func:`_kernel` for ``programs`` programs (``bits``: the B blocks as uint16)."""
    starts = host_starts(mode, K, G) if mode else None
    out = []
    for p in range(programs):
        acc = np.zeros((a.shape[0], bits.shape[2]) if dot else bits.shape[1:])
        for k in range(K):
            blk = k % NB if not mode else int(starts[k * G:(k + 1) * G, p % NT].sum()) % NB
            b = to_float(bits[blk])
            acc += a.astype(np.float64) @ b if dot else b
        out.append(acc)
    return np.stack(out)


def _operands(ctx):
    torch, dev, dt = ctx["torch"], ctx["device"], ctx["tile_dtype"]
    g = torch.Generator(device="cpu").manual_seed(11)
    a = torch.randn(BLK["BM"], BLK["BK"], generator=g).to(dt).to(dev)
    b = torch.randn(NB, BLK["BK"], BLK["BN"], generator=g).to(dt).to(dev)
    return a, b


def _launch(kern, a, b, out, programs, K, args, mode, G, dot, nw):
    """One launch; ``args``: :func:`hash_args` of ``(mode, K, G)``, computed once by the caller (not per
    timed launch)."""
    return kern[(programs,)](a, b, out, K, NT, *args, MODE=mode, G=G, DOT=dot, NBMASK=NB - 1, **BLK,
                             num_warps=nw)


def checks(ctx, modes=(0, 2, 8), groups=(1, 2)) -> list[dict]:
    """One small case per (MODE, G, dot) against numpy."""
    torch, dev, dt = ctx["torch"], ctx["device"], ctx["tile_dtype"]
    kern = _kernel()
    a, b = _operands(ctx)
    bits = b.cpu().view(torch.int16).numpy().astype(np.uint16)

    def to_float(u16):
        return torch.from_numpy(u16.astype(np.int16)).view(dt).float().numpy().astype(np.float64)
    rows, programs, K = [], 3, 8
    for mode in modes:
        for G in (groups if mode else (1,)):
            for dot in (True, False):
                out = torch.zeros(programs * BLK["BM"] * BLK["BN"], dtype=torch.float32, device=dev)
                _launch(kern, a, b, out, programs, K, hash_args(mode, K, G), mode, G, dot, 4)
                want = reference(a.float().cpu().numpy(), bits, to_float, programs, K, mode, G, dot)
                got = out.cpu().numpy().reshape(programs, -1)[:, :want[0].size].reshape(want.shape)
                ok = bool(np.allclose(got, want, rtol=2e-2, atol=5e-2))
                rows.append({"type": "check", "name": f"hash-overlap-m{mode}-g{G}-{'dot' if dot else 'alu'}",
                             "equal_numpy": ok})
    return rows


def _case(ctx, kern, a, b, mode, G, dot, nw, per_sm, K) -> dict:
    from gpu_micro3 import compiled_info

    torch, dev = ctx["torch"], ctx["device"]
    programs = ctx["sms"] * per_sm
    ctx["timer"].check()
    out = torch.empty(programs * BLK["BM"] * BLK["BN"], dtype=torch.float32, device=dev)
    args = hash_args(mode, K, G)

    def launch():
        return _launch(kern, a, b, out, programs, K, args, mode, G, dot, nw)
    info = compiled_info(launch(), nw, per_sm)
    secs = ctx["timer"](launch)
    return {"type": "hash-overlap", "name": f"hash-overlap-m{mode}-g{G}-{'dot' if dot else 'alu'}",
            "mode": mode, "index": MODES[mode], "starts_per_step": G, "dot": dot,
            "block": f"{BLK['BM']}x{BLK['BN']}x{BLK['BK']}", "dtype": str(ctx["tile_dtype"]), "num_warps": nw,
            "programs_per_sm": per_sm, "warps_per_sm": nw * per_sm, "K": K, "programs": programs,
            "seconds": secs, "seconds_per_iteration_per_sm": secs / (K * per_sm), **info}


def summary(rows) -> list[dict]:
    """``dot`` (MODE 0 with the dot), ``alu`` (MODE m without), ``both`` (MODE m with) per occupancy."""
    by = {(r["mode"], r["starts_per_step"], r["dot"], r["num_warps"], r["programs_per_sm"]):
          r["seconds_per_iteration_per_sm"] for r in rows if r.get("type") == "hash-overlap"}
    out = []
    for (mode, G, dot, nw, per_sm) in sorted(by):
        if mode == 0 or not dot:
            continue
        d, alu, both = by.get((0, 1, True, nw, per_sm)), by.get((mode, G, False, nw, per_sm)), by[
            (mode, G, True, nw, per_sm)]
        plain = by.get((0, 1, False, nw, per_sm))
        if d is None or alu is None:
            continue
        out.append({"type": "hash-overlap-summary", "name": f"hash-overlap-m{mode}-g{G}", "mode": mode,
                    "index": MODES[mode], "starts_per_step": G, "num_warps": nw, "programs_per_sm": per_sm,
                    "dot_s": d, "alu_s": alu, "both_s": both, "plain_alu_s": plain,
                    "both_over_max": both / max(d, alu), "both_over_sum": both / (d + alu),
                    "overlap_fraction": (d + alu - both) / min(d, alu)})
    return out


def hash_overlap_group(ctx, rows, modes=(0, 2, 8), groups=(1, 2), occupancy=((4, 1), (4, 2), (8, 1), (8, 2)),
                       K=256) -> None:
    """The group's timed rows and their summary (module notes)."""
    kern = _kernel()
    a, b = _operands(ctx)
    new: list[dict] = []
    for nw, per_sm in occupancy:
        for mode in modes:
            for G in (groups if mode else (1,)):
                for dot in (True, False):
                    new.append(_case(ctx, kern, a, b, mode, G, dot, nw, per_sm, K))
                    rows.append(new[-1])
                    ctx["save"]()
    rows += summary(new)
