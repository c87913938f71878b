"""Training experiment: global (ROAST) vs local (HashedNet) weight sharing on scikit-learn's digits.

A 2-layer MLP ``64 -> hidden -> 10`` whose two weight matrices are read from hashed memories
(:mod:`roast_theory.torch_layers`), at several compression factors and seeds. Compression counts the
weight matrices only (biases stay dense): with ``n = 64 h + 10 h`` weights,

* global sharing: one memory of ``m = n // c`` slots for both layers (per-layer seeds, module scales);
* local sharing: layer ``l`` gets its own ``m_l = n_l // c`` slots.

The scheme is ``"element"`` (HashedNet-style: one slot per weight) or ``"tile"`` (ROAST-style: ``BK x BN``
tiles placed contiguously, circular placement; default ``2 x 4`` so that a tile fits the smallest local
memory, 12 slots for the 128 x 10 layer at 100x). Both use per-element signs and the hash family given
(default ``"ideal"``), through :mod:`roast_theory.mappings`. torch and scikit-learn are
imported when the experiment runs.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from ._deprecation import renamed_fields, renamed_kwargs
from ._validate import SHARINGS, check_choice, check_int, check_probability, check_real
from .errors import RoastTheoryError

__all__ = ["AccuracySummary", "FamilyGap", "TrainRun", "TrainSharingResult", "hash_family_gap",
           "layer_mapping", "train_sharing_experiment"]

#: Hashing schemes of the experiment: ``"element"`` (HashedNet, one slot per weight) and ``"tile"``
#: (ROAST tiles). These are the labels of the recorded runs (``measurements/cpu/train_sharing.json``).
SCHEMES = ("element", "tile")
INDEXINGS = SCHEMES  # deprecated name of SCHEMES


@renamed_kwargs(indexing="scheme", m_slots="memory")
def layer_mapping(scheme: str, k: int, n: int, memory: int, *, tile: tuple[int, int] = (2, 4),
                  seed: int = 0, family: str = "ideal"):
    """The :mod:`roast_theory.mappings` object that hashes a ``(k, n)`` weight into ``memory`` values.

    Parameters
    ----------
    scheme : {"element", "tile"}
        ``"element"``: :class:`~roast_theory.mappings.ElementMapping` (HashedNet);
        ``"tile"``: :class:`~roast_theory.mappings.TileMapping` with ``tile``, circular placement (ROAST).
    k, n : int
        Weight shape ``(in_features, out_features)``.
    memory : int
        Memory size (``>= BK * BN`` for tiles).
    tile : (int, int)
        ``(BK, BN)``.
    seed : int
        Seed of the hash family (use a different seed per layer that shares a memory).
    family : str
        A :func:`roast_theory.hashes.make_family` name.

    Returns
    -------
    ElementMapping or TileMapping
        With per-element signs.

    Notes
    -----
    element: :math:`h(k, n) = F(k, n) \\bmod m`; tile: :math:`h(k, n) = (s(k // BK, n // BN)
    + (k \\bmod BK) BN + n \\bmod BN) \\bmod m`; sign :math:`g(k, n) = \\pm 1`.
    """
    from .mappings import ElementMapping, TileMapping

    check_choice("scheme", scheme, SCHEMES)
    if scheme == "element":
        return ElementMapping((k, n), memory, family=family, seed=seed, sign="element")
    return TileMapping((k, n), memory, tile=tuple(tile), placement="circular", sign="element", family=family,
                       seed=seed)


@renamed_fields(indexing="scheme", m_slots="memory")
@dataclass(frozen=True)
class TrainRun:
    """One training run: configuration, memory sizes and the test accuracy.

    :meth:`to_case` writes the keys of the recorded runs (``"indexing"`` for ``scheme``, ``"m_slots"`` for
    ``memory``); ``TrainRun(**case)`` reads them back (the old keyword names are deprecated aliases).
    """

    scheme: str
    sharing: str
    compression: float
    seed: int
    hidden: int
    memory: tuple
    n_weights: int
    test_accuracy: float
    train_accuracy: float
    seconds: float

    def to_case(self) -> dict:
        return {"indexing": self.scheme, "sharing": self.sharing, "compression": self.compression,
                "seed": self.seed, "hidden": self.hidden, "m_slots": list(self.memory),
                "n_weights": self.n_weights, "test_accuracy": self.test_accuracy,
                "train_accuracy": self.train_accuracy, "seconds": self.seconds}


@renamed_fields(indexing="scheme")
@dataclass(frozen=True)
class AccuracySummary:
    """Test accuracy of one configuration over seeds: mean and standard error of the mean.

    Notes
    -----
    :math:`\\bar a = \\frac1S \\sum_s a_s`, :math:`SE = s_a / \\sqrt S` (sample standard deviation,
    ``ddof=1``); the confidence interval uses Student's t with ``S - 1`` degrees of freedom.
    """

    scheme: str
    sharing: str
    compression: float
    mean: float
    standard_error: float
    n_seeds: int

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Student-t interval for the mean accuracy."""
        from scipy import stats

        confidence_level = check_probability("confidence_level", confidence_level)
        if self.n_seeds < 2:
            return (float("nan"), float("nan"))
        t = stats.t.ppf(0.5 + confidence_level / 2, self.n_seeds - 1)
        return (self.mean - t * self.standard_error, self.mean + t * self.standard_error)


@dataclass(frozen=True)
class TrainSharingResult:
    """All runs of :func:`train_sharing_experiment`, with per-configuration summaries."""

    runs: tuple
    dense: tuple  # TrainRun of the uncompressed baseline (compression 1)
    settings: dict

    @renamed_kwargs(indexing="scheme")
    def summary(self, scheme: str, sharing: str, compression: float) -> AccuracySummary:
        """Mean +- SE of the test accuracy of one configuration."""
        acc = np.array([r.test_accuracy for r in self.runs if r.scheme == scheme and r.sharing == sharing
                        and r.compression == compression])
        if acc.size == 0:
            raise RoastTheoryError(f"no runs for scheme={scheme!r}, sharing={sharing!r}, "
                                   f"compression={compression!r}")
        se = acc.std(ddof=1) / math.sqrt(acc.size) if acc.size > 1 else float("nan")
        return AccuracySummary(scheme, sharing, compression, float(acc.mean()), float(se), int(acc.size))

    def table(self) -> tuple:
        """One :class:`AccuracySummary` per (scheme, sharing, compression), in run order."""
        keys = list(dict.fromkeys((r.scheme, r.sharing, r.compression) for r in self.runs))
        return tuple(self.summary(*key) for key in keys)

    def dense_summary(self) -> AccuracySummary:
        acc = np.array([r.test_accuracy for r in self.dense])
        se = acc.std(ddof=1) / math.sqrt(acc.size) if acc.size > 1 else float("nan")
        return AccuracySummary("dense", "none", 1.0, float(acc.mean()), float(se), int(acc.size))

    def to_cases(self) -> list:
        return [r.to_case() for r in self.dense + self.runs]

    def format(self) -> str:
        """A plain-text table (accuracy mean +- standard error over seeds)."""
        d = self.dense_summary()
        lines = [f"{'scheme':8s} {'sharing':7s} {'compr':>6s} {'test acc':>18s} {'seeds':>5s}",
                 f"{'dense':8s} {'-':7s} {1:6.0f} {d.mean:9.4f} +- {d.standard_error:6.4f} {d.n_seeds:5d}"]
        for s in self.table():
            lines.append(f"{s.scheme:8s} {s.sharing:7s} {s.compression:6.0f} {s.mean:9.4f} +- "
                         f"{s.standard_error:6.4f} {s.n_seeds:5d}")
        return "\n".join(lines)


@functools.lru_cache(maxsize=4)
def _digits(split_seed: int):
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    perm = np.random.default_rng(split_seed).permutation(len(y))
    n_test = len(y) // 4
    test, train = perm[:n_test], perm[n_test:]
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-3
    x = (x - mu) / sd
    return x[train], y[train], x[test], y[test]


def _build_model(torch, scheme, sharing, compression, hidden, seed, tile, family):
    from . import torch_layers as tl

    shapes = [(64, hidden), (hidden, 10)]
    sizes = [k * n for k, n in shapes]
    if sharing == "global":
        m_total = max(1, int(sum(sizes) // compression))
        mem = tl.SharedMemory(m_total, seed=seed)
        mems, memory = [mem, mem], (m_total,)
    else:
        memory = tuple(max(1, int(s // compression)) for s in sizes)
        mems = [tl.SharedMemory(m, seed=seed * 2 + i) for i, m in enumerate(memory)]
    layers = []
    for i, ((k, n), mem) in enumerate(zip(shapes, mems)):
        mapping = layer_mapping(scheme, k, n, mem.memory, tile=tile, seed=seed * 16 + i, family=family)
        cls = tl.RoastLinear if scheme == "tile" else tl.HashedNetLinear
        layers.append(cls.from_mapping(mapping, k, n, mem, scale=tl.module_scale(k, mem.init_std)))
    model = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1])
    return model, memory, sum(sizes)


def _train_one(torch, model, data, *, epochs, batch_size, lr, seed):
    x_tr, y_tr, x_te, y_te = (torch.from_numpy(a) for a in data)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        perm = torch.randperm(len(y_tr), generator=gen)
        for start in range(0, len(y_tr), batch_size):
            b = perm[start:start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x_tr[b]), y_tr[b]).backward()
            opt.step()
    with torch.no_grad():
        acc_te = (model(x_te).argmax(1) == y_te).double().mean().item()
        acc_tr = (model(x_tr).argmax(1) == y_tr).double().mean().item()
    return acc_te, acc_tr


@renamed_kwargs(indexings="schemes")
def train_sharing_experiment(compressions=(10, 30, 100), seeds=5, *, hidden: int = 128,
                             schemes=SCHEMES, sharings=SHARINGS, tile=(2, 4), epochs: int = 12,
                             batch_size: int = 64, lr: float = 1e-2, family: str = "ideal",
                             split_seed: int = 0, threads: int | None = 1,
                             workers: int = 1) -> TrainSharingResult:
    """Train the compressed MLP on digits for every configuration and seed.

    Parameters
    ----------
    compressions : sequence of float
        Compression factors ``c > 1`` (weights / memory slots).
    seeds : int
        Seeds ``0 .. seeds-1`` (hash draw, memory init, batch order).
    hidden : int
        Hidden width.
    schemes, sharings : sequences
        Subsets of ``("element", "tile")`` and ``("global", "local")``.
    tile : (int, int)
        ROAST tile ``(BK, BN)`` for the ``"tile"`` scheme.
    epochs, batch_size, lr : training settings (Adam, cross-entropy).
    family : str
        Hash family name.
    split_seed : int
        Seed of the fixed 75/25 train/test split (the same for every run).
    threads : int or None
        ``torch.set_num_threads`` in the process that trains (None: leave as is).
    workers : int
        Worker processes (``spawn``); 1 trains in this process.

    Returns
    -------
    TrainSharingResult

    Notes
    -----
    Every run reports its test accuracy; summaries give :math:`\\bar a \\pm s_a/\\sqrt S`.
    """
    seeds = check_int("seeds", seeds, low=1)
    hidden = check_int("hidden", hidden, low=1)
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    workers = check_int("workers", workers, low=1)
    if threads is not None:
        threads = check_int("threads", threads, low=1)
    comps = [check_real("compression", c, low=1.0, low_open=True) for c in compressions]
    for v in schemes:
        check_choice("scheme", v, SCHEMES)
    for v in sharings:
        check_choice("sharing", v, SHARINGS)
    common = dict(hidden=hidden, tile=tuple(tile), epochs=epochs, batch_size=batch_size, lr=lr, family=family,
                  split_seed=split_seed, threads=threads)
    jobs = [dict(common, scheme="dense", sharing="none", compression=1.0, seed=s) for s in range(seeds)]
    jobs += [dict(common, scheme=i, sharing=sh, compression=c, seed=s)
             for i in schemes for sh in sharings for c in comps for s in range(seeds)]
    if workers == 1:
        import torch

        old_threads = torch.get_num_threads()
        try:
            done = [_run_job(job) for job in jobs]
        finally:
            torch.set_num_threads(old_threads)
    else:
        import concurrent.futures as cf
        import multiprocessing as mp

        with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            done = list(pool.map(_run_job, jobs))
    dense = tuple(r for r in done if r.scheme == "dense")
    runs = tuple(r for r in done if r.scheme != "dense")
    n_test = len(load_digits_targets()) // 4
    settings = {"hidden": hidden, "tile": list(tile), "epochs": epochs, "batch_size": batch_size, "lr": lr,
                "family": family, "split_seed": split_seed, "optimizer": "Adam", "workers": workers,
                "threads_per_worker": threads, "n_test": n_test}
    return TrainSharingResult(runs, dense, settings)


def load_digits_targets() -> np.ndarray:
    """Labels of scikit-learn's bundled digits dataset (1797 samples, 10 classes)."""
    from sklearn.datasets import load_digits

    return load_digits().target


def _run_job(job: dict) -> TrainRun:
    """Train one configuration (a module-level function so that worker processes can run it)."""
    import torch

    from . import torch_layers as tl

    if job["threads"] is not None:
        torch.set_num_threads(job["threads"])
    data = _digits(job["split_seed"])
    seed, hidden = job["seed"], job["hidden"]
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    if job["scheme"] == "dense":
        model = torch.nn.Sequential(tl.DenseLinear(64, hidden, seed=seed), torch.nn.ReLU(),
                                    tl.DenseLinear(hidden, 10, seed=seed + 1000))
        memory, n_weights = (), 74 * hidden
    else:
        model, memory, n_weights = _build_model(torch, job["scheme"], job["sharing"], job["compression"],
                                                 hidden, seed, job["tile"], job["family"])
    te, tr = _train_one(torch, model, data, epochs=job["epochs"], batch_size=job["batch_size"], lr=job["lr"],
                        seed=seed)
    return TrainRun(job["scheme"], job["sharing"], job["compression"], seed, hidden, memory, n_weights,
                    te, tr, time.perf_counter() - t0)


# ------------------------------------------------------------------------------ exact kernel hash gap
@dataclass(frozen=True)
class FamilyGap:
    """Output variance of a torch ROAST layer over hash draws of one family, vs the ideal-hash closed form.

    Attributes
    ----------
    family : str
    draws : int
    empirical_mean, empirical_variance : numpy.ndarray
        Per output unit, over the draws.
    closed_form_mean, closed_form_variance : numpy.ndarray
        :func:`roast_theory.moments.block_tile_moments` per output unit (ideal hashing, kernel placement,
        per-element signs).
    variance_se : numpy.ndarray
        Standard error of ``empirical_variance`` (from the sample fourth moment).
    """

    family: str
    draws: int
    empirical_mean: np.ndarray
    empirical_variance: np.ndarray
    closed_form_mean: np.ndarray
    closed_form_variance: np.ndarray
    variance_se: np.ndarray

    def variance_ratio(self) -> float:
        """Mean over output units of empirical / closed-form variance (1 for an ideal hash)."""
        return float(np.mean(self.empirical_variance / self.closed_form_variance))

    def z_scores(self) -> np.ndarray:
        """``(empirical - closed form) / SE`` of the variance, per output unit."""
        return (self.empirical_variance - self.closed_form_variance) / self.variance_se

    def max_abs_z(self) -> float:
        return float(np.max(np.abs(self.z_scores())))


def hash_family_gap(family: str = "rz-stable", *, shape: tuple[int, int] = (32, 32), tile=(8, 8),
                    memory: int = 256, draws: int = 2000, seed: int = 0) -> FamilyGap:
    """Variance of a real torch :class:`RoastLinear` output over ``draws`` seeds of a hash family.

    Parameters
    ----------
    family : str
        Hash family (``"ideal"``, ``"rz-stable"``, ``"rz-v1"``, ...); tile starts from the family with
        kernel placement (``s`` in ``[0, m - T)``), per-element signs from the family's sign hash.
    shape, tile, memory :
        The layer's ``(in, out)`` shape, ROAST tile and memory size.
    draws : int
        Seeds ``seed .. seed + draws - 1``.
    seed : int
        First seed; also seeds the fixed input ``x`` and weights ``w``.

    Returns
    -------
    FamilyGap

    Notes
    -----
    Each draw sketches the fixed weight ``w`` into the memory, ``M = S w``, and records
    ``y = x @ (g * M[h])``; for an ideal hash ``E y = x^T w`` and ``Var y_j`` is the C1 closed form with the
    kernel-placement lag probability ``p(d) = (S - |d|)_+ / S^2``, ``S = m - T``.
    """
    import torch

    from . import torch_layers as tl
    from .mappings import TileMapping
    from .moments import block_tile_moments

    draws = check_int("draws", draws, low=10)
    k, n = shape
    rng = np.random.default_rng(seed)
    w = (np.cos(np.arange(k * n) / 7.0).reshape(k, n) + 0.5 * rng.standard_normal((k, n))) / np.sqrt(k)
    x = 0.3 + rng.standard_normal(k)
    mem = tl.SharedMemory(memory, dtype="float64")

    def mapping(s):
        return TileMapping((k, n), memory, tile=tile, placement="kernel", sign="element", family=family,
                           seed=s)

    first = mapping(seed)
    layer = tl.RoastLinear.from_mapping(first, k, n, mem, bias=False)
    if layer.sign is None:
        raise RoastTheoryError("the family gave all-positive signs: cannot measure the signed variance")
    x_t = torch.from_numpy(x)
    out = np.empty((draws, n))
    with torch.no_grad():
        for d in range(draws):
            mp = first if d == 0 else mapping(seed + d)
            layer.set_index(mp.index, mp.sign)
            mem.weight.copy_(torch.from_numpy(mp.sketch(w)))
            out[d] = layer(x_t).numpy()
    cf_mean, cf_var = [], []
    for j in range(n):
        x_col = np.zeros((k, n))
        x_col[:, j] = x
        r = block_tile_moments(x_col, w, memory, tuple(tile), sign="element", placement="kernel")
        cf_mean.append(r.mean)
        cf_var.append(r.variance)
    c = out - out.mean(0)
    var = (c**2).sum(0) / (draws - 1)
    se = np.sqrt(np.maximum((c**4).mean(0) - var**2, 1e-300) / draws)
    return FamilyGap(family, draws, out.mean(0), var, np.array(cf_mean), np.array(cf_var), se)
