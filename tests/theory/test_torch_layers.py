"""Hashed torch layers: forward = x @ (numpy gather), gradient = numpy scatter (np.add.at), input errors."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roast_theory.errors import RoastTheoryError

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from roast_theory import torch_layers as tl  # noqa: E402


def _hashed(cls, k, n, memory, rng, *, scale=1.0, signed=True):
    idx = rng.integers(0, memory.memory, size=(k, n))
    sgn = rng.choice([-1, 1], size=(k, n)) if signed else None
    return cls(k, n, memory, idx, sgn, scale=scale), idx, sgn


def _np_weight(mem, idx, sgn, scale):
    """Independent gather: W[i, j] = scale * sign[i, j] * mem[idx[i, j]] by explicit loops."""
    k, n = idx.shape
    w = np.empty((k, n))
    for i in range(k):
        for j in range(n):
            w[i, j] = scale * (1.0 if sgn is None else sgn[i, j]) * mem[idx[i, j]]
    return w


def _np_scatter(memory, idx, sgn, scale, grad_w):
    out = np.zeros(memory)
    g = grad_w * scale * (1.0 if sgn is None else sgn)
    np.add.at(out, idx.ravel(), g.ravel())
    return out


@pytest.mark.parametrize("cls_name", ["HashedNetLinear", "RoastLinear", "HashedLinear"])
@pytest.mark.parametrize("signed", [True, False])
def test_forward_equals_numpy_gather_matmul(cls_name, signed):
    rng = np.random.default_rng(1)
    mem = tl.SharedMemory(37, seed=3, dtype="float64")
    layer, idx, sgn = _hashed(getattr(tl, cls_name), 12, 5, mem, rng, scale=1.7, signed=signed)
    x = rng.standard_normal((4, 12))
    y = layer(torch.from_numpy(x)).detach().numpy()
    w = _np_weight(mem.weight.detach().numpy(), idx, sgn, 1.7)
    np.testing.assert_allclose(y, x @ w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.gathered_weight().detach().numpy(), w, rtol=1e-14)


def test_roast_tile_index_reads_contiguous_rows():
    """A hand-built ROAST index (tile start + row-major offset) gathers contiguous slices of M."""
    rng = np.random.default_rng(2)
    bk, bn, memory = 4, 8, 100
    k, n = 8, 16
    starts = rng.integers(0, memory - bk * bn, size=(k // bk, n // bn))
    kk, nn_ = np.meshgrid(np.arange(k), np.arange(n), indexing="ij")
    idx = starts[kk // bk, nn_ // bn] + (kk % bk) * bn + (nn_ % bn)
    mem = tl.SharedMemory(memory, seed=0, dtype="float64")
    layer = tl.RoastLinear(k, n, mem, idx)
    w = layer.gathered_weight().detach().numpy()
    m = mem.weight.detach().numpy()
    s = starts[1, 0]
    np.testing.assert_array_equal(w[bk:2 * bk, :bn].ravel(), m[s:s + bk * bn])


@pytest.mark.parametrize("signed", [True, False])
def test_memory_gradient_is_numpy_scatter(signed):
    rng = np.random.default_rng(4)
    mem = tl.SharedMemory(23, seed=1, dtype="float64")
    layer, idx, sgn = _hashed(tl.HashedNetLinear, 10, 6, mem, rng, scale=0.6, signed=signed)
    x = rng.standard_normal((7, 10))
    g_out = rng.standard_normal((7, 6))
    y = layer(torch.from_numpy(x))
    (y * torch.from_numpy(g_out)).sum().backward()
    grad_w = x.T @ g_out  # dL/dW for L = sum(g_out * (x W))
    expect = _np_scatter(23, idx, sgn, 0.6, grad_w)
    np.testing.assert_allclose(mem.weight.grad.numpy(), expect, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), g_out.sum(0), rtol=1e-12)


def test_gradient_accumulates_across_layers_sharing_memory():
    rng = np.random.default_rng(5)
    mem = tl.SharedMemory(31, seed=2, dtype="float64")
    l1, i1, s1 = _hashed(tl.RoastLinear, 8, 6, mem, rng, scale=2.0)
    l2, i2, s2 = _hashed(tl.RoastLinear, 6, 3, mem, rng, scale=0.5)
    model = torch.nn.Sequential(l1, l2)
    assert sum(p.numel() for p in model.parameters()) == 31 + 6 + 3  # the memory is counted once
    x = rng.standard_normal((5, 8))
    g_out = rng.standard_normal((5, 3))
    h = x @ _np_weight(mem.weight.detach().numpy(), i1, s1, 2.0)
    w2 = _np_weight(mem.weight.detach().numpy(), i2, s2, 0.5)
    out = model(torch.from_numpy(x))
    np.testing.assert_allclose(out.detach().numpy(), h @ w2, rtol=1e-12, atol=1e-12)
    (out * torch.from_numpy(g_out)).sum().backward()
    grad_w2 = h.T @ g_out
    grad_w1 = x.T @ (g_out @ w2.T)
    expect = _np_scatter(31, i1, s1, 2.0, grad_w1) + _np_scatter(31, i2, s2, 0.5, grad_w2)
    np.testing.assert_allclose(mem.weight.grad.numpy(), expect, rtol=1e-11, atol=1e-12)


def test_local_memories_get_separate_gradients():
    rng = np.random.default_rng(6)
    m1 = tl.SharedMemory(11, seed=1, dtype="float64")
    m2 = tl.SharedMemory(7, seed=2, dtype="float64")
    l1, i1, s1 = _hashed(tl.HashedNetLinear, 4, 3, m1, rng)
    l2, i2, s2 = _hashed(tl.HashedNetLinear, 3, 2, m2, rng)
    x = torch.from_numpy(rng.standard_normal((2, 4)))
    l2(l1(x)).sum().backward()
    assert m1.weight.grad.shape == (11,) and m2.weight.grad.shape == (7,)
    w2 = _np_weight(m2.weight.detach().numpy(), i2, s2, 1.0)
    grad_w1 = x.numpy().T @ (np.ones((2, 2)) @ w2.T)
    np.testing.assert_allclose(m1.weight.grad.numpy(), _np_scatter(11, i1, s1, 1.0, grad_w1), rtol=1e-12)


def test_set_index_changes_the_hash():
    rng = np.random.default_rng(7)
    mem = tl.SharedMemory(19, seed=0, dtype="float64")
    layer, _, _ = _hashed(tl.HashedNetLinear, 5, 4, mem, rng)
    idx = rng.integers(0, 19, size=(5, 4))
    sgn = rng.choice([-1, 1], size=(5, 4))
    layer.set_index(idx.ravel(), sgn)
    np.testing.assert_allclose(layer.gathered_weight().detach().numpy(),
                               _np_weight(mem.weight.detach().numpy(), idx, sgn, 1.0))
    with pytest.raises(RoastTheoryError, match="sign"):
        layer.set_index(idx, None)


def test_from_mapping_duck_typed():
    class FakeMapping:
        index = np.arange(12) % 5
        sign = np.ones(12)

    mem = tl.SharedMemory(5, seed=0, dtype="float64")
    layer = tl.RoastLinear.from_mapping(FakeMapping(), 3, 4, mem, scale=3.0)
    assert layer.sign is None  # all-ones sign is dropped
    np.testing.assert_allclose(layer.gathered_weight().detach().numpy().ravel(),
                               3.0 * mem.weight.detach().numpy()[np.arange(12) % 5])
    with pytest.raises(RoastTheoryError, match="mapping"):
        tl.RoastLinear.from_mapping(object(), 3, 4, mem)


def test_dense_linear_and_module_scale():
    layer = tl.DenseLinear(6, 3, seed=0, dtype="float64")
    x = torch.randn(2, 6, dtype=torch.float64)
    np.testing.assert_allclose(layer(x).detach().numpy(), x.numpy() @ layer.weight.detach().numpy())
    assert tl.module_scale(100, 0.04) == pytest.approx(0.1 / 0.04)
    with pytest.raises(RoastTheoryError, match="in_features=0"):
        tl.module_scale(0)


def test_memory_init_statistics():
    mem = tl.SharedMemory(200_000, init_std=0.04, seed=9)
    v = mem.weight.detach().double().numpy()
    se_var = 0.04**2 * np.sqrt(2 / v.size)
    assert abs(v.mean()) < 5 * 0.04 / np.sqrt(v.size)
    assert abs(v.var() - 0.04**2) < 5 * se_var


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(index=np.full((4, 3), 9)), r"index contains 9: .*\[0, 8\]"),
        (dict(index=np.full((4, 3), -1)), "index contains -1"),
        (dict(index=np.zeros((4, 3)) + 0.5), "index has dtype float64"),
        (dict(index=np.zeros((3, 4), dtype=int)), r"index has shape \(3, 4\)"),
        (dict(sign=np.full((4, 3), 2)), "sign contains 2"),
        (dict(sign=np.ones((4, 2))), r"sign has shape \(4, 2\)"),
        (dict(memory="M"), "memory has type str"),
        (dict(scale=float("nan")), "scale=nan"),
    ],
)
def test_constructor_errors_name_the_argument(kwargs, match):
    mem = tl.SharedMemory(9, seed=0)
    args = dict(in_features=4, out_features=3, memory=mem, index=np.zeros((4, 3), dtype=int), sign=None)
    args.update(kwargs)
    with pytest.raises(RoastTheoryError, match=match):
        tl.HashedNetLinear(args.pop("in_features"), args.pop("out_features"), args.pop("memory"),
                           args.pop("index"), args.pop("sign"), **args)


def test_forward_errors_name_the_argument():
    mem = tl.SharedMemory(9, seed=0)
    layer = tl.RoastLinear(4, 3, mem, np.zeros((4, 3), dtype=int))
    with pytest.raises(RoastTheoryError, match=r"x has shape \(2, 5\).*in_features=4"):
        layer(torch.zeros(2, 5))
    with pytest.raises(RoastTheoryError, match="x has dtype torch.float64"):
        layer(torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(RoastTheoryError, match="x has type ndarray"):
        layer(np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(RoastTheoryError, match="memory=0"):
        tl.SharedMemory(0)
    with pytest.raises(RoastTheoryError, match="dtype='int8'"):
        tl.SharedMemory(4, dtype="int8")


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 9), n=st.integers(1, 9), memory=st.integers(1, 40), batch=st.integers(1, 4),
       seed=st.integers(0, 2**31 - 1), scale=st.floats(-4, 4, allow_nan=False))
def test_property_forward_and_grad_match_numpy(k, n, memory, batch, seed, scale):
    rng = np.random.default_rng(seed)
    mem = tl.SharedMemory(memory, seed=seed % 1000, dtype="float64")
    layer, idx, sgn = _hashed(tl.HashedNetLinear, k, n, mem, rng, scale=scale)
    x = rng.standard_normal((batch, k))
    y = layer(torch.from_numpy(x))
    w = _np_weight(mem.weight.detach().numpy(), idx, sgn, scale)
    np.testing.assert_allclose(y.detach().numpy(), x @ w, rtol=1e-10, atol=1e-12)
    y.sum().backward()
    expect = _np_scatter(memory, idx, sgn, scale, x.T @ np.ones((batch, n)))
    np.testing.assert_allclose(mem.weight.grad.numpy(), expect, rtol=1e-10, atol=1e-12)
    # total gradient mass: sum_b grad[b] = scale * sum_i g_i (x^T 1)_i
    assert np.isclose(mem.weight.grad.sum().item(), (scale * sgn * (x.T @ np.ones((batch, n)))).sum())


def test_package_imports_without_torch_loaded():
    code = ("import sys, roast_theory, roast_theory.torch_layers as t; "
            "assert 'torch' not in sys.modules, 'torch imported eagerly'; t.module_scale(4); "
            "assert 'sympy' not in sys.modules, 'sympy imported eagerly'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shared_memory_from_tensor_shares_storage():
    values = torch.linspace(-1, 1, 10, dtype=torch.float64)
    mem = tl.SharedMemory.from_tensor(values)
    assert mem.memory == 10 and mem.weight.data_ptr() == values.data_ptr()
    layer = tl.HashedLinear(2, 3, mem, np.arange(6).reshape(2, 3) % 10, scale=2.0)
    expect = 2.0 * values.numpy()[:6].reshape(2, 3)
    np.testing.assert_allclose(layer.gathered_weight().detach().numpy(), expect)
    with pytest.raises(RoastTheoryError, match=r"values has shape \(2, 5\)"):
        tl.SharedMemory.from_tensor(values.view(2, 5))
    with pytest.raises(RoastTheoryError, match="values has dtype torch.int64"):
        tl.SharedMemory.from_tensor(torch.arange(4))


@pytest.mark.parametrize("kind", ["element", "tile"])
def test_layer_from_mapping_matches_mapping_recover(kind):
    """The layer's gathered weight equals roast_theory.mappings' recover(M) (an independent gather)."""
    from roast_theory.mappings import ElementMapping, TileMapping

    if kind == "element":
        mp = ElementMapping((16, 8), 40, seed=3)
    else:
        mp = TileMapping((16, 8), 40, tile=(4, 4), placement="kernel", sign="element", seed=3)
    mem = tl.SharedMemory(40, seed=1, dtype="float64")
    layer = tl.RoastLinear.from_mapping(mp, 16, 8, mem, scale=0.7)
    w_hat = 0.7 * mp.recover(mem.weight.detach().numpy())
    np.testing.assert_allclose(layer.gathered_weight().detach().numpy(), w_hat, rtol=1e-14)
    x = np.random.default_rng(0).standard_normal((3, 16))
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(), x @ w_hat, rtol=1e-12, atol=1e-14)
    # sketch -> layer: a memory holding S u reads back lambda * S^T S u
    u = np.random.default_rng(1).standard_normal((16, 8))
    with torch.no_grad():
        mem.weight.copy_(torch.from_numpy(mp.sketch(u)))
    np.testing.assert_allclose(layer.gathered_weight().detach().numpy(), 0.7 * mp.recover(mp.sketch(u)))
