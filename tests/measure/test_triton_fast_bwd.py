"""Table-driven ROAST-MM backward, HashedNet twins, train steps and RoastLinear (cachesim.measure).

The kernels run under Triton's CPU interpreter (``TRITON_INTERPRET=1``) at tiny shapes. References are
float64 numpy computations from the gathered dense weight ``W = memory[idx]``: ``Y = s X W``,
``dX = s dY W^T`` and ``grad[b] += s sum_{idx(k, n) = b} (X^T dY)_{kn}`` (``np.add.at``). The slots come
from ``roast_theory.hashes`` (the start table of ``"rz-aligned"``, the element slots of
``"hashednet-triton"`` / ``"hashednet-mulshift"``) and an independent numpy formula for the in-tile
offset. Memories are small so that tiles overlap, and every gradient buffer starts random and nonzero
(the kernels must add).

Two defects of the interpreter are patched for this module only (not the kernels): a ``tl.dot`` on
bfloat16 operands multiplies their raw uint16 bit patterns (the operands are widened to float32 here,
exactly), and triton 3.6 converts loop bounds with ``int()`` of a 1-element array, which numpy >= 2.4
refuses.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from cachesim.errors import CacheSimError
from cachesim.measure import triton_fast_bwd as fb

# must be set before triton is first imported in this process
os.environ.setdefault("TRITON_INTERPRET", "1")

torch = pytest.importorskip("torch")
hashes = pytest.importorskip("roast_theory.hashes")

TOL = {"fp32": 1e-4, "bf16": 1.5e-2}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
TILE = (16, 32)
CFG = fb.BwdConfig(block_m=16, group_m=2, num_warps=1, num_stages=1)


# ------------------------------------------------------------------------------------------ interpreter
def _patch_interpreter(mp):
    import triton.language as tl
    from triton.runtime import interpreter as interp

    create_dot = interp.InterpreterBuilder.create_dot

    def widen(h):
        if h.dtype != tl.bfloat16:
            return h
        data = interp._convert_float(h.data, tl.bfloat16, tl.float32, None).view(np.float32)
        return interp.TensorHandle(data, tl.float32)

    def dot(self, a, b, d, *args):
        return create_dot(self, widen(a), widen(b), d, *args)

    patch_tensor = interp._patch_lang_tensor

    def patch_lang_tensor(tensor, scope):
        patch_tensor(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(np.asarray(self.handle.data).reshape(-1)[0]))

    mp.setattr(interp.InterpreterBuilder, "create_dot", dot)
    mp.setattr(interp, "_patch_lang_tensor", patch_lang_tensor)


@pytest.fixture(scope="module")
def interp():
    pytest.importorskip("triton")
    if os.environ.get("TRITON_INTERPRET") != "1":  # pragma: no cover
        pytest.skip("TRITON_INTERPRET is not 1 in this process")
    mp = pytest.MonkeyPatch()
    _patch_interpreter(mp)
    yield
    mp.undo()


# ------------------------------------------------------------------------------------------ references
def _start_table(k, n, tile, memory, align, seed=0):
    fam = hashes.make_family("rz-aligned", seed, align=align)
    return hashes.tile_start_table(fam, k, n, tile, memory, np.int32)


def _roast_slots(starts, k, n, tile):
    """idx(k, n) = s(k // BK, n // BN) + (k mod BK) BN + (n mod BN), written out independently."""
    bk, bn = tile
    idx = np.empty((k, n), dtype=np.int64)
    for i in range(k):
        for j in range(n):
            idx[i, j] = starts[i // bk, j // bn] + (i % bk) * bn + (j % bn)
    return idx


def _f64(t):
    return t.detach().to(torch.float64).numpy()


def _reference(x, dy, memory, idx, scale, g0):
    x64, d64, w = _f64(x), _f64(dy), _f64(memory)[idx]
    grad = _f64(g0).copy()
    np.add.at(grad, idx.ravel(), (scale * x64.T @ d64).ravel())
    return scale * x64 @ w, scale * d64 @ w.T, grad


def _rel(got, ref):
    return float(np.linalg.norm(_f64(got) - ref) / np.linalg.norm(ref))


def _operands(m, k, n, memory, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    dt = DTYPES[dtype]
    return (torch.randn(m, k, generator=g).to(dt), torch.randn(m, n, generator=g).to(dt),
            torch.randn(memory, generator=g).to(dt), torch.randn(memory, generator=g))


# ------------------------------------------------------------------------------------------ ROAST
ROAST_CASES = [  # (M, K, N, block_k, split_m, prefetch)
    (32, 32, 64, None, 1, False),
    (24, 40, 70, None, 2, True),
    (32, 64, 64, 32, 1, False),
    (20, 50, 40, 32, 3, True),
]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("align", [1, 8, 64])
@pytest.mark.parametrize("case", ROAST_CASES)
def test_roast_passes_match_gathered_reference(interp, dtype, align, case):
    m, k, n, block_k, split_m, prefetch = case
    memory = TILE[0] * TILE[1] + 3 * 64  # 9+ tiles of 512 in 704 slots: tiles overlap heavily
    starts = _start_table(k, n, TILE, memory, align, seed=align + m)
    idx = _roast_slots(starts, k, n, TILE)
    x, dy, mem, g0 = _operands(m, k, n, memory, dtype, seed=k + n)
    cfg = fb.BwdConfig(block_m=16, block_k=block_k, group_m=2, split_m=split_m, num_warps=1, num_stages=1,
                       prefetch=prefetch)
    table = torch.as_tensor(starts)
    scale = 0.75
    fb.check_start_table(table, memory, k, n, TILE, align)
    y = fb.roast_forward(x, mem, table, n, TILE, align=align, scale=scale, config=cfg, ieee=True)
    dx = fb.roast_dx(dy, mem, table, k, TILE, align=align, scale=scale, config=cfg, ieee=True)
    grad = fb.roast_grad_memory(x, dy, table, g0.clone(), TILE, align=align, scale=scale, config=cfg,
                                ieee=True)
    y_ref, dx_ref, g_ref = _reference(x, dy, mem, idx, scale, g0)
    assert y.dtype == dx.dtype == DTYPES[dtype] and grad.dtype == torch.float32
    assert _rel(y, y_ref) < TOL[dtype]
    assert _rel(dx, dx_ref) < TOL[dtype]
    assert _rel(grad, g_ref) < TOL[dtype]
    # the buffer was ADDED to: its slots outside every tile keep their initial values exactly
    untouched = np.setdiff1d(np.arange(memory), idx)
    np.testing.assert_array_equal(_f64(grad)[untouched], _f64(g0)[untouched])


# ------------------------------------------------------------------------------------------ HashedNet
def _hashednet(variant, k, n, seed):
    kk, nn = np.arange(k)[:, None], np.arange(n)[None, :]
    if variant == "mulshift":
        memory = 256
        fam = hashes.make_family("hashednet-mulshift", seed)
        return memory, fam.element_slots(kk, nn, memory), {"mulshift": fam.r}
    memory = 301
    fam = hashes.make_family("hashednet-triton", seed)
    idx = fam.element_slots(kk, nn, memory)
    if variant == "hash":
        return memory, idx, {"params": fam.r}
    return memory, idx, {"index": torch.as_tensor(idx.astype(np.int32))}


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("variant", ["hash", "mulshift", "index"])
@pytest.mark.parametrize("shape", [(32, 32, 64), (24, 40, 70)])
def test_hashednet_passes_match_family_reference(interp, dtype, variant, shape):
    m, k, n = shape
    memory, idx, kw = _hashednet(variant, k, n, seed=m)
    x, dy, mem, g0 = _operands(m, k, n, memory, dtype, seed=n)
    scale = 1.25
    y = fb.hashednet_forward(x, mem, n, TILE, scale=scale, config=CFG, ieee=True, **kw)
    dx = fb.hashednet_dx(dy, mem, k, TILE, scale=scale, config=CFG, ieee=True, **kw)
    grad = fb.hashednet_grad_memory(x, dy, g0.clone(), TILE, scale=scale, config=CFG, ieee=True, **kw)
    y_ref, dx_ref, g_ref = _reference(x, dy, mem, idx, scale, g0)
    assert _rel(y, y_ref) < TOL[dtype]
    assert _rel(dx, dx_ref) < TOL[dtype]
    assert _rel(grad, g_ref) < TOL[dtype]


# ------------------------------------------------------------------------------------------ train steps
def _updated(mem, grad_ref, lr):
    return _f64(mem) - lr * grad_ref


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_roast_train_step_equals_reference_update(interp, dtype):
    m, k, n, align = 24, 40, 70, 8
    memory = 512 + 8 * 40
    starts = _start_table(k, n, TILE, memory, align, seed=5)
    idx = _roast_slots(starts, k, n, TILE)
    x, dy, mem, _ = _operands(m, k, n, memory, dtype, seed=3)
    before = mem.clone()
    buf = torch.randn(memory)  # stale values: the step must zero the buffer first
    y, dx, grad = fb.roast_train_step(x, mem, torch.as_tensor(starts), dy, 0.05, TILE, align=align,
                                      scale=0.5, grad_memory=buf, config=CFG, ieee=True)
    y_ref, dx_ref, g_ref = _reference(x, dy, before, idx, 0.5, torch.zeros(memory))
    assert grad is buf
    assert _rel(y, y_ref) < TOL[dtype] and _rel(dx, dx_ref) < TOL[dtype] and _rel(grad, g_ref) < TOL[dtype]
    new_ref = _updated(before, g_ref, 0.05)
    assert _rel(mem, new_ref) < (1e-6 if dtype == "fp32" else 1e-2)
    # the update moved memory by lr * grad (not a no-op: compared against the step size itself)
    assert np.linalg.norm(_f64(mem) - new_ref) < 0.1 * np.linalg.norm(0.05 * g_ref)


@pytest.mark.gpu
@pytest.mark.parametrize("variant", ["hash", "mulshift", "index"])
def test_hashednet_train_step_equals_reference_update(interp, variant):
    m, k, n = 24, 40, 70
    memory, idx, kw = _hashednet(variant, k, n, seed=11)
    x, dy, mem, _ = _operands(m, k, n, memory, "fp32", seed=4)
    before = mem.clone()
    y, dx, grad = fb.hashednet_train_step(x, mem, dy, 0.1, TILE, scale=2.0, config=CFG, ieee=True, **kw)
    y_ref, dx_ref, g_ref = _reference(x, dy, before, idx, 2.0, torch.zeros(memory))
    assert _rel(y, y_ref) < 1e-4 and _rel(dx, dx_ref) < 1e-4 and _rel(grad, g_ref) < 1e-4
    assert _rel(mem, _updated(before, g_ref, 0.1)) < 1e-6


@pytest.mark.gpu
def test_dense_train_step_equals_reference_update(interp):
    m, k, n = 24, 40, 70
    x, dy, _, _ = _operands(m, k, n, 1, "fp32", seed=6)
    w = torch.randn(k, n, generator=torch.Generator().manual_seed(1))
    before = w.clone()
    y, dx, grad = fb.dense_train_step(x, w, dy, 0.1, TILE, scale=1.5, config=CFG, ieee=True)
    idx = np.arange(k * n).reshape(k, n)
    y_ref, dx_ref, g_ref = _reference(x, dy, before.view(-1), idx, 1.5, torch.zeros(k * n))
    assert _rel(y, y_ref) < 1e-4 and _rel(dx, dx_ref) < 1e-4
    assert _rel(grad.view(-1), g_ref) < 1e-4
    assert _rel(w.view(-1), _f64(before).ravel() - 0.1 * g_ref) < 1e-6


@pytest.mark.gpu
def test_train_step_uses_the_given_forward(interp):
    k, n = 32, 64
    memory = 512 + 64
    table = torch.as_tensor(_start_table(k, n, TILE, memory, 64))
    x, dy, mem, _ = _operands(16, k, n, memory, "fp32", seed=0)
    calls = []

    def forward(x_, mem_, *, scale):
        calls.append((x_ is x, mem_ is mem, scale))
        return torch.zeros(x_.shape[0], n)

    y, _, _ = fb.roast_train_step(x, mem, table, dy, 0.1, TILE, align=64, scale=3.0, config=CFG,
                                  forward=forward)
    assert calls == [(True, True, 3.0)] and float(y.abs().sum()) == 0.0


def test_cublas_train_step_equals_reference_update():
    g = torch.Generator().manual_seed(2)
    x, dy = torch.randn(8, 5, generator=g, dtype=torch.float64), torch.randn(8, 3, generator=g,
                                                                             dtype=torch.float64)
    w = torch.nn.Parameter(torch.randn(3, 5, generator=g, dtype=torch.float64))
    w0 = w.detach().numpy().copy()
    y, dx, dw = fb.cublas_train_step(x, w, dy, 0.25)
    xn, dn = x.numpy(), dy.numpy()
    np.testing.assert_allclose(y.numpy(), xn @ w0.T, rtol=1e-12)
    np.testing.assert_allclose(dx.numpy(), dn @ w0, rtol=1e-12)
    np.testing.assert_allclose(dw.numpy(), dn.T @ xn, rtol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), w0 - 0.25 * dn.T @ xn, rtol=1e-12)


# ------------------------------------------------------------------------------------------ bad input
def _t(*shape, dtype=torch.float32):
    return torch.zeros(*shape, dtype=dtype)


@pytest.mark.parametrize("call, match", [
    (lambda: fb.roast_dx(_t(4, 64), _t(704), _t(2, 2, dtype=torch.int32), 32, TILE, align=3),
     r"align=3 must be one of \(1, 8, 64, 128, 256\)"),
    (lambda: fb.roast_dx(_t(4, 64), _t(500), _t(2, 2, dtype=torch.int32), 32, TILE),
     r"memory has 500 elements: must be in \[512, "),
    (lambda: fb.roast_dx(_t(4, 64), _t(704), _t(2, 3, dtype=torch.int32), 32, TILE),
     r"start_table has shape \(2, 3\): must be .* = \(2, 2\)"),
    (lambda: fb.roast_dx(_t(4, 64), _t(704), _t(2, 2, dtype=torch.int64), 32, TILE),
     r"start_table has dtype int64: must be one of int32"),
    (lambda: fb.roast_dx(_t(4, 64), _t(704, dtype=torch.bfloat16), _t(2, 2, dtype=torch.int32), 32, TILE),
     r"memory has dtype torch.bfloat16 but dy has torch.float32"),
    (lambda: fb.roast_dx(_t(4, 64), _t(704), _t(2, 2, dtype=torch.int32), 32, (16, 24)),
     r"tile\[1\] \(BN\)=24 must be a power of two >= 16"),
    (lambda: fb.roast_dx(_t(4, 64), _t(704), _t(2, 2, dtype=torch.int32), 32, 16),
     r"tile=16 must be a \(BK, BN\) pair"),
    (lambda: fb.roast_dx(_t(4, 64, dtype=torch.int32), _t(704), _t(2, 2, dtype=torch.int32), 32, TILE),
     r"dy has dtype int32: must be one of float32, bfloat16, float16"),
    (lambda: fb.roast_grad_memory(_t(4, 32), _t(4, 64), _t(2, 2, dtype=torch.int32),
                                  _t(704, dtype=torch.bfloat16), TILE),
     r"grad_memory has dtype bfloat16: must be one of float32"),
    (lambda: fb.roast_grad_memory(_t(4, 32), _t(5, 64), _t(2, 2, dtype=torch.int32), _t(704), TILE),
     r"dy has shape \(5, 64\): must have 4 rows like x"),
    (lambda: fb.roast_dx(_t(4, 64), _t(704), _t(2, 2, dtype=torch.int32), 32, TILE,
                         config=fb.BwdConfig(block_k=24)),
     r"block_k=24 must be a power of two"),
    (lambda: fb.hashednet_dx(_t(4, 64), _t(300), 32, TILE, params=(1, 2, 3), index=_t(32, 64)),
     r"give exactly one of params"),
    (lambda: fb.hashednet_dx(_t(4, 64), _t(300), 32, TILE, mulshift=(1, 3, 5)),
     r"memory has 300 elements: mulshift needs a power of two"),
    (lambda: fb.hashednet_dx(_t(4, 64), _t(300), 32, TILE, params=(1, 2, 2038074743)),
     r"params\[2\] \(R3\)=2038074743 must be an integer in \[0, 2038074742\]"),
    (lambda: fb.sgd_update(_t(10), _t(10), float("nan")), r"lr=nan must be a finite real number"),
    (lambda: fb.BwdConfig(split_m=0), r"split_m=0 must be an integer >= 1"),
    (lambda: fb.cublas_train_step(_t(4, 5), _t(3, 5), _t(4, 3), 0.1), r"weight must be a leaf tensor"),
])
def test_bad_input_names_value_and_range(call, match):
    with pytest.raises(CacheSimError, match=match):
        call()


def test_check_start_table_reads_values():
    good = torch.tensor([[0, 64], [128, 192]], dtype=torch.int32)
    fb.check_start_table(good, 704, 32, 64, TILE, 64)
    with pytest.raises(CacheSimError, match=r"start 200: starts must be in \[0, 192\] \(memory=704"):
        fb.check_start_table(good + 8, 704, 32, 64, TILE, 8)
    with pytest.raises(CacheSimError, match=r"start 72: starts must be multiples of align=64"):
        fb.check_start_table(torch.tensor([[0, 72], [128, 192]], dtype=torch.int32), 704, 32, 64, TILE, 64)
    with pytest.raises(CacheSimError, match=r"memory=300 must be an integer in \[512, "):
        fb.check_start_table(good, 300, 32, 64, TILE, 1)


# ------------------------------------------------------------------------------------------ RoastLinear
def _roast_linear():
    from cachesim.measure import roast_linear

    return roast_linear


def _fast_configs():
    tf = pytest.importorskip("cachesim.measure.triton_fast")
    return (tf.FastConfig(block_m=16, block_n=32, block_k=16, group_m=2, num_warps=1, num_stages=1),)


def _dense_reference(layer, x, c):
    """float64 gathered-dense twin of ``layer``: values and gradients of ``sum(c * (x W + b))``."""
    mem = layer.memory_param.detach().to(torch.float64).requires_grad_(True)
    x64 = x.detach().to(torch.float64).requires_grad_(True)
    idx = torch.as_tensor(_roast_slots(layer.start_table.numpy(), layer.in_features, layer.out_features,
                                       layer.tile))
    y = x64 @ (layer.scale * mem[idx])
    b = None
    if layer.bias is not None:
        b = layer.bias.detach().to(torch.float64).requires_grad_(True)
        y = y + b
    (y * c.to(torch.float64)).sum().backward()
    return y.detach().numpy(), x64.grad.numpy(), mem.grad.numpy(), None if b is None else b.grad.numpy()


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("forward_kernel", ["auto", "reference"])
def test_roast_linear_autograd_matches_gathered_dense(interp, monkeypatch, dtype, forward_kernel):
    rl = _roast_linear()
    k, n, memory = 32, 64, 512 + 8 * 24
    layer = rl.RoastLinear(k, n, memory, tile=TILE, align=8, seed=3, bias=True, dtype=DTYPES[dtype],
                           config=CFG, fwd_configs=_fast_configs(), forward_kernel=forward_kernel, ieee=True)
    with torch.no_grad():
        layer.bias.copy_(torch.linspace(-1, 1, n))
    tf = pytest.importorskip("cachesim.measure.triton_fast")
    calls = []
    fast = tf.fast_matmul
    monkeypatch.setattr(tf, "fast_matmul", lambda *a, **kw: calls.append(1) or fast(*a, **kw))
    g = torch.Generator().manual_seed(9)
    x = torch.randn(2, 16, k, generator=g).to(DTYPES[dtype]).requires_grad_(True)
    c = torch.randn(2, 16, n, generator=g)
    y = layer(x)
    (y.float() * c).sum().backward()
    y_ref, dx_ref, dm_ref, db_ref = _dense_reference(layer, x, c)
    assert len(calls) == (1 if forward_kernel == "auto" else 0)
    assert y.shape == (2, 16, n) and x.grad.shape == x.shape
    assert _rel(y, y_ref) < TOL[dtype]
    assert _rel(x.grad, dx_ref) < TOL[dtype]
    assert layer.memory_param.grad.dtype == DTYPES[dtype]
    assert _rel(layer.memory_param.grad, dm_ref) < TOL[dtype]
    assert _rel(layer.bias.grad, db_ref) < TOL[dtype]


@pytest.mark.gpu
def test_roast_linear_shared_memory_gradients_add(interp):
    rl = _roast_linear()
    from roast_theory.torch_layers import SharedMemory

    shared = SharedMemory(512 + 64 * 2, seed=1)
    a = rl.RoastLinear(40, 70, shared, tile=TILE, align=64, seed=1, config=CFG, ieee=True)
    dw = fb.BwdConfig(block_m=16, block_k=32, group_m=2, split_m=2, num_warps=1, num_stages=1)
    b = rl.RoastLinear(70, 48, shared, tile=TILE, align=64, seed=2, config=CFG, dw_config=dw, ieee=True)
    x = torch.randn(12, 40, generator=torch.Generator().manual_seed(0))
    out = b(a(x))
    out.square().sum().backward()
    mem = shared.weight.detach().to(torch.float64).requires_grad_(True)
    ia = torch.as_tensor(a.slot_index())
    ib = torch.as_tensor(b.slot_index())
    ref = (x.double() @ (a.scale * mem[ia])) @ (b.scale * mem[ib])
    ref.square().sum().backward()
    assert _rel(out.detach(), ref.detach().numpy()) < 1e-4
    assert _rel(shared.weight.grad, mem.grad.numpy()) < 1e-4


def test_roast_linear_slots_are_the_families():
    rl = _roast_linear()
    layer = rl.RoastLinear(40, 70, 512 + 8 * 30, tile=TILE, align=8, seed=4)
    starts = hashes.tile_start_table(hashes.make_family("rz-aligned", 4, align=8), 40, 70, TILE, 752)
    np.testing.assert_array_equal(layer.start_table.numpy(), starts)
    np.testing.assert_array_equal(layer.slot_index(), _roast_slots(starts, 40, 70, TILE))
    assert layer.start_table.dtype == torch.int32 and np.all(starts % 8 == 0)
    # init scale of a dense layer: lambda * 0.04 = 1 / sqrt(fan_in)
    assert layer.scale * 0.04 == pytest.approx(40 ** -0.5)
    w = layer.gathered_weight()
    assert w.shape == (40, 70) and w.requires_grad


@pytest.mark.parametrize("kwargs, match", [
    (dict(memory=700, align=3), r"align=3 must be one of \(1, 8, 64, 128, 256\)"),
    (dict(memory=512), r"memory=512 must be an integer in \[513, "),
    (dict(memory=700, align=64), r"memory=700: align=64 must divide memory - BK\*BN = 188"),
    (dict(memory=704, dtype=torch.float64), r"dtype=torch.float64 must be float32, bfloat16 or float16"),
    (dict(memory=704, tile=(16, 20)), r"tile\[1\] \(BN\)=20 must be a power of two"),
    (dict(memory="704"), r"memory has type str: must be an int"),
    (dict(memory=704, forward_kernel="fast"), r"forward_kernel='fast' must be 'auto', 'reference' or 'tma'"),
    (dict(memory=704, forward_kernel="tma", align=8), r"forward_kernel='tma' needs align == tile\[1\]"),
    (dict(memory=704, tma_configs=[1]), r"tma_configs=\[1\] must be a dict"),
])
def test_roast_linear_bad_input(kwargs, match):
    rl = _roast_linear()
    kwargs = dict(dict(tile=TILE), **kwargs)
    with pytest.raises(CacheSimError, match=match):
        rl.RoastLinear(32, 64, kwargs.pop("memory"), **kwargs)


def test_roast_linear_bad_x():
    rl = _roast_linear()
    layer = rl.RoastLinear(32, 64, 704, tile=TILE, align=64)
    with pytest.raises(CacheSimError, match=r"x has shape \(4, 31\): its last dimension must be "
                                            r"in_features=32"):
        layer(torch.zeros(4, 31))
    with pytest.raises(CacheSimError, match=r"x is torch.bfloat16 on cpu: must be torch.float32"):
        layer(torch.zeros(4, 32, dtype=torch.bfloat16))


# ------------------------------------------------------------------------------------------ step cases
@pytest.mark.gpu
@pytest.mark.parametrize("dtype, fast", [("float32", False), ("bfloat16", True)])
def test_train_step_cases_check_against_float64(interp, dtype, fast):
    from cachesim.measure import triton_fast_steps as ts

    dw = None if fast else fb.BwdConfig(block_m=16, block_k=32, group_m=2, split_m=2, num_warps=1,
                                        num_stages=1)
    fwd = _fast_configs()[0] if fast else None
    cases = ts.train_step_cases(32, 32, 64, 1024, tile=TILE, align=8, dtype=dtype, device="cpu", seed=2,
                                lr=0.1, fwd_config={"roast": fwd, "hashednet-hash": fwd} if fast else None,
                                bwd_config=CFG, dw_config=dw)
    assert sorted(cases) == ["cublas", "hashednet-hash", "hashednet-mulshift", "hashednet-table",
                             "roast-a8", "roast-autograd-a8", "triton-dense"]
    errors = ts.check_train_steps(cases)
    tol = 1e-5 if dtype == "float32" else ts.TOLERANCE[dtype]
    for name, err in errors.items():
        assert set(err) == {"y", "dx", "grad", "updated"}
        assert max(err.values()) < tol, (name, err)
    # a second step starts from the updated parameters and still matches
    again = ts.check_train_steps({"roast-a8": cases["roast-a8"]})
    assert max(again["roast-a8"].values()) < tol


def test_train_step_cases_bad_input():
    from cachesim.measure import triton_fast_steps as ts

    with pytest.raises(CacheSimError, match=r"dtype='float64' must be"):
        ts.train_step_cases(16, 32, 64, 1024, tile=TILE, dtype="float64", device="cpu")
    with pytest.raises(CacheSimError, match=r"holds 'modulo': choose from"):
        ts.train_step_cases(16, 32, 64, 1024, tile=TILE, dtype="float32", device="cpu",
                            hashednet=("hash", "modulo"))


# ------------------------------------------------------------------------------------------ compiled code
_COMPILE = """
import re
from cachesim.measure import triton_fast_bwd as fb
cfg = fb.BwdConfig(block_m=128, block_k=64, group_m=8, split_m=1, num_warps=4, num_stages=3)
pf = fb.BwdConfig(block_m=128, block_k=64, group_m=8, split_m=1, num_warps=4, num_stages=3, prefetch=True)
for pass_, kind, align, c in [("dw", "roast", 8, cfg), ("dw", "roast", 1, cfg),
                              ("dw", "hashednet-hash", 1, cfg), ("dx", "roast", 64, cfg),
                              ("dx", "roast", 1, cfg), ("dx", "roast", 8, pf)]:
    ptx = fb.compile_offline(pass_, kind, (32, 64), c, align=align).asm["ptx"]
    atoms = sorted(set(re.findall(r"atom[.]global[.][a-z0-9.]+", ptx)))
    scalar_w = len(re.findall(r"ld[.]global[.]b16", ptx))
    plain_starts = len(re.findall(r"ld[.]global[.]nc[.]b32", ptx))
    print(pass_, kind, align, ",".join(atoms) or "-", scalar_w, plain_starts)
"""


@pytest.mark.gpu
@pytest.mark.slow
def test_compiled_hopper_code_uses_vector_tile_atomics_and_loads():
    """sm_90 code, compiled on the CPU: ROAST adds aligned tiles with 16-byte vector atomics and loads
    aligned tiles without 2-byte scalar loads; align 1 and HashedNet fall back to scalar ones."""
    pytest.importorskip("triton")
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, "-c", _COMPILE], env=env, capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0 and "ptxas" in proc.stderr.lower():  # pragma: no cover
        pytest.skip(f"no usable ptxas here: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {tuple(line.split()[:3]): line.split()[3:] for line in proc.stdout.splitlines()}
    assert rows[("dw", "roast", "8")][0] == "atom.global.gpu.relaxed.add.v4.f32"
    assert rows[("dw", "roast", "1")][0] == "atom.global.gpu.relaxed.add.f32"
    assert rows[("dw", "hashednet-hash", "1")][0] == "atom.global.gpu.relaxed.add.f32"
    assert rows[("dx", "roast", "64")][1] == "0" and int(rows[("dx", "roast", "1")][1]) > 0
    # prefetch: the starts are plain non-coherent loads, the tile loads stay vectorised
    assert rows[("dx", "roast", "8")][1] == "0" and int(rows[("dx", "roast", "8")][2]) > 0
    assert rows[("dx", "roast", "64")][2] == "0"


@pytest.mark.gpu
def test_offline_and_warmup_bad_input(interp):
    with pytest.raises(CacheSimError, match=r"kind='roastz' must be one of"):
        fb.warmup("roastz", TILE, CFG)
    with pytest.raises(CacheSimError, match=r"pass_='bwd' must be one of"):
        fb.compile_offline("bwd", "roast", TILE, CFG)
    with pytest.raises(CacheSimError, match=r"TRITON_INTERPRET is set"):
        fb.compile_offline("dx", "roast", TILE, CFG)


def test_bwd_configs_keep_what_fits():
    # shared memory per stage: dX (block_m + block_k) * BN, gradient block_m * (block_k + BN), bf16
    big = fb.BwdConfig(256, 64, 8, 1, 8, 3, prefetch=True)  # dX (64, 256): 3 * 320 * 256 * 2 B = 480 KiB
    small = fb.BwdConfig(64, 64, 8, 1, 8, 3)  # dX (64, 256): 3 * 128 * 256 * 2 B = 192 KiB
    narrow = fb.BwdConfig(128, 32, 8, 1, 4, 3)  # block_k 32 cannot hold whole (64, *) tiles
    fat = fb.BwdConfig(64, 128, 8, 1, 4, 2)  # gradient acc 128 x 256 fp32 over 128 threads: 256 each
    cands = (big, small, narrow, fat)
    assert fb.bwd_configs("dx", (64, 256), configs=cands) == (small, fat)  # dX acc 64 x 128: fits
    assert fb.bwd_configs("dw", (64, 256), configs=cands) == (small,)
    assert fb.bwd_configs("dx", (32, 64), configs=cands) == (big, small, narrow, fat)
    assert fb.bwd_configs("dw", (32, 64), configs=cands) == (small, narrow, fat)  # prefetch: dX only
    for tile in ((32, 64), (64, 128), (64, 256)):
        assert fb.bwd_configs("dx", tile) and fb.bwd_configs("dw", tile)
    with pytest.raises(CacheSimError, match=r"pass_='fwd' must be 'dx' or 'dw'"):
        fb.bwd_configs("fwd", (32, 64))


@pytest.mark.gpu
def test_tune_backward_times_every_fitting_config(interp):
    from cachesim.measure import triton_fast_steps as ts

    tiny = (fb.BwdConfig(16, 16, 2, 1, 1, 1), fb.BwdConfig(16, 32, 2, 2, 1, 1, prefetch=True),
            fb.BwdConfig(32, 32, 2, 1, 1, 1))
    calls = []

    def bench(fn):
        fn()
        calls.append(1)
        return float(len(calls))  # later configs "slower": the first fitting one wins

    res = ts.tune_backward(32, 32, 64, 1024, bench, tile=TILE, align=8, dtype="float32", device="cpu",
                           kinds=("roast", "dense", "hashednet-mulshift"), configs=tiny)
    assert set(res) == {"roast", "dense", "hashednet-mulshift"}
    assert len(res["roast"]["dx"]["all"]) == 3 and res["roast"]["dx"]["best"] == tiny[0]
    assert len(res["roast"]["dw"]["all"]) == 2  # prefetch variant dropped for the gradient pass
    assert [c for c, _ in res["dense"]["dw"]["all"]] == [tiny[0].to_dict(), tiny[2].to_dict()]  # split 1
    assert all(isinstance(ms, float) for r in res.values() for p in r.values() for _, ms in p["all"])
