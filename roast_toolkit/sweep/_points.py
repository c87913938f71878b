"""One sweep point: the checks across its parameters, and its evaluation (what a Dask task runs)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .errors import SweepError

GPU_ONLY = ("backward", "analytic")


def _where(point: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in point.items() if v is not None)


def check_point(command: str, point: dict, base: Path) -> None:
    """Raise :class:`SweepError` if no run of ``point`` can succeed (checks that need several parameters)."""
    if command == "kernel":
        _check_kernel(point)
    else:
        _check_theory(point, base)


def _check_kernel(p: dict) -> None:
    from cachesim.kernels.targets import GPU_TARGETS

    if p["kernel"] != "dense" and p["memory"] is None:
        raise SweepError(f"memory is required for kernel={p['kernel']!r} (point {_where(p)})")
    gpu = p["target"] in GPU_TARGETS
    for key in GPU_ONLY:
        if p[key] and not gpu:
            raise SweepError(f"{key}=true is GPU-only: target={p['target']!r} is a CPU (point {_where(p)})")
    if p["backward"] and p["kernel"].startswith("gather"):
        raise SweepError(f"backward=true is not modelled for kernel={p['kernel']!r}")
    dims = [int(v) for v in p["shape"].split("x")]  # M, K, N
    if gpu:
        bm, bn, bk = (int(v) for v in p["block"].split("x"))
        tiles = (("M", bm, "BLOCK_M"), ("K", bk, "BLOCK_K"), ("N", bn, "BLOCK_N"))
    else:
        tm, tn, tk = (int(v) for v in p["loop_tiles"].split("x"))
        tiles = (("M", tm, "loop_tiles TM"), ("K", tk, "loop_tiles TK"), ("N", tn, "loop_tiles TN"))
    for dim, (name, t, tname) in zip(dims, tiles):
        if dim % t:
            raise SweepError(f"shape={p['shape']!r}: {name}={dim} must be a multiple of {tname}={t} "
                             f"(point {_where(p)})")


def _check_theory(p: dict, base: Path) -> None:
    files = p["x"] is not None or p["w"] is not None
    if files and (p["x"] is None or p["w"] is None or p["n"] is not None):
        raise SweepError(f"give either n (synthetic x, w) or both x and w files (point {_where(p)})")
    if not files and p["n"] is None:
        raise SweepError(f"n is required (or x and w .npy files) (point {_where(p)})")
    for key in ("x", "w"):
        if p[key] is not None and not (base / p[key]).is_file():
            raise SweepError(f"{key}={p[key]!r}: no such file {str(base / p[key])!r}")
    if p["memory"] < p["tile"]:
        raise SweepError(f"memory={p['memory']} must be >= tile={p['tile']} (point {_where(p)})")


# ------------------------------------------------------------------------------------------ evaluation
def predict_kernel(point: dict) -> dict:
    """The ``cachesim kernel --json`` object of a kernel point (:func:`cachesim.kernels.predict`)."""
    from cachesim.kernels import predict

    return predict(**point).to_dict()


def _data(p: dict, base: Path) -> tuple[np.ndarray, np.ndarray]:
    if p["x"] is not None:
        from roast_toolkit._io import load_array

        return load_array("x", str(base / p["x"])), load_array("w", str(base / p["w"]))
    rng = np.random.default_rng(p["data_seed"])
    n = p["n"]
    if p["data"] == "gaussian":
        return rng.standard_normal(n), rng.standard_normal(n)
    if p["data"] == "rademacher":
        return rng.choice([-1.0, 1.0], n), rng.choice([-1.0, 1.0], n)
    return rng.uniform(-1.0, 1.0, n), rng.uniform(-1.0, 1.0, n)


def theory_variance(point: dict, base: Path) -> dict:
    """Closed-form moments of ``<w_hat, x>`` (:func:`roast_theory.tile_hashing_moments`) and the std."""
    from roast_theory import tile_hashing_moments

    x, w = _data(point, base)
    res = tile_hashing_moments(x, w, point["memory"], point["tile"], point["sign"], point["placement"])
    return res.to_dict() | {"std": float(res.std)}


def theory_montecarlo(point: dict, base: Path) -> dict:
    """Monte Carlo estimate (:func:`roast_theory.mc_inner_product`) beside the closed form."""
    from roast_theory import mc_inner_product, tile_hashing_moments

    x, w = _data(point, base)
    p = point
    est = mc_inner_product(x, w, memory=p["memory"], tile=p["tile"], sign=p["sign"], placement=p["placement"],
                           family=p["family"], trials=p["trials"], seed=p["seed"])
    mlo, mhi = est.confidence_interval(p["level"])
    vlo, vhi = est.variance_confidence_interval(p["level"])
    out = {"mean": est.mean, "variance": est.variance, "mean_se": est.mean_se, "variance_se": est.variance_se,
           "mean_ci_low": mlo, "mean_ci_high": mhi, "variance_ci_low": vlo, "variance_ci_high": vhi}
    cf = tile_hashing_moments(x, w, p["memory"], p["tile"], p["sign"], p["placement"])
    out |= {"closed_form_mean": cf.mean, "closed_form_variance": cf.variance,
            "z_variance": est.z_score(cf.variance, of="variance")}
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in out.items()}


def evaluate(command: str, point: dict, base: Path) -> dict:
    """The output object of one point (nested dicts allowed)."""
    if command == "kernel":
        return predict_kernel(point)
    if command == "variance":
        return theory_variance(point, base)
    return theory_montecarlo(point, base)


def run_point(command: str, point: dict, base: str, version: str) -> dict:
    """Evaluate one point: ``{"status", "error", "outputs", "seconds", "version"}``; never raises.

    This is the function the workers run; a failure becomes ``status="error"`` with its message.
    """
    t0 = time.perf_counter()
    try:
        outputs, status, error = evaluate(command, point, Path(base)), "ok", None
    except Exception as exc:  # noqa: BLE001 - a failed point is recorded, the sweep goes on
        outputs, status = {}, "error"
        error = f"{type(exc).__name__}: {exc}"
    return {"status": status, "error": error, "outputs": outputs, "seconds": time.perf_counter() - t0,
            "version": version}
