"""The op stream the in-kernel driver reads, and the figures it writes back.

The format is the one ``driver/zbench_drv.c`` declares: a header (magic,
backend, compressor, slot count, flags), then records of ``op, slot, len``
followed by ``len`` payload bytes, little-endian, closed by an END record.
The driver answers with text lines (``phase LABEL key=value ...``, ``shrink``,
``summary``, ``status``) and, beside them, a binary file of per-operation
timings (``op, failed, total_ns, comp_ns``).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from zbench import UserError

MAGIC = b"ZBOPS01\n"
HEADER = struct.Struct("<8s16s16sII")
RECORD = struct.Struct("<B3xII")
TIME = struct.Struct("<BB2xII")
MAX_SLOTS = 1 << 24
MAX_PAYLOAD = 8192

#: header flag: after every free, let queued work run (z3fold's per-page compaction work)
SETTLE = 1
#: header flag: after every operation, a timing record (op | 0x80) holding the pool's pages
TRACE = 2


class Op(enum.IntEnum):
    STORE = 1
    STORE_PAGE = 2
    LOAD = 3
    FREE = 4
    COMPACT = 5
    PHASE = 6
    SHRINK = 7
    END = 8


SLOT_OPS = frozenset((Op.STORE, Op.STORE_PAGE, Op.LOAD, Op.FREE))


class StreamWriter:
    """Writes one op stream to a seekable file; slots are the driver's object table
    indices.  The header's slot count is written by :meth:`end` (the highest slot
    used + 1) unless given here."""

    def __init__(self, f: BinaryIO, backend: str, compressor: str = "", nslots: int = 0,
                 flags: int = 0) -> None:
        self.f = f
        self.backend, self.compressor, self.flags = backend, compressor, flags
        self.nslots = nslots
        self.records = 0
        self._header()

    def _header(self) -> None:
        self.f.write(HEADER.pack(MAGIC, self.backend.encode(), self.compressor.encode(),
                                 self.nslots, self.flags))

    def _rec(self, op: Op, slot: int = 0, payload: bytes = b"") -> None:
        if slot >= self.nslots and op in SLOT_OPS:
            if slot >= MAX_SLOTS:
                raise UserError(f"op stream: slot {slot} (at most {MAX_SLOTS - 1})")
            self.nslots = slot + 1
        if len(payload) > MAX_PAYLOAD:
            raise UserError(f"op stream: a {len(payload)}-byte payload (at most {MAX_PAYLOAD})")
        self.f.write(RECORD.pack(op, slot, len(payload)))
        if payload:
            self.f.write(payload)
        self.records += 1

    def store(self, slot: int, data: bytes) -> None:
        self._rec(Op.STORE, slot, data)

    def store_page(self, slot: int, page: bytes) -> None:
        self._rec(Op.STORE_PAGE, slot, page)

    def load(self, slot: int) -> None:
        self._rec(Op.LOAD, slot)

    def free(self, slot: int) -> None:
        self._rec(Op.FREE, slot)

    def compact(self) -> None:
        self._rec(Op.COMPACT)

    def phase(self, label: str) -> None:
        self._rec(Op.PHASE, 0, label.encode()[:63])

    def shrink(self, pages: int, evicted_slots: list[int]) -> None:
        self._rec(Op.SHRINK, 0, struct.pack(f"<I{len(evicted_slots)}I", pages, *evicted_slots))

    def end(self) -> None:
        """Close the stream: the END record, and the header with the slot count."""
        self._rec(Op.END)
        self.f.seek(0)
        self._header()
        self.f.seek(0, 2)


@dataclass
class StreamResult:
    """What the driver wrote for one stream."""

    release: str = ""
    backend: str = ""
    phases: list[dict[str, int | str]] = field(default_factory=list)
    shrinks: list[dict[str, int]] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    status: str = ""
    error: str = ""
    times: list[tuple[int, bool, int, int]] = field(default_factory=list)  # TSC cycles
    ns_per_cycle: float = 1.0  # from the "clock" line: the TSC against ktime over the stream

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def page_trace(self) -> list[tuple[int, int]]:
        """(op, pool pages after it) of every operation, where the stream asked for them."""
        return [(k & 0x7F, c) for k, _, _, c in self.times if k & 0x80]

    def timings(self, op: Op) -> tuple[list[float], list[float]]:
        """(total ns, compressor ns) of every successful ``op`` (STORE_PAGE counts as
        a store), in stream order."""
        kinds = {Op.STORE, Op.STORE_PAGE} if op in (Op.STORE, Op.STORE_PAGE) else {op}
        f = self.ns_per_cycle
        rows = [(t * f, c * f) for k, failed, t, c in self.times if k in kinds and not failed]
        return [t for t, _ in rows], [c for _, c in rows]


def _pairs(words: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for w in words:
        k, _, v = w.partition("=")
        out[k] = int(v)
    return out


def parse_phase(words: list[str]) -> dict[str, int | str]:
    """The words after ``phase`` of a ``phase LABEL key=value ...`` line (the driver's
    and the zswap guest helper's): the label may hold spaces, it ends at the first
    ``key=value``."""
    n = next((i for i, w in enumerate(words) if "=" in w), len(words))
    return {"label": " ".join(words[:n]), **_pairs(words[n:])}


def parse_result(out: Path) -> StreamResult:
    """The driver's output for one stream (``out`` and ``out.times``)."""
    r = StreamResult()
    if not out.is_file():
        r.status, r.error = "missing", "the kernel wrote no result (did it boot?)"
        return r
    for line in out.read_text(errors="replace").splitlines():
        head, _, rest = line.partition(" ")
        words = rest.split()
        if head == "release":
            r.release = rest
        elif head == "backend":
            r.backend = rest
        elif head == "phase":
            r.phases.append(parse_phase(words))
        elif head == "shrink":
            r.shrinks.append(_pairs(words))
        elif head == "summary":
            r.summary = _pairs(words)
        elif head == "clock":
            clock = _pairs(words)
            if clock.get("cycles", 0) > 0:
                r.ns_per_cycle = clock["ns"] / clock["cycles"]
        elif head == "status" and len(words) >= 3:
            r.status = words[0]
            r.error = "" if words[2] == "-" else " ".join(words[2:]) + f" (errno {words[1]})"
    if not r.status:
        r.status, r.error = "cut", "the kernel's result ends early (crashed or killed)"
    times = out.with_name(out.name + ".times")
    if times.is_file():
        data = times.read_bytes()
        n = len(data) // TIME.size
        r.times = [(k, bool(f), t, c) for k, f, t, c in TIME.iter_unpack(data[:n * TIME.size])]
    return r
