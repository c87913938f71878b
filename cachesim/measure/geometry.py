"""The cache geometry a measurement record was made with, so that checks never read this machine's caches.

A record written by :func:`cachesim.measure.records.write_record` with ``hierarchy=`` stores the resolved
geometry (sizes, ways, lines). Records written before that field existed are matched here by their
provenance to the machine that made them, whose geometry is written down below.

The machine of the first CPU records (provenance ``host="vm"``, ``cpu="AMD EPYC"``, November 2026) is a
2-core VM on an AMD EPYC Zen 4 host: L1d 32 KiB 8-way, L2 1 MiB 8-way, L3 32 MiB 16-way, 64 B lines (the
``zen4`` preset). When those records were made, the VM's ``/sys/devices/system/cpu/cpu0/cache`` reported
the L2 as 512 KiB 8-way (the hypervisor's CPUID cache leaf), and the simulated record
(``cpu_gather_simulated``, preset ``host``) was simulated with that 512 KiB L2; later sessions of the same
VM report 1 MiB. Re-simulating that record with today's ``host`` preset therefore disagrees at the sizes
where the L2 capacity matters, although nothing in the record or the simulator changed.
"""

from __future__ import annotations

from ..config import HierarchyConfig, LevelConfig
from ..errors import CacheSimError
from ..presets import get_preset

__all__ = ["legacy_hierarchy", "record_hierarchy"]

KiB = 1 << 10
MiB = 1 << 20


def _vm_sys_2026_11() -> HierarchyConfig:
    """The ``host`` preset as the VM's ``/sys`` described it when the first CPU records were made."""
    return HierarchyConfig(name="host", levels=(
        LevelConfig("L1", 32 * KiB, 64, 8),
        LevelConfig("L2", 512 * KiB, 64, 8),
        LevelConfig("L3", 32 * MiB, 64, 16),
    ))


def _is_first_vm(provenance: dict) -> bool:
    return provenance.get("host") == "vm" and str(provenance.get("cpu", "")).startswith("AMD EPYC")


def legacy_hierarchy(kind: str, provenance: dict) -> HierarchyConfig | None:
    """Geometry of a record that predates the ``hierarchy`` field, from its kind and provenance.

    Returns None when the record's machine is not one of those documented in this module.

    Notes
    -----
    Simulated records (kind ``cpu_gather_simulated``) get the geometry they were simulated with (the VM's
    ``/sys`` at the time: L2 512 KiB); measured records get the machine's hardware (the ``zen4`` preset).
    """
    if not _is_first_vm(provenance):
        return None
    if kind == "cpu_gather_simulated":
        return _vm_sys_2026_11()
    return get_preset("zen4")


def record_hierarchy(record) -> HierarchyConfig:
    """The cache geometry ``record`` (a :class:`MeasurementRecord`) was measured on or simulated with.

    Never reads this machine's caches: the record's own ``hierarchy`` field, else the documented geometry
    of the machine that made it (:func:`legacy_hierarchy`).

    Raises
    ------
    CacheSimError
        When the record carries no geometry and its machine is not documented.
    """
    if record.hierarchy is not None:
        return HierarchyConfig.from_dict(record.hierarchy)
    found = legacy_hierarchy(record.kind, record.provenance)
    if found is None:
        host = record.provenance.get("host")
        raise CacheSimError(f"record {str(record.path)!r} (kind={record.kind!r}, host={host!r}) carries no "
                            "cache geometry and its machine is not documented in cachesim.measure.geometry: "
                            "re-write it with hierarchy=")
    return found
