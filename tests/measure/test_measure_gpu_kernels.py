"""Fused Triton kernels (dense / ROAST-MM / HashedNet): hash formulas, correctness, input checks.

The kernels run under Triton's CPU interpreter (``TRITON_INTERPRET=1``) at tiny shapes; the same checks
ran on the H200 (``measurements/gpu``). Index arrays computed inside the kernels are compared with
``roast_theory.hashes`` (an independent implementation of the kernel formulas). bf16 is not checked here:
the interpreter computes bf16 dot products wrongly (``tl.dot`` on bf16 operands returns values of order
1e10 under TRITON_INTERPRET=1 in triton 3.9); on the GPU bf16 passed (records).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachesim.errors import CacheSimError
from cachesim.measure import triton_kernels as tk

# must be set before cachesim.measure._triton_jit (and so triton.jit) is first imported in this process
os.environ.setdefault("TRITON_INTERPRET", "1")

torch = pytest.importorskip("torch")
hashes = pytest.importorskip("roast_theory.hashes")


def _need_triton():
    pytest.importorskip("triton")
    if os.environ.get("TRITON_INTERPRET") != "1":  # pragma: no cover
        pytest.skip("TRITON_INTERPRET is not 1 in this process")


TINY = tk.TileConfig(block_m=16, block_n=32, block_k=16, group_m=2, num_warps=1, num_stages=1)


# ------------------------------------------------------------------------------ formulas (no triton)
def test_param_draw_is_the_hashes_family_draw():
    for seed in (0, 1, 7, 123):
        assert tk.KernelHash.random("roast", 5000, seed).params == hashes.make_family("rz-stable", seed).r
        assert tk.KernelHash.random("hashednet", 5000, seed).params == \
            hashes.make_family("hashednet-triton", seed).r


def test_from_family_round_trip():
    fam = hashes.make_family("rz-stable", 3)
    h = tk.KernelHash.from_family(fam, 4096)
    assert h.method == "roast" and h.params == fam.r and h.prime == 45007
    with pytest.raises(CacheSimError, match="family 'ideal'"):
        tk.KernelHash.from_family(hashes.make_family("ideal", 0), 10)


def _hashes_roast(k, n, bk, bn, h):
    fam = hashes.make_family("rz-stable", 0)
    fam = type(fam)(r=h.params)
    kb, nb = np.meshgrid(np.arange(-(-k // bk)), np.arange(-(-n // bn)), indexing="ij")
    starts = fam.tile_starts(kb, nb, h.m_slots - bk * bn)
    kk, nn = np.arange(k), np.arange(n)
    return starts[kk // bk][:, nn // bn] + ((kk % bk) * bn)[:, None] + (nn % bn)[None, :]


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 70), n=st.integers(1, 70), bk=st.sampled_from([16, 32]),
       bn=st.sampled_from([16, 32, 64]), extra=st.integers(1, 5000), seed=st.integers(0, 2**31))
def test_roast_reference_equals_hashes(k, n, bk, bn, extra, seed):
    h = tk.KernelHash.random("roast", bk * bn + extra, seed)
    ref = tk.roast_index_reference(k, n, bk, bn, h.params, h.m_slots)
    np.testing.assert_array_equal(ref, _hashes_roast(k, n, bk, bn, h))
    assert ref.min() >= 0 and ref.max() < h.m_slots
    # every tile row is contiguous: consecutive n in one tile -> consecutive slots
    inner = (np.arange(n - 1) % bn) != bn - 1
    assert np.all(np.diff(ref, axis=1)[:, inner] == 1)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 50), n=st.integers(1, 50), m=st.integers(1, 10**7), seed=st.integers(0, 2**31))
def test_hashednet_reference_equals_python_ints_and_hashes(k, n, m, seed):
    h = tk.KernelHash.random("hashednet", m, seed)
    r1, r2, r3 = h.params
    ref = tk.hashednet_index_reference(k, n, h.params, m)
    brute = np.array([[((i * r1 + j * r2 + r3) % 2038074743) % m for j in range(n)] for i in range(k)])
    np.testing.assert_array_equal(ref, brute.reshape(k, n))
    fam = type(hashes.make_family("hashednet-triton", 0))(r=h.params)
    k2, n2 = np.meshgrid(np.arange(k), np.arange(n), indexing="ij")
    np.testing.assert_array_equal(ref, fam.element_slots(k2, n2, m))


def test_aligned_reference_rounds_starts():
    h = tk.KernelHash.random("roast", 5000, 4)
    exact = tk.roast_index_reference(64, 96, 16, 32, h.params, 5000)
    aligned = tk.roast_index_reference(64, 96, 16, 32, h.params, 5000, align=16)
    d = exact - aligned
    assert np.all((d >= 0) & (d < 16)) and np.all(aligned[::16, ::32] % 16 == 0)


# ------------------------------------------------------------------------------------- input checks
@pytest.mark.parametrize("kwargs, msg", [
    (dict(block_m=48), "block_m=48 must be a power of two >= 16"),
    (dict(block_k=8), "block_k=8 must be a power of two >= 16"),
    (dict(num_warps=3), "num_warps=3 must be a power of two"),
    (dict(group_m=0), "group_m=0 must be an integer >= 1"),
    (dict(num_stages=True), "num_stages=True must be an integer"),
])
def test_tile_config_rejects(kwargs, msg):
    with pytest.raises(CacheSimError, match=msg):
        tk.TileConfig(**kwargs)


def test_kernel_hash_rejects():
    with pytest.raises(CacheSimError, match=r"method='lsh' must be one of"):
        tk.KernelHash("lsh")
    with pytest.raises(CacheSimError, match="params has 3 values: method='roast' needs 7"):
        tk.KernelHash("roast", (1, 2, 3), 100)
    with pytest.raises(CacheSimError, match=r"params\[1\] \(R2\)=45007 must be in \[0, 45006\]"):
        tk.KernelHash("roast", (1, 45007, 3, 4, 5, 6, 7), 100)
    with pytest.raises(CacheSimError, match="m_slots=0 must be an integer >= 1"):
        tk.KernelHash("hashednet", (1, 2, 3), 0)
    with pytest.raises(CacheSimError, match="m_slots=512 must exceed the tile size"):
        tk.KernelHash.random("roast", 512, 0).span(TINY)


def test_matmul_rejects_bad_operands():
    _need_triton()
    h = tk.KernelHash.random("roast", 900, 0)
    x = torch.randn(16, 32)
    with pytest.raises(CacheSimError, match=r"shared array has shape \(800,\): must be \(900,\)"):
        tk.matmul(x, torch.randn(800), h, TINY, out=torch.empty(16, 32))
    with pytest.raises(CacheSimError, match="out=None: hashed methods need"):
        tk.matmul(x, torch.randn(900), h, TINY)
    with pytest.raises(CacheSimError, match="b has dtype torch.float64: must be torch.float32"):
        tk.matmul(x, torch.randn(900, dtype=torch.float64), h, TINY, out=torch.empty(16, 32))
    with pytest.raises(CacheSimError, match="dense needs"):
        tk.matmul(x, torch.randn(31, 16), tk.KernelHash.dense(), TINY)
    with pytest.raises(CacheSimError, match="grad must be a contiguous float32"):
        tk.matmul_db(x, torch.randn(16, 32), h, torch.zeros(900, dtype=torch.float64), TINY)


# ---------------------------------------------------------------------------- kernels (interpreter)
@pytest.mark.parametrize("method", ["roast", "hashednet", "roast_aligned", "dense"])
@pytest.mark.parametrize("k, n", [(48, 96), (40, 70)])
def test_kernel_index_equals_cpu_formula(method, k, n):
    _need_triton()
    h = tk.KernelHash.random(method, 1500, 11)
    got = tk.kernel_index(h, k, n, TINY)
    if method == "roast":
        want = _hashes_roast(k, n, TINY.block_k, TINY.block_n, h)
    elif method == "roast_aligned":
        want = tk.roast_index_reference(k, n, TINY.block_k, TINY.block_n, h.params, 1500, align=16)
    elif method == "hashednet":
        fam = type(hashes.make_family("hashednet-triton", 0))(r=h.params)
        want = fam.element_slots(*np.meshgrid(np.arange(k), np.arange(n), indexing="ij"), 1500)
    else:
        want = np.arange(k * n).reshape(k, n)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("method, shape", [("dense", (32, 48, 96)), ("dense", (20, 40, 70)),
                                           ("roast", (20, 40, 70)), ("hashednet", (20, 40, 70))])
def test_check_case_passes(method, shape):
    """Uneven shapes exercise the masked edge tiles; the interpreter's fp32 products are exact fp32."""
    _need_triton()
    from cachesim.measure import gpu

    case = gpu.GemmCase(*shape, m_slots=1200, precision="fp32", tile=TINY, seed=5)
    r = gpu.check_case(case, method, device="cpu")
    assert r["index_match"]
    # fp32 products in the interpreter: errors are fp32 rounding, far under the tf32 tolerance
    assert max(r["err_fwd"], r["err_dx"], r["err_db"]) < 1e-5, r
    assert r["passed"]


def test_roast_backward_adds_one_tile_block_per_tile():
    """dM of one ROAST tile lands in exactly its contiguous block and is ADDED to what was there."""
    _need_triton()
    h = tk.KernelHash.random("roast", 2000, 2)
    k, n, m = 16, 32, 16  # a single tile
    x, dy = torch.randn(m, k), torch.randn(m, n)
    grad = torch.full((2000,), 0.5)
    tk.matmul_db(x, dy, h, grad, TINY, scale=2.0, ieee=True)
    s = int(tk.roast_index_reference(k, n, 16, 32, h.params, 2000)[0, 0])
    block = (2.0 * x.double().T @ dy.double()).reshape(-1)
    expect = torch.full((2000,), 0.5, dtype=torch.float64)
    expect[s:s + k * n] += block
    torch.testing.assert_close(grad.double(), expect, rtol=1e-5, atol=1e-5)


def test_rel_error_flags_unwritten_output():
    from cachesim.measure import gpu

    ref = torch.randn(4, 4)
    out = ref.clone()
    out[1, 2] = float("nan")
    assert gpu.rel_error(out, ref) == float("inf")
    assert gpu.rel_error(ref, ref) == 0.0


def test_wrong_hash_is_caught():
    """The check is able to fail: a kernel run with another seed's parameters does not match."""
    _need_triton()
    h_right = tk.KernelHash.random("roast", 1500, 1)
    h_wrong = tk.KernelHash.random("roast", 1500, 2)
    assert not np.array_equal(tk.kernel_index(h_wrong, 48, 96, TINY),
                              tk.roast_index_reference(48, 96, 16, 32, h_right.params, 1500))


@pytest.mark.parametrize("impl", ["cublas_dense", "triton_dense", "triton_roast", "triton_hashednet",
                                  "gather_roast", "gather_hashednet"])
def test_time_case_runs_every_implementation(impl, monkeypatch):
    """time_case's forward and training step of each implementation run (interpreter, CPU); the timer is
    replaced by two calls of the timed function."""
    _need_triton()
    from cachesim.measure.gpu import timing

    calls = []

    def bench(fn, warmup=None, reps=None, **_):
        calls.append(fn)
        fn()
        fn()
        return 1.0

    monkeypatch.setattr(timing, "_bench", bench)
    case = timing.GemmCase(16, 32, 32, 700, "fp32", TINY, seed=1)
    res = timing.time_case(case, impl, device="cpu", lr=0.5)
    assert res["fwd_ms"] == res["train_ms"] == 1.0 and len(calls) == 2
    assert res["timer"] == "do_bench" and res["source"]
    with pytest.raises(CacheSimError, match="impl='nope'"):
        timing.time_case(case, "nope", device="cpu")
