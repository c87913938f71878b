"""Named cache hierarchies, each value with its source.

Presets: ``zen4``, ``host`` (read from ``/sys/devices/system/cpu/cpu0/cache``), ``intel-server``,
``h100``, ``h200``. Latency and bandwidth fields are cost-model data (not used by the simulator);
values marked "approx." are published microbenchmark measurements, not vendor specifications.

Note on ``zen4`` vs ``host``: a Zen 4 core has a 1 MiB 8-way L2 (AMD's optimization guide, below), but
a virtual machine may report other sizes in ``/sys`` (one such VM reports ``L2 = 512K, 8-way, 1024 sets``,
the hypervisor's CPUID cache leaf). ``zen4`` follows the documented Zen 4 core; ``host`` follows ``/sys``
as is, so its numbers depend on the machine.
"""

from __future__ import annotations

from pathlib import Path

from .errors import CacheSimError
from .levels import HierarchyConfig, LevelConfig, parse_size

KiB = 1 << 10
MiB = 1 << 20


def _zen4() -> HierarchyConfig:
    # Sizes/ways: AMD "Software Optimization Guide for AMD Family 19h Processors"
    # (pub. 57647), s.2.11/2.12: L1d 32 KiB 8-way, L2 1 MiB 8-way (inclusive of L1), L3 32 MiB
    # 16-way per CCD (victim of L2), 64 B lines.
    # Latencies: same guide, L1d 4-5 cycles (we take 5 for FP/vector), L2 14 cycles, L3 ~50 cycles
    # (average). Bandwidths: 2 x 256-bit loads/cycle = 64 B/cycle L1, L2->L1 64 B/cycle,
    # L3->L2 32 B/cycle (same guide).
    # DRAM: EPYC 9004 (Genoa) 12 channels DDR5-4800 = 12 * 38.4 GB/s = 460.8 GB/s (AMD product page).
    # The real L2/L3 are inclusive/victim; this preset simulates the pycachesim/Dinero IV model
    # (non-inclusive, LRU, fill on miss), the model of the golden miss counts that pycachesim 0.3.1 and
    # Dinero IV agree on (tests/cachesim/test_cachesim_oracle.py).
    return HierarchyConfig(
        name="zen4",
        inclusion="non-inclusive",
        frequency_ghz=3.7,  # EPYC 9004 typical boost (e.g. 9654: 3.7 GHz max boost, AMD product page)
        dram_bandwidth_gbs=460.8,
        levels=(
            LevelConfig("L1", 32 * KiB, 64, 8, latency_cycles=5, bandwidth_bytes_per_cycle=64),
            LevelConfig("L2", 1 * MiB, 64, 8, latency_cycles=14, bandwidth_bytes_per_cycle=64),
            LevelConfig("L3", 32 * MiB, 64, 16, latency_cycles=50, bandwidth_bytes_per_cycle=32),
        ),
    )


def _intel_server() -> HierarchyConfig:
    # Generic Intel Xeon (4th gen, Sapphire Rapids / Golden Cove cores): Intel 64 and IA-32
    # Architectures Optimization Reference Manual, Golden Cove chapter: L1d 48 KiB 12-way, 5-cycle
    # load-to-use, 2 x 64 B loads/cycle; L2 2 MiB 16-way, ~16 cycles, 64 B/cycle.
    # LLC: 1.875 MiB per core slice, 15-way (Intel Xeon Scalable 4th gen product brief: "up to
    # 112.5 MB LLC" for 60 cores = 1.875 MiB/core); ~70 cycles (approx., chipsandcheese.com
    # "Sapphire Rapids" microbenchmarks). One core's view: the LLC modelled as one core slice.
    # DRAM: 8 channels DDR5-4800 = 307.2 GB/s (Intel ark, 4th gen Xeon Scalable).
    return HierarchyConfig(
        name="intel-server",
        inclusion="non-inclusive",
        frequency_ghz=3.5,  # typical turbo (approx.)
        dram_bandwidth_gbs=307.2,
        levels=(
            LevelConfig("L1", 48 * KiB, 64, 12, latency_cycles=5, bandwidth_bytes_per_cycle=128),
            LevelConfig("L2", 2 * MiB, 64, 16, latency_cycles=16, bandwidth_bytes_per_cycle=64),
            LevelConfig("L3", "1.875 MiB", 64, 15, latency_cycles=70, bandwidth_bytes_per_cycle=32),
        ),
    )


def _gpu(name: str, l2_bytes: int, l2_ways: int, dram_gbs: float, notes: str) -> HierarchyConfig:
    # Per-SM L1: NVIDIA H100 Tensor Core GPU Architecture whitepaper: 256 KiB combined L1 data
    # cache / shared memory per SM, shared memory configurable up to 228 KiB (same whitepaper; CUDA C
    # Programming Guide, compute capability 9.0).
    # Stated carve-out: 64 KiB shared memory -> 192 KiB L1 data cache. 128 B lines of 32 B sectors
    # (CUDA C++ Best Practices Guide, "Coalesced access to global memory": a warp's request is served
    # in 32-byte sectors).
    # Associativity is undocumented: 12 ways x 128 sets is our choice (capacity exact).
    # L1 is write-through, no-write-allocate for global stores (as in Accel-Sim's public H100 config).
    # Latency approx.: L1 ~33 cycles, L2 ~260 cycles (chipsandcheese.com, "Nvidia's H100: Funny L2,
    # and Tons of Bandwidth", 2023). L1 bandwidth 128 B/clk/SM (NVIDIA whitepapers since Volta).
    # L2: 128 B lines, 32 B sectors, write-back, LRU, XOR set hashing (Accel-Sim's public H100 config);
    # ways chosen so that the capacity is exact with a power-of-two number of sets (undocumented).
    # SMs: 132 (H100 SXM5 whitepaper; the H200 SXM has the same GH100 configuration, and
    # torch.cuda.get_device_properties reports 132 SMs on one). Boost clock 1.98 GHz (H100 SXM5 datasheet).
    return HierarchyConfig(
        name=name,
        inclusion="non-inclusive",
        frequency_ghz=1.98,
        dram_bandwidth_gbs=dram_gbs,
        num_sms=132,
        notes=notes,
        levels=(
            LevelConfig(
                "L1", 192 * KiB, 128, 12, write_policy="write-through", sector=32,
                latency_cycles=33, bandwidth_bytes_per_cycle=128,
            ),
            LevelConfig(
                "L2", l2_bytes, 128, l2_ways, sector=32, index_hash="xor", latency_cycles=260,
            ),
        ),
    )


def _h100() -> HierarchyConfig:
    # L2 50 MB (H100 SXM5 whitepaper: "50 MB L2 cache"); 50 MiB = 409,600 lines = 16,384 sets x 25 ways.
    # HBM3 3.35 TB/s (H100 SXM5 datasheet).
    return _gpu("h100", 50 * MiB, 25, 3350.0, "per-SM L1 (one instance), shared L2")


def _h200() -> HierarchyConfig:
    # L2 60 MiB as the CUDA driver reports it on an H200 SXM (cudaDevAttrL2CacheSize; spec sheets of the
    # H100 say 50 MB) = 491,520 lines =
    # 16,384 sets x 30 ways. HBM3e 4.8 TB/s (H200 datasheet); measured device copy ~4.3 TB/s.
    return _gpu("h200", 60 * MiB, 30, 4800.0, "per-SM L1 (one instance), shared L2")


def host_hierarchy(root: str | Path = "/sys/devices/system/cpu/cpu0/cache") -> HierarchyConfig:
    """The data/unified caches of cpu0 as reported by Linux ``/sys`` (LRU, non-inclusive model).

    On this VM ``/sys`` reports L2 = 512 KiB 8-way (1024 sets) although the Zen 4 core has 1 MiB
    (see the module docstring).
    """
    root = Path(root)
    if not root.is_dir():
        raise CacheSimError(f"cannot read the host caches: {str(root)!r} does not exist")
    found = []
    for d in sorted(root.glob("index*")):
        try:
            typ = (d / "type").read_text().strip()
            if typ == "Instruction":
                continue
            level = int((d / "level").read_text())
            size = parse_size((d / "size").read_text().strip(), f"{d}/size")
            line = int((d / "coherency_line_size").read_text())
            ways = int((d / "ways_of_associativity").read_text())
        except (OSError, ValueError) as e:
            raise CacheSimError(f"cannot read host cache description {str(d)!r}: {e}") from e
        found.append((level, LevelConfig(f"L{level}", size, line, ways)))
    if not found:
        raise CacheSimError(f"no data caches found under {str(root)!r}")
    found.sort(key=lambda t: t[0])
    return HierarchyConfig(levels=tuple(x for _, x in found), name="host")


_PRESETS = {
    "zen4": _zen4,
    "host": host_hierarchy,
    "intel-server": _intel_server,
    "h100": _h100,
    "h200": _h200,
}


def preset_names() -> tuple[str, ...]:
    """Names accepted by :func:`get_preset` and :func:`cachesim.config.load_hierarchy`."""
    return tuple(_PRESETS)


def get_preset(name: str) -> HierarchyConfig:
    """The preset hierarchy called ``name``."""
    if name not in _PRESETS:
        raise CacheSimError(f"preset={name!r} is unknown; presets are {', '.join(_PRESETS)}")
    return _PRESETS[name]()
