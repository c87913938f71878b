"""The paper's headline, re-measured: fast ROAST-MM against cuBLAS, Triton dense and each HashedNet baseline.

Reads the ``gpu-fast-focus`` (forward) and ``gpu-fast-train`` (training step) records written by
``drivers/gpu_fast.py`` and returns one frozen row per (shape, memory). What each HashedNet ratio measures:

* ``hash``: the authors' kernel (a 64-bit modulo by a runtime prime twice per weight element, and scattered
  2-byte loads): index arithmetic AND scattered loads;
* ``arith-only``: the same hash arithmetic with B read coalesced: arithmetic only;
* ``mulshift`` / ``table``: scattered loads with a cheap (two multiplies and a shift) or no (a precomputed
  int32 index) hash: scatter only;
* ``gather``: materialise the weight ``W = M[idx]``, then cuBLAS.

"Fast ROAST-MM" is the fastest ROAST variant with tile starts aligned to at least 128 bytes (``align``
64, or 128 / 256 = a whole tile row for the TMA kernels of ``triton_tma``) in the row; every time is the
smallest ``do_bench`` median over the candidate configurations (L2 flushed). The newest record is read:
``gpu-fast-tma-headline`` (``drivers/gpu_tma.py --mode headline``: TMA and pointer kernels, HashedNet and
gathers in one run) when present, else ``gpu-fast-focus`` (``drivers/gpu_fast.py``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import CacheSimError
from .records import load_records

__all__ = ["HEADLINE_KINDS", "FastHeadline", "TrainStep", "fast_headline", "fast_train_steps",
           "index_fast_cases"]

_HN = ("hash", "mulshift", "table", "arith-only")
#: Record kinds holding forward headline cases, newest format first.
HEADLINE_KINDS = ("gpu-fast-tma-headline", "gpu-fast-focus")
#: A ROAST variant with tile starts aligned to >= 128 bytes, from either kernel family (``tma-`` prefix:
#: ``triton_tma``; ``fast-`` or none: ``triton_fast``).
_ALIGNED_ROAST = re.compile(r"^(tma-|fast-)?roast-.*-a(64|128|256)-t")
_DENSE = ("dense", "fast-dense", "tma-dense")


@dataclass(frozen=True)
class FastHeadline:
    """Forward times (ms) of one GEMM ``Y = X W`` (bf16) and shared-array size, with the ratios."""

    shape: str
    memory: int
    compression: float
    cublas_ms: float
    dense_ms: float
    roast_ms: float
    roast_variant: str
    roast_config: str
    dense_same_config_ms: float | None
    hashednet_ms: dict
    gather_roast_ms: float | None
    gather_hashednet_ms: float | None
    source: str

    @property
    def roast_over_cublas(self) -> float:
        return self.roast_ms / self.cublas_ms

    @property
    def roast_over_dense_same_config(self) -> float | None:
        return None if self.dense_same_config_ms is None else self.roast_ms / self.dense_same_config_ms

    def hashednet_over_roast(self, index: str = "hash") -> float:
        """HashedNet (``index``: hash, mulshift, table, arith-only) time over fast ROAST-MM time."""
        if index not in self.hashednet_ms:
            choices = ", ".join(self.hashednet_ms)
            raise CacheSimError(f"index={index!r} is not recorded: choose one of {choices}")
        return self.hashednet_ms[index] / self.roast_ms

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(roast_over_cublas=self.roast_over_cublas,
                 roast_over_dense_same_config=self.roast_over_dense_same_config,
                 hashednet_over_roast={k: self.hashednet_over_roast(k) for k in self.hashednet_ms})
        return d


@dataclass(frozen=True)
class TrainStep:
    """One training step (forward + dX + gradient into the weight store + SGD update), CUDA-graph timed."""

    shape: str
    memory: int
    impl: str
    ms_graph: float
    cublas_ms_graph: float
    passed: bool
    source: str
    #: ``ms_graph / cublas_ms_graph`` (filled in on construction).
    over_cublas: float = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "over_cublas", self.ms_graph / self.cublas_ms_graph)

    def to_dict(self) -> dict:
        return asdict(self)


#: Folders of validation runs at shapes no constant has seen (timed after the model's predictions for
#: them were committed): they time other shapes than the headline's, so they are never the headline record.
HELD_OUT_FOLDERS = ("call33_heldout", "call36_heldout2", "call38_msweep", "call40_heldout3",
                    "call43_heldout4", "call44_heldout5", "call47_heldout6")


def _records(folder, kind: str, *, headline: bool = False):
    recs = load_records(Path(folder), kind)
    if headline:
        recs = [r for r in recs if not (r.path and Path(r.path).parent.name in HELD_OUT_FOLDERS)]
    if not recs:
        raise CacheSimError(f"{folder}: no {kind!r} record (drivers/gpu_fast.py writes them)")
    return max(recs, key=lambda r: r.provenance.get("date", ""))


def _same_config_dense(variant: str) -> str:
    """The dense kernel of the same family as ``variant`` (timed at the same configurations)."""
    if variant.startswith(("tma-", "fast-")):
        return variant.split("-")[0] + "-dense"
    return "dense"


def _row(key, b: dict, times: dict, source: str) -> FastHeadline:
    roast = [c for v, c in b.items() if _ALIGNED_ROAST.match(v)]
    dense = [b[v] for v in _DENSE if v in b]
    if not roast or "cublas" not in b or not dense:
        raise CacheSimError(f"{source}: case {key} lacks cuBLAS, Triton dense or an aligned ROAST variant")
    r = min(roast, key=lambda c: c["ms"])
    d = min(dense, key=lambda c: c["ms"])
    same = times.get(key, {}).get(_same_config_dense(r["variant"]), {}).get(r["config"])
    return FastHeadline(
        shape=f"{key[0]}x{key[1]}x{key[2]}", memory=int(key[3]), compression=float(r["compression"]),
        cublas_ms=b["cublas"]["ms"], dense_ms=d["ms"], roast_ms=r["ms"], roast_variant=r["variant"],
        roast_config=r["config"], dense_same_config_ms=same,
        hashednet_ms={i: b[f"hashednet-{i}"]["ms"] for i in _HN if f"hashednet-{i}" in b},
        gather_roast_ms=next((c["ms"] for v, c in b.items() if v.startswith("gather-roast")), None),
        gather_hashednet_ms=b.get("gather-hashednet-hash", {}).get("ms"), source=source)


def index_fast_cases(cases) -> tuple[dict, dict]:
    """``(best, times)`` of a gpu_fast record's cases, both keyed by ``(M, K, N, memory)``:
    ``best[key][variant]`` is the variant's ``best`` case, ``times[key][variant][config]`` its ms."""
    best: dict = {}
    times: dict = {}
    for c in cases:
        key = (c.get("M"), c.get("K"), c.get("N"), c.get("memory"))
        if c.get("type") == "best":
            best.setdefault(key, {})[c["variant"]] = c
        elif c.get("type") == "time":
            times.setdefault(key, {}).setdefault(c["variant"], {})[c["config"]] = c["ms"]
    return best, times


def fast_headline(folder="measurements/gpu", kind: str | None = None) -> list[FastHeadline]:
    """The forward headline rows of the newest headline record under ``folder`` (not a held-out validation
    run: :data:`HELD_OUT_FOLDERS`).

    Parameters
    ----------
    folder : path
    kind : str, optional
        ``"gpu-fast-tma-headline"`` or ``"gpu-fast-focus"``; None: the first of :data:`HEADLINE_KINDS`
        present.

    Raises
    ------
    CacheSimError
        When the folder holds no such record, or a case lacks the kernels the headline needs.
    """
    if kind is None:
        kind = next((k for k in HEADLINE_KINDS if load_records(Path(folder), k)), HEADLINE_KINDS[-1])
    elif kind not in HEADLINE_KINDS:
        raise CacheSimError(f"kind={kind!r} must be one of {HEADLINE_KINDS}")
    rec = _records(folder, kind, headline=True)
    best, times = index_fast_cases(rec.cases)
    source = str(Path(rec.path).relative_to(Path(folder))) if rec.path else kind
    return [_row(key, b, times, source) for key, b in sorted(best.items(), key=lambda kv: kv[0])]


def _step_key(c: dict) -> tuple:
    return c["M"], c["K"], c["N"], c["memory"], str(c.get("bwd_config")), str(c.get("dw_config"))


def fast_train_steps(folder="measurements/gpu", kind: str = "gpu-fast-train") -> list[TrainStep]:
    """Training steps of the newest ``kind`` record, each with the same case's cuBLAS step.

    ``kind`` is ``gpu-fast-train`` (one backward configuration for dX and dW), ``gpu-fast-train-tuned``
    (the dW pass split over M, dX with the start table read one step ahead) or ``gpu-fast-tma-headline``
    (TMA forward, dX and weight-gradient kernels beside the older steps and the HashedNet steps).
    """
    rec = _records(folder, kind)
    source = str(Path(rec.path).relative_to(Path(folder))) if rec.path else "gpu-fast-train"
    cases = [c for c in rec.cases if c.get("type") == "train" and c.get("ms_graph")]
    out = []
    for c in cases:
        same = [d for d in cases if _step_key(d) == _step_key(c) and d["impl"] == "cublas"]
        if same and c["impl"] != "cublas":
            out.append(TrainStep(f"{c['M']}x{c['K']}x{c['N']}", int(c["memory"]), c["impl"], c["ms_graph"],
                                 same[0]["ms_graph"], bool(c["passed"]), source))
    return out
