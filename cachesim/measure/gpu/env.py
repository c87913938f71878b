"""The GPU environment of a measurement: nvidia-smi, versions, device properties, ncu."""

from __future__ import annotations

import shutil
import subprocess

from .cases import _torch

__all__ = ["env_report"]


def _run(cmd) -> str:
    if shutil.which(cmd[0]) is None:
        return f"{cmd[0]}: not found"
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{cmd[0]} failed: {exc}"
    return (p.stdout + p.stderr).strip()


def env_report() -> dict:
    """nvidia-smi, torch / triton / CUDA versions, device properties and ``ncu --version``."""
    torch = _torch()
    out = {"nvidia_smi": _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.sm,"
                                             "clocks.max.sm,clocks.mem,power.limit", "--format=csv"]),
           "ncu_version": _run(["ncu", "--version"]),
           "torch": torch.__version__, "torch_cuda": torch.version.cuda}
    try:
        import triton

        out["triton"] = triton.__version__
    except ImportError:
        out["triton"] = None
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        out["device_name"] = p.name
        out["sm_count"] = p.multi_processor_count
        out["l2_bytes"] = getattr(p, "L2_cache_size", None)
        out["capability"] = f"{p.major}.{p.minor}"
        out["total_memory"] = p.total_memory
    return out
