"""The pure-Python parts of the microbenchmark driver drivers/gpu_micro3.py (its kernels run on the GPU), and
its CPU dry run under Triton's interpreter (skipped without Triton)."""

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "drivers" / "gpu_micro3.py"
HAVE_TRITON = importlib.util.find_spec("triton") is not None


@pytest.fixture(scope="module")
def micro3(load_driver):
    return load_driver("gpu_micro3")


def test_stream_slices_are_whole_steps_near_the_target(micro3):
    for target, programs, step in [(8 << 20, 528, 4096), (24 << 20, 264, 8192), (2 << 30, 1056, 2048)]:
        slice_, total = micro3.stream_layout(target, programs, step)
        assert slice_ % step == 0 and slice_ > 0 and total == slice_ * programs
        assert abs(4 * total - target) <= 4 * programs * step / 2  # rounded to the nearest whole step
    assert micro3.stream_layout(1024, 100, 4096) == (4096, 409600)  # at least one step per program


def test_plans_stay_small(micro3):
    smoke, full = micro3.plan(True), micro3.plan(False)
    assert set(smoke) == set(full) == set(micro3.GROUPS) == set(micro3.CHECKS)
    assert max(full["l2"]["sizes"]) <= 2 << 30
    assert max(full["tile_align"]["log2_sizes"]) <= 25  # 64 MiB of bf16
    assert sorted(full["tile_align"]["aligns"]) == [1, 8, 64]
    assert sorted(full["overlap"]["x_list"]) == [0, 4, 16, 64]
    assert max(smoke["tile_align"]["log2_sizes"]) <= 12 and smoke["overlap"]["K"] <= 4


def test_hash_chain_matches_scalar_arithmetic_and_reaches_the_sign_bit(micro3):
    bk, bn, seed, k, x_ops = 2, 4, 977, 5, 16
    bits = np.zeros((1, bk, bn), dtype=np.uint16)

    def to_float(u16):  # identity on bit patterns: the reference returns the flipped bits themselves
        return u16.astype(np.float64)
    a = np.eye(1)
    got = micro3.overlap_reference(a, (bits, to_float), 1, k + 1, seed, 0xFFFF, x_ops, False)
    # acc summed over steps 0..k; recompute step by step in plain Python integers
    want = np.zeros((bk, bn))
    for step in range(k + 1):
        for i in range(bk * bn):
            h = (i + step * seed) % 2**32
            for _ in range(x_ops // 2):
                h = (h * 0x2C1B3C6D + (h >> 16)) % 2**32
            want.flat[i] += h >> 16
    assert np.array_equal(got[0], want)


def test_chain_changes_the_checked_product(micro3):
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 1 << 14, size=(micro3.NB, 4, 8)).astype(np.uint16)  # positive fp16 patterns

    def to_float(u16):
        return u16.view(np.float16).astype(np.float64)
    a = rng.standard_normal((3, 4))
    r0 = micro3.overlap_reference(a, (bits, to_float), 2, 3, 977, micro3.SIGN, 0, True)
    r4 = micro3.overlap_reference(a, (bits, to_float), 2, 3, 977, micro3.SIGN, 4, True)
    assert not np.allclose(r0, r4, rtol=2e-2, atol=5e-2)  # a kernel that skipped the chain fails its check


def test_tile_reference_starts_on_align_multiples(micro3):
    bk, bn, memory = 2, 4, 64
    m = np.arange(memory + bk * bn, dtype=np.float64)
    a = np.ones((1, bk))
    out = micro3.tile_reference(a, m, 1, 1, 8, memory - 1, bk, bn)
    st = (0 * micro3.SMUL) & (memory - 1)  # program 0, step 0: start 0
    assert np.array_equal(out[0, 0], m[st:st + bn] + m[st + bn:st + 2 * bn])
    out = micro3.tile_reference(a, m, 2, 1, 8, memory - 1, bk, bn)
    st = (micro3.SMUL & (memory - 1)) // 8 * 8  # program 1, step 0
    assert st % 8 == 0 and np.array_equal(out[1, 0], m[st:st + bn] + m[st + bn:st + 2 * bn])


def test_overlap_summary_separates_overlapped_from_serial(micro3):
    def row(x, dot, s):
        return {"type": "overlap", "x_ops": x, "dot": dot, "num_warps": 4, "programs_per_sm": 1,
                "seconds_per_iteration_per_sm": s}
    rows = [row(0, True, 1.0), row(4, False, 0.5), row(4, True, 1.0), row(16, False, 2.0), row(16, True, 3.0)]
    s = {r["x_ops"]: r for r in micro3.overlap_summary(rows, [4, 16, 64], [(4, 1)])}
    assert set(s) == {4, 16}  # X = 64 has no rows: no summary
    assert s[4]["overlap_fraction"] == pytest.approx(1.0) and s[4]["both_over_max"] == pytest.approx(1.0)
    assert s[16]["overlap_fraction"] == pytest.approx(0.0) and s[16]["both_over_sum"] == pytest.approx(1.0)


def test_timer_refuses_past_its_deadline(micro3):
    timer = micro3.Timer(None, None, "cpu", time.monotonic() - 1.0)
    with pytest.raises(micro3.BudgetSpent):
        timer.check()
    with pytest.raises(micro3.BudgetSpent):
        timer.best(lambda: None)


@pytest.mark.skipif(not HAVE_TRITON, reason="needs triton")
def test_spent_budget_skips_every_group(micro3, tmp_path):
    assert micro3.main(["--out", str(tmp_path), "--smoke", "--budget-s", "-1", "--device", "cpu"]) == 0
    cases = json.loads((tmp_path / "gpu_micro3.json").read_text())["cases"]
    assert [c["name"] for c in cases if c["type"] == "skipped"] == list(micro3.GROUPS)


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_TRITON, reason="needs triton")
def test_smoke_run_under_the_interpreter_passes_every_check(tmp_path):
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    proc = subprocess.run([sys.executable, str(DRIVER), "--out", str(tmp_path), "--smoke", "--device", "cpu"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cases = json.loads((tmp_path / "gpu_micro3.json").read_text())["cases"]
    checks = [c for c in cases if c["type"] == "check"]
    assert len(checks) == 23 and all(c["equal_numpy"] for c in checks)
    for kind in ("l2-stream", "tile-align", "overlap", "overlap-summary", "tma-tile", "hash-overlap",
                 "hash-overlap-summary"):
        assert any(c["type"] == kind for c in cases), kind
    assert not any(c["type"] == "skipped" for c in cases)


def _sm90_compile(fn, types, constexprs, divisible, num_warps, num_stages=3):
    """Compile a kernel for sm_90 without a GPU (Triton's bundled ptxas); the CompiledKernel."""
    import triton
    from triton.backends.compiler import GPUTarget

    target = GPUTarget("cuda", 90, 32)
    backend = triton.compiler.make_backend(target)
    signature = {n: "constexpr" if n in constexprs else types[n] for n in fn.arg_names}
    attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in divisible}
    src = triton.compiler.ASTSource(fn=fn, signature=signature, constexprs=constexprs, attrs=attrs)
    opts = backend.parse_options(dict(num_warps=num_warps, num_stages=num_stages))
    return triton.compile(src, target=target, options=opts.__dict__)


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_TRITON or os.environ.get("TRITON_INTERPRET") == "1",
                    reason="needs compiled triton")
def test_kernels_compile_for_sm90(micro3):
    pytest.importorskip("triton.backends.nvidia")
    _, kern = micro3._kernels()
    c = _sm90_compile(kern["stream"], {"x_ptr": "*i32", "out_ptr": "*i64", "SLICE": "i32", "REPS": "i32"},
                      {"UNROLL": 8, "VEC": 4, "NTHREADS": 128}, ["x_ptr", "out_ptr", "SLICE"], 4)
    loads = [line for line in c.asm["ptx"].splitlines() if "ld.global" in line]
    assert len(loads) == 8 and all("ld.global.cg.v4.b32" in line for line in loads)  # 16 B, L1 bypassed
    bf16 = {"a_ptr": "*bf16", "b_ptr": "*bf16", "m_ptr": "*bf16", "out_ptr": "*fp32", "K": "i32",
            "seed": "i32", "hmask": "i32", "smul": "i32", "HMASK": "i32", "NCB": "i32", "rows_ptr": "*i32",
            "b_desc": "tensordesc<bf16[64,128]>"}
    for x in (0, 16):
        c = _sm90_compile(kern["overlap"], bf16,
                          {"X": x, "DOT": True, "NBMASK": 7, "BM": 128, "BK": 64, "BN": 128},
                          ["a_ptr", "b_ptr", "out_ptr", "K"], 8)
        assert "wgmma" in c.asm["ptx"]
    c = _sm90_compile(kern["tma_tile"], bf16, {"ROAST": True, "TABLE": False, "NCB": 1, "BM": 128, "BK": 64,
                                               "BN": 128},
                      ["a_ptr", "out_ptr", "K"], 4)
    assert "cp.async.bulk.tensor" in c.asm["ptx"]
    c = _sm90_compile(kern["tile"], bf16, {"ALIGN": 64, "DOT": True, "BM": 128, "BK": 64, "BN": 128},
                      ["a_ptr", "m_ptr", "out_ptr", "K"], 4)
    assert "cp.async" in c.asm["ptx"]  # align 64: 16-byte asynchronous copies (align 1: 2-byte loads)


def test_a_failing_group_is_recorded_and_the_next_one_runs(micro3, monkeypatch):
    def broken(ctx, rows):
        raise RuntimeError("descriptor refused")

    def fine(ctx, rows):
        rows.append({"type": "overlap", "name": "ok"})
    for name, group in (("tma_tile", broken), ("overlap", fine)):
        monkeypatch.setitem(micro3.GROUPS, name, group)
        monkeypatch.setitem(micro3.CHECKS, name, lambda ctx: [])
    cases, saves = [], []
    micro3.run_groups({"plan": {"tma_tile": {}, "overlap": {}}}, ["tma_tile", "overlap"], cases, 100.0,
                      lambda: saves.append(len(cases)))
    assert [c["type"] for c in cases] == ["error", "group-time", "overlap", "group-time"]
    assert "descriptor refused" in cases[0]["error"] and len(saves) == 2


def test_hash_overlap_host_starts_follow_the_fast_kernels_formulas(load_driver):
    """The host starts of the hash_overlap check: the 64-bit hash from a table weight of the same family
    equals the family's own tile starts; hash32 from its int32 formula stays inside the modulus."""
    pytest.importorskip("torch")
    h = load_driver("_micro3_hash")
    from cachesim.measure import triton_fast as tf
    from roast_theory.hashes import tile_start_table

    K, G = 4, 2
    starts = h.host_starts(2, K, G)
    w = tf.FastWeight("roast", "hash", h.MEMORY, h.TILE, 1, seed=1)
    want = tile_start_table(w.family(), h.TILE[0] * K * G, h.TILE[1] * h.NT, h.TILE, h.MEMORY, np.int64)
    assert starts.shape == (K * G, h.NT) and np.array_equal(starts, want)
    s32 = h.host_starts(8, K, G)
    modulus = h.hash_args(8, K, G)[7]
    assert s32.shape == (K * G, h.NT) and s32.min() >= 0 and s32.max() < modulus
    assert len(np.unique(s32)) > K * G  # not a constant
