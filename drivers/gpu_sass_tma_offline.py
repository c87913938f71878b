"""Offline SASS of every timed TMA kernel: k-loop counts, occupancy and which schedules Triton split.

Run from the repository root, with Triton 3.6.0 importable (its NVIDIA backend brings ``ptxas``,
``nvdisasm`` and ``cuobjdump``)::

    PYTHONPATH=.:/path/to/triton-site python drivers/gpu_sass_tma_offline.py
    PYTHONPATH=.:/path/to/triton-site python drivers/gpu_sass_tma_offline.py --limit 4 --out /tmp/sass

What it does
------------
1. Collects every ``(variant, config)`` of the TMA kernels timed in the TMA records (``gpu-fast-tma``,
   ``gpu-fast-tma-headline``): plain, persistent (``-p``) and warp-specialised (``-pw``), forward and the
   input-gradient kernel ``dX = dY W^T`` (cases of type ``dx``; its pairs carry the config suffix ``-dx``),
   one timed shape each (the kernel does not specialise on the sizes: they are multiples of 16 in every
   record).
2. Builds the launch exactly as :func:`cachesim.measure.triton_tma.tma_launch` does (the record's weight,
   ``prepare`` on the CPU for the scalar arguments, host tensor descriptors over mock tensors, the same
   constexprs and ``num_warps``/``num_stages``), asks Triton's argument binder for the launch's
   specialisation and compiles it with ``triton.compile(ASTSource(...), target=GPUTarget("cuda", 90, 32))``.
3. Records per pair the k-loop counts of :func:`gpu_sass_offline.counts` (the shortest backward-branch
   region holding the MMA; registers and shared memory for the occupancy), ``warp_specialized`` (the
   listing holds ``USETMAXREG``, the register hand-over between the producer and consumer partitions of
   Triton's warp specialisation), the warps the compiled kernel launches (``num_warps`` of its metadata:
   12 for a 4-warp consumer plus its partitions), the listing's SHA-256, the table load (``LDGSTS`` +
   ``DEPBAR``: the consumer waits on the start's cp.async; ``LDG`` only: the producer reads it) and, for
   a ``-pw`` pair, ``same_as_persistent``: its listing is byte-identical to the ``-p`` listing of the
   same kernel.
4. Writes ``<out>/gpu_sass_tma_offline.json`` (kind ``gpu-sass-tma-offline``) and the listings
   ``<out>/sass_tma_offline.txt.gz`` (``##### <variant> <config> regs=.. shared=..`` sections).

Compiled output, not a device measurement. :func:`cachesim.kernels.tma.tma_schedule` reads the record.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gpu_sass_offline import OfflineCompiler, counts, write_listings  # noqa: E402

from cachesim.measure import triton_fast as tf  # noqa: E402
from cachesim.measure.records import write_record  # noqa: E402

KIND = "gpu-sass-tma-offline"
_CONFIG = re.compile(r"^(\d+)x(\d+)x(\d+)-g(\d+)-w(\d+)-s(\d+)(-p|-pw)?(-dx)?$")
_VARIANT = re.compile(r"^tma-(dense|roast-(table|hash32)-a(\d+)-t(\d+)x(\d+))$")
SEEDS = {"roast": 1}


def weight_of(variant: str, memory: int) -> tf.FastWeight:
    """The weight of a TMA variant name, as ``drivers/gpu_tma.py`` builds it."""
    m = _VARIANT.match(variant)
    if not m:
        raise ValueError(f"variant={variant!r} is not a TMA kernel name")
    if m.group(1) == "dense":
        return tf.FastWeight("dense", "dense")
    return tf.FastWeight("roast", m.group(2), memory, (int(m.group(4)), int(m.group(5))), int(m.group(3)),
                         seed=SEEDS["roast"])


def config_of(label: str):
    """The :class:`~cachesim.measure.triton_tma.TmaConfig` of a label such as ``64x128x64-g8-w4-s3-pw``."""
    from cachesim.measure.triton_tma import TmaConfig

    m = _CONFIG.match(label)
    if not m:
        raise ValueError(f"config={label!r} is not a BMxBNxBK-gG-wW-sS[-p|-pw][-dx] label")
    bm, bn, bk, g, w, s = (int(x) for x in m.groups()[:6])
    return TmaConfig(block_m=bm, block_n=bn, block_k=bk, group_m=g, num_warps=w, num_stages=s,
                     persistent=m.group(7) is not None, warp_specialize=m.group(7) == "-pw")


def timed_pairs(records: Path) -> dict:
    """``{(variant, config): (M, K, N, memory)}``: the timed TMA pairs (``dX`` kernels: config + ``-dx``),
    one timed shape each."""
    from cachesim.measure.compare.tma_time import _cases
    from cachesim.measure.records import read_once

    out: dict = {}
    with read_once():
        cases = [c for _, c in _cases(records)]
        cases += [dict(c, config=f"{c['config']}-dx") for _, c in _cases(records, ("dx",)) if c.get("config")]
    for c in cases:
        if c["variant"].startswith("tma-") and _CONFIG.match(c.get("config") or ""):
            out.setdefault((c["variant"], c["config"]), (c["M"], c["K"], c["N"], c.get("memory")))
    return dict(sorted(out.items()))


class TmaCompiler(OfflineCompiler):
    """:class:`OfflineCompiler` for ``tma_kernel`` (host tensor descriptors over mock tensors)."""

    def __init__(self):
        super().__init__()
        from triton.runtime.jit import create_function_from_signature

        from cachesim.measure._triton_tma_jit import tma_kernel

        self.fn = tma_kernel
        self.binder = create_function_from_signature(self.fn.signature, self.fn.params, self.backend)

    def specialise(self, w: tf.FastWeight, cfg, shape, transpose: bool = False):
        """Triton's packed launch arguments of ``tma_launch`` (``transpose``: the ``dX`` kernel)."""
        from triton.tools.tensor_descriptor import TensorDescriptor

        from cachesim.measure.triton_tma import _MODES

        m, k, n, _ = shape
        prep = w.prepare(k, n, "cpu")
        dt = self.torch.bfloat16
        p, r = (k, n) if transpose else (n, k)

        def desc(rows, cols, block):
            return TensorDescriptor(self.Mock(dt), [rows, cols], [cols, 1], list(block))

        a = desc(m, r, (cfg.block_m, cfg.block_k))
        pair = w.scheme == "roast" and transpose and cfg.block_n == 2 * w.tile[0]
        c = desc(m, p, (cfg.block_m, cfg.block_n // 2 if pair else cfg.block_n))
        if w.scheme == "dense":
            b = desc(k, n, (cfg.block_n, cfg.block_k) if transpose else (cfg.block_k, cfg.block_n))
        else:
            bk, bn = w.tile
            b = desc(w.memory // bn, bn, (bk, bn))
        aux = self.Mock(self.torch.int32 if prep.aux is not None else dt)
        kw = dict(B_MODE=_MODES[(w.scheme, w.index)], TRANS_B=transpose, TBK=w.tile[0], TBN=w.tile[1],
                  BLOCK_M=cfg.block_m, BLOCK_P=cfg.block_n, BLOCK_R=cfg.block_k, GROUP_M=cfg.group_m,
                  PERSISTENT=cfg.persistent, FLATTEN=cfg.flatten, WARP_SPEC=cfg.warp_specialize,
                  num_warps=cfg.num_warps, num_stages=cfg.num_stages)
        kw["debug"] = self.fn.debug or self.knobs.runtime.debug
        kw["instrumentation_mode"] = self.knobs.compilation.instrumentation_mode
        args = (a, b, c, aux, m, p, r, prep.n_tile_cols, 1.0, *prep.args[:8])
        bound, spec, opts = self.binder(*args, **kw)
        return None, self.fn._pack_args(self.backend, kw, bound, spec, opts)

    def compile_full(self, packed):
        """``(sass, registers, shared_bytes, launched warps)``."""
        sass, regs, c = self.compiled(packed)
        return sass, regs, int(c.metadata.shared), int(c.metadata.num_warps)


def facts(sass: str) -> dict:
    """What the listing says about the schedule and the start-table read."""
    return {"warp_specialized": "USETMAXREG" in sass,
            "table_ldgsts": len(re.findall(r"\bLDGSTS\b", sass)),
            "table_ldg": len(re.findall(r"\bLDG\.E\b", sass)),
            "depbar": len(re.findall(r"\bDEPBAR\.LE\b", sass)),
            "hgmma": len(re.findall(r"\bHGMMA\.", sass)),
            "lines": sass.count("\n"),
            "sha256": hashlib.sha256(sass.encode()).hexdigest()}


def run(records: Path, out: Path, limit: int | None = None) -> dict:
    comp = TmaCompiler()
    pairs = list(timed_pairs(records).items())[:limit]
    cases, texts = [comp.env()], []
    for i, ((variant, config), shape) in enumerate(pairs):
        case = {"type": "sass", "variant": variant, "config": config, "shape": list(shape)}
        try:
            _, packed = comp.specialise(weight_of(variant, shape[3] or 0), config_of(config), shape,
                                        transpose=config.endswith("-dx"))
            sass, regs, shared, warps = comp.compile_full(packed)
        except Exception as e:  # recorded, not raised: one failed pair must not lose the others
            case["error"] = f"{type(e).__name__}: {e}"[:400]
        else:
            header = f"{variant} {config} regs={regs} shared={shared}"
            case.update(registers=regs, shared_bytes=shared, launched_warps=warps, **facts(sass),
                        **counts(sass, header))
            texts.append(f"##### {header}\n{sass}")
        cases.append(case)
        print(f"{i + 1:3d}/{len(pairs)} {variant:30s} {config:24s} "
              f"{case.get('error') or (case['warp_specialized'], case['launched_warps'], case['loop_mix'])}",
              flush=True)
    sha = {(c["variant"], c["config"]): c.get("sha256") for c in cases[1:]}
    for c in cases[1:]:
        base, dx = (c["config"][:-3], "-dx") if c["config"].endswith("-dx") else (c["config"], "")
        if base.endswith("-pw") and "sha256" in c:
            c["same_as_persistent"] = sha.get((c["variant"], base[:-1] + dx)) == c["sha256"]
    out.mkdir(parents=True, exist_ok=True)
    path = write_listings(out, texts, "sass_tma_offline.txt", gzip_above=0)  # always gzipped
    notes = (f"COMPILED OUTPUT, not a device measurement: Triton {cases[0]['triton']} compiled every timed "
             f"TMA (variant, config) for {cases[0]['target']} on a CPU host with the launch's own "
             f"specialisation; listings in {path.name}.")
    write_record(out / "gpu_sass_tma_offline.json", KIND, cases, notes=notes)
    return {"pairs": len(pairs), "failed": sum("error" in c for c in cases[1:]),
            "warp_specialized": sum(bool(c.get("warp_specialized")) for c in cases[1:])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", default="measurements/gpu", help="folder of the TMA records")
    ap.add_argument("--out", default="measurements/gpu/sass_offline", help="output folder")
    ap.add_argument("--limit", type=int, default=None, help="compile only the first N pairs")
    a = ap.parse_args(argv)
    print(run(Path(a.records), Path(a.out), a.limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
