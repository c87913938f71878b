"""Kernel memory traces, their cache traffic, an analytic traffic model and a roofline cost model."""

from .gemm_gpu import (
    GemmPlan,
    GpuTraffic,
    OperandTraffic,
    SectorRows,
    gemm_sector_trace,
    grouped_order,
    plan_gemm,
)
from .gpu_sim import replay_sectors, simulate_gemm_gpu
from .targets import CpuTarget, GpuTarget, get_target

__all__ = [
    "CpuTarget", "GemmPlan", "GpuTarget", "GpuTraffic", "OperandTraffic", "SectorRows", "gemm_sector_trace",
    "get_target", "grouped_order", "plan_gemm", "replay_sectors", "simulate_gemm_gpu",
]
