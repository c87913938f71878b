"""Dense vs ROAST vs HashedNet GEMM side by side, and where the predicted speedup comes from.

:func:`explain` runs :func:`cachesim.kernels.predict` for the three GEMM kernels with the same parameters
and returns a :class:`KernelExplanation` (the ``cachesim explain`` command prints it).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CacheSimError
from .prediction import KernelPrediction, predict
from .targets import GpuTarget, get_target

__all__ = ["DEFAULT_MEMORY", "EXPLAIN_KERNELS", "KernelExplanation", "explain"]

#: The kernels compared, in column order.
EXPLAIN_KERNELS = ("dense", "roast", "hashednet")
#: Shared-array size used when ``memory`` is not given (elements).
DEFAULT_MEMORY = 1 << 20


@dataclass(frozen=True)
class KernelExplanation:
    """The three predictions of :func:`explain` and their ratios.

    Attributes
    ----------
    predictions : dict
        ``{"dense": KernelPrediction, "roast": ..., "hashednet": ...}``.
    """

    predictions: dict

    def __getitem__(self, kernel: str) -> KernelPrediction:
        if kernel not in self.predictions:
            raise CacheSimError(f"kernel={kernel!r} is not one of {', '.join(self.predictions)}")
        return self.predictions[kernel]

    @property
    def hashednet_over_roast(self) -> float:
        """Predicted time ratio HashedNet / ROAST."""
        return self["hashednet"].ratio(self["roast"])

    @property
    def roast_over_dense(self) -> float:
        """Predicted time ratio ROAST / dense."""
        return self["roast"].ratio(self["dense"])

    def term_ratios(self) -> dict:
        """``{term: HashedNet seconds / ROAST seconds}`` (``inf`` where ROAST's term is zero)."""
        hn, ro = self["hashednet"].cost, self["roast"].cost
        return {tm.name: (hn.term(tm.name).seconds / tm.seconds if tm.seconds else float("inf"))
                for tm in ro.terms}

    def to_dict(self) -> dict:
        """The JSON object of ``cachesim explain --json``."""
        de, ro, hn = self["dense"], self["roast"], self["hashednet"]
        return {
            "shape": str(de.shape), "target": de.target, "memory": de.memory, "block": str(de.block),
            "model": de.model, "backward": de.backward,
            "kernels": {k: _kernel_row(p) for k, p in self.predictions.items()},
            "ratio_hashednet_over_roast": {
                "predicted_time": self.hashednet_over_roast,
                "l1_sector_requests": float(hn.traffic.l1_sector_requests / ro.traffic.l1_sector_requests),
                "dominant_hashednet": hn.dominant, "dominant_roast": ro.dominant,
                "term_ratios": self.term_ratios(),
            },
            "ratio_roast_over_dense": {
                "predicted_time": self.roast_over_dense,
                "l1_sector_requests": float(ro.traffic.l1_sector_requests / de.traffic.l1_sector_requests)},
        }


def _kernel_row(p: KernelPrediction) -> dict:
    tr = p.traffic
    return {"load_instructions": int(tr.load_instructions),
            "l1_sector_requests": float(tr.l1_sector_requests),
            "sectors_per_request": float(tr.l1_sector_requests / tr.load_instructions),
            "l1_sector_misses": float(tr.l1_sector_misses),
            "l2_sector_misses": float(tr.l2_sector_misses),
            "write_sector_requests": float(tr.write_sector_requests),
            "dram_bytes": float(tr.dram_bytes),
            "operand_sectors_per_instruction": operand_sectors_per_instruction(tr, "C" if p.backward
                                                                                else "B"),
            "terms_s": p.terms, "predicted_time_s": p.predicted_time_s, "dominant": p.dominant}


def operand_sectors_per_instruction(traffic, name: str) -> float:
    """Sectors per instruction of the operand that differs between kernels (B, or the dW write C)."""
    op = traffic.operand(name)
    req = op.l1_sector_requests if name == "B" else traffic.write_sector_requests
    return float(req / op.instructions) if op.instructions else 0.0


def explain(shape="4096x768x3072", target="h200", *, dtype="fp32", block="128x64x32", memory=None,
            backward=False, group_m=8, num_warps=4, num_stages=3, seed=0, family=None, load_path="auto",
            analytic=True) -> KernelExplanation:
    """Predict the dense, ROAST and HashedNet GEMMs with the same parameters on a GPU target.

    Parameters are those of :func:`cachesim.kernels.predict`; ``memory`` defaults to
    :data:`DEFAULT_MEMORY` and ``analytic`` to ``True`` (the closed-form traffic model, fast).

    Returns
    -------
    KernelExplanation

    Raises
    ------
    CacheSimError
        For a CPU target or any bad parameter.
    """
    t = get_target(target) if isinstance(target, str) else target
    if not isinstance(t, GpuTarget):
        raise CacheSimError(f"target={getattr(t, 'name', t)!r}: explain compares GPU kernels "
                            "(use h200 or h100)")
    if memory is None:
        memory = DEFAULT_MEMORY
    preds = {k: predict(k, shape, t.name, dtype=dtype, block=block, memory=memory, backward=backward,
                        group_m=group_m, num_warps=num_warps, num_stages=num_stages, seed=seed, family=family,
                        load_path=load_path, analytic=analytic)
             for k in EXPLAIN_KERNELS}
    return KernelExplanation(preds)
