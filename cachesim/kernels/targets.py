"""Hardware targets for the kernel models: cache geometry, bandwidths, latencies and peak FLOP rates.

Each number carries its source. Where the engine presets of :mod:`cachesim.config` exist, the cache
geometry is taken from there (:func:`get_target` prefers them); the built-in table below is the fallback
and the home of the throughput numbers the cost model needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..errors import CacheSimError

KiB = 1024
MiB = 1024 * KiB

#: Shared-memory carve-outs a Hopper SM supports (KiB), CUDA C Programming Guide, "Shared Memory" (cc 9.0).
HOPPER_CARVEOUTS_KIB = (0, 8, 16, 32, 64, 100, 132, 164, 196, 228)


@dataclass(frozen=True)
class GpuTarget:
    """A GPU: per-SM sectored L1, one shared sectored L2, DRAM.

    Attributes are plain numbers; ``sources`` maps each attribute name to where its value comes from.
    """

    name: str
    num_sms: int
    frequency_ghz: float
    l1_pool_bytes: int
    l1_ways: int
    l2_bytes: int
    l2_ways: int
    line_bytes: int
    sector_bytes: int
    l1_bytes_per_clk_per_sm: float
    l2_bandwidth_gbs: float
    dram_bandwidth_gbs: float
    l1_latency_ns: float
    l2_latency_ns: float
    dram_latency_ns: float
    launch_overhead_ns: float
    peak_tflops: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    kind: str = "gpu"

    def l1_bytes_for(self, shared_bytes: int) -> int:
        """L1 data capacity left after the smallest carve-out that holds ``shared_bytes`` of shared memory.

        Notes
        -----
        ``L1 = pool - carveout``, carveout = the smallest supported size >= the kernel's shared memory
        (``num_stages * (BM*BK + BK*BN) * bytes``). If nothing fits, the largest carve-out is used.
        """
        need = max(0, int(shared_bytes))
        carve = HOPPER_CARVEOUTS_KIB[-1] * KiB
        for c in HOPPER_CARVEOUTS_KIB:
            if c * KiB >= need:
                carve = c * KiB
                break
        return max(self.l1_pool_bytes - carve, self.line_bytes * self.l1_ways)

    def peak_flops(self, dtype: str, tf32: bool = True) -> float:
        """Peak dense FLOP/s for ``dtype`` (fp32 runs on TF32 tensor cores when ``tf32``)."""
        key = "tf32" if (dtype == "fp32" and tf32) else dtype
        return self.peak_tflops[key] * 1e12


@dataclass(frozen=True)
class CpuTarget:
    """A CPU core's cache hierarchy (single core: every level private or used by one core)."""

    name: str
    line_bytes: int
    levels: tuple  # ((name, size_bytes, ways), ...)
    frequency_ghz: float
    level_bytes_per_clk: tuple  # per level, bytes a core moves per clock from that level
    dram_bandwidth_gbs: float
    latencies_ns: tuple  # per level, then DRAM
    peak_gflops: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    kind: str = "cpu"


_H_SRC = {
    "num_sms": "NVIDIA H100/H200 datasheets (SXM5: 132 SMs); ROAST-NOTES s.5",
    "frequency_ghz": "NVIDIA H100/H200 SXM max boost clock 1.98 GHz (datasheet)",
    "l1_pool_bytes": "256 KiB combined L1/shared per SM (NVIDIA Hopper tuning guide; ROAST-NOTES s.5)",
    "l1_ways": "ASSUMED 16-way LRU (Hopper's L1 organisation is not published)",
    "l2_ways": "ASSUMED 16-way LRU, modulo set index (real L2: 2 partitions, hashed slices)",
    "line_bytes": "128 B lines of four 32 B sectors (Nsight Compute memory model; ROAST-NOTES s.5)",
    "sector_bytes": "32 B sectors (Nsight Compute memory model)",
    "l1_bytes_per_clk_per_sm": "ASSUMED 128 B (4 sectors) per clock per SM: one L1TEX wavefront per cycle",
    "l2_bandwidth_gbs": "ASSUMED ~7 TB/s (public H100 microbenchmarks: 5.5-7 TB/s); replace by measurement",
    "l1_latency_ns": "ASSUMED ~33 cycles (public Hopper microbenchmarks)",
    "l2_latency_ns": "ASSUMED ~260 cycles (public Hopper microbenchmarks)",
    "dram_latency_ns": "ASSUMED ~600 ns (public Hopper microbenchmarks, HBM3)",
    "launch_overhead_ns": "ASSUMED 3 us kernel launch + tail",
    "peak_tflops": "NVIDIA H100 SXM datasheet dense: fp32 67, tf32 495, bf16/fp16 989 TFLOP/s",
}

_BUILTIN: dict[str, GpuTarget | CpuTarget] = {
    "h200": GpuTarget(
        name="h200", num_sms=132, frequency_ghz=1.98, l1_pool_bytes=256 * KiB, l1_ways=16,
        l2_bytes=60 * MiB, l2_ways=16, line_bytes=128, sector_bytes=32, l1_bytes_per_clk_per_sm=128.0,
        l2_bandwidth_gbs=7000.0, dram_bandwidth_gbs=4300.0, l1_latency_ns=33 / 1.98, l2_latency_ns=260 / 1.98,
        dram_latency_ns=600.0, launch_overhead_ns=3000.0,
        peak_tflops={"fp32": 67.0, "tf32": 495.0, "bf16": 989.0, "fp16": 989.0},
        sources={**_H_SRC, "l2_bytes": "60 MiB as reported by the H200 driver (ROAST-NOTES s.5)",
                 "dram_bandwidth_gbs": "~4.3 TB/s measured device copy on H200 (ROAST-NOTES s.5; spec 4.8)"},
    ),
    "h100": GpuTarget(
        name="h100", num_sms=132, frequency_ghz=1.98, l1_pool_bytes=256 * KiB, l1_ways=16,
        l2_bytes=50 * MiB, l2_ways=16, line_bytes=128, sector_bytes=32, l1_bytes_per_clk_per_sm=128.0,
        l2_bandwidth_gbs=7000.0, dram_bandwidth_gbs=3350.0, l1_latency_ns=33 / 1.98, l2_latency_ns=260 / 1.98,
        dram_latency_ns=600.0, launch_overhead_ns=3000.0,
        peak_tflops={"fp32": 67.0, "tf32": 495.0, "bf16": 989.0, "fp16": 989.0},
        sources={**_H_SRC, "l2_bytes": "50 MB, H100 SXM5 datasheet",
                 "dram_bandwidth_gbs": "3.35 TB/s HBM3, H100 SXM5 datasheet"},
    ),
    "zen4": CpuTarget(
        name="zen4", line_bytes=64,
        levels=(("L1", 32 * KiB, 8), ("L2", 1 * MiB, 8), ("L3", 32 * MiB, 16)),
        frequency_ghz=3.0, level_bytes_per_clk=(64.0, 32.0, 32.0), dram_bandwidth_gbs=30.0,
        latencies_ns=(1.3, 4.7, 16.0, 90.0), peak_gflops={"fp32": 96.0, "fp16": 96.0, "bf16": 96.0},
        sources={
            "levels": "/sys/devices/system/cpu/cpu0/cache on this machine (ROAST-NOTES s.5)",
            "frequency_ghz": "ASSUMED 3.0 GHz (VM; no frequency exposed)",
            "level_bytes_per_clk": "AMD Zen 4 optimisation guide: 2x32 B loads/clk L1, 32 B/clk L2 and L3",
            "dram_bandwidth_gbs": "ASSUMED ~30 GB/s single-core stream bandwidth",
            "latencies_ns": "AMD Zen 4: 4 / 14 / ~48 cycles at 3 GHz, DRAM ~90 ns (ASSUMED)",
            "peak_gflops": "AVX-512 (2x256-bit FMA pipes): 32 fp32 FLOP/clk x 3 GHz",
        },
    ),
}
_BUILTIN["host"] = replace(_BUILTIN["zen4"], name="host")

GPU_TARGETS = tuple(k for k, v in _BUILTIN.items() if isinstance(v, GpuTarget))
CPU_TARGETS = tuple(k for k, v in _BUILTIN.items() if isinstance(v, CpuTarget))
TARGETS = GPU_TARGETS + CPU_TARGETS


def get_target(name) -> GpuTarget | CpuTarget:
    """Look up a target by preset name (``h200``, ``h100``, ``zen4``, ``host``).

    Raises
    ------
    CacheSimError
        For an unknown name (the message lists the known ones).
    """
    if not isinstance(name, str) or name not in _BUILTIN:
        raise CacheSimError(f"target={name!r} is not known: choose one of {', '.join(TARGETS)}")
    return _BUILTIN[name]
