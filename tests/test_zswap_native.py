"""zswap's loop in C (plugins/zbench_zswap/_native.c) over the zbud and zsmalloc C engines
(plugins/zbench_zbud/_native.c, plugins/zbench_zsmalloc/zspool.c) gives exactly the Python
models' figures, for the rules it follows (6.5 to 6.11).

The reference is the Python path operation by operation: ``Zswap.store`` / ``load`` /
``invalidate`` / ``compact`` / ``phase`` over ``ZbudPool`` or ``ZsPool`` on ``SizeFrames``,
with a pool limit small enough that the shrink worker writes entries back.  The same
operations go as one :class:`~zbench.api.sized.SizedBatch` through ``Zswap.run_sizes``.
Every figure either reports must be equal, phase by phase."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from batchkit import SizesPage, batch_of, case_figures, ops_strategy, replay, run_cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zbench_compressors import Lz4
from zbench_zbud import ZbudPool
from zbench_zbud import native as zbud_native
from zbench_zsmalloc import ZsPool
from zbench_zsmalloc import native as zs_native
from zbench_zswap import Zswap, sizedbatch

from zbench import KernelVersion
from zbench.api import sized
from zbench.sim.sized import SizedPages, SizesOnlyCompressor
from zbench.sim.sizeframes import SizeFrames

pytestmark = pytest.mark.skipif(
    sizedbatch._native is None or zbud_native._native is None or zs_native._native is None,
    reason="the C engines are not built (no compiler)")

ROOT = Path(__file__).resolve().parent.parent
PAGE = 4096
#: each rule set of the loop: the duplicate counter (<= 6.8), exclusive loads (6.9+),
#: the PAGE_SIZE output limit (6.9+), zero-only same-filled pages (6.10-6.11)
KERNELS = ["6.5", "6.6", "6.8", "6.9", "6.11"]
ALLOCATORS = {"zbud": ZbudPool, "zsmalloc": ZsPool}



_Page = SizesPage


def _device(kernel: str, allocator: str, ram_pages: int, exclusive: bool | None
            ) -> tuple[Zswap, Any, SizeFrames]:
    frames = SizeFrames(PAGE)
    pool = ALLOCATORS[allocator](ALLOCATORS[allocator].Options(), frames)
    comp = SizesOnlyCompressor(Lz4(Lz4.Options()), SizedPages(1, PAGE))
    opts = Zswap.Options(kernel=kernel, ram_pages=ram_pages, exclusive_loads=exclusive)
    return Zswap(opts, pool, comp), pool, frames


def _figures(fe: Zswap, pool: Any, frames: SizeFrames) -> dict[str, Any]:
    return {"metrics": fe.metrics(), "stats": pool.stats(), "pool_pages": pool.pool_pages(),
            "slot_bytes": pool.slot_bytes(),
            "frames": (frames.allocs, frames.frees, frames.allocated)}


def _reference(dev: tuple[Zswap, Any, SizeFrames], batch: sized.SizedBatch
               ) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    fe, pool, frames = dev

    def page(i: int, clean: bool) -> _Page:
        return _Page(batch.fill[i], batch.sizes[i], clean)

    phases, compacted = replay(fe, batch, page, lambda: _figures(fe, pool, frames))
    return _figures(fe, pool, frames), phases, compacted


def _batched(dev: tuple[Zswap, Any, SizeFrames], batch: sized.SizedBatch
             ) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    fe, pool, frames = dev
    assert (fe.sizes_engine() or "").endswith("zswap loop in C")
    phases: list[dict[str, Any]] = []
    fe.run_sizes(batch, lambda label, ops: phases.append(_figures(fe, pool, frames)), None)
    return _figures(fe, pool, frames), phases, batch.compacted


_op = ops_strategy(60, PAGE + 200, PAGE)


_batch = batch_of


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("allocator", sorted(ALLOCATORS))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, max_size=300), ram_pages=st.sampled_from([40, 100, 400, 1 << 20]),
       exclusive=st.sampled_from([None, True, False]))
def test_a_batch_through_zswaps_c_loop_equals_the_python_model(
        kernel: str, allocator: str, ops: list[tuple[int, int, int, int]], ram_pages: int,
        exclusive: bool | None) -> None:
    """Pool limits from a few pages (the shrink worker writes back, the hysteresis band
    rejects) to none; sizes past the largest zbud object and past a page."""
    if exclusive is not None and KernelVersion(kernel) < "6.5":
        exclusive = None
    if exclusive is False and KernelVersion(kernel) >= "6.9":
        exclusive = None  # always on from 6.9
    batch = _batch(ops)
    ref = _reference(_device(kernel, allocator, ram_pages, exclusive), batch)
    assert _batched(_device(kernel, allocator, ram_pages, exclusive), batch) == ref


def test_the_loop_declines_the_rules_it_does_not_follow() -> None:
    for kernel in ("6.1", "6.4", "6.12", "6.14"):
        fe, _, _ = _device(kernel, "zsmalloc", 1 << 20, None)
        assert fe.sizes_engine() is None, kernel
    frames = SizeFrames(PAGE)
    fe = Zswap(Zswap.Options(kernel="6.8", writeback=False), ZsPool(ZsPool.Options(), frames),
               Lz4(Lz4.Options()))
    assert fe.sizes_engine() is None  # memory.zswap.writeback off
    old_zbud = ZbudPool(ZbudPool.Options(kernel="6.4"), SizeFrames(PAGE))
    assert old_zbud.sized_engine() is None  # its LRU and reclaim are the Python model's


def test_after_a_batch_the_front_end_and_the_pool_take_no_further_operation() -> None:
    fe, pool, _ = _device("6.6", "zbud", 1 << 20, None)
    assert fe.sizes_engine()
    fe.run_sizes(_batch([(sized.STORE, 0, 100, sized.NOT_FILLED)]), lambda *a: None, None)
    with pytest.raises(RuntimeError, match="batch"):
        fe.store(1, _Page(sized.NOT_FILLED, 100, False))
    with pytest.raises(RuntimeError, match="C engine"):
        pool.malloc(100)
    assert fe.metrics()["stored_pages"] == 1


def test_the_zbud_engine_refuses_sizes_as_zbud_alloc_does() -> None:
    pool = ZbudPool(ZbudPool.Options(), SizeFrames(PAGE))
    engine = pool.sized_engine()
    assert engine is not None
    assert engine.malloc(pool.rules.max_size + 1) == -28  # -ENOSPC
    assert engine.malloc(0) == -22  # -EINVAL
    h = engine.malloc(pool.rules.max_size)
    assert h > 0 and engine.pool_pages() == 1
    engine.free(h)
    assert engine.pool_pages() == 0
    with pytest.raises(ValueError, match="not a live zbud handle"):
        engine.free(h)
    assert "C engine" in (ZbudPool.engine_status() or "")


#: zswap 6.6 and 6.9 with a pool limit the cases hit; z3fold has no engine
ZSWAP_PARTS = {
    "frontends": [{"name": "zswap", "options": {"kernel": "6.6", "ram_mb": 24}},
                  {"name": "zswap", "label": "zswap-6.9",
                   "options": {"kernel": "6.9", "ram_mb": 24}}],
    "allocators": ["zbud", "zsmalloc", "z3fold"],
}


@pytest.mark.parametrize("workload", [
    {"name": "churn", "options": {"scale_pages": 8000, "zero_filled_pct": 10}},
    {"name": "pressure", "options": {"rounds": 3, "same_filled_pct": 2}},
    {"name": "zipf", "options": {"resident_pct": 50, "write_pct": 30}},
], ids=["churn", "pressure", "zipf"])
def test_a_zswap_case_in_one_batch_equals_the_case_op_by_op(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workload: dict[str, Any]) -> None:
    """Whole cases behind zswap 6.6 and 6.9 with a pool limit they hit; z3fold, which has
    no engine, runs operation by operation in both."""
    workload = {**workload, "options": {**workload["options"], "payload": "sizes"}}
    batched = run_cases(tmp_path, "batched", workload, monkeypatch, ZSWAP_PARTS)
    engines = {c["id"].split("/")[0]: c.get("engine", "") for c in batched["cases"]}
    assert engines["zbud"].endswith("zswap loop in C") and engines["z3fold"] == ""
    assert engines["zsmalloc"].endswith("zswap loop in C")
    assert any(c["metrics"]["written_back_pages"] for c in batched["cases"])
    monkeypatch.setenv("ZBENCH_NATIVE", "0")
    python = run_cases(tmp_path, "python", workload, monkeypatch, ZSWAP_PARTS)
    assert case_figures(batched) == case_figures(python)
