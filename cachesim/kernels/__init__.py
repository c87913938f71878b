"""Kernel memory traces, their cache traffic, an analytic traffic model and a roofline cost model.

Entry points: :func:`predict` (one kernel on one target -> :class:`KernelPrediction`; ``index=``/``align=``
select the issue-aware cost model of :mod:`cachesim.kernels.issue`), :func:`explain` (dense vs ROAST vs
HashedNet -> :class:`KernelExplanation`) and :func:`waterfall` (dense -> hashed kernel, one cost at a time);
on the CPU, :func:`predict_cpu_gather` and :func:`cpu_waterfall` (the gather ``W = M[idx]`` priced with
latency / memory-level parallelism, constants from :func:`cpu_calibration` of a ``cpu_micro`` record).
"""

from ._common import Block, GemmShape
from .analytic import (
    AnalyticTraffic,
    OperandExpectation,
    analytic_gemm,
    expected_distinct,
    expected_window_sectors,
)
from .cost import CostPrediction, CostTerm, n_waves, predict_cpu, predict_gpu
from .cpu_calibration import CpuCalibration, cpu_calibration
from .cpu_cost import CpuGatherTime, predict_cpu_gather
from .cpu_waterfall import CpuWaterfall, cpu_waterfall
from .embedding import embedding_trace, simulate_embedding
from .explanation import KernelExplanation, explain
from .gather import GatherTraffic, gather_cpu, gather_cpu_trace, gather_gpu, gather_indices
from .gemm_cpu import CpuTraffic, gemm_cpu_trace, simulate_gemm_cpu
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
from .issue import IssueEstimate, KernelDescription, describe
from .prediction import KERNELS, KernelPrediction, predict
from .targets import CpuTarget, GpuTarget, get_target
from .waterfall import Waterfall, WaterfallStep, waterfall

__all__ = [
    "Block", "GemmShape", "KERNELS", "KernelExplanation", "KernelPrediction", "explain", "predict",
    "AnalyticTraffic", "CostPrediction", "CostTerm", "CpuTarget", "CpuTraffic", "GatherTraffic", "GemmPlan",
    "GpuTarget", "GpuTraffic", "OperandExpectation", "OperandTraffic", "SectorRows", "analytic_gemm",
    "embedding_trace", "expected_distinct", "expected_window_sectors", "gather_cpu", "gather_cpu_trace",
    "gather_gpu", "gather_indices", "gemm_cpu_trace", "gemm_sector_trace", "get_target", "grouped_order",
    "n_waves",
    "plan_gemm", "predict_cpu", "predict_gpu", "replay_sectors", "simulate_embedding", "simulate_gemm_cpu",
    "simulate_gemm_gpu", "IssueEstimate", "KernelDescription", "Waterfall", "WaterfallStep", "describe",
    "waterfall", "CpuCalibration", "CpuGatherTime", "CpuWaterfall", "cpu_calibration", "cpu_waterfall",
    "predict_cpu_gather",
]
