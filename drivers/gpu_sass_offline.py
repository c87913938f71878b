"""Offline SASS of every timed fast-kernel configuration: compiled for sm_90 on a CPU host, no GPU.

Run from the repository root, with Triton 3.6.0 importable (its NVIDIA backend brings ``ptxas``,
``nvdisasm`` and ``cuobjdump``)::

    PYTHONPATH=.:/path/to/triton-site python drivers/gpu_sass_offline.py
    PYTHONPATH=.:/path/to/triton-site python drivers/gpu_sass_offline.py --limit 5 --out /tmp/sass

What it does
------------
1. Reads the bf16 fast-kernel records ``gpu-fast-time`` and ``gpu-fast-focus`` under ``--records``
   (``cachesim.measure.records.load_records``) and collects every ``(variant, config)`` timed there
   (cases of type ``time`` or ``best`` with ``impl == "triton"``), with every ``(M, K, N, memory)`` it was
   timed at; the pairs whose SASS the device recorded (``call7_time/sass_fast.txt``) are added where the
   timings lack them.
2. For each pair, builds the launch exactly as :func:`cachesim.measure.triton_fast.fast_matmul` does
   (the :class:`~cachesim.measure.triton_fast.FastWeight` of the record, ``prepare`` on the CPU for the
   scalar arguments, the same constexprs, ``num_warps``/``num_stages``) and asks Triton's own argument
   binder for the specialisation a launch gets: argument types (``i32``/``i64`` from the values),
   16-byte alignment of the pointers (a CUDA allocation is 256-byte aligned) and divisibility by 16 of the
   specialised integers ``M, N, K``. Shapes whose specialisation is identical compile to the identical
   kernel; the pair is compiled once per distinct specialisation (every timed shape gives one).
3. Compiles with ``triton.compile(ASTSource(...), target=GPUTarget("cuda", 90, 32))`` and counts the
   k-loop of the SASS with :func:`cachesim.kernels.sass.loop_mix` and
   :func:`cachesim.kernels.sass.load_profile` (registers from ``cuobjdump --dump-resource-usage`` of the
   cubin, shared memory from the kernel's metadata, as the device driver reports them).
4. Writes ``<out>/gpu_sass_offline.json`` (kind ``gpu-sass-offline``; one ``env`` case with the Triton
   and ptxas versions and the target, one ``sass`` case per pair, with the error where a compile failed)
   and the listings ``<out>/sass_offline.txt`` (``##### <variant> <config> regs=.. shared=..`` sections,
   as ``call7_time/sass_fast.txt``; gzipped to ``sass_offline.txt.gz`` above 5 MB).

``--check-shapes N`` also compiles N pairs at a second timed shape and records whether the listing is
byte-identical (it must be, where the specialisation is). Compiled output, not a device measurement.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cachesim.kernels.sass import load_profile, loop_mix, read_listings, remainder_path  # noqa: E402
from cachesim.measure import triton_fast as tf  # noqa: E402
from cachesim.measure.records import load_records, write_record  # noqa: E402

KINDS = ("gpu-fast-time", "gpu-fast-focus")
DEVICE_SASS = "call7_time/sass_fast.txt"
#: The shape and weight seeds the device's SASS dump used (``drivers/gpu_fast.py`` ``sass_dump``).
DEVICE_SHAPE = (4096, 768, 3072, 262144)
SEEDS = {"roast": 1, "hashednet": 2, "dense": 0}
GZIP_ABOVE = 5 * 1024 * 1024
_CONFIG = re.compile(r"^(\d+)x(\d+)x(\d+)-g(\d+)-w(\d+)-s(\d+)$")
_VARIANT = re.compile(r"^roast-(table-pf\d?|table|hash32|hash)-a(\d+)-t(\d+)x(\d+)$")


def config_of(label: str) -> tf.FastConfig:
    """The :class:`FastConfig` of a label such as ``128x64x32-g8-w4-s4``."""
    m = _CONFIG.match(label)
    if not m:
        raise ValueError(f"config={label!r} is not a BMxBNxBK-gG-wW-sS label")
    return tf.FastConfig(*(int(g) for g in m.groups()))


def weight_from_name(variant: str, memory: int) -> tf.FastWeight:
    """The :class:`FastWeight` of a variant name (the device dump's seeds)."""
    if variant == "dense":
        return tf.FastWeight("dense", "dense")
    if variant.startswith("hashednet-"):
        return tf.FastWeight("hashednet", variant.split("-", 1)[1], memory, seed=SEEDS["hashednet"])
    m = _VARIANT.match(variant)
    if not m:
        raise ValueError(f"variant={variant!r} is not a fast-kernel variant name")
    index, pf = m.group(1), 1
    if index.startswith("table-pf") and index != "table-pf":
        index, pf = "table-pf", int(index[-1])
    return tf.FastWeight("roast", index, memory, (int(m.group(3)), int(m.group(4))), int(m.group(2)),
                         seed=SEEDS["roast"], prefetch=pf)


def _weight_of_case(c: dict) -> tf.FastWeight:
    if c["scheme"] == "dense":
        return tf.FastWeight("dense", "dense")
    return tf.FastWeight(c["scheme"], c["index"], c["memory"], tuple(c["tile"]), c["align"], seed=c["seed"],
                         prefetch=c.get("prefetch", 1))


def timed_pairs(records: Path) -> dict:
    """``{(variant, config): {"weights": {(M, K, N, memory): FastWeight}, "sources": set}}``."""
    pairs: dict = {}
    for kind in KINDS:
        for rec in load_records(records, kind):
            src = str(Path(rec.path).parent.name)
            for c in rec.cases:
                if (c.get("type") not in ("time", "best") or c.get("impl") != "triton"
                        or c.get("dtype") != "bf16"):
                    continue
                entry = pairs.setdefault((c["variant"], c["config"]), {"weights": {}, "sources": set()})
                entry["weights"].setdefault((c["M"], c["K"], c["N"], c["memory"]), _weight_of_case(c))
                entry["sources"].add(src)
    device = records / DEVICE_SASS
    if device.exists():
        for head in re.findall(r"^##### (\S+) (\S+) ", device.read_text(), flags=re.M):
            entry = pairs.setdefault(head, {"weights": {}, "sources": set()})
            if not entry["weights"]:
                entry["weights"][DEVICE_SHAPE] = weight_from_name(head[0], DEVICE_SHAPE[3])
            entry["sources"].add("device-sass")
    for (variant, _), entry in pairs.items():
        names = {w.name for w in entry["weights"].values()}
        if names != {variant}:
            raise ValueError(f"variant={variant!r}: the records' weights are named {sorted(names)}")
    return pairs


class OfflineCompiler:
    """Triton's launch-time specialisation and compile for ``cuda:90``, without a GPU."""

    def __init__(self, fn=None):
        import torch
        import triton
        from triton import knobs
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource, make_backend
        from triton.runtime.jit import MockTensor, create_function_from_signature

        self.torch, self.triton, self.knobs = torch, triton, knobs
        self.ASTSource, self.Mock = ASTSource, MockTensor
        self.fn = tf._jit().fwd_kernel if fn is None else fn
        self.target = GPUTarget("cuda", 90, 32)
        self.backend = make_backend(self.target)
        self.binder = create_function_from_signature(self.fn.signature, self.fn.params, self.backend)
        self.bin = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"

    def specialise(self, w: tf.FastWeight, cfg: tf.FastConfig, shape):
        """``(key, (signature, constexprs, attrs, options))`` of ``fast_matmul``'s launch at ``shape``."""
        m, k, n, _ = shape
        prep = w.prepare(k, n, "cpu")
        dt = self.torch.bfloat16
        aux = self.Mock(self.torch.int32 if prep.aux is not None else dt)  # fast_matmul: aux or out
        kwargs = dict(B_MODE=w.mode, TBK=w.tile[0], TBN=w.tile[1], ALIGN=w.align, BLOCK_M=cfg.block_m,
                      BLOCK_N=cfg.block_n, BLOCK_K=cfg.block_k, GROUP_M=cfg.group_m, IEEE=False, ASM=True,
                      PF=w.prefetch, num_warps=cfg.num_warps, num_stages=cfg.num_stages)
        args = (self.Mock(dt), self.Mock(dt), self.Mock(dt), aux, m, n, k, prep.n_tile_cols, 1.0, 0.0,
                *prep.args)
        packed = self.pack(args, kwargs)
        options, signature, constexprs, attrs = packed
        key = repr((sorted(signature.items()), sorted(constexprs.items(), key=str),
                    sorted(attrs.items(), key=str), sorted(options.__dict__.items(), key=str)))
        return key, packed

    def pack(self, args: tuple, kwargs: dict):
        """``(options, signature, constexprs, attrs)`` Triton's binder gives a launch of ``self.fn`` with
        ``args`` and ``kwargs`` (constexprs, ``num_warps``, ...)."""
        kwargs = {**kwargs, "debug": self.fn.debug or self.knobs.runtime.debug,  # as JITFunction.run
                  "instrumentation_mode": self.knobs.compilation.instrumentation_mode}
        bound, spec, opts = self.binder(*args, **kwargs)
        return self.fn._pack_args(self.backend, kwargs, bound, spec, opts)

    def compile(self, packed) -> tuple[str, int, int]:
        """``(sass, registers, shared_bytes)`` of one specialisation."""
        sass, regs, c = self.compiled(packed)
        return sass, regs, int(c.metadata.shared)

    def compiled(self, packed):
        """``(full listing, registers, Triton's compiled kernel)`` of one specialisation."""
        options, signature, constexprs, attrs = packed
        c = self.triton.compile(self.ASTSource(self.fn, signature, constexprs, attrs), target=self.target,
                                options=options.__dict__)
        sass = self.sass(c.asm["cubin"])
        if not sass.startswith(c.asm["sass"].rstrip("\n")):
            raise RuntimeError("the full listing does not extend Triton's own asm['sass']")
        return sass, self.registers(c.asm["cubin"]), c

    @staticmethod
    def sass(cubin: bytes) -> str:
        """Triton's ``asm["sass"]`` text, not cut at 64 KiB of code.

        ``triton.tools.disasm`` (3.6.0) matches instruction addresses of exactly four hex digits, so its
        listing stops at address 0x10000 (4096 instructions); the address pattern is widened here, the
        output is otherwise Triton's, byte for byte.
        """
        from triton.tools import disasm

        narrow = disasm.FLINE_RE
        disasm.FLINE_RE = re.compile(narrow.pattern.replace(r"\w{4}", r"\w{4,}"))
        try:
            return disasm.get_sass(cubin)
        finally:
            disasm.FLINE_RE = narrow

    def registers(self, cubin: bytes) -> int:
        """Registers per thread of the cubin's kernel (``cuobjdump --dump-resource-usage``)."""
        with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
            f.write(cubin)
            f.flush()
            out = subprocess.run([str(self.bin / "cuobjdump"), "--dump-resource-usage", f.name],
                                 capture_output=True, text=True, check=True).stdout
        m = re.search(r"REG:(\d+)", out)
        if not m:
            raise RuntimeError(f"cuobjdump printed no register count: {out[:200]!r}")
        return int(m.group(1))

    def env(self) -> dict:
        """Triton and ptxas versions, the target."""
        ptxas = subprocess.run([str(self.bin / "ptxas"), "--version"], capture_output=True, text=True).stdout
        rel = re.search(r"release [^\n]*", ptxas)
        return {"type": "env", "triton": self.triton.__version__, "torch": self.torch.__version__,
                "ptxas": rel.group(0) if rel else ptxas.strip(), "target": "cuda:90", "warp_size": 32,
                "dtype": "bf16"}


def counts(sass: str, header: str) -> dict:
    """The k-loop's counts as ``cachesim.kernels.issue`` holds them (``None`` where the loop is missing),
    with only the side of each guarded 64-bit remainder that the variant's hash runs
    (:func:`cachesim.kernels.sass.remainder_path`)."""
    path = remainder_path(header.split()[0]) if header else "both"
    mix = loop_mix(sass, kernel=header, remainder=path)
    prof = load_profile(sass, remainder=path)
    out = {"loop_closed": mix is not None, "loop_mix": None, "by_class": None, "calls": None,
           "load_profile": None}
    if mix is not None:
        out["loop_mix"] = {"instructions": mix.instructions, "stall_cycles": mix.stall_cycles,
                           "local_loads": mix.local_loads, "global_loads": mix.by_class["global"],
                           "registers": mix.registers, "shared_bytes": mix.shared_bytes}
        out["by_class"], out["calls"] = mix.by_class, mix.calls
    if prof is not None:
        out["load_profile"] = {"chain": prof.load_chain, "lsu": prof.lsu_instructions,
                               "spill": prof.spill_bytes, "spill_waits": prof.spill_waits}
    return out


def compile_pair(comp: OfflineCompiler, variant: str, config: str, entry: dict, check_shape: bool):
    """``(case, listing or None)`` of one pair: compiled once per distinct specialisation of its shapes."""
    case = {"type": "sass", "variant": variant, "config": config, "sources": sorted(entry["sources"]),
            "shapes": [list(s) for s in sorted(entry["weights"])]}
    try:
        cfg = config_of(config)
        groups: dict = {}
        for shape, w in sorted(entry["weights"].items()):
            key, packed = comp.specialise(w, cfg, shape)
            groups.setdefault(key, []).append((shape, w, packed))
        first = next(iter(groups.values()))[0]
        w = first[1]
        case.update({"scheme": w.scheme, "index": w.index, "tile": list(w.tile), "align": w.align,
                     "prefetch": w.prefetch, "seed": w.seed, "compiled_shape": list(first[0]),
                     "specialisations": len(groups),
                     "signature": {k: v for k, v in first[2][1].items() if v != "constexpr"}})
        t0 = time.time()
        sass, regs, shared = comp.compile(first[2])
        case["compile_s"] = round(time.time() - t0, 2)
        header = f"{variant} {config} regs={regs} shared={shared}"
        case.update({"registers": regs, "shared_bytes": shared, **counts(sass, header)})
        others = [g[0] for g in list(groups.values())[1:]]
        if check_shape and len(entry["weights"]) > 1 and not others:
            shape, w = sorted(entry["weights"].items())[-1]
            others = [(shape, w, comp.specialise(w, cfg, shape)[1])]
            case["checked_shape_same_key"] = list(shape)
        case["other_specialisations"] = [_other(comp, g, header, sass) for g in others]
        return case, f"##### {header}\n{sass}\n"
    except Exception as exc:  # noqa: BLE001 - recorded as a failed case, the run goes on
        case["error"] = f"{type(exc).__name__}: {exc}"[:1500]
        return case, None


def _other(comp, group, header, sass) -> dict:
    shape, _, packed = group
    other, regs, shared = comp.compile(packed)
    return {"shape": list(shape), "identical_sass": other == sass, "registers": regs, "shared_bytes": shared,
            **({} if other == sass else counts(other, header))}


def write_listings(out: Path, texts: list, name: str = "sass_offline.txt",
                   gzip_above: int = GZIP_ABOVE) -> Path:
    """Write the listings to ``out/name`` atomically; gzip (fixed mtime, ``name.gz``) above ``gzip_above``
    bytes."""
    data = "\n".join(texts).encode()
    path = out / name
    stale = out / (name + ".gz")
    if len(data) > gzip_above:
        path, stale = stale, path
        data = gzip.compress(data, mtime=0)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    if stale.exists():
        stale.unlink()
    return path


def compile_micro_record(comp: OfflineCompiler, items, case, out: Path, stem: str, notes: str,
                         show=lambda row: row.get("name")) -> list:
    """Compile each of ``items`` (``case(comp, item) -> (record case, listing section)``), print ``show(row)``
    for each, and write ``out/sass_<stem>.txt`` (:func:`write_listings`) and ``out/gpu_sass_<stem>.json``
    (kind ``gpu-sass-offline-micro``, the compiler's ``env`` case first). Returns the record's cases."""
    cases, texts = [comp.env()], []
    for item in items:
        row, text = case(comp, item)
        cases.append(row)
        texts.append(text)
        print(show(row), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    write_listings(out, texts, f"sass_{stem}.txt")
    write_record(out / f"gpu_sass_{stem}.json", "gpu-sass-offline-micro", cases, notes=notes)
    return cases


def run(records: Path, out: Path, limit: int | None = None, check_shapes: int = 0) -> dict:
    """Compile every pair, write the record and the listings; return counts for the summary."""
    comp = OfflineCompiler()
    pairs = timed_pairs(records)
    keys = sorted(pairs, key=lambda vc: ("device-sass" not in pairs[vc]["sources"], vc))[:limit]
    cases, texts = [comp.env()], []
    for i, (variant, config) in enumerate(keys):
        case, text = compile_pair(comp, variant, config, pairs[(variant, config)], i < check_shapes)
        cases.append(case)
        if text is not None:
            texts.append(text)
        print(f"{i + 1:4d}/{len(keys)} {variant:30s} {config:22s} "
              f"{case.get('error') or case.get('loop_mix')}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    listing = write_listings(out, texts)
    notes = (f"COMPILED OUTPUT, not a device measurement: Triton {cases[0]['triton']} compiled every timed "
             f"bf16 fast-kernel (variant, config) for {cases[0]['target']} on a CPU host with the launch's "
             f"own specialisation; listings in {listing.name}.")
    write_record(out / "gpu_sass_offline.json", "gpu-sass-offline", cases, notes=notes)
    failed = [c for c in cases[1:] if "error" in c]
    return {"pairs": len(keys), "failed": len(failed), "open_loops": sum(c.get("loop_closed") is False
                                                                         for c in cases[1:])}


def recount(out: Path) -> dict:
    """Recount every case of the stored record from the stored listings (no compile): after a change of
    the counting rules of :mod:`cachesim.kernels.sass`. Rewrites the record atomically."""
    from cachesim.measure.records import load_records

    listing = out / "sass_offline.txt.gz"
    texts = read_listings(listing if listing.exists() else out / "sass_offline.txt")
    secs = {sec.splitlines()[0].strip(): sec for sec in re.split(r"^##### ", texts, flags=re.M)[1:]}
    by_pair = {tuple(h.split()[:2]): (h, sec) for h, sec in secs.items()}
    rec = load_records(out, "gpu-sass-offline")[0]
    cases, changed = [], 0
    for c in rec.cases:
        pair = (c.get("variant"), c.get("config"))
        if c.get("type") == "sass" and pair in by_pair:
            new = {**c, **counts(by_pair[pair][1], by_pair[pair][0])}
            changed += new != c
            c = new
        cases.append(c)
    prov = getattr(rec, "provenance", None) or {}
    earlier = re.search(r"compiled by (.*?)\]", rec.notes or "")  # a recount keeps the compile's provenance
    compiled = prov.get("compiled") or (earlier.group(1) if earlier else
                                        f"{prov.get('command', '?')} on {prov.get('date', '?')}")
    notes = (rec.notes.split(" [recounted")[0] + f" [recounted from the listings by --recount; compiled by "
             f"{compiled}]")
    write_record(out / "gpu_sass_offline.json", "gpu-sass-offline", cases, notes=notes)
    return {"cases": len(cases), "changed": changed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", default="measurements/gpu", help="folder of the fast-kernel records")
    ap.add_argument("--out", default="measurements/gpu/sass_offline", help="output folder")
    ap.add_argument("--limit", type=int, default=None, help="compile only the first N pairs")
    ap.add_argument("--check-shapes", type=int, default=0,
                    help="compile N pairs also at a second timed shape and compare the listings")
    ap.add_argument("--recount", action="store_true",
                    help="recount the stored record from the stored listings (no compile)")
    args = ap.parse_args(argv)
    if args.recount:
        print(recount(Path(args.out)))
        return 0
    print(run(Path(args.records), Path(args.out), args.limit, args.check_shapes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
