"""The analytic path plans without the slot / tile-start tables and gives exactly the old numbers."""

import pytest

from cachesim.errors import CacheSimError
from cachesim.kernels import gemm_gpu, plan_gemm, predict, simulate_gemm_gpu
from cachesim.kernels.analytic import analytic_gemm

CASES = [("dense", "256x512x512", None, "fp32"), ("roast", "512x1024x768", 65536, "bf16"),
         ("hashednet", "512x1024x768", 65536, "bf16"), ("hashednet", "256x512x1024", 4096, "fp32"),
         ("roast", "256x512x1024", 8192, "fp16")]


@pytest.mark.parametrize("kernel,shape,memory,dtype", CASES)
@pytest.mark.parametrize("backward", [False, True])
def test_analytic_without_tables_equals_with_tables(kernel, shape, memory, dtype, backward):
    kw = dict(block="128x64x32", backward=backward, dtype=dtype, memory=memory)
    full = plan_gemm(kernel, shape, **kw)
    lean = plan_gemm(kernel, shape, **kw, tables=False)
    assert lean.slots is None and lean.starts is None
    if kernel != "dense":
        assert full.slots is not None or full.starts is not None
    assert analytic_gemm(lean) == analytic_gemm(full)
    assert analytic_gemm(kernel=kernel, shape=shape, **kw) == analytic_gemm(full)


@pytest.mark.parametrize("kernel,shape,memory,dtype", CASES)
@pytest.mark.parametrize("index", [None, "hash"])
def test_predict_analytic_equals_the_table_route(monkeypatch, kernel, shape, memory, dtype, index):
    if index is not None and kernel == "dense":
        pytest.skip("no index path on the dense kernel")
    kw = dict(dtype=dtype, memory=memory, analytic=True, index=index)
    fast = predict(kernel, shape, **kw).to_dict()
    # the route before: prediction imports plan_gemm at call time, and every plan built its tables
    orig, built = gemm_gpu.plan_gemm, []

    def plan_with_tables(*a, tables=True, **k):
        built.append(tables)
        return orig(*a, **k, tables=True)

    monkeypatch.setattr(gemm_gpu, "plan_gemm", plan_with_tables)
    slow = predict(kernel, shape, **kw).to_dict()
    assert built == [False] * len(built) and built  # the fast route asked for no table; this one built it
    assert fast == slow


class _NoTableFamily:
    """A family whose tables must never be built."""

    def element_slots(self, k, n, m):
        raise AssertionError("the analytic path built the HashedNet slot table")

    def tile_starts(self, kb, nb, span):
        raise AssertionError("the analytic path built the ROAST tile-start table")


@pytest.mark.parametrize("kernel", ["roast", "hashednet"])
def test_analytic_builds_no_table(kernel):
    fam = _NoTableFamily()
    p = predict(kernel, "512x1024x768", dtype="bf16", memory=65536, family=fam, analytic=True)
    assert p.predicted_time_s > 0
    with pytest.raises(AssertionError):
        predict(kernel, "512x1024x768", dtype="bf16", memory=65536, family=fam)


def test_simulation_refuses_a_plan_without_tables():
    plan = plan_gemm("hashednet", "256x512x512", memory=4096, tables=False)
    with pytest.raises(CacheSimError, match="tables=False"):
        simulate_gemm_gpu(plan)
    with pytest.raises(CacheSimError, match="tables="):
        plan_gemm("hashednet", "256x512x512", memory=4096, tables=1)
