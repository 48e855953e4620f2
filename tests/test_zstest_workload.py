"""The ``zsmalloc-test`` workload (Senozhatsky's zsmalloc_test module, simulate-zsmalloc).

Every expected figure is computed here from the module's constants and the zsmalloc
class table (the plugin's ``describe`` rows), not from the workload's own code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import pytest
from pydantic import ValidationError

import zbench
from zbench import Op, OpKind

PAGE = 4096
HANDLE = 8  # ZS_HANDLE_SIZE: zs_malloc() looks the class up for size + 8
ZS_OPTS = {"kernel": "6.12", "chain_size": 8}
# mm/zsmalloc_test.c: MIN_SIZE 32, OBJS_PER_CLASS 182, STEP_SIZE 1 (revision a);
# MIN_STEP_SIZE 1, MAX_STEP_SIZE 127, STEP_DELTA 8 (revision b)
MIN_SIZE, OBJS, STEP_DELTA = 32, 182, 8


def _workload(**options: Any) -> Any:
    cls = zbench.get_plugin_class("workload", "zsmalloc-test")
    return cls(cls.Options(**options), seed=1)


def _zsmalloc() -> tuple[list[dict[str, Any]], int]:
    cls = zbench.get_plugin_class("allocator", "zsmalloc")
    opts = cls.Options(**ZS_OPTS)
    return cls.describe(opts), cls.describe_summary(opts)["huge_class_size"]


ROWS, HUGE_CLASS_SIZE = _zsmalloc()


def _row_for(size: int) -> dict[str, Any]:
    """The class zs_malloc(size) uses: raw index of size + handle, merged upwards to the
    next class that exists."""
    need = size + HANDLE
    raw = 0 if need <= 32 else -(-(need - 32) // 16)
    return next(r for r in ROWS if r["class"] >= raw)


def _sizes(lo: int, hi: int, step: int) -> list[int]:
    """The module's ``for (sz = MIN_SIZE; sz < zs_huge_class_size(pool); sz += step)``,
    hi being huge_class_size - 1."""
    out, sz = [], lo
    while sz <= hi:
        out.append(sz)
        sz += step
    return out


def _expected_run(sizes: Iterable[int], objs: int) -> tuple[int, int, int]:
    """(pool pages, spanning objects, memcpy bytes) of one run on an empty pool:
    ceil(objects / objs_per_zspage) * pages_per_zspage per class; objects fill the slots
    of each class's zspages in index order, and one spans when its slot's offset in the
    page plus handle plus size runs past the page end."""
    per_class: dict[int, list[int]] = {}
    for s in sizes:
        per_class.setdefault(_row_for(s)["class"], []).extend([s] * objs)
    rows = {r["class"]: r for r in ROWS}
    pages = spans = memcpy = 0
    for idx, objects in per_class.items():
        r = rows[idx]
        pages += -(-len(objects) // r["objs_per_zspage"]) * r["pages_per_zspage"]
        for k, s in enumerate(objects):
            slot = k % r["objs_per_zspage"]
            if not r["huge"] and (slot * r["size"]) % PAGE + HANDLE + s > PAGE:
                spans += 1
                memcpy += s
    return pages, spans, memcpy


def _run(options: dict[str, Any]) -> dict[str, Any]:
    res = zbench.run_suite({
        "dumps": [str(zbench.default_dump_path())], "compressors": ["lz4"],
        "frontends": ["zram"], "allocators": [{"name": "zsmalloc", "options": ZS_OPTS}],
        "workloads": [{"name": "zsmalloc-test", **({"options": options} if options else {})}],
        "verify": True,
    }, quiet=True)
    (case,) = res["cases"]
    return case


def test_default_max_size_is_just_below_the_huge_class() -> None:
    assert HUGE_CLASS_SIZE == 3625
    assert _workload().options.max_size == HUGE_CLASS_SIZE - 1
    assert not _row_for(HUGE_CLASS_SIZE - 1)["huge"] and _row_for(HUGE_CLASS_SIZE)["huge"]


def test_small_sweep_op_sequence_exactly() -> None:
    opts = {"objects_per_size": 3, "min_size": 32, "max_size": 100, "step": 7,
            "max_step": 23, "step_delta": 8}
    want: list[Op] = []
    off = 0
    for step in (7, 15, 23):
        first = off
        for sz in _sizes(32, 100, step):
            for _ in range(3):
                want.append(Op(OpKind.STORE, off, 0, "", sz))
                off += 1
        want.append(Op(OpKind.PHASE, label=f"write (step {step})"))
        want += [Op(OpKind.LOAD, o) for o in range(first, off)]
        want.append(Op(OpKind.PHASE, label=f"read (step {step})"))
        want += [Op(OpKind.INVALIDATE, o) for o in range(first, off)]
        want.append(Op(OpKind.PHASE, label=f"free (step {step})"))
    assert list(_workload(**opts).operations(10)) == want


@pytest.mark.slow
def test_default_op_sequence() -> None:
    sizes: Counter[int] = Counter()
    kinds: Counter[OpKind] = Counter()
    phases: list[tuple[int, str]] = []
    stored: list[int] = []
    order: list[int] = []
    for i, op in enumerate(_workload().operations(10)):
        kinds[op.kind] += 1
        if op.kind is OpKind.STORE:
            sizes[op.size] += 1
            stored.append(op.offset)
        elif op.kind is OpKind.PHASE:
            phases.append((i, op.label))
        else:
            order.append(op.offset)
    n = (HUGE_CLASS_SIZE - MIN_SIZE) * OBJS  # sizes 32..3624, step 1
    assert n == 653_926
    assert sizes == Counter({s: OBJS for s in range(MIN_SIZE, HUGE_CLASS_SIZE)})
    assert stored == list(range(n))  # ascending sizes at fresh offsets
    assert order == stored + stored  # reads, then frees, in allocation order
    assert kinds == {OpKind.STORE: n, OpKind.LOAD: n, OpKind.INVALIDATE: n, OpKind.PHASE: 3}
    assert phases == [(n, "write (step 1)"), (2 * n + 1, "read (step 1)"),
                      (3 * n + 2, "free (step 1)")]


def test_revision_b_steps() -> None:
    w = _workload(max_step=127)
    assert w.steps() == list(range(1, 128, STEP_DELTA)) == [1 + 8 * i for i in range(16)]


@pytest.mark.parametrize("bad", [{"min_size": 200, "max_size": 100},
                                 {"step": 9, "max_step": 1}, {"step": 0},
                                 {"max_size": 4097}, {"objects_per_size": 0}])
def test_bad_options(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _workload(**bad)


@pytest.fixture(scope="module")
def default_case() -> dict[str, Any]:
    return _run({})


@pytest.mark.slow
@pytest.mark.slow
def test_default_run_pool_pages(default_case: dict[str, Any]) -> None:
    pages, spans, memcpy = _expected_run(range(MIN_SIZE, HUGE_CLASS_SIZE), OBJS)
    n = (HUGE_CLASS_SIZE - MIN_SIZE) * OBJS
    got = {p["label"]: p for p in default_case["phases"]}
    assert list(got) == ["write (step 1)", "read (step 1)", "free (step 1)"]
    assert got["write (step 1)"]["pool_pages"] == pages
    assert got["read (step 1)"]["pool_pages"] == pages
    assert got["free (step 1)"]["pool_pages"] == 0
    assert got["write (step 1)"]["stored_pages"] == n
    assert got["write (step 1)"]["huge_pages"] == 0  # every size stays below huge_class_size
    assert got["write (step 1)"]["compressed_bytes"] == OBJS * sum(
        range(MIN_SIZE, HUGE_CLASS_SIZE))
    m = default_case["metrics"]
    assert m["verified_loads"] == n
    # each spanning object is copied across a page boundary once written, once read
    assert m["page_crossing_copies"] == 2 * spans
    assert 0 < memcpy < m["bytes_read"]


def test_sweep_run_pool_pages_per_step() -> None:
    objs = 13
    case = _run({"objects_per_size": objs, "step": 9, "max_step": 127})
    steps = list(range(9, 128, STEP_DELTA))
    got = {p["label"]: p["pool_pages"] for p in case["phases"]}
    assert len(got) == 3 * len(steps)
    spans = 0
    for step in steps:
        pages, s, _ = _expected_run(_sizes(MIN_SIZE, HUGE_CLASS_SIZE - 1, step), objs)
        spans += s
        assert got[f"write (step {step})"] == pages
        assert got[f"read (step {step})"] == pages
        assert got[f"free (step {step})"] == 0
    m = case["metrics"]
    assert m["page_crossing_copies"] == 2 * spans
    assert m["verified_loads"] == sum(
        len(_sizes(MIN_SIZE, HUGE_CLASS_SIZE - 1, s)) * objs for s in steps)
