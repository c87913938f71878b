"""Instruction mix of a compiled GPU kernel's k-loop, counted from its SASS listing.

The cost model's instruction-issue terms (:mod:`cachesim.kernels.issue`) need, per warp and per k-loop
iteration, how many instructions a warp issues and how long one warp needs to issue them on its own.
Both are read from the compiled code, not fitted:

* the loop body is the longest backward-branch region of the listing (the k-loop; the same rule as the
  GPU driver's ``loop_mix``);
* a ``CALL`` inside the loop (e.g. the 64-bit remainder subroutine the compiler emits for ``%`` by a
  runtime divisor) is expanded: the subroutine's straight-line body (up to ``RET``) is counted once per
  call site;
* each instruction's *stall count* is the last field of its control code (``wait:read:write:yield:stall``,
  hexadecimal): the cycles the scheduler waits before the same warp may issue its next instruction, set by
  the compiler for fixed-latency dependencies. Their sum is the issue time of one warp alone (it does not
  include variable-latency waits on scoreboards, e.g. for memory).

Opcode classes (:data:`CLASSES`) follow the functional units of a Hopper SM sub-partition: ``mma``
(tensor-core HGMMA/HMMA), ``global`` (LDG/LDGSTS/STG), ``shared`` (LDS/STS/LDSM), ``local`` (LDL/STL
register spills), ``mufu``, ``convert`` (I2F/F2I), ``barrier``, ``control`` (branches, calls), ``uniform``
(U* datapath), ``alu`` (everything else: integer/fp32 arithmetic, moves, predicates).

Synchronous load chain (:func:`load_profile`): a ``LDG`` returns its value to registers and the warp
waits on a scoreboard at the first use, whereas ``LDGSTS`` (``cp.async``, what Triton's software pipeline
emits for 4- to 16-byte tiles) lands in shared memory ``num_stages - 1`` iterations ahead. The chain depth
is the longest sequence of ``LDG`` s inside one iteration in which each load's address (or value) depends
on the previous load's result (also through a shared-memory store and a later shared load) *and* the last
one's result is consumed in the same iteration: 0 for the
pipelined dense/aligned kernels, 1 for 2-byte scalar loads from computed addresses, 2 where an index is
loaded first (a tile-start or index table). A load whose result is consumed only in the next iteration (a
register prefetch such as ``LDG.E.CONSTANT`` of the ``pf`` variants) is not exposed.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CacheSimError

__all__ = ["CLASSES", "REMAINDER_PATHS", "LoadProfile", "LoopMix", "listing_sections", "load_batch",
           "load_profile", "loop_mix", "parse_load_profiles", "parse_sass_listings", "read_listings",
           "remainder_path"]

#: Opcode classes, in report order.
CLASSES = ("alu", "uniform", "mufu", "convert", "global", "shared", "local", "mma", "barrier", "control")

_LABEL = re.compile(r"^\s*\.?(L\w+):\s*$")
_CTRL = re.compile(r"^([0-9a-fA-F\-]{2}):([0-9\-]):([0-9\-]):([Y\-]):([0-9a-fA-F])\t(.*)$")
_INSTR_BYTES = 16  # every Hopper SASS instruction is 128 bits


def _klass(op: str) -> str:
    if "GMMA" in op or op.startswith("HMMA"):
        return "mma"
    if op.startswith(("LDGSTS", "LDG", "STG", "LDGDEPBAR", "RED", "ATOM")):
        return "global"
    if op.startswith(("LDS", "STS", "LDSM")):
        return "shared"
    if op.startswith(("LDL", "STL")):
        return "local"
    if op.startswith("MUFU"):
        return "mufu"
    if op.startswith(("I2F", "F2I", "F2F", "I2I")):
        return "convert"
    if "BAR" in op or op.startswith(("WARPGROUP", "DEPBAR", "ARRIVES", "SYNCS")):
        return "barrier"
    if op.startswith(("BRA", "CALL", "RET", "EXIT", "BSSY", "BSYNC", "NOP", "WARPSYNC")):
        return "control"
    if op.startswith(("U", "S2UR", "R2UR")):
        return "uniform"
    return "alu"


@dataclass(frozen=True)
class LoopMix:
    """Per-warp instruction mix of one k-loop iteration of one compiled kernel.

    Attributes
    ----------
    kernel : str
        The header of the listing (variant and configuration).
    instructions : int
        Warp instructions issued per iteration (subroutine calls expanded).
    stall_cycles : int
        Sum of the compiler's stall counts over those instructions: the cycles one warp alone needs.
    by_class : dict
        ``{class: instructions}`` (:data:`CLASSES`).
    calls : int
        Subroutine call sites inside the loop.
    local_loads : int
        ``LDL`` instructions (reloads of spilled registers: each one's consumer waits for an L1 hit).
    registers, shared_bytes : int
        Registers per thread and shared memory per program (from the listing's header).
    """

    kernel: str
    instructions: int
    stall_cycles: int
    by_class: dict = field(default_factory=dict)
    calls: int = 0
    local_loads: int = 0
    registers: int = 0
    shared_bytes: int = 0

    def to_dict(self) -> dict:
        return {"kernel": self.kernel, "instructions": self.instructions, "stall_cycles": self.stall_cycles,
                "by_class": dict(self.by_class), "calls": self.calls, "local_loads": self.local_loads,
                "registers": self.registers,
                "shared_bytes": self.shared_bytes}


@dataclass(frozen=True)
class LoadProfile:
    """Memory-side counts of one k-loop iteration (per warp), from the SASS listing.

    Attributes
    ----------
    load_chain : int
        Depth of the exposed synchronous global-load chain (module notes).
    lsu_instructions : int
        Warp instructions that go through the LSU/MIO pipe: global, shared and local loads and stores.
    spill_bytes : int
        Bytes of local memory per thread the kernel addresses (distinct ``[R1+off]`` slots of its
        ``STL``/``LDL`` times their width): the register-spill footprint.
    spill_waits : int
        Instructions of the loop that wait on the scoreboard of an outstanding ``LDL`` (the control code's
        wait mask names a barrier an ``LDL`` set since it was last waited on): the reloads a warp waits
        for, each wait covering every reload issued before it (:func:`spill_waits`).
    """

    load_chain: int
    lsu_instructions: int
    spill_bytes: int
    spill_waits: int = 0

    def to_dict(self) -> dict:
        return {"load_chain": self.load_chain, "lsu_instructions": self.lsu_instructions,
                "spill_bytes": self.spill_bytes, "spill_waits": self.spill_waits}


_REG = re.compile(r"\b(U?R\d+)(?:\.64|\.128)?\b")
_STORE_LIKE = ("ST", "LDGSTS", "RED", "BAR", "BRA", "CALL", "RET", "EXIT", "WARPGROUP", "DEPBAR", "LDGDEPBAR",
               "ARRIVES", "SYNCS", "BSSY", "BSYNC", "NOP", "WARPSYNC")


def _width(op: str, operand: str) -> int:
    if operand.endswith(".128") or ".128" in op:
        return 4
    if operand.endswith(".64") or ".64" in op or ".WIDE" in op:
        return 2
    return 1


def _regs(operand: str) -> list:
    out = []
    for m in _REG.finditer(operand):
        name = m.group(1)
        prefix, num = ("UR", name[2:]) if name.startswith("UR") else ("R", name[1:])
        w = 4 if operand[m.end(1):].startswith(".128") else 2 if operand[m.end(1):].startswith(".64") else 1
        out += [f"{prefix}{int(num) + i}" for i in range(w)]
    return out


def _split(body: str):
    """``(op, dest registers, source registers)`` of one instruction's text."""
    text = re.sub(r"^@!?U?P\w+\s+", "", body)
    op, _, rest = text.partition(" ")
    operands = [o.strip() for o in rest.split(",")] if rest else []
    if not operands or op.startswith(_STORE_LIKE) or operands[0].startswith("["):
        return op, [], [r for o in operands for r in _regs(o)]
    first = operands[0]
    dests = _regs(first)
    if dests:
        w = _width(op, first)
        base = dests[0]
        prefix = "UR" if base.startswith("UR") else "R"
        dests = [f"{prefix}{int(base[len(prefix):]) + i}" for i in range(w)]
    return op, dests, [r for o in operands[1:] for r in _regs(o)]


def _chain_depth(body) -> int:
    """Longest exposed chain of synchronous ``LDG`` s in one pass over the loop body (module notes)."""
    depth: dict = {}
    exposed = 0
    for op, text, _ in body:
        op, dests, srcs = _split(text)
        if op.startswith(("LDS", "LDSM")):
            srcs = srcs + ["SMEM"]
        d_in = max((depth.get(r, 0) for r in srcs if r not in ("RZ", "URZ")), default=0)
        exposed = max(exposed, d_in)
        if op.startswith("STS"):  # a value staged through shared memory keeps its chain depth
            depth["SMEM"] = max(depth.get("SMEM", 0), d_in)
        d = d_in + 1 if op.startswith("LDG") and not op.startswith(("LDGSTS", "LDGDEPBAR")) else d_in
        for r in dests:
            depth[r] = d
    return exposed


def _spill_bytes(instrs) -> int:
    slots = {}
    for op, text, _ in instrs:
        if op.startswith(("STL", "LDL")):
            m = re.search(r"\[R1(?:\+(0x[0-9a-fA-F]+|\d+))?\]", text)
            if m:
                off = int(m.group(1), 0) if m.group(1) else 0
                w = 16 if ".128" in op else 8 if ".64" in op else 4
                slots[off] = max(slots.get(off, 0), w)
    return sum(slots.values())


def load_profile(text: str, remainder: str = "both") -> LoadProfile | None:
    """The :class:`LoadProfile` of one listing's k-loop (``None`` without a loop, as :func:`loop_mix`;
    ``remainder`` as there)."""
    loop = _loop_run(text, remainder)
    if loop is None:
        return None
    instrs, ctrl, run = loop
    body = _expand(instrs, [instrs[j] for j in run])[0]
    lsu = sum(_klass(op) in ("global", "shared", "local") and not op.startswith("LDGDEPBAR")
              for op, _, _ in body)
    return LoadProfile(_chain_depth(body), lsu, _spill_bytes(instrs), _spill_waits(instrs, ctrl, run))


def spill_waits(text: str, remainder: str = "both") -> int:
    r"""Waits on outstanding spill reloads in one iteration of the k-loop (the executed side of each guarded
    remainder, as :func:`loop_mix`): walking the loop in order, an ``LDL`` marks the scoreboard barrier its
    control code writes as pending; an instruction whose wait mask names a pending barrier is one wait
    (every reload issued before it is then in flight together: one exposed latency, as MWP-CWP counts a
    warp's loads) and clears the barriers it names. 0 without a loop.

    >>> toy = "\n".join(["L_x_0:", "--:-:1:-:1\tLDL R2, [R1+0x10] ;", "--:-:2:-:1\tLDL R3, [R1+0x14] ;",
    ...                   "06:-:-:-:4\tFADD R4, R2, R3 ;", "--:-:1:-:1\tLDL R5, [R1+0x18] ;",
    ...                   "02:-:-:-:4\tHMMA.16816.F32 R8, R4, R5, R8 ;", "--:-:-:-:5\tBRA L_x_0 ;"])
    >>> spill_waits(toy)
    2
    """
    loop = _loop_run(text, remainder)
    return 0 if loop is None else _spill_waits(*loop)


def load_batch(text: str, remainder: str = "both") -> int | None:
    r"""Global loads to registers (``LDG``) the k-loop issues before its first shared-memory store (``STS``):
    how many of a scalar tile path's loads are in flight before the first of them must have returned
    (the executed side of each guarded remainder, as :func:`loop_mix`). ``None`` without a loop or without
    an ``STS`` in it (tiles copied by ``LDGSTS`` or TMA).

    >>> toy = "\n".join(["L_x_0:", "--:-:1:-:1\tLDG.E.U16 R2, desc[UR4][R4.64] ;",
    ...                   "--:-:2:-:1\tLDG.E.U16 R3, desc[UR4][R6.64] ;", "01:-:-:-:1\tSTS.U16 [R8], R2 ;",
    ...                   "--:-:1:-:1\tLDG.E.U16 R5, desc[UR4][R10.64] ;", "--:-:-:-:5\tBRA L_x_0 ;"])
    >>> load_batch(toy)
    2
    """
    loop = _loop_run(text, remainder)
    if loop is None:
        return None
    instrs, _, run = loop
    batch = 0
    for i in run:
        op = instrs[i][0]
        if op.startswith("STS"):
            return batch
        if op.startswith("LDG") and not op.startswith(("LDGSTS", "LDGDEPBAR")):
            batch += 1
    return None


def _spill_waits(instrs, ctrl, run) -> int:
    """:func:`spill_waits` over the instruction indices ``run`` (in order), ``ctrl`` as :func:`_parse`."""
    pending, waits = set(), 0
    for i in run:
        wait, write = ctrl[i]
        mask = 0 if "-" in wait else int(wait, 16)
        named = {b for b in pending if mask >> b & 1}
        if named:
            waits += 1
            pending -= named
        if instrs[i][0].startswith("LDL") and write != "-":
            pending.add(int(write))
    return waits


def _expand(instrs, body):
    """The loop body with each ``CALL`` followed by its subroutine, and the number of calls."""
    calls = 0
    expanded = []
    for ins in body:
        expanded.append(ins)
        if ins[0].startswith("CALL"):
            h = re.search(r"0x([0-9a-f]+)", ins[1])
            if h:
                calls += 1
                expanded.extend(_subroutine(instrs, int(h.group(1), 16)))
    return expanded, calls


def _loop_run(text: str, remainder: str):
    """``(instrs, ctrl, run)`` of a listing's k-loop (:func:`_parse`; ``run``: the executed indices,
    :func:`_executed_indices`), ``None`` without a loop."""
    instrs, labels, ctrl = _parse(text)
    span = _loop_span(instrs, labels)
    if span is None:
        return None
    return instrs, ctrl, _executed_indices(instrs, labels, span, remainder)


def _parse(text: str):
    """``(instrs, labels, ctrl)`` of :func:`_instructions`, with ``ctrl`` the ``(wait mask, write barrier)``
    fields of each instruction's control code, in the same order."""
    instrs, labels, ctrl = [], {}, []
    for ln in text.splitlines():
        lab = _LABEL.match(ln)
        if lab:
            labels[lab.group(1)] = len(instrs)
            continue
        m = _CTRL.match(ln)
        if not m:
            continue
        body = m.group(6).strip().rstrip(";").strip()
        op = re.sub(r"^@!?U?P\w+\s+", "", body).split(" ")[0]
        if op:
            instrs.append((op, body, int(m.group(5), 16)))
            ctrl.append((m.group(1), m.group(3)))
    return instrs, labels, ctrl


def _loop_span(instrs, labels):
    """``(first, last)`` of the k-loop: the shortest backward-branch region holding a tensor-core
    instruction (the TMA kernels also branch back around their epilogue's barrier waits); without one, the
    longest backward-branch region."""
    spans = []
    for i, (op, body, _) in enumerate(instrs):
        if op != "BRA":
            continue
        t = re.search(r"\b(L\w+)\b", body)
        j = labels.get(t.group(1)) if t else None
        if j is not None and j <= i:
            spans.append((j, i))
    mma = [i for i, (op, _, _) in enumerate(instrs) if _klass(op) == "mma"]
    with_mma = [s for s in spans if any(s[0] <= i <= s[1] for i in mma)]
    if with_mma:
        return min(with_mma, key=lambda s: s[1] - s[0])
    return max(spans, key=lambda s: s[1] - s[0], default=None)


def _subroutine(instrs, target_pc: int) -> list:
    start = target_pc // _INSTR_BYTES
    if start >= len(instrs):
        raise CacheSimError(f"CALL target 0x{target_pc:x} lies past the listing ({len(instrs)} instructions)")
    out = []
    for ins in instrs[start:]:
        out.append(ins)
        if ins[0].startswith("RET"):
            return out
    raise CacheSimError(f"subroutine at 0x{target_pc:x} has no RET in the listing")


#: Which side of a guarded 64-bit remainder runs: the compiler tests the operands' high words and branches
#: to the ``CALL`` of the 64-bit subroutine, else runs an inline 32-bit remainder. ROAST's in-loop hash keeps
#: its operands below 2**32 (the inline side runs); the authors' HashedNet hash (also in ``arith-only``)
#: multiplies into 64 bits (the subroutine runs). Other kernels have no such diamond.
REMAINDER_PATHS = {"roast-hash-": "narrow", "hashednet-hash": "wide", "hashednet-arith-only": "wide"}


def remainder_path(variant: str) -> str:
    """``"narrow"``, ``"wide"`` or ``"both"`` (count both sides) for a variant name (:data:`REMAINDER_PATHS`).

    >>> remainder_path("roast-hash-a64-t64x128"), remainder_path("hashednet-hash"), remainder_path("dense")
    ('narrow', 'wide', 'both')
    """
    for prefix, path in REMAINDER_PATHS.items():
        if variant.startswith(prefix):
            return path
    return "both"


def _executed_indices(instrs, labels, span, remainder: str) -> list:
    """Indices, in order, of the loop body ``instrs[first:last+1]`` without the side of each guarded
    remainder that does not run.

    A diamond is ``@P BRA La`` (forward), the fall-through (inline) side ending in an unconditional
    ``BRA Lb``, and ``[La, Lb)`` holding a ``CALL``; ``narrow`` drops ``[La, Lb)``, ``wide`` drops the inline
    side, ``both`` keeps everything (each side counted, as if a warp ran both).
    """
    first, last = span
    if remainder == "both":
        return list(range(first, last + 1))
    if remainder not in ("narrow", "wide"):
        raise CacheSimError(f"remainder={remainder!r} must be one of narrow, wide, both")
    drop = set()
    for i in range(first, last + 1):
        op, body, _ = instrs[i]
        if op != "BRA" or not body.startswith("@"):
            continue
        t = re.search(r"\b(L\w+)\b", body)
        a = labels.get(t.group(1)) if t else None
        if a is None or not (i < a <= last) or instrs[a - 1][0] != "BRA" or instrs[a - 1][1].startswith("@"):
            continue
        t2 = re.search(r"\b(L\w+)\b", instrs[a - 1][1])
        b = labels.get(t2.group(1)) if t2 else None
        if b is None or not (a < b <= last + 1) or not any(o.startswith("CALL") for o, _, _ in instrs[a:b]):
            continue
        drop.update(range(a, b) if remainder == "narrow" else range(i + 1, a))
    return [j for j in range(first, last + 1) if j not in drop]


def loop_mix(text: str, kernel: str = "", remainder: str = "both") -> LoopMix | None:
    """The :class:`LoopMix` of one listing (Triton's ``kernel.asm["sass"]`` form), ``None`` without a loop.

    A listing cut before its loop's backward branch (as the recorded HashedNet ``hash`` kernel is) has no
    loop: ``None``.
    """
    loop = _loop_run(text, remainder)
    if loop is None:
        return None
    instrs, _, run = loop
    expanded, calls = _expand(instrs, [instrs[j] for j in run])
    by_class = dict.fromkeys(CLASSES, 0)
    for op, _, _ in expanded:
        by_class[_klass(op)] += 1
    head = kernel or text.splitlines()[0] if text else kernel
    regs = re.search(r"regs=(\d+)", head or "")
    shared = re.search(r"shared=(\d+)", head or "")
    return LoopMix(kernel=(head or "").replace("#####", "").strip(), instructions=len(expanded),
                   stall_cycles=sum(s for _, _, s in expanded), by_class=by_class, calls=calls,
                   local_loads=sum(op.startswith("LDL") for op, _, _ in expanded),
                   registers=int(regs.group(1)) if regs else 0,
                   shared_bytes=int(shared.group(1)) if shared else 0)


def listing_sections(text: str) -> dict:
    """``{header: section}`` of a file of ``##### <variant> <config> regs=.. shared=..`` sections (the
    header without ``#####``; the section from the header on)."""
    return {sec.splitlines()[0].strip(): sec for sec in re.split(r"^##### ", text, flags=re.M)[1:]}


def parse_load_profiles(text: str) -> dict:
    """``{header: LoadProfile or None}`` for a file of listings (as :func:`parse_sass_listings`)."""
    return {head: load_profile(sec, remainder_path(head.split(None, 1)[0]))
            for head, sec in listing_sections(text).items()}


def parse_sass_listings(text: str) -> dict:
    """``{header: LoopMix or None}`` for a file of ``##### <variant> <config> regs=.. shared=..`` sections
    (each counted with the remainder side its variant runs, :func:`remainder_path`)."""
    return {head: loop_mix(sec, kernel=head, remainder=remainder_path(head.split(None, 1)[0]))
            for head, sec in listing_sections(text).items()}


def read_listings(path) -> str:
    """The text of a listings file (``##### <variant> <config> ...`` sections), gzipped (``.gz``) or not."""
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "rt") as f:
            return f.read()
    return path.read_text()
