"""Kernel memory traces, their cache traffic, an analytic traffic model and a roofline cost model.

Entry points: :func:`predict` (one kernel on one target -> :class:`KernelPrediction`; ``index=``/``align=``
select the issue-aware cost model of :mod:`cachesim.kernels.issue`), :func:`explain` (dense vs ROAST vs
HashedNet -> :class:`KernelExplanation`) and :func:`waterfall` (dense -> hashed kernel, one cost at a time);
on the CPU, :func:`predict_cpu_gather` and :func:`cpu_waterfall` (the gather ``W = M[idx]`` priced with
latency / memory-level parallelism, constants from :func:`cpu_calibration` of a ``cpu_micro`` record).
"""

from roast_theory._lazy import lazy_exports

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

# every name imported from its module on first use (roast_theory._lazy): the analytic cost model does not load
# the numba simulators
__getattr__, __dir__ = lazy_exports(__name__, {
    "cachesim.kernels._common": ("Block", "GemmShape"),
    "cachesim.kernels.analytic": ("AnalyticTraffic", "OperandExpectation", "analytic_gemm",
                                  "expected_distinct", "expected_window_sectors"),
    "cachesim.kernels.cost": ("CostPrediction", "CostTerm", "n_waves", "predict_cpu", "predict_gpu"),
    "cachesim.kernels.cpu_calibration": ("CpuCalibration", "cpu_calibration"),
    "cachesim.kernels.cpu_cost": ("CpuGatherTime", "predict_cpu_gather"),
    "cachesim.kernels.cpu_waterfall": ("CpuWaterfall", "cpu_waterfall"),
    "cachesim.kernels.embedding": ("embedding_trace", "simulate_embedding"),
    "cachesim.kernels.explanation": ("KernelExplanation", "explain"),
    "cachesim.kernels.gather": ("GatherTraffic", "gather_cpu", "gather_cpu_trace", "gather_gpu",
                                "gather_indices"),
    "cachesim.kernels.gemm_cpu": ("CpuTraffic", "gemm_cpu_trace", "simulate_gemm_cpu"),
    "cachesim.kernels.gemm_gpu": ("GemmPlan", "GpuTraffic", "OperandTraffic", "SectorRows",
                                  "gemm_sector_trace", "grouped_order", "plan_gemm"),
    "cachesim.kernels.gpu_sim": ("replay_sectors", "simulate_gemm_gpu"),
    "cachesim.kernels.issue": ("IssueEstimate", "KernelDescription", "describe"),
    "cachesim.kernels.prediction": ("KERNELS", "KernelPrediction", "predict"),
    "cachesim.kernels.targets": ("CpuTarget", "GpuTarget", "get_target"),
    "cachesim.kernels.waterfall": ("Waterfall", "WaterfallStep", "waterfall"),
})
