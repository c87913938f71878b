"""The pure-Python parts of the microbenchmark driver drivers/gpu_micro2.py (its kernels run on the GPU)."""

from pathlib import Path

import numpy as np
import pytest

DRIVER = Path(__file__).resolve().parents[2] / "drivers" / "gpu_micro2.py"


@pytest.fixture(scope="module")
def micro2(load_driver):
    return load_driver("gpu_micro2")


def test_chain_is_one_cycle_through_every_line(micro2):
    n = 97
    chain = micro2.make_chain(n, np.random.default_rng(3))
    assert chain.shape == (n * 32,)
    seen, p = set(), 0
    for _ in range(n):
        assert p % 32 == 0 and p not in seen  # one word per 128-byte line, no line twice
        seen.add(p)
        p = int(chain[p])
    assert p == 0 and len(seen) == n  # back at the start after exactly n steps
    assert micro2.follow(chain, 0, n) == 0


def test_plans_stay_small(micro2):
    smoke, full = micro2.plan(True), micro2.plan(False)
    assert set(smoke) == set(full)
    assert max(smoke["chase"]["sizes"]) <= 1 << 16
    assert max(full["gather"]["log2_sizes"]) <= 28  # at most 512 MiB of bf16 on the device
