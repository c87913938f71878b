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
import time

import numpy as np

from ._deprecation import renamed_kwargs
from ._validate import SHARINGS, check_choice, check_int, check_real
from .layer_mappings import SCHEMES, layer_mapping
from .training_results import TrainRun, TrainSharingResult

__all__ = ["load_digits_targets", "train_sharing_experiment"]


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
    done = _run_jobs(jobs, workers)
    dense = tuple(r for r in done if r.scheme == "dense")
    runs = tuple(r for r in done if r.scheme != "dense")
    n_test = len(load_digits_targets()) // 4
    settings = {"hidden": hidden, "tile": list(tile), "epochs": epochs, "batch_size": batch_size, "lr": lr,
                "family": family, "split_seed": split_seed, "optimizer": "Adam", "workers": workers,
                "threads_per_worker": threads, "n_test": n_test}
    return TrainSharingResult(runs, dense, settings)


def _run_jobs(jobs: list[dict], workers: int) -> list[TrainRun]:
    """Train every job, in this process (``workers == 1``; torch's thread count is restored) or in
    ``workers`` spawned processes."""
    if workers == 1:
        import torch

        old_threads = torch.get_num_threads()
        try:
            return [_run_job(job) for job in jobs]
        finally:
            torch.set_num_threads(old_threads)
    import concurrent.futures as cf
    import multiprocessing as mp

    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        return list(pool.map(_run_job, jobs))


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
