"""``replay``: a recorded trace of stores, loads and invalidations.

Format (docs/workloads.md): JSON Lines, one object per line, or CSV with a
header line ``op,offset,page,size``.  ``op`` is ``store``, ``load``,
``invalidate``, ``compact`` or ``phase`` (JSON: with ``label``).  A store
names either ``page`` (a corpus page index) or ``size`` (a compressed size in
bytes, 1..8192): a size trace from a live kernel replays without the pages.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from zbench import Op, OpKind, UserError, Workload, WorkloadOptions, read_text

#: the longest trace read (a trace can be long, but not unbounded)
TRACE_LIMIT = 1 << 30

_KINDS = {"store": OpKind.STORE, "load": OpKind.LOAD, "invalidate": OpKind.INVALIDATE,
          "compact": OpKind.COMPACT, "phase": OpKind.PHASE}
MAX_SIZE = 8192
MAX_INT = (1 << 63) - 1  # offsets and page indexes fit a signed 64-bit integer
_DIGITS = re.compile(r"[0-9]{1,19}")


class _Number(str):
    """A JSON number that is not an integer (kept as written, for the message)."""


def _refuse_constant(name: str) -> Any:
    return _Number(name)


def _int(rec: dict[str, Any], key: str, where: str, csv_row: bool) -> int | None:
    v = rec.get(key)
    if v is None or v == "":
        return None
    if csv_row:
        if not isinstance(v, str) or not _DIGITS.fullmatch(v):
            raise UserError(f"{where}: {key}: not a non-negative decimal integer: {v!r}")
        n = int(v)
    elif isinstance(v, int) and not isinstance(v, bool):
        n = v
    else:
        shown = str(v) if isinstance(v, _Number) else json.dumps(v)
        raise UserError(f"{where}: {key}: not an integer: {shown}")
    if n < 0:
        raise UserError(f"{where}: {key}: must be >= 0, not {n}")
    if n > MAX_INT:
        raise UserError(f"{where}: {key}: {n} is too large (at most 2**63 - 1)")
    return n


def _json_records(path: Path, lines: list[str]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line, parse_float=_Number, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise UserError(f"{path}:{no}: not JSON: {' '.join(str(exc).split())}") from None
        if not isinstance(rec, dict):
            raise UserError(f"{path}:{no}: a trace line must be an object")
        yield f"{path}:{no}", rec, False


def _csv_records(path: Path, lines: list[str]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    header = [h.strip() for h in next(csv.reader(lines[:1]), [])]
    if "op" not in header:
        raise UserError(f"{path}:1: CSV header must name the columns (op,offset,page,size)")
    reader = csv.reader(lines[1:])
    try:
        for row in reader:
            if row:
                yield (f"{path}:{reader.line_num + 1}",
                       dict(zip(header, (c.strip() for c in row), strict=False)), True)
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num + 1}: not CSV: {exc}") from None


def _records(path: Path) -> Iterator[tuple[str, dict[str, Any], bool]]:
    text = read_text(path, TRACE_LIMIT, "trace file")
    lines = text.splitlines(keepends=True)
    if not lines:
        return iter(())
    if lines[0].lstrip().startswith("{"):
        return _json_records(path, lines)
    return _csv_records(path, lines)


def parse_trace(path: Path) -> list[Op]:
    """Every operation of a trace file, checked; a problem names the file, line and field."""
    ops: list[Op] = []
    for where, rec, csv_row in _records(path):
        raw_op = rec.get("op", "")
        name = raw_op.strip().lower() if isinstance(raw_op, str) else repr(raw_op)
        kind = _KINDS.get(name)
        if kind is None:
            raise UserError(f"{where}: op: unknown op {name!r} (one of {', '.join(_KINDS)})")
        offset = _int(rec, "offset", where, csv_row)
        if kind in (OpKind.STORE, OpKind.LOAD, OpKind.INVALIDATE) and offset is None:
            raise UserError(f"{where}: offset: required for {name}")
        page, size = _int(rec, "page", where, csv_row), _int(rec, "size", where, csv_row)
        if kind is OpKind.STORE:
            if (page is None) == (size is None):
                raise UserError(f"{where}: a store needs exactly one of page and size")
            if size is not None and not 1 <= size <= MAX_SIZE:
                raise UserError(f"{where}: size: {size} outside 1..{MAX_SIZE}")
        label = rec.get("label", "")
        if label is None:
            label = ""
        if not isinstance(label, str):
            raise UserError(f"{where}: label: not a string: {json.dumps(label)}")
        ops.append(Op(kind, offset or 0, page or 0, label, size or 0))
    return ops


_PARSED: dict[tuple[str, int, int, int], list[Op]] = {}  # the last trace parsed


def parse_trace_once(path: Path) -> list[Op]:
    """:func:`parse_trace`, remembered for the file as it is now (path, inode, size and
    mtime), so the options of each case rebuilt in one worker do not parse it again."""
    try:
        st = os.stat(path)
        key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        return parse_trace(path)  # which reports the problem
    if key not in _PARSED:
        ops = parse_trace(path)
        _PARSED.clear()
        _PARSED[key] = ops
    return _PARSED[key]


class ReplayOptions(WorkloadOptions):
    trace: Path = Field(description="trace file (JSON Lines or CSV), relative to the "
                                    "working directory")
    _ops: list[Op] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _parse(self) -> ReplayOptions:
        # the whole trace, checked now: a bad one is an error before any case runs
        try:
            self._ops = parse_trace_once(self.trace)
        except UserError as exc:  # named with the option's place in the suite
            raise ValueError(str(exc)) from None
        return self

    @property
    def ops(self) -> list[Op]:
        """The trace's operations, parsed once when the options were validated."""
        return self._ops


class Replay(Workload):
    name = "replay"
    description = "replay a store/load/invalidate trace (pages or compressed sizes)"
    Options = ReplayOptions
    sized_stores = True

    def check(self, n_pages: int) -> None:
        o: ReplayOptions = self.options  # type: ignore[assignment]
        for i, op in enumerate(o.ops):
            if op.kind is OpKind.STORE and op.size == 0 and op.page >= n_pages:
                raise UserError(f"{o.trace}: store #{i + 1}: page {op.page} is beyond the "
                                f"corpus ({n_pages} pages)")

    def operations(self, n_pages: int) -> Iterator[Op]:
        o: ReplayOptions = self.options  # type: ignore[assignment]
        self.check(n_pages)
        yield from o.ops
        yield Op(OpKind.PHASE, label="replay")
