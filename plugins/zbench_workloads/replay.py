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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from zbench import Op, OpKind, UserError, Workload, WorkloadOptions

_KINDS = {"store": OpKind.STORE, "load": OpKind.LOAD, "invalidate": OpKind.INVALIDATE,
          "compact": OpKind.COMPACT, "phase": OpKind.PHASE}
MAX_SIZE = 8192


def _int(rec: dict[str, Any], key: str, where: str) -> int | None:
    v = rec.get(key)
    if v is None or v == "":
        return None
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise UserError(f"{where}: {key}: not an integer: {v!r}") from None
    if n < 0:
        raise UserError(f"{where}: {key}: must be >= 0")
    return n


def _records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        fh = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise UserError(f"{path}: cannot read trace: {exc.strerror or exc}") from None
    with fh:
        first = fh.readline()
        if first.lstrip().startswith("{"):
            lines = [first, *fh]
            for no, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as exc:
                    raise UserError(f"{path}:{no}: not JSON: {exc}") from None
                if not isinstance(rec, dict):
                    raise UserError(f"{path}:{no}: a trace line must be an object")
                yield f"{path}:{no}", rec
        else:
            header = [h.strip() for h in next(csv.reader([first]), [])]
            if "op" not in header:
                raise UserError(f"{path}:1: CSV header must name the columns "
                                "(op,offset,page,size)")
            for no, row in enumerate(csv.reader(fh), 2):
                if row:
                    yield f"{path}:{no}", dict(zip(header, (c.strip() for c in row),
                                                   strict=False))


def parse_trace(path: Path) -> list[Op]:
    ops: list[Op] = []
    for where, rec in _records(path):
        name = str(rec.get("op", "")).strip().lower()
        kind = _KINDS.get(name)
        if kind is None:
            raise UserError(f"{where}: op: unknown op {name!r} (one of {', '.join(_KINDS)})")
        offset = _int(rec, "offset", where)
        if kind in (OpKind.STORE, OpKind.LOAD, OpKind.INVALIDATE) and offset is None:
            raise UserError(f"{where}: offset: required for {name}")
        page, size = _int(rec, "page", where), _int(rec, "size", where)
        if kind is OpKind.STORE:
            if (page is None) == (size is None):
                raise UserError(f"{where}: a store needs exactly one of page and size")
            if size is not None and not 1 <= size <= MAX_SIZE:
                raise UserError(f"{where}: size: {size} outside 1..{MAX_SIZE}")
        ops.append(Op(kind, offset or 0, page or 0, str(rec.get("label", "") or ""),
                      size or 0))
    return ops


class ReplayOptions(WorkloadOptions):
    trace: Path = Field(description="trace file (JSON Lines or CSV), relative to the "
                                    "working directory")

    @model_validator(mode="after")
    def _readable(self) -> ReplayOptions:
        if not self.trace.is_file():
            raise ValueError(f"{self.trace}: no such trace file")
        return self


class Replay(Workload):
    name = "replay"
    description = "replay a store/load/invalidate trace (pages or compressed sizes)"
    Options = ReplayOptions
    sized_stores = True

    def operations(self, n_pages: int) -> Iterator[Op]:
        o: ReplayOptions = self.options  # type: ignore[assignment]
        for i, op in enumerate(parse_trace(o.trace)):
            if op.kind is OpKind.STORE and op.size == 0 and op.page >= n_pages:
                raise UserError(f"{o.trace}: store #{i + 1}: page {op.page} is beyond the "
                                f"corpus ({n_pages} pages)")
            yield op
        yield Op(OpKind.PHASE, label="replay")
