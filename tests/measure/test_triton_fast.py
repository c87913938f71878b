"""Fast forward kernel template (``cachesim.measure.triton_fast``): every variant against float64.

The kernels run under Triton's CPU interpreter (``TRITON_INTERPRET=1``) at tiny shapes in fp32 with exact
(ieee) products. References: ``W = M[idx]`` with ``idx`` built from the ``roast_theory.hashes`` family
(``tile_start_table`` / ``element_slots``), not from the kernel. bf16 is checked on the device only (the
interpreter's bf16 dot is unreliable).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from cachesim.errors import CacheSimError
from cachesim.measure import triton_fast as tf

os.environ.setdefault("TRITON_INTERPRET", "1")

torch = pytest.importorskip("torch")
hashes = pytest.importorskip("roast_theory.hashes")


@pytest.fixture
def interp():
    """Triton interpreter, with scalar ``__index__`` working on numpy >= 2.4 (1-element arrays)."""
    pytest.importorskip("triton")
    if os.environ.get("TRITON_INTERPRET") != "1":  # pragma: no cover
        pytest.skip("TRITON_INTERPRET is not 1 in this process")
    import triton.runtime.interpreter as ti

    orig = ti._patch_lang_tensor

    def patched(tensor, scope):
        orig(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

    ti._patch_lang_tensor = patched
    yield
    ti._patch_lang_tensor = orig


def _by_hand_roast_index(w: tf.FastWeight, k: int, n: int) -> np.ndarray:
    """Index from the per-tile formula with Python ints (independent of the table code)."""
    bk, bn = w.tile
    r1, r2, r3, r4, r5, _r6, r7 = hashes.make_family("rz-stable", w.seed).r
    p = hashes.P_STABLE
    n_starts = (w.memory - bk * bn) // w.align
    idx = np.empty((k, n), dtype=np.int64)
    for kb in range(k // bk):
        for nb in range(n // bn):
            raw = ((kb * r3 + nb * r2 + r1) % p) * p + (kb * r7 + nb * r5 + r4) % p
            s = w.align * (raw % n_starts)
            idx[kb * bk:(kb + 1) * bk, nb * bn:(nb + 1) * bn] = s + np.arange(bk * bn).reshape(bk, bn)
    return idx


CASES = [
    # (weight, config, K, N)
    (tf.FastWeight("dense", "dense"), tf.FastConfig(16, 32, 16, 2, 1, 1), 48, 64),
    (tf.FastWeight("roast", "table", 4096 + 512, (16, 32), 8, 3), tf.FastConfig(16, 32, 32, 2, 1, 1), 64, 96),
    (tf.FastWeight("roast", "table", 4096 + 7, (16, 32), 1, 4), tf.FastConfig(16, 32, 16, 2, 1, 1), 48, 64),
    (tf.FastWeight("roast", "table-pf", 4096 + 512, (16, 32), 8, 3), tf.FastConfig(16, 32, 32, 2, 1, 1),
     64, 96),
    (tf.FastWeight("roast", "table-pf", 4096 + 7, (16, 32), 1, 4), tf.FastConfig(16, 32, 16, 2, 1, 1),
     48, 64),
    (tf.FastWeight("roast", "table-pf", 4096 + 64, (16, 32), 64 // 2, 4, prefetch=2),
     tf.FastConfig(16, 32, 32, 2, 1, 1), 96, 64),
    (tf.FastWeight("roast", "table-pf", 4096 + 8, (16, 32), 8, 5, prefetch=3),
     tf.FastConfig(16, 32, 16, 2, 1, 1), 80, 64),
    (tf.FastWeight("roast", "hash", 8192 + 1024, (16, 64), 64, 5), tf.FastConfig(32, 64, 16, 1, 1, 1),
     32, 128),
    (tf.FastWeight("roast", "hash", 4096 + 99, (16, 32), 1, 6), tf.FastConfig(16, 32, 32, 2, 1, 1), 64, 64),
    (tf.FastWeight("roast", "hash32", 4096 + 99, (16, 32), 1, 6), tf.FastConfig(16, 32, 32, 2, 1, 1), 64, 64),
    (tf.FastWeight("roast", "hash32", 8192 + 1024, (16, 64), 64, 5), tf.FastConfig(32, 64, 16, 1, 1, 1),
     32, 128),
    (tf.FastWeight("hashednet", "hash", 999, seed=7), tf.FastConfig(16, 32, 16, 2, 1, 1), 48, 64),
    (tf.FastWeight("hashednet", "mulshift", 1024, seed=8), tf.FastConfig(16, 32, 16, 2, 1, 1), 48, 64),
    (tf.FastWeight("hashednet", "table", 1000, seed=9), tf.FastConfig(16, 32, 16, 2, 1, 1), 48, 64),
    (tf.FastWeight("hashednet", "arith-only", 1000, seed=9), tf.FastConfig(16, 32, 16, 2, 1, 1), 48, 64),
]


@pytest.mark.gpu
@pytest.mark.parametrize("w, cfg, k, n", CASES, ids=[c[0].name for c in CASES])
def test_variant_equals_float64_reference(interp, w, cfg, k, n):
    m = 32
    g = torch.Generator().manual_seed(w.seed + 100)
    x = torch.randn(m, k, generator=g)
    dense_b = w.scheme == "dense" or w.index == "arith-only"
    b = torch.randn(k, n, generator=g) if dense_b else torch.randn(w.memory, generator=g)
    idx = w.slot_index(k, n)
    if w.scheme == "roast":
        np.testing.assert_array_equal(idx, _by_hand_roast_index(w, k, n))
        assert np.all(idx[:, ::w.tile[1]] % w.align == 0)
    wmat = b.double() if dense_b else b.double()[torch.as_tensor(idx)]
    ref = 0.75 * x.double() @ wmat
    prep = w.prepare(k, n)
    out = torch.full((m, n), float("nan"))
    y = tf.fast_matmul(x, b, prep, cfg, scale=0.75, ieee=True, out=out)
    assert torch.isfinite(y).all()
    assert float((y.double() - ref).norm() / ref.norm()) < 1e-5
    want = np.arange(k * n).reshape(k, n) if dense_b else idx
    np.testing.assert_array_equal(tf.kernel_index(prep, cfg), want)
    gi = tf.gather_index(w, k, n)
    if not dense_b:
        yg = tf.gather_matmul(x.double(), b.double(), gi, scale=0.75)
        assert float((yg - ref).norm() / ref.norm()) < 1e-12


@pytest.mark.gpu
def test_arith_only_hash_is_live(interp):
    """zscale != 0 adds the folded hash sum: the hash is really computed (not dropped)."""
    w = tf.FastWeight("hashednet", "arith-only", 1000, seed=9)
    cfg = tf.FastConfig(16, 32, 16, 2, 1, 1)
    x, b = torch.randn(16, 32), torch.randn(32, 32)
    prep = w.prepare(32, 32)
    y0 = tf.fast_matmul(x, b, prep, cfg, ieee=True)
    y1 = tf.fast_matmul(x, b, prep, cfg, ieee=True, zscale=1.0)
    hsum = w.slot_index(32, 32)[:, :].astype(np.int64).reshape(2, 16, 32)
    # one program per output block; its k-loop folds the (16 x 32) hash blocks of both k-steps
    want = float(hsum.sum())
    np.testing.assert_allclose((y1 - y0).numpy(), want, rtol=1e-5)


@pytest.mark.parametrize("call, match", [
    (lambda: tf.FastWeight("roast", "mulshift", 5000), "is not a variant"),
    (lambda: tf.FastWeight("roast", "table", 2048, (32, 64), 8), "memory=2048 must exceed"),
    (lambda: tf.FastWeight("roast", "table", 2048 + 100, (32, 64), 8), "align=8 does not divide the span"),
    (lambda: tf.FastWeight("roast", "table", 4096, (32, 64), 3), "align=3 must be a power of two"),
    (lambda: tf.FastWeight("roast", "table", 8192, (32, 64), 128), "align=128 must be <= BN=64"),
    (lambda: tf.FastWeight("roast", "table", 8192, 64, 8), "tile=64 must be a \\(BK, BN\\) pair"),
    (lambda: tf.FastWeight("hashednet", "mulshift", 1000), "memory=1000 must be a power of two"),
    (lambda: tf.FastWeight("hashednet", "hash", 0), "memory=0"),
    (lambda: tf.FastConfig(100, 64, 32), "block_m=100 must be a power of two"),
    (lambda: tf.FastWeight("roast", "table-pf", 8192, (32, 64), 8, prefetch=4), "prefetch=4"),
    (lambda: tf.FastWeight("roast", "table-pf", 8192, (16, 64), 8).configs((tf.FastConfig(16, 64, 64),))
     or tf.FastWeight("roast", "nope"), "is not a variant"),
    (lambda: tf.FastWeight("roast", "table", 8192, (32, 64), 8).prepare(48, 64),
     "not covered by whole tiles"),
])
def test_bad_input(call, match):
    with pytest.raises(CacheSimError, match=match):
        call()


def test_configs_cover_whole_tiles_and_bad_launch():
    w = tf.FastWeight("roast", "table", 1 << 20, (32, 64), 8)
    cfgs = w.configs()
    assert cfgs and all(c.block_n == 64 and c.block_k % 32 == 0 for c in cfgs)
    assert len(tf.FastWeight("hashednet", "hash", 1000).configs()) == len(tf.CONFIGS)
    prep = w.prepare(256, 256)
    x = torch.randn(128, 256)
    b = torch.randn(1 << 20)
    with pytest.raises(CacheSimError, match="does not cover whole ROAST tiles"):
        tf.fast_matmul(x, b, prep, tf.FastConfig(128, 128, 64))
    with pytest.raises(CacheSimError, match="M=100 is not a multiple of the block 128"):
        tf.fast_matmul(torch.randn(100, 256), b, prep, tf.FastConfig(128, 64, 64))
    with pytest.raises(CacheSimError, match="b has shape"):
        tf.fast_matmul(x, torch.randn(5), prep, tf.FastConfig(128, 64, 64))


# ------------------------------------------------------------------------------ device driver helpers


def test_loop_mix_reads_both_sass_listings(load_driver):
    g = load_driver("gpu_fast")
    cuobjdump = """
        /*0100*/                   MOV R1, c[0x0][0x28] ;
        /*0110*/                   LDGSTS.E.BYPASS.128 [R2], desc[UR4][R4.64] ;
        /*0120*/                   HGMMA.64x128x16.F32.BF16 R24, gdesc[UR8], R24 ;
        /*0130*/                   IMAD R5, R5, 0x2, RZ ;
        /*0140*/              @P0 BRA 0x110 ;
        /*0150*/                   EXIT ;
"""
    assert g.loop_mix(cuobjdump) == {"LDGSTS.E.BYPASS.128": 1, "HGMMA.64x128x16.F32.BF16": 1, "IMAD": 1,
                                     "BRA": 1}
    triton_form = "--:-:-:-:2\tMOV R1, c[0x0][0x28];\nLBB0:\n01:-:-:-:1\tLDG.E.U16 R3, desc[UR4][R6.64];\n" \
                  "--:-:-:-:1\tSTS.U16 [R7], R3;\n--:-:-:-:5\t@P1 BRA LBB0;\n--:-:-:Y:0\tEXIT;\n"
    assert g.loop_mix(triton_form) == {"LDG.E.U16": 1, "STS.U16": 1, "BRA": 1}
    assert g.loop_mix("no loop here") == {}


def test_memories_are_powers_of_two_at_the_compressions(load_driver):
    g = load_driver("gpu_fast")
    for _, k, n in g.SHAPES.values():
        for mem, c in zip(g.memories(k, n), g.COMPRESSIONS):
            assert mem & (mem - 1) == 0 and mem <= k * n // c < 2 * mem


def test_fast_md_tables_match_the_records(load_driver):
    """measurements/gpu/FAST.md holds the tables drivers/fast_report.py makes from the records."""
    from pathlib import Path

    r = load_driver("fast_report")
    fast = (Path(__file__).resolve().parents[2] / "measurements" / "gpu" / "FAST.md").read_text()
    final = r.load("call9_final", "gpu_fast_focus.json")
    for table in (*r.tma_sections(), r.forward_table(final, 0), r.forward_table(final, 1),
                  r.train_table(r.load("call11_train_graph", "gpu_fast_train.json")),
                  r.ncu_table(r.load("call8_focus", "gpu_fast_focus.json"), "bert-ffn1"), r.sass_table()):
        assert table in fast
