"""Helpers the batch tests share (tests/test_zs_native.py, tests/test_zs_native_bytes.py,
tests/test_zswap_native.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from zbench.api import sized
from zbench.run.runner import run_suite_data
from zbench.sim.sized import zeros

PAGE = 4096
DUMP = Path(__file__).resolve().parent.parent / "dumps" / "default.zbdump"
#: zram and zsmalloc at 6.18 and at 4.9 (the old huge cut-off, the quarters, chain 4)
ZRAM_PARTS = {
    "frontends": [{"name": "zram", "options": {"kernel": "6.18"}},
                  {"name": "zram", "label": "zram-4.9", "options": {"kernel": "4.9"}}],
    "allocators": [{"name": "zsmalloc", "options": {"kernel": "6.18"}},
                   {"name": "zsmalloc", "label": "zs-4.9", "options": {"kernel": "4.9"}}],
}


class SizesPage:
    """A store's page on the sizes-only path: same-filled by its fill code (zeros, or a
    repeated word) or else a fixed pattern, its compressed form a ``size``-byte stand-in."""

    __slots__ = ("data", "compressed", "clean")

    def __init__(self, code: int, size: int, clean: bool) -> None:
        word = {sized.ZERO_FILLED: 0, sized.WORD_FILLED: 0x0101010101010101}.get(code)
        self.data = (bytes(range(256)) * (PAGE // 256) if word is None
                     else word.to_bytes(8, "little") * (PAGE // 8))
        self.compressed = zeros(size)
        self.clean = clean


def run_cases(tmp: Path, name: str, workload: dict[str, Any],
              monkeypatch: pytest.MonkeyPatch, parts: dict[str, Any],
              **suite: Any) -> dict[str, Any]:
    """The shipped dump's cases of ``workload`` over ``parts`` (``frontends``,
    ``allocators``), lz4, seed 5, with a case cache of this run's own (no case from the
    other run); ``suite`` adds suite fields (``verify``)."""
    monkeypatch.setenv("ZBENCH_CACHE", str(tmp / f"cache-{name}"))
    data = {"name": name, "seed": 5, "dumps": [str(DUMP)], "compressors": ["lz4"],
            **parts, "workloads": [workload], **suite}
    return run_suite_data(data, base=tmp, report=lambda _m: None)


def case_figures(res: dict[str, Any]) -> list[Any]:
    """Every case's deterministic record: id, metrics, phases, class rows."""
    return [(c["id"], c["metrics"], c["phases"], c.get("classes")) for c in res["cases"]]


def ops_strategy(max_offset: int, max_size: int, clean_max: int | None = None,
                 compact: bool = True) -> st.SearchStrategy[tuple[int, int, int, int]]:
    """One ``(kind, offset, size, fill code)`` operation of a random batch: stores of
    sizes 1 .. ``max_size`` (a sixth same-filled), clean stores (up to ``clean_max``),
    invalidations, loads, phases and, with ``compact``, compactions."""
    ops = [
        st.tuples(st.just(sized.STORE), st.integers(0, max_offset), st.integers(1, max_size),
                  st.sampled_from([sized.NOT_FILLED] * 6
                                  + [sized.ZERO_FILLED, sized.WORD_FILLED])),
        st.tuples(st.just(sized.STORE_CLEAN), st.integers(0, max_offset),
                  st.integers(1, clean_max or max_size), st.just(sized.NOT_FILLED)),
        st.tuples(st.just(sized.INVALIDATE), st.integers(0, max_offset), st.just(0), st.just(0)),
        st.tuples(st.just(sized.LOAD), st.integers(0, max_offset), st.just(0), st.just(0)),
        st.tuples(st.just(sized.PHASE), st.just(0), st.just(0), st.just(0)),
    ]
    if compact:
        ops.append(st.tuples(st.just(sized.COMPACT), st.just(0), st.just(0), st.just(0)))
    return st.one_of(*ops)


def batch_of(ops: list[tuple[int, int, int, int]]) -> sized.SizedBatch:
    """A sizes-only batch of ``(kind, offset, size, fill code)`` operations; each phase is
    labelled ``p<index>``."""
    b = sized.SizedBatch()
    for i, (kind, off, size, code) in enumerate(ops):
        b.kinds.append(kind)  # type: ignore[attr-defined]
        b.offsets.append(off)  # type: ignore[attr-defined]
        b.sizes.append(size)  # type: ignore[attr-defined]
        b.fill.append(code)  # type: ignore[attr-defined]
        if kind == sized.PHASE:
            b.labels[i] = f"p{i}"
    return b


def replay(fe: Any, batch: sized.SizedBatch, page: Callable[[int, bool], Any],
           figures: Callable[[], dict[str, Any]],
           after: Callable[[int, int, int, Any], None] | None = None,
           ) -> tuple[list[dict[str, Any]], int]:
    """The batch operation by operation on the front end ``fe``, the Python path a batch
    must equal: store ``i`` offers ``page(i, clean)``; at each phase ``fe.phase`` then
    ``figures()``; ``after(i, kind, offset, result)`` follows every other operation (a
    load's page, a compaction's pages freed).  The phases' figures and the pages freed."""
    phases: list[dict[str, Any]] = []
    compacted = 0
    for i, kind in enumerate(batch.kinds):
        off = batch.offsets[i]
        result: Any = None
        if kind == sized.PHASE:
            fe.phase(batch.labels[i])
            phases.append(figures())
            continue
        if kind == sized.INVALIDATE:
            fe.invalidate(off)
        elif kind == sized.LOAD:
            result = fe.load(off)
        elif kind == sized.COMPACT:
            result = fe.compact()
            compacted += result
        else:
            fe.store(off, page(i, kind == sized.STORE_CLEAN))
        if after is not None:
            after(i, kind, off, result)
    return phases, compacted
