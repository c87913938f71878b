"""Hardware targets for the kernel models: cache geometry, bandwidths, latencies and peak FLOP rates.

Each number carries its source (``target.sources``). Cache geometry, clocks, latencies and per-level
bandwidths come from the engine presets (:mod:`cachesim.presets`); the few cost-model numbers the presets
do not carry are in the tables below.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

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
    # issue-aware cost model (cachesim.kernels.issue); see ISSUE_MODEL for the values and their sources
    schedulers_per_sm: int = 4
    issue_per_scheduler_per_clk: float = 1.0
    registers_per_sm: int = 65536
    max_shared_per_sm: int = 228 * 1024
    shared_reserved_per_block: int = 1024
    max_warps_per_sm: int = 64
    max_blocks_per_sm: int = 32
    l1_wavefronts_per_clk: float = 1.0
    calibration: dict | None = None
    #: shared-memory carve-out kernels with more than ``launch_carveout_above`` bytes of shared memory are
    #: launched with (bytes; 0: the smallest that holds them)
    launch_carveout_bytes: int = 0
    launch_carveout_above: int = 48 * 1024

    def l1_bytes_for(self, shared_bytes: int, programs: int | None = None) -> int:
        """L1 data capacity left after the smallest carve-out that holds the kernel's shared memory.

        Notes
        -----
        ``L1 = pool - carveout``, carveout = the smallest supported size >= the shared memory needed:
        ``shared_bytes`` (one program: ``num_stages * (BM*BK + BK*BN) * bytes``), or, given ``programs``
        resident per SM, ``programs x (shared_bytes + shared_reserved_per_block)`` (the driver sizes the
        carve-out so that shared memory does not limit occupancy: CUDA C++ Programming Guide, cc 8.x/9.0
        shared memory). A kernel with more than ``launch_carveout_above`` bytes of shared memory per
        program gets the carve-out such kernels are launched with (``launch_carveout_bytes``) where that is
        larger. If nothing fits, the largest carve-out is used.
        """
        per_program = max(0, int(shared_bytes))
        reserved = self.shared_reserved_per_block
        need = per_program if programs is None else int(programs) * (per_program + reserved)
        carve = HOPPER_CARVEOUTS_KIB[-1] * KiB
        for c in HOPPER_CARVEOUTS_KIB:
            if c * KiB >= need:
                carve = c * KiB
                break
        if per_program > self.launch_carveout_above:
            carve = max(carve, int(self.launch_carveout_bytes))
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


_PRESET = "cachesim.presets ({name}; sources in that module's comments)"

#: Numbers the engine presets do not carry (cost-model only), each with its source.
_GPU_EXTRA = {
    "l2_bandwidth_gbs": (7000.0, "ASSUMED ~7 TB/s (public H100 microbenchmarks: 5.5-7 TB/s); replace by "
                                 "a measurement"),
    "dram_latency_ns": (600.0, "ASSUMED ~600 ns (public Hopper microbenchmarks, HBM3)"),
    "launch_overhead_ns": (3000.0, "ASSUMED 3 us kernel launch + tail"),
    "peak_tflops": ({"fp32": 67.0, "tf32": 495.0, "bf16": 989.0, "fp16": 989.0},
                    "NVIDIA H100/H200 SXM datasheet, dense: fp32 67, tf32 495, bf16/fp16 989 TFLOP/s "
                    "(a large bf16 matmul reaches about 790 TFLOP/s on an H200 in practice)"),
    "l1_pool_bytes": (256 * KiB, "256 KiB combined L1/shared per SM (NVIDIA H100 architecture whitepaper); "
                                 "L1 = pool - shared-memory carve-out of the kernel"),
}
#: The carve-out each target's kernels are launched with, where it was measured (bytes, source).
_LAUNCH_CARVEOUT = {
    "h200": (228 * KiB, "kernels with more than 48 KiB of shared memory: Triton 3.6's launcher calls "
                        "cuFuncSetCacheConfig(CU_FUNC_CACHE_PREFER_SHARED) for them "
                        "(triton/backends/nvidia/driver.c), and Nsight Compute records 233472 B = 228 KiB, "
                        "the largest carve-out, for every one profiled "
                        "(measurements/gpu/call29_ncu_carveout: 18 fused kernels with 48-144 KiB per "
                        "program, two array sizes): L1 = 256 - 228 = 28 KiB; smaller kernels keep the "
                        "smallest carve-out that holds them (not measured)"),
}
_CPU_EXTRA = {
    "dram_bandwidth_gbs": (30.0, "ASSUMED ~30 GB/s that one core can stream (the preset's value is the "
                                 "whole socket)"),
    "dram_latency_ns": (90.0, "ASSUMED ~90 ns DRAM load-to-use"),
    "peak_gflops": ({"fp32": 32 * 3.0, "fp16": 32 * 3.0, "bf16": 32 * 3.0},
                    "2 x 256-bit FMA pipes: 32 fp32 FLOP/clk x 3 GHz (ASSUMED clock where unknown)"),
}

#: Constants of the issue-aware cost model (:mod:`cachesim.kernels.issue`), each with its source. None is
#: fitted to a timing: they are documented hardware limits or ceilings measured by microbenchmarks.
ISSUE_MODEL = {
    "schedulers_per_sm": (4, "CUDA C++ Programming Guide, Compute Capability 9.0: an SM has four warp "
                             "schedulers (one per sub-partition)"),
    "issue_per_scheduler_per_clk": (1.0, "one warp instruction per scheduler per clock (CUDA C++ "
                                         "Programming Guide, cc 9.0 architecture section)"),
    "registers_per_sm": (65536, "CUDA C++ Programming Guide, Technical Specifications per cc: 64 K 32-bit "
                                "registers per SM (cc 9.0)"),
    "max_shared_per_sm": (228 * 1024, "CUDA C++ Programming Guide, cc 9.0: up to 228 KB shared memory per "
                                       "SM"),
    "shared_reserved_per_block": (1024, "CUDA C++ Programming Guide, cc 9.0: 1 KB of shared memory reserved "
                                        "per block by the system"),
    "max_warps_per_sm": (64, "CUDA C++ Programming Guide, cc 9.0: 64 resident warps per SM"),
    "max_blocks_per_sm": (32, "CUDA C++ Programming Guide, cc 9.0: 32 resident blocks per SM"),
    "l1_wavefronts_per_clk": (1.0, "one 128-byte line (wavefront) per clock through the L1 data stage: the "
                                   "preset's 128 B/clk/SM divided by the 128-byte line; a memory-divergent "
                                   "warp load takes one wavefront per distinct line (Wang et al., MICRO "
                                   "2018)"),
    "arithmetic_throughput": ("64 results/clk/SM for 32-bit integer add/multiply/shift/compare, 16 for "
                              "MUFU and conversions", "CUDA C++ Programming Guide, Arithmetic Instructions "
                              "throughput table, cc 9.0 (the compiled stall counts already respect them)"),
}
#: Ceilings measured by the GPU driver's microbenchmarks in each timing record (h200 only): the cuBLAS bf16
#: 8192^3 product and a 4 GiB device-to-device copy, measurements/gpu/call7_time/gpu_fast_time.json
#: (case type "ceilings"). Targets without an entry have no calibration for the issue-aware model.
CALIBRATIONS = {
    "h200": {"sustained_bf16_tflops": 729.258, "copy_gbps": 4282.5, "sm_clock_ghz": 1.605,
             "l2_stream_gbs": 14484.3, "hash_modp_per_s": 2.21968e11, "hash_mulshift_per_s": 1.16195e13,
             "gather_bf16_per_s": ((32768, 8.51536e11), (131072, 7.87721e11), (2097152, 1.69198e11),
                                   (16777216, 1.60446e11), (67108864, 7.69383e10), (536870912, 4.13662e10)),
             "micro_source": "measurements/gpu/call12_micro/gpu_micro.json (H200, 2026-11-29, "
                             "drivers/gpu_micro.py): hash-modp (the authors' index, two int64 remainders) "
                             "2.22e11 evaluations/s; hash-mulshift 1.16e13/s; gather-bf16 (one sector per "
                             "element) elements/s by shared-array bytes; stream-bf16 from a 2 MiB array "
                             "(past L1, inside L2) 14.5 TB/s",
             # drivers/gpu_micro2.py (measurements/gpu/call14_micro2): dependent-load latency (pointer
             # chase; L1/L2 in SM cycles at the 1980 MHz the run started at, DRAM 350.6 ns at the loaded
             # clock above), gather rate by level vs resident warps per SM (8 loads per thread in flight),
             # B-tile path rates (tile-load, fed to tl.dot) by (warps per SM, array bytes) and alignment class
             "chase_cycles": {"L1": 20.33 * 1.98, "L2": (145.9 + 142.5) / 2 * 1.98, "DRAM": 350.6 * 1.605},
             "gather_mwp_per_s": {
                 "L1": ((1, 3.934e11), (2, 7.665e11), (4, 7.683e11), (8, 7.688e11), (16, 7.687e11),
                        (32, 7.689e11)),
                 "L2": ((1, 9.376e10), (2, 1.568e11), (4, 1.617e11), (8, 1.582e11), (16, 1.581e11),
                        (32, 1.617e11)),
                 "DRAM": ((1, 3.635e10), (2, 5.354e10), (4, 4.828e10), (8, 4.754e10), (16, 4.759e10),
                          (32, 4.930e10))},
             # call39_micro3n (drivers/gpu_micro3.py ptr_table, drivers/_micro3_ptrtable.py): the pointer
             # ROAST loop (128-row A tile streamed, line-aligned 64x128 B tile, tl.dot, 4 warps, 4 stages
             # requested) with each step's start read from the kernels' start-table layout vs computed;
             # keyed by how many programs read each entry (2, 32), then (programs per SM launched, array
             # bytes) of B elements/s; the table loop compiles with two buffers (64 KiB), the computed one
             # with four (128 KiB, one program resident whatever the launch)
             "ptr_table_per_s": {
                 2: {"step": 8192,
                     "table": {(1, 2097152): 1.590e12, (2, 2097152): 2.221e12, (3, 2097152): 2.544e12,
                               (1, 67108864): 1.099e12, (2, 67108864): 1.681e12, (3, 67108864): 2.277e12},
                     "hash": {(1, 2097152): 2.363e12, (2, 2097152): 2.495e12, (3, 2097152): 2.351e12,
                              (1, 67108864): 2.306e12, (2, 67108864): 2.156e12, (3, 67108864): 2.060e12}},
                 32: {"step": 8192,
                      "table": {(1, 2097152): 1.951e12, (2, 2097152): 2.503e12, (3, 2097152): 2.524e12,
                                (1, 67108864): 1.217e12, (2, 67108864): 2.471e12, (3, 67108864): 2.452e12},
                      "hash": {(1, 2097152): 3.133e12, (2, 2097152): 3.081e12, (3, 2097152): 2.550e12,
                               (1, 67108864): 2.612e12, (2, 67108864): 3.093e12, (3, 67108864): 2.433e12}}},
             # call46_micro3r (drivers/gpu_micro3.py ptr_prefetch): call39's loop with the start of step k + 1
             # read during step k by a plain ld.global.nc, as the fused table-pf kernels read it (four B
             # buffers, 128 KiB, one program resident: the 2 and 3 "per SM" rows are two and three waves),
             # against the computed start; same keys as ptr_table_per_s
             "ptr_prefetch_per_s": {
                 2: {"step": 8192,
                     "table": {(1, 2097152): 2.192e12, (2, 2097152): 2.197e12, (3, 2097152): 2.185e12,
                               (1, 67108864): 1.709e12, (2, 67108864): 1.588e12, (3, 67108864): 1.557e12},
                     "hash": {(1, 2097152): 2.378e12, (2, 2097152): 2.446e12, (3, 2097152): 2.340e12,
                              (1, 67108864): 2.310e12, (2, 67108864): 2.175e12, (3, 67108864): 2.052e12}},
                 32: {"step": 8192,
                      "table": {(1, 2097152): 2.650e12, (2, 2097152): 2.268e12, (3, 2097152): 2.189e12,
                                (1, 67108864): 2.428e12, (2, 67108864): 1.994e12, (3, 67108864): 1.960e12},
                      "hash": {(1, 2097152): 3.133e12, (2, 2097152): 3.069e12, (3, 2097152): 2.586e12,
                               (1, 67108864): 3.119e12, (2, 67108864): 3.084e12, (3, 67108864): 2.400e12}}},
             # call42_micro3p (drivers/gpu_micro3.py dense_resident, drivers/_micro3_resident.py): the fused
             # dense kernel at each configuration on a launch of exactly 132 r programs (r programs dealt to
             # each SM): M = 4 BM, N = 33 r BN, K = 8192, do_bench medians (seconds, launch included); the
             # rate where a launch deals an SM fewer programs than the configuration's occupancy holds
             "dense_resident": {
                 "K": 8192, "row_blocks": 4, "columns_per_program_per_sm": 33,
                 "seconds": {
                     "128x64x32-g8-w4-s4": {1: 7.8475e-05, 2: 8.3847e-05, 3: 1.3268e-04},
                     "128x64x64-g8-w4-s4": {1: 4.8273e-05, 2: 6.2524e-05, 3: 1.1877e-04},
                     "128x64x64-g8-w4-s5": {1: 4.0551e-05, 2: 7.7164e-05, 3: 1.1337e-04},
                     "256x64x64-g8-w8-s4": {1: 6.1243e-05, 2: 1.2164e-04, 3: 1.8085e-04},
                     "128x128x64-g8-w4-s4": {1: 5.4666e-05, 2: 1.0380e-04, 3: 1.5544e-04},
                     "128x128x64-g8-w8-s4": {1: 5.4489e-05, 2: 1.0500e-04, 3: 1.5642e-04},
                     "128x128x64-g8-w4-s5": {1: 5.0326e-05, 2: 9.7732e-05, 3: 1.4887e-04},
                     "256x128x64-g8-w8-s3": {1: 9.9451e-05, 2: 1.9391e-04, 3: 2.9034e-04},
                     "128x256x64-g8-w8-s3": {1: 9.2523e-05, 2: 1.8479e-04, 3: 2.7787e-04},
                     "128x256x64-g8-w8-s4": {1: 9.1227e-05, 2: 1.8518e-04, 3: 2.7867e-04},
                     "64x128x64-g8-w4-s4": {1: 5.0144e-05, 2: 6.3669e-05, 3: 1.1819e-04},
                     "64x256x64-g8-w4-s4": {1: 6.1678e-05, 2: 1.1721e-04, 3: 1.7215e-04},
                     "128x128x64-g8-w4-s3": {1: 7.1130e-05, 2: 9.4184e-05, 3: 1.8135e-04},
                     "64x128x64-g8-w4-s3": {1: 6.6906e-05, 2: 7.4623e-05, 3: 8.8923e-05},
                     "64x256x64-g8-w4-s3": {1: 7.9086e-05, 2: 1.4815e-04, 3: 2.1911e-04}}},
             # call41_micro3o (drivers/gpu_micro3.py ptr_table_s5): call39's pair at 5 stages requested, where
             # the table loop compiles with three buffers (96 KiB + the start) and the computed one with five
             # (160 KiB): the pair of the table kernels whose listing keeps three B buffers
             # (issue.pipeline_buffers); same keys as ptr_table_per_s
             "ptr_table_three_buffers_per_s": {
                 2: {"step": 8192,
                     "table": {(1, 2097152): 2.322e12, (2, 2097152): 2.341e12, (3, 2097152): 2.061e12,
                               (1, 67108864): 2.032e12, (2, 67108864): 2.477e12, (3, 67108864): 1.819e12},
                     "hash": {(1, 2097152): 2.280e12, (2, 2097152): 2.324e12, (3, 2097152): 2.290e12,
                              (1, 67108864): 2.202e12, (2, 67108864): 2.154e12, (3, 67108864): 2.101e12}},
                 32: {"step": 8192,
                      "table": {(1, 2097152): 2.659e12, (2, 2097152): 3.071e12, (3, 2097152): 2.273e12,
                                (1, 67108864): 2.348e12, (2, 67108864): 3.053e12, (3, 67108864): 2.242e12},
                      "hash": {(1, 2097152): 3.131e12, (2, 2097152): 2.833e12, (3, 2097152): 2.559e12,
                               (1, 67108864): 3.112e12, (2, 67108864): 2.801e12, (3, 67108864): 2.486e12}}},
             # call35_micro3l (drivers/gpu_micro3.py gather_table, drivers/_micro3_gather.py): the HashedNet
             # tile gather in the fused loop (A streamed, fed to tl.dot) with its index read from an int32
             # index matrix over computed in registers, the same addresses: time ratio at equal resident
             # warps per SM (pairs of launches whose two kernels keep the same programs resident: 4 warps
             # x 1 and 2 programs, 8 warps x 1; geometric mean of the two 8-warp pairs), by index-matrix
             # bytes (BERT FFN 768 x 3072: 9.4 MB, L2-resident; 10240^2: 420 MB) and shared-array bytes
             "gather_table_factor": {
                 9437184: {(4, 65536): 1.014, (4, 524288): 1.098, (4, 2097152): 1.106, (4, 67108864): 0.979,
                           (8, 65536): 1.024, (8, 524288): 1.094, (8, 2097152): 1.095, (8, 67108864): 1.144},
                 419430400: {(4, 65536): 1.055, (4, 524288): 1.155, (4, 2097152): 1.145,
                             (4, 67108864): 1.561, (8, 65536): 1.051, (8, 524288): 1.115,
                             (8, 2097152): 1.115, (8, 67108864): 1.262}},
             # tile_load_per_s: call14's two-class tile path (align 1 / 8, width 64), superseded in the
             # model by call21's tile_align_per_s; kept as that record's numbers (a test recounts them)
             "tile_load_per_s": {
                 1: {(4, 131072): 7.097e11, (8, 131072): 1.111e12, (16, 131072): 1.458e12,
                     (4, 2097152): 6.487e11, (8, 2097152): 1.146e12, (16, 2097152): 1.409e12},
                 8: {(4, 131072): 2.080e12, (8, 131072): 2.175e12, (16, 131072): 2.200e12,
                     (4, 2097152): 2.274e12, (8, 2097152): 2.868e12, (16, 2097152): 2.943e12}},
             # No L2 ceiling from call14: its L2-resident private loads (7.8 TB/s) are bound by memory-warp
             # parallelism (132 x 8 KiB in flight / 142.5 ns = 7.6 TB/s), a lower bound of the ceiling; and
             # call12's stream-bf16 (l2_stream_gbs) is inflated by L1 hits (programs resident on one SM read
             # the same blocks). l2_stream_gbs stays the model's L2 rate; see COMPARISON.md's causes.
             "micro2_source": "measurements/gpu/call14_micro2/gpu_micro2.json (H200, 2026-11-29, "
                              "drivers/gpu_micro2.py): pointer-chase latency L1 20.3 ns, L2 142-146 ns, DRAM "
                              "351 ns; gather elements/s by level vs warps per SM; B-tile (32x64 bf16, fed "
                              "to tl.dot) elements/s, align 1 (scalar loads to shared) and 8 (cp.async)",
             # drivers/gpu_micro3.py (measurements/gpu/call21_micro3): a clean L2 read ceiling (16-byte .cg
             # streams, disjoint slices: no L1 hits; best of L2-resident cases), the DRAM stream, the B-tile
             # path by alignment (1, 8, 64) and tile width (BN 64 / 128) at resident warps per SM and array
             # bytes, the TMA box path (random-row ROAST boxes vs consecutive dense boxes), the overlap of
             # tensor-core work with integer issue, the launch cost inside do_bench and the sustained rate
             # of the dense Triton loop of every configuration on an 8192^3 product (a shape no timing
             # record holds); tile rows only where every launched program was resident (true concurrency)
             "l2_read_gbs": 8820.0, "dram_stream_gbs": 4558.0,
             # call32_micro3j (drivers/gpu_micro3.py l2_shared): the l2 stream with SHARE consecutive
             # programs (different SMs) reading the same slice at once; best of the SHARE >= 2 rows (13.4 -
             # 15.0 TB/s at 2 to 66, 8 and 24 MiB unique; SHARE 1 in the same run: 7.8 TB/s)
             "l2_shared_read_gbs": 15020.0,
             # the SM clock the microbenchmark records show at their start (smi_before.txt of call12,
             # call14, call21: 1980 MHz, no throttle reason); SM-bound rates are converted to the loaded
             # clock (sm_clock_ghz) by the cost model
             "micro_clock_ghz": 1.98,
             "launch_s": 3.649e-6, "launch_per_wave_s": (4.860e-6 - 3.649e-6) / 15,
             "overlap_fraction": 0.528,
             # cycles each variable-latency instruction (MUFU, I2F/F2I) of the ROAST in-loop tile-start hash
             # exposes beyond the compiler's stall counts: the hash_overlap loops of call24 (64-bit hash, one
             # and two starts per k-step, 4 warps, one program per SM: one warp per scheduler, the chain
             # exposed), measured cycles per k-step at 1980 MHz less their own listing's stall cycles
             # (measurements/gpu/sass_offline/gpu_sass_hash_micro.json) less the plain loop's same residual
             # (88.6), over their MUFU + conversion count: 446.5 / 9 = 49.6 and 811.0 / 18 = 45.1, pooled
             "variable_latency_cycles": 46.6,
             # whether the A-streamed tile rows (call28) keep the fixed-A rows' B path, by alignment class:
             # the offline listings of every timed tile launch (measurements/gpu/sass_offline/
             # gpu_sass_tile_micro.json, registers and shared bytes equal to the device's) issue the same
             # B loads for align 8 / 64 (LDGSTS copies), but the A-streamed align-1 loop issues only 8-20
             # of its 16 / 64 scalar B loads before its first shared store (the fixed-A loop and every fused
             # align-1 kernel: all of them), so its excess is not the kernels' and the fixed-A rows price it
             "tile_astream_same_b_path": {1: False, 8: True, 64: True},
             "dense_tflops_shape": 8192,  # M = N = K of the dense-loop rates below
             "dense_tflops_by_config": {
                 "128x64x32-g8-w4-s4": 415.5, "128x64x64-g8-w4-s4": 432.3, "128x64x64-g8-w4-s5": 452.4,
                 "256x64x64-g8-w8-s4": 504.2, "128x128x64-g8-w4-s4": 724.1, "128x128x64-g8-w8-s4": 690.4,
                 "128x128x64-g8-w4-s5": 740.3, "256x128x64-g8-w8-s3": 712.4, "128x256x64-g8-w8-s3": 788.4,
                 "128x256x64-g8-w8-s4": 770.6, "64x128x64-g8-w4-s4": 450.2, "64x256x64-g8-w4-s4": 634.8,
                 "128x128x64-g8-w4-s3": 676.4, "64x128x64-g8-w4-s3": 443.2, "64x256x64-g8-w4-s3": 526.4},
             "tile_align_per_s": {
                 (1, 64): {(4, 131072): 7.095e11, (8, 131072): 1.106e12, (16, 131072): 1.437e12,
                           (4, 2097152): 6.534e11, (8, 2097152): 1.153e12, (16, 2097152): 1.412e12,
                           (4, 67108864): 3.96e11, (8, 67108864): 7.234e11, (16, 67108864): 1.207e12},
                 (8, 64): {(4, 131072): 2.122e12, (8, 131072): 2.183e12, (16, 131072): 2.179e12,
                           (4, 2097152): 2.3e12, (8, 2097152): 2.847e12, (16, 2097152): 2.83e12,
                           (4, 67108864): 1.359e12, (8, 67108864): 2.072e12, (16, 67108864): 2.478e12},
                 (64, 64): {(4, 131072): 2.562e12, (8, 131072): 3.291e12, (16, 131072): 3.165e12,
                            (4, 2097152): 2.527e12, (8, 2097152): 3.287e12, (16, 2097152): 3.156e12,
                            (4, 67108864): 1.378e12, (8, 67108864): 2.281e12, (16, 67108864): 2.676e12},
                 (1, 128): {(4, 131072): 1.236e12, (8, 131072): 1.66e12, (4, 2097152): 1.117e12,
                            (8, 2097152): 1.464e12, (4, 67108864): 7.32e11, (8, 67108864): 1.279e12},
                 (8, 128): {(4, 131072): 2.221e12, (8, 131072): 2.223e12, (4, 2097152): 2.827e12,
                            (8, 2097152): 2.896e12, (4, 67108864): 2.119e12, (8, 67108864): 2.54e12},
                 (64, 128): {(4, 131072): 3.324e12, (8, 131072): 3.311e12, (4, 2097152): 3.31e12,
                             (8, 2097152): 3.298e12, (4, 67108864): 2.426e12, (8, 67108864): 2.861e12}},
             # measurements/gpu/call26_micro3f (tile_align_bm64 group): the same tile path fed to a 64-row
             # A tile (tl.dot 64 x BN x BK), for the 64-row pointer kernels: call21's line-aligned rows run
             # at the dot's rate of a 128-row A tile (849 TFLOP/s-equivalent for 64x128 tiles), which is
             # not what the B path costs a 64-row program (1.4-1.9x faster here at 128 KiB / 2 MiB); rows
             # where every launched program was resident (align 1, 64x128 at 4 per SM kept 3: left out)
             "tile_align_bm64_per_s": {
                 (1, 64): {(4, 131072): 7.371e11, (8, 131072): 1.185e12, (16, 131072): 1.706e12,
                           (4, 2097152): 7.194e11, (8, 2097152): 1.28e12, (16, 2097152): 1.676e12,
                           (4, 67108864): 4.096e11, (8, 67108864): 7.577e11, (16, 67108864): 1.332e12},
                 (8, 64): {(4, 131072): 1.937e12, (8, 131072): 1.969e12, (16, 131072): 1.957e12,
                           (4, 2097152): 2.408e12, (8, 2097152): 2.871e12, (16, 2097152): 2.886e12,
                           (4, 67108864): 1.389e12, (8, 67108864): 2.108e12, (16, 67108864): 2.541e12},
                 (64, 64): {(4, 131072): 3.101e12, (8, 131072): 4.025e12, (16, 131072): 4.711e12,
                            (4, 2097152): 3.013e12, (8, 2097152): 4.194e12, (16, 2097152): 4.623e12,
                            (4, 67108864): 1.436e12, (8, 67108864): 2.339e12, (16, 67108864): 3.088e12},
                 (1, 128): {(4, 131072): 8.597e11, (8, 131072): 1.525e12, (4, 2097152): 7.383e11,
                            (8, 2097152): 1.326e12, (4, 67108864): 4.072e11, (8, 67108864): 8.151e11},
                 (8, 128): {(4, 131072): 2.581e12, (8, 131072): 2.651e12, (16, 131072): 2.628e12,
                            (4, 2097152): 2.825e12, (8, 2097152): 2.901e12, (16, 2097152): 2.902e12,
                            (4, 67108864): 2.203e12, (8, 67108864): 2.62e12, (16, 67108864): 2.632e12},
                 (64, 128): {(4, 131072): 5.432e12, (8, 131072): 5.995e12, (16, 131072): 5.797e12,
                             (4, 2097152): 4.416e12, (8, 2097152): 5.201e12, (16, 2097152): 5.137e12,
                             (4, 67108864): 2.527e12, (8, 67108864): 3.303e12, (16, 67108864): 3.684e12}},
             # measurements/gpu/call28_micro3h (tile_align_astream, tile_align_astream_bm64): the same tile
             # paths with A's tile loaded every k-step as well (pointer loads of an 8 MiB A, as the fused
             # pointer kernels load it), 128-row and 64-row A tiles; rows where every launched program was
             # resident. The B copies then share the load path with A's: the straddled (align 8) and scalar
             # (align 1) paths' excess over the line-aligned one is 2-3x call21's / call26's (fixed A). The
             # model takes the excess (lsu_excess) from these rows, the tile path itself (lsu) from the
             # fixed-A rows (A's loads are in the kernel's dense rate and traffic terms already).
             "tile_align_astream_per_s": {
                 (1, 64): {(4, 131072): 4.631e11, (8, 131072): 8.528e11, (16, 131072): 1.053e12,
                           (4, 2097152): 4.508e11, (8, 2097152): 8.363e11, (16, 2097152): 1.04e12,
                           (4, 67108864): 2.643e11, (8, 67108864): 4.833e11, (16, 67108864): 8.519e11},
                 (1, 128): {(4, 131072): 5.184e11, (8, 131072): 9.834e11, (4, 2097152): 5.167e11,
                            (8, 2097152): 9.797e11, (4, 67108864): 2.62e11, (8, 67108864): 5.28e11},
                 (8, 64): {(4, 131072): 1.066e12, (8, 131072): 1.082e12, (16, 131072): 1.061e12,
                           (4, 2097152): 1.269e12, (8, 2097152): 1.32e12, (16, 2097152): 1.287e12,
                           (4, 67108864): 1.077e12, (8, 67108864): 1.243e12, (16, 67108864): 1.23e12},
                 (8, 128): {(4, 131072): 1.497e12, (8, 131072): 1.487e12, (4, 2097152): 1.764e12,
                            (8, 2097152): 1.766e12, (4, 67108864): 1.68e12, (8, 67108864): 1.762e12},
                 (64, 64): {(4, 131072): 1.448e12, (8, 131072): 1.703e12, (16, 131072): 1.566e12,
                            (4, 2097152): 1.496e12, (8, 2097152): 1.61e12, (16, 2097152): 1.55e12,
                            (4, 67108864): 1.16e12, (8, 67108864): 1.534e12, (16, 67108864): 1.506e12},
                 (64, 128): {(4, 131072): 2.75e12, (8, 131072): 3.122e12, (4, 2097152): 2.355e12,
                             (8, 2097152): 2.346e12, (4, 67108864): 2.006e12, (8, 67108864): 2.225e12}},
             "tile_align_astream_bm64_per_s": {
                 (1, 64): {(4, 131072): 3.712e11, (8, 131072): 7.185e11, (16, 131072): 1.177e12,
                           (4, 2097152): 3.739e11, (8, 2097152): 7.126e11, (16, 2097152): 1.224e12,
                           (4, 67108864): 2.043e11, (8, 67108864): 3.877e11, (16, 67108864): 7.442e11},
                 (1, 128): {(4, 131072): 9.518e11, (8, 131072): 1.586e12, (16, 131072): 1.915e12,
                            (4, 2097152): 9.271e11, (8, 2097152): 1.546e12, (16, 2097152): 1.931e12,
                            (4, 67108864): 5.051e11, (8, 67108864): 1.005e12, (16, 67108864): 1.682e12},
                 (8, 64): {(4, 131072): 1.352e12, (8, 131072): 1.39e12, (16, 131072): 1.36e12,
                           (4, 2097152): 1.693e12, (8, 2097152): 1.814e12, (16, 2097152): 1.794e12,
                           (4, 67108864): 1.245e12, (8, 67108864): 1.628e12, (16, 67108864): 1.687e12},
                 (8, 128): {(4, 131072): 1.8e12, (8, 131072): 1.791e12, (4, 2097152): 2.159e12,
                            (8, 2097152): 2.245e12, (4, 67108864): 1.94e12, (8, 67108864): 2.178e12},
                 (64, 64): {(4, 131072): 1.95e12, (8, 131072): 2.406e12, (16, 131072): 2.675e12,
                            (4, 2097152): 2.085e12, (8, 2097152): 2.32e12, (16, 2097152): 2.393e12,
                            (4, 67108864): 1.32e12, (8, 67108864): 1.98e12, (16, 67108864): 2.232e12},
                 (64, 128): {(4, 131072): 3.381e12, (8, 131072): 4.724e12, (4, 2097152): 3.004e12,
                             (8, 2097152): 3.32e12, (4, 67108864): 2.218e12, (8, 67108864): 2.768e12}},
             "tma_tile_per_s": {
                 "roast": {(4, 2097152): 3.418e12, (8, 2097152): 3.4e12, (4, 67108864): 2.432e12,
                           (8, 67108864): 2.935e12},
                 "dense": {(4, 2097152): 3.419e12, (8, 2097152): 3.402e12, (4, 67108864): 3.03e12,
                           (8, 67108864): 3.389e12}},
             # call34_micro3k (gpu_micro3 tma_tile_bm64): the same TMA box path with a 64-row A tile, 1 to 3
             # programs of 4 warps per SM (4 / 8 / 12 warps); with 128 rows the box path runs at the dot's
             # own rate (3.4e12 for ROAST and dense alike at 2 MiB; the same call reran those rows within
             # 1 %), with 64 rows 1.3-1.9x faster
             "tma_tile_bm64_per_s": {
                 "roast": {(4, 2097152): 4.355e12, (8, 2097152): 5.286e12, (12, 2097152): 4.836e12,
                           (4, 67108864): 2.569e12, (8, 67108864): 3.278e12, (12, 67108864): 3.78e12},
                 "dense": {(4, 2097152): 4.876e12, (8, 2097152): 5.18e12, (12, 2097152): 6.391e12,
                           (4, 67108864): 3.331e12, (8, 67108864): 6.078e12, (12, 67108864): 6.324e12}},
             # the TMA ROAST box path with each row read from an int32 start table in the k-loop, laid out
             # as the TMA kernels lay theirs out (entry (k-step, column)), vs the same rows from the in-loop
             # hash, same run; keyed by the bytes the step's boxes copy (the copies the start's wait
             # holds), then (programs per SM, array bytes) of elements/s. 16384: call25_micro3e
             # (tma_table_kernel: 64x128 B boxes, A loaded once before the loop); 32768: call26_micro3f
             # (tma_table_abox: 64x128 B boxes and A's 128x64 box by TMA every step, as the kernels; 4
             # warps; call27_micro3g reran it within 3 % and at 8 warps within 3 %: the wait is set by
             # programs per SM, not warps); 49152: call27_micro3g (tma_table_abox256: 64x256 B boxes and
             # A's box, 8 warps, one program per SM as the 128x256x64 kernels); 24576: call37_micro3m
             # (tma_table_abox_bm64: A's 64x64 box and the 64x128 B box every step, as the 64x128x64
             # kernels, 4 warps, 1-3 programs per SM). "step": B elements/step.
             "tma_table_per_s": {
                 16384: {"step": 8192,
                         "table": {(1, 2097152): 2.388e12, (2, 2097152): 3.366e12, (3, 2097152): 3.349e12,
                                   (1, 67108864): 1.538e12, (2, 67108864): 2.898e12, (3, 67108864): 3.279e12},
                         "hash": {(1, 2097152): 3.407e12, (2, 2097152): 3.382e12, (3, 2097152): 3.383e12,
                                  (1, 67108864): 2.857e12, (2, 67108864): 2.890e12, (3, 67108864): 2.999e12}},
                 24576: {"step": 8192,
                         "table": {(1, 2097152): 2.222e12, (2, 2097152): 2.995e12, (3, 2097152): 3.443e12,
                                   (1, 67108864): 1.479e12, (2, 67108864): 2.842e12, (3, 67108864): 3.273e12},
                         "hash": {(1, 2097152): 3.009e12, (2, 2097152): 3.330e12, (3, 2097152): 3.220e12,
                                  (1, 67108864): 2.651e12, (2, 67108864): 2.833e12, (3, 67108864): 3.001e12}},
                 32768: {"step": 8192,
                         "table": {(1, 2097152): 1.633e12, (2, 2097152): 2.363e12, (3, 2097152): 2.717e12,
                                   (1, 67108864): 1.357e12, (2, 67108864): 2.503e12, (3, 67108864): 2.637e12},
                         "hash": {(1, 2097152): 2.290e12, (2, 2097152): 2.361e12, (3, 2097152): 2.157e12,
                                  (1, 67108864): 2.151e12, (2, 67108864): 2.240e12, (3, 67108864): 1.987e12}},
                 49152: {"step": 16384,
                         "table": {(1, 2097152): 2.329e12, (1, 67108864): 2.336e12},
                         "hash": {(1, 2097152): 3.273e12, (1, 67108864): 2.589e12}}},
             "micro3_source": "measurements/gpu/call21_micro3/gpu_micro3.json (H200, 2026-11-29, "
                              "drivers/gpu_micro3.py): L2 read ceiling 8.82 TB/s, DRAM stream 4.56 TB/s; "
                              "tile path by alignment and width; TMA box path; tensor-core / issue overlap "
                              "fraction 0.53 (mean at 4 and 16 integer ops per element); launch 3.65 us "
                              "in do_bench, +0.08 us per wave of empty programs; dense loop TFLOP/s per "
                              "configuration at 8192^3; the 64-row tile rows of call26_micro3f; the TMA "
                              "start-table pairs of call25_micro3e, call26_micro3f and call27_micro3g",
             "source": "measurements/gpu/call7_time/gpu_fast_time.json, case type 'ceilings' (H200, "
                       "2026-11-29): cuBLAS bf16 8192^3 729.3 TFLOP/s; device copy 4282 GB/s; SM clock "
                       "1605 MHz sampled by nvidia-smi right after the cuBLAS ceiling (power-capped, "
                       "throttle reason 0x4; Nsight Compute saw 1.5-1.7 GHz under load in call8_focus)"},
}

GPU_TARGETS = ("h200", "h100")
CPU_TARGETS = ("zen4", "host", "intel-server")
TARGETS = GPU_TARGETS + CPU_TARGETS


@functools.lru_cache(maxsize=16)
def get_target(name) -> GpuTarget | CpuTarget:
    """Build the target called ``name`` from the engine preset of the same name.

    Cache geometry, clock, latencies and per-level bandwidths come from :func:`cachesim.load_hierarchy`;
    numbers it does not carry come from the tables above (each with its source, kept in ``.sources``).

    Raises
    ------
    CacheSimError
        For an unknown name (the message lists the known ones).
    """
    if not isinstance(name, str) or name not in TARGETS:
        raise CacheSimError(f"target={name!r} is not known: choose one of {', '.join(TARGETS)}")
    from ..config import load_hierarchy

    h = load_hierarchy(name)
    src = _PRESET.format(name=name)
    if name in GPU_TARGETS:
        l1, l2 = h.levels[0], h.levels[1]
        f = h.frequency_ghz
        sources = {k: src for k in ("num_sms", "frequency_ghz", "l1_ways", "l2_bytes", "l2_ways",
                                    "line_bytes", "sector_bytes", "l1_bytes_per_clk_per_sm",
                                    "dram_bandwidth_gbs", "l1_latency_ns", "l2_latency_ns")}
        sources.update({k: v[1] for k, v in _GPU_EXTRA.items()})
        sources["index"] = "this model uses modulo set indexing at both levels (the preset's L2 uses XOR)"
        sources.update({k: v[1] for k, v in ISSUE_MODEL.items()})
        carveout, sources["launch_carveout_bytes"] = _LAUNCH_CARVEOUT.get(
            name, (0, "not measured: the smallest carve-out that holds the kernel's shared memory"))
        return GpuTarget(
            name=name, num_sms=h.num_sms, frequency_ghz=f, l1_pool_bytes=_GPU_EXTRA["l1_pool_bytes"][0],
            l1_ways=l1.ways, l2_bytes=l2.size, l2_ways=l2.ways, line_bytes=l1.line, sector_bytes=l1.sector,
            l1_bytes_per_clk_per_sm=l1.bandwidth_bytes_per_cycle,
            l2_bandwidth_gbs=_GPU_EXTRA["l2_bandwidth_gbs"][0],
            dram_bandwidth_gbs=h.dram_bandwidth_gbs, l1_latency_ns=l1.latency_cycles / f,
            l2_latency_ns=l2.latency_cycles / f, dram_latency_ns=_GPU_EXTRA["dram_latency_ns"][0],
            launch_overhead_ns=_GPU_EXTRA["launch_overhead_ns"][0], peak_tflops=_GPU_EXTRA["peak_tflops"][0],
            sources=sources, calibration=CALIBRATIONS.get(name), launch_carveout_bytes=carveout,
            **{k: v[0] for k, v in ISSUE_MODEL.items() if k != "arithmetic_throughput"},
        )
    f = h.frequency_ghz or 3.0
    bw = tuple(lv.bandwidth_bytes_per_cycle or 32.0 for lv in h.levels)
    lat = tuple((lv.latency_cycles or 10.0) / f for lv in h.levels) + (_CPU_EXTRA["dram_latency_ns"][0],)
    sources = {"levels": src, "line_bytes": src,
               "frequency_ghz": src if h.frequency_ghz else "ASSUMED 3.0 GHz (not in the preset)",
               "level_bytes_per_clk": src if all(lv.bandwidth_bytes_per_cycle for lv in h.levels)
               else "ASSUMED 32 B/clk where the preset has none",
               "latencies_ns": src if all(lv.latency_cycles for lv in h.levels)
               else "ASSUMED 10 cycles where the preset has none"}
    sources.update({k: v[1] for k, v in _CPU_EXTRA.items()})
    return CpuTarget(
        name=name, line_bytes=h.levels[0].line,
        levels=tuple((lv.name, lv.size, lv.ways) for lv in h.levels), frequency_ghz=f,
        level_bytes_per_clk=bw, dram_bandwidth_gbs=_CPU_EXTRA["dram_bandwidth_gbs"][0], latencies_ns=lat,
        peak_gflops=_CPU_EXTRA["peak_gflops"][0], sources=sources,
    )


def _resolve(target, cls, what: str, names: tuple):
    t = target if isinstance(target, GpuTarget | CpuTarget) else get_target(target)
    if not isinstance(t, cls):
        want = cls.__name__[:3].upper()
        raise CacheSimError(f"target={t.name!r} is a {t.kind.upper()}; {what} need a {want} target "
                            f"({', '.join(names)})")
    return t


def gpu_target(target) -> GpuTarget:
    """Resolve ``target`` (a name or a :class:`GpuTarget`) and check that it is a GPU."""
    return _resolve(target, GpuTarget, "GPU kernels", GPU_TARGETS)


def cpu_target(target) -> CpuTarget:
    """Resolve ``target`` (a name or a :class:`CpuTarget`) and check that it is a CPU."""
    return _resolve(target, CpuTarget, "CPU traces", CPU_TARGETS)

