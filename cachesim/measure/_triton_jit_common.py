"""Triton device functions shared by every fused kernel module (imported only where triton is)."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _grouped_pid(pid, rows, cols, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, GROUP: tl.constexpr):
    """(row block, column block) of program ``pid`` in the grouped order: ``GROUP`` row blocks share
    their column blocks while they are in L2."""
    num_r = tl.cdiv(rows, BLOCK_R)
    num_c = tl.cdiv(cols, BLOCK_C)
    in_group = GROUP * num_c
    group_id = pid // in_group
    first_r = group_id * GROUP
    size_r = min(num_r - first_r, GROUP)
    pid_r = first_r + ((pid % in_group) % size_r)
    pid_c = (pid % in_group) // size_r
    return pid_r, pid_c


@triton.jit
def _dot(a, b, acc, IEEE: tl.constexpr):
    """``acc + a @ b``; ``IEEE`` asks for full fp32 products (no TF32)."""
    if IEEE:
        return tl.dot(a, b, acc, input_precision="ieee")
    else:
        return tl.dot(a, b, acc)
