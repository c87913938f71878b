"""TMA kernels (``cachesim.measure.triton_tma``): forward, dX and weight gradient against float64.

Run under Triton's CPU interpreter (``TRITON_INTERPRET=1``) at tiny shapes in fp32. References come from
the slot index of the ``roast_theory.hashes`` family (``FastWeight.slot_index``, not the kernel's code;
``test_triton_fast`` checks that index against the start formula written out by hand), then
``W = M[idx]``; bf16 and the speed are checked on the device (``drivers/gpu_tma.py``).
"""

from __future__ import annotations

import os

import pytest

from cachesim.errors import CacheSimError
from cachesim.measure import triton_fast as tf
from cachesim.measure import triton_tma as tt

os.environ.setdefault("TRITON_INTERPRET", "1")

torch = pytest.importorskip("torch")
hashes = pytest.importorskip("roast_theory.hashes")

K, N, M_ROWS, MEMORY, TILE = 128, 256, 64, 4096, (32, 64)


@pytest.fixture(autouse=True)
def _needs_triton():
    pytest.importorskip("triton")
    pytest.importorskip("triton.tools.tensor_descriptor")


def _weights():
    return [tf.FastWeight("dense", "dense", tile=TILE),
            tf.FastWeight("roast", "table", MEMORY, TILE, TILE[1], seed=3),
            tf.FastWeight("roast", "hash32", MEMORY, TILE, TILE[1], seed=3)]


def _operands(w, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(M_ROWS, K, generator=g)
    dy = torch.randn(M_ROWS, N, generator=g)
    if w.scheme == "dense":
        b = torch.randn(K, N, generator=g)
        wmat = b.double()
    else:
        b = torch.randn(MEMORY, generator=g)
        wmat = b.double()[torch.as_tensor(w.slot_index(K, N))]
    return x, dy, b, wmat


def _rel(got, ref):
    return float((got.double() - ref).norm() / ref.norm())


FWD = (tt.TmaConfig(32, 64, 32, 2, 4, 2), tt.TmaConfig(32, 64, 32, 2, 4, 2, persistent=True),
       tt.TmaConfig(16, 64, 32, 2, 4, 2, persistent=True, flatten=True))
DX = (tt.TmaConfig(32, 32, 64, 2, 4, 2), tt.TmaConfig(32, 64, 64, 2, 4, 2),
      tt.TmaConfig(16, 64, 64, 2, 4, 2, persistent=True))


@pytest.mark.parametrize("wi", range(3))
def test_forward_and_dx_equal_the_gathered_weight(wi):
    w = _weights()[wi]
    prep = w.prepare(K, N)
    x, dy, b, wmat = _operands(w, wi)
    fwd = tt.tma_configs(prep, candidates=FWD)
    dxc = tt.tma_configs(prep, transpose=True, candidates=DX)
    assert len(fwd) == len(dxc) == 3
    for cfg in fwd:
        y = tt.tma_matmul(x, b, prep, cfg, scale=0.5, num_sms=3)
        assert _rel(y, 0.5 * x.double() @ wmat) < 1e-5, cfg.label()
    for cfg in dxc:
        dx = tt.tma_matmul(dy, b, prep, cfg, scale=0.5, transpose=True, num_sms=3)
        assert _rel(dx, 0.5 * dy.double() @ wmat.t()) < 1e-5, cfg.label()


@pytest.mark.parametrize("wi", range(3))
@pytest.mark.parametrize("split", (1, 2))
def test_weight_gradient_adds_tilewise_into_the_store(wi, split):
    w = _weights()[wi]
    prep = w.prepare(K, N)
    x, dy, _b, _ = _operands(w, 10 + wi)
    g_kn = 0.25 * x.double().t() @ dy.double()
    if w.scheme == "dense":
        grad, ref = torch.zeros(K, N), g_kn
    else:
        idx = torch.as_tensor(w.slot_index(K, N)).reshape(-1)
        grad = torch.zeros(MEMORY)
        ref = torch.zeros(MEMORY, dtype=torch.float64).index_add_(0, idx, g_kn.reshape(-1))
    tt.tma_grad(x, dy, grad, prep, scale=0.25, block_m=16, split_m=split)
    assert _rel(grad, ref) < 1e-5
    tt.tma_grad(x, dy, grad, prep, scale=0.25, block_m=16, split_m=split)  # accumulates
    assert _rel(grad, 2 * ref) < 1e-5


def test_launch_reuses_descriptors_and_keeps_the_compiled_kernel():
    w = _weights()[2]
    prep = w.prepare(K, N)
    x, _dy, b, wmat = _operands(w, 7)
    out = torch.empty(M_ROWS, N)
    run = tt.tma_launch(x, b, prep, FWD[0], out=out)
    assert run.compiled is None and run() is out
    assert _rel(out, x.double() @ wmat) < 1e-5


def _bad_cases():
    roast = _weights()[1]
    prep = roast.prepare(K, N)
    x, dy, b, _ = _operands(roast)
    a8 = tf.FastWeight("roast", "table", MEMORY, TILE, 8, seed=3).prepare(K, N)
    mod = tf.FastWeight("roast", "hash", MEMORY, TILE, TILE[1], seed=3).prepare(K, N)
    hn = tf.FastWeight("hashednet", "hash", MEMORY).prepare(K, N)
    return [
        (lambda: tt.TmaConfig(32, 64, 32, 2, 4, 2, flatten=True), "need persistent=True"),
        (lambda: tt.TmaConfig(32, 64, 32, 2, 4, 2, persistent=1), "persistent=1 must be True or False"),
        (lambda: tt.TmaConfig(32, 512, 32), "block_n=512"),
        (lambda: tt.tma_matmul(x, b, a8, FWD[0]), "align=8 must equal BN=64"),
        (lambda: tt.tma_matmul(x, b, mod, FWD[0]), "index='hash'"),
        (lambda: tt.tma_matmul(x, b, hn, FWD[0]), "scheme='hashednet'"),
        (lambda: tt.tma_matmul(x, b, prep, tt.TmaConfig(32, 128, 32, 2, 4, 2)),
         "must have \\(block_n, block_k\\)"),
        (lambda: tt.tma_matmul(x, b, prep, tt.TmaConfig(128, 64, 32)), "M=64 is not a multiple"),
        (lambda: tt.tma_matmul(dy, b, prep, tt.TmaConfig(32, 64, 64, 2, 4, 2, True, False, True),
                               transpose=True), "warp_specialize with a dX block two tiles wide"),
        (lambda: tt.tma_matmul(x, b[:-64], prep, FWD[0]), "b has shape"),
        (lambda: tt.tma_matmul(x.double(), b, prep, FWD[0]), "dtype|float64"),
        (lambda: tt.tma_matmul(dy, b, prep, FWD[0]), "must have 128 columns"),
        (lambda: tt.tma_matmul(x, b, "prep", FWD[0]), "prep has type str"),
        (lambda: tt.tma_matmul(x, b, prep, tf.FastConfig()), "must be a TmaConfig"),
        (lambda: tt.tma_grad(x, dy, torch.zeros(MEMORY, dtype=torch.float64), prep), "float32 tensor"),
        (lambda: tt.tma_grad(x, dy, torch.zeros(MEMORY), prep, block_m=48), "block_m=48"),
        (lambda: tt.tma_grad(x, dy, torch.zeros(MEMORY), prep, block_m=64, split_m=2), "multiples of"),
        (lambda: tt.tma_grad(x, dy, torch.zeros(MEMORY), a8), "align == BN"),
    ]


@pytest.mark.parametrize("i", range(18))
def test_bad_input_is_a_clear_error(i):
    fn, match = _bad_cases()[i]
    with pytest.raises(CacheSimError, match=match):
        fn()


def test_roast_linear_on_tma_kernels_matches_the_gathered_weight():
    """``RoastLinear(forward_kernel="tma")``: forward, dX and the memory's gradient through autograd equal
    the same layer computed on its gathered dense weight (a float64 autograd reference)."""
    from cachesim.measure.roast_linear import RoastLinear

    layer = RoastLinear(K, N, MEMORY, tile=TILE, align=TILE[1], seed=3, bias=True, forward_kernel="tma")
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 32, K, generator=g).requires_grad_(True)
    c = torch.randn(2, 32, N, generator=g)
    (layer(x) * c).sum().backward()
    mem = layer.memory_param.detach().double().requires_grad_(True)
    x64 = x.detach().double().requires_grad_(True)
    w = tf.FastWeight("roast", "table", MEMORY, TILE, TILE[1], seed=3)
    idx = torch.as_tensor(w.slot_index(K, N))
    y_ref = x64 @ (layer.scale * mem[idx])
    (y_ref * c.double()).sum().backward()
    assert _rel(layer(x).detach(), y_ref.detach()) < 1e-5
    assert _rel(x.grad, x64.grad) < 1e-5
    assert _rel(layer.memory_param.grad, mem.grad) < 1e-5
    assert set(layer._tma_choices) == {("forward", 64), ("dx", 64)}


def test_roast_linear_tma_errors_name_the_problem():
    from cachesim.measure.roast_linear import RoastLinear

    layer = RoastLinear(K, N, MEMORY, tile=TILE, align=TILE[1], forward_kernel="tma")
    with pytest.raises(CacheSimError, match="M=8 rows must be a multiple of 16|no forward configuration"):
        layer(torch.randn(8, K)).sum().backward()
