"""Packages re-export their names lazily: the analytic cost model starts without numba, scipy or sympy, and
every re-exported name still resolves to the object of its submodule (each check in a fresh interpreter, so
no other test has loaded the modules first)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PACKAGES = ("roast_theory", "cachesim", "cachesim.kernels")


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_analytic_cost_model_loads_no_simulator():
    got = _run("""
        import json, sys
        from cachesim.kernels import predict
        p = predict("hashednet", "4096x768x3072", "h200", dtype="bf16", memory=1 << 20, analytic=True,
                    index="hash")
        print(json.dumps({"t": p.cost.predicted_time_s, "heavy": sorted(
            m for m in ("numba", "scipy", "sympy", "torch") if m in sys.modules)}))
    """)
    assert got["t"] > 0
    assert got["heavy"] == []


def test_simulation_still_loads_its_kernels():
    got = _run("""
        import json, sys
        from cachesim.kernels import predict
        p = predict("dense", "256x128x256", "h200", dtype="bf16")
        print(json.dumps({"model": p.model, "numba": "numba" in sys.modules}))
    """)
    assert got == {"model": "simulation", "numba": True}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_is_its_submodules_object(package):
    got = _run(f"""
        import importlib, json
        pkg = importlib.import_module({package!r})
        bad = []
        for name in pkg.__all__:
            obj = getattr(pkg, name)
            if isinstance(obj, type(pkg)):  # a submodule
                home = obj.__name__
            elif callable(obj):
                home = obj.__module__
            else:  # data (KERNELS): a first-party module holds it
                home = {package!r}
            if not home.startswith(("roast_theory", "cachesim")):
                bad.append(name)
        missing = [n for n in pkg.__all__ if n not in dir(pkg)]
        print(json.dumps({{"n": len(pkg.__all__), "bad": bad, "missing": missing}}))
    """)
    assert got["n"] > 5
    assert got["bad"] == [] and got["missing"] == []


def test_a_name_spelled_like_its_submodule_stays_the_name():
    # importing the submodule first binds it to the package's attribute; the re-exported function wins
    got = _run("""
        import json
        import roast_theory.verify
        import cachesim.kernels.waterfall
        import cachesim.kernels.cpu_calibration
        import roast_theory, cachesim.kernels as k
        print(json.dumps([type(x).__name__ for x in (roast_theory.verify, k.waterfall, k.cpu_calibration)]))
    """)
    assert got == ["function", "function", "function"]


@pytest.mark.parametrize("package", PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package):
    import importlib

    pkg = importlib.import_module(package)
    with pytest.raises(AttributeError, match="no_such_name"):
        pkg.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        exec(f"from {package} import no_such_name")


def test_submodules_resolve_as_attributes():
    got = _run("""
        import json
        import roast_theory, cachesim
        print(json.dumps([roast_theory.symbolic.__name__, cachesim.kernels.__name__,
                          cachesim.measure.__name__]))
    """)
    assert got == ["roast_theory.symbolic", "cachesim.kernels", "cachesim.measure"]
