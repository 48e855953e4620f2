"""The zsmalloc pool's C engine (plugins/zbench_zsmalloc/zspool.c, zscompact.c) behind zram's
sizes-only batch gives exactly the Python model's figures, for every kernel's rules.

The reference is the Python path operation by operation: the zram front end's
``store`` / ``load`` / ``invalidate`` / ``compact`` / ``phase`` over ``ZsPool`` on
``SizeFrames``.  The same operations go as
one :class:`~zbench.api.sized.SizedBatch` through ``Zram.run_sizes`` over the C engine.
Every counter either reports must be equal: the front end's metrics, the pool's stats and
debugfs class rows, its pages, the frames' counts and each phase's figures."""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any

import pytest
from batchkit import (
    ZRAM_PARTS,
    SizesPage,
    batch_of,
    case_figures,
    ops_strategy,
    replay,
    run_cases,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zbench_compressors import Lz4
from zbench_zram import Zram, sizedbatch
from zbench_zsmalloc import ZsPool, native

from zbench import KernelVersion
from zbench import same_filled_word as zbench_same_filled
from zbench.api import sized
from zbench.sim.sized import SizedPages, SizesOnlyCompressor
from zbench.sim.sizeframes import SizeFrames

pytestmark = pytest.mark.skipif(native._native is None,
                                reason="the C engine is not built (no compiler)")

ROOT = Path(__file__).resolve().parent.parent
PAGE = 4096
#: (zram kernel, zsmalloc kernel): each fullness scheme and insert policy, both chain rules,
#: zram's old huge cut-off (< 4.17) and zero-only same-filled pages (< 4.11)
KERNELS = [("6.18", "6.18"), ("6.4", "6.4"), ("6.3", "6.3"), ("6.1", "6.1"), ("5.10", "5.10"),
           ("4.14", "4.14"), ("4.9", "4.5"), ("4.4", "4.1")]



_Page = SizesPage


def _device(kernels: tuple[str, str], chain: int) -> tuple[Zram, ZsPool, SizeFrames]:
    frames = SizeFrames(PAGE)
    # CONFIG_ZSMALLOC_CHAIN_SIZE exists from 6.3; before, the chain is 4
    chain_opt = {"chain_size": chain} if KernelVersion(kernels[1]) >= "6.3" else {}
    pool = ZsPool(ZsPool.Options(kernel=kernels[1], **chain_opt), frames)
    # the case's compressor on the sizes-only path: a load decompresses nothing
    comp = SizesOnlyCompressor(Lz4(Lz4.Options()), SizedPages(1, PAGE))
    return Zram(Zram.Options(kernel=kernels[0]), pool, comp), pool, frames


def _figures(fe: Zram, pool: ZsPool, frames: SizeFrames) -> dict[str, Any]:
    return {"metrics": fe.metrics(), "stats": pool.stats(), "classes": pool.class_stats(),
            "pool_pages": pool.pool_pages(), "slot_bytes": pool.slot_bytes(),
            "frames": (frames.allocs, frames.frees, frames.allocated)}


def _reference(kernels: tuple[str, str], chain: int, batch: sized.SizedBatch
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fe, pool, frames = _device(kernels, chain)

    def page(i: int, clean: bool) -> _Page:
        return _Page(batch.fill[i], batch.sizes[i], clean)

    phases, _ = replay(fe, batch, page, lambda: _figures(fe, pool, frames))
    return _figures(fe, pool, frames), phases


def _batched(kernels: tuple[str, str], chain: int, batch: sized.SizedBatch
             ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The batch through zram's loop in C (``_native.c``) or in Python (the ``loop``
    fixture), over the C engine."""
    fe, pool, frames = _device(kernels, chain)
    assert (fe.sizes_engine() or "").startswith(native.ENGINE)
    phases: list[dict[str, Any]] = []
    fe.run_sizes(batch, lambda label, ops: phases.append(_figures(fe, pool, frames)), None)
    return _figures(fe, pool, frames), phases


@pytest.fixture(params=["c-loop", "python-loop"])
def loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """zram's batch loop: in C over the engine's C face, or sizedbatch.py's Python loop."""
    if request.param == "python-loop":
        monkeypatch.setattr(sizedbatch, "_native", None)
    else:
        assert sizedbatch._native is not None, "zbench_zram._native is not built"
    return str(request.param)


_op = ops_strategy(40, PAGE)


_batch = batch_of


@pytest.mark.parametrize("kernels", KERNELS, ids=lambda k: f"zram{k[0]}-zs{k[1]}")
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # `loop`: one per test
@given(ops=st.lists(_op, max_size=300), chain=st.sampled_from([4, 8, 16]))
def test_a_batch_on_the_c_engine_equals_the_python_model(
        kernels: tuple[str, str], chain: int, ops: list[tuple[int, int, int, int]],
        loop: str) -> None:
    batch = _batch(ops)
    assert _batched(kernels, chain, batch) == _reference(kernels, chain, batch)


@pytest.mark.parametrize("kernels", [("6.18", "6.18"), ("5.10", "5.10")])
def test_a_long_churn_of_sizes_equals_the_python_model(kernels: tuple[str, str],
                                                       loop: str) -> None:
    """Thousands of stores over a few hundred offsets: zspages fill, empty and are freed,
    handles are reused; sizes from real pages' lz4 sizes (skewed to small objects)."""
    import random

    rng = random.Random(7)
    ops = []
    for _ in range(6000):
        r = rng.random()
        if r < 0.2:
            ops.append((sized.INVALIDATE, rng.randrange(400), 0, 0))
        elif r < 0.35:
            ops.append((sized.LOAD, rng.randrange(400), 0, 0))
        else:
            size = min(PAGE, int(rng.expovariate(1 / 1200)) + 1)
            ops.append((sized.STORE, rng.randrange(400), size, sized.NOT_FILLED))
        if rng.random() < 0.001:
            ops.append((sized.PHASE, 0, 0, 0))
    batch = _batch(ops)
    got, ref = _batched(kernels, 8, batch), _reference(kernels, 8, batch)
    assert got == ref
    assert ref[0]["stats"]["zspages"] > 20  # the churn really allocated and freed zspages
    assert ref[0]["frames"][1] > 0
    assert ref[0]["stats"]["bytes_read"] > 0  # loads read objects


def test_after_a_batch_the_pool_takes_no_further_operation(loop: str) -> None:
    fe, pool, _ = _device(("6.18", "6.18"), 8)
    assert fe.sizes_engine()
    fe.run_sizes(_batch([(sized.STORE, 0, 100, sized.NOT_FILLED)]), lambda *a: None, None)
    with pytest.raises(RuntimeError, match="C engine"):
        pool.malloc(100)
    with pytest.raises(RuntimeError, match="ran a batch"):
        fe.invalidate(0)


def test_frames_that_keep_bytes_get_an_engine_that_does_and_none_when_turned_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from zbench.api.frames import PageFrames

    engine = ZsPool(ZsPool.Options(), PageFrames(PAGE)).sized_engine()
    assert engine is not None and engine.payload
    engine = ZsPool(ZsPool.Options(), SizeFrames(PAGE)).sized_engine()
    assert engine is not None and not engine.payload
    monkeypatch.setenv("ZBENCH_NATIVE", "0")
    assert ZsPool(ZsPool.Options(), SizeFrames(PAGE)).sized_engine() is None
    assert "turned off" in (ZsPool.engine_status() or "")


def test_zram_with_post_processing_takes_no_batch() -> None:
    pool = ZsPool(ZsPool.Options(), SizeFrames(PAGE))
    fe = Zram(Zram.Options(mem_limit="4M"), pool, Lz4(Lz4.Options()))
    assert fe.sizes_engine() is None


@pytest.mark.parametrize("workload", [
    {"name": "fill", "options": {"scale_pages": 6000, "zero_filled_pct": 5,
                                 "same_filled_pct": 2}},
    {"name": "fill", "options": {"order": "shuffle", "pages": "second-half",
                                 "same_filled_pct": 3}},
    {"name": "zipf", "options": {"resident_pct": 50, "write_pct": 30, "zero_filled_pct": 5}},
    {"name": "pressure", "options": {"rounds": 3, "same_filled_pct": 2}},
    {"name": "churn", "options": {"scale_pages": 5000, "zero_filled_pct": 5}},
], ids=["fill-scaled", "fill-shuffled-half", "zipf", "pressure", "churn"])
def test_a_case_in_one_batch_equals_the_case_op_by_op(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workload: dict[str, Any]) -> None:
    """The whole case (corpus, compressed sizes, the operations in arrays, the phases)
    both ways; zipf's clean stores and loads, and fill's op_arrays, included."""
    workload = {**workload, "options": {**workload["options"], "payload": "sizes"}}
    batched = run_cases(tmp_path, "batched", workload, monkeypatch, ZRAM_PARTS)
    assert all(c.get("engine") == f"{native.ENGINE}, zram loop in C" for c in batched["cases"])
    monkeypatch.setenv("ZBENCH_NATIVE", "0")
    python = run_cases(tmp_path, "python", workload, monkeypatch, ZRAM_PARTS)
    assert all("engine" not in c for c in python["cases"])
    assert case_figures(batched) == case_figures(python)


@pytest.mark.parametrize("name, option_sets, n", [
    ("fill", ({}, {"order": "shuffle"}, {"pages": "first-half", "order": "shuffle"}), 101),
    ("churn", ({}, {"compact": False, "load_pct": 40}, {"steps": 50, "steady_pct": 20}), 97),
])
def test_op_arrays_are_the_workloads_operations(name: str, option_sets: tuple[dict[str, Any],
                                                                             ...],
                                                n: int) -> None:
    from zbench.api.registry import get_registry
    from zbench.api.workload import OP_CODE

    cls = get_registry().get("workload", name)
    for options in option_sets:
        w = cls(cls.Options(**options), 3)
        arrays = w.op_arrays(n)
        assert arrays is not None
        ops = list(w.operations(n))
        assert [OP_CODE[o.kind] for o in ops] == list(arrays.kinds)
        assert [o.offset for o in ops] == list(arrays.offsets)
        assert [o.page for o in ops] == list(arrays.pages)
        assert {i: o.label for i, o in enumerate(ops) if o.label} == arrays.labels


def test_the_engine_is_named_in_plugins_and_not_built_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert ZsPool.engine_status() == (f"batches: {native.ENGINE}; other cases: "
                                      "the Python model")
    monkeypatch.setattr(native, "_native", None)
    monkeypatch.setattr(native, "_WHY", "not built (test)")
    assert ZsPool(ZsPool.Options(), SizeFrames(PAGE)).sized_engine() is None
    assert "Python model" in (ZsPool.engine_status() or "")


def test_a_bad_class_table_is_refused() -> None:
    with pytest.raises(ValueError, match="class"):
        native._native.SizedPool(PAGE, array("i", [32, 1, 128, 0]).tobytes(),
                                 array("i", [5] * (PAGE + 1)).tobytes(), 1, 0, bytes([10]))


def _corpus_and_sizes(n: int) -> tuple[Any, Any]:
    from zbench.input.compcache import CompressedPages, compress_dump
    from zbench.input.corpus import Corpus
    from zbench.input.dump import load_dump

    dump = load_dump(ROOT / "dumps" / "default.zbdump")
    corpus = Corpus(dump, 4.0, 2.0, 3, n)
    lz4 = Lz4(Lz4.Options())
    return corpus, CompressedPages(corpus, lz4, lambda: compress_dump(dump, lz4))


def test_a_batch_from_the_generator_equals_one_from_op_arrays(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``build_batch`` over ``operations()`` (a workload with no ``op_arrays``) gives the
    batch ``op_arrays`` gives, sizes and fill codes as the sizes-only pages have them."""
    from zbench_workloads.fill import Fill

    from zbench.run.batch import _CHUNK, build_batch

    corpus, comp = _corpus_and_sizes(_CHUNK + 5000)  # more than one chunk
    w = Fill(Fill.Options(order="shuffle"), 3)
    arrays = build_batch(w, corpus, comp)
    pages = list(w.op_arrays(corpus.n_pages).pages)
    monkeypatch.setattr(Fill, "op_arrays", lambda self, n: None)
    generated = build_batch(w, corpus, comp)
    for field in ("kinds", "offsets", "sizes", "fill", "labels"):
        assert list(getattr(arrays, field)) == list(getattr(generated, field)), field
    assert len(arrays) == corpus.n_pages + 1
    for i in range(0, corpus.n_pages, 997):  # each store's size and fill code, page by page
        page = pages[i]
        assert arrays.sizes[i] == len(comp.get(page))
        word = zbench_same_filled(corpus.data(page))
        assert arrays.fill[i] == (sized.NOT_FILLED if word is None else
                                  sized.ZERO_FILLED if word == 0 else sized.WORD_FILLED)
    assert set(arrays.fill) == {sized.NOT_FILLED, sized.ZERO_FILLED, sized.WORD_FILLED}


def test_a_workload_yielding_an_undeclared_kind_fails() -> None:
    from zbench_workloads.fill import Fill

    from zbench import Op, OpKind, PluginError
    from zbench.run.batch import build_batch

    class Liar(Fill):
        name = "liar"

        def operations(self, n_pages: int) -> Any:
            yield Op(OpKind.STORE, 0, 0)
            yield Op(OpKind.LOAD, 0)

        def op_arrays(self, n_pages: int) -> None:
            return None

    corpus, comp = _corpus_and_sizes(100)
    with pytest.raises(PluginError, match="LOAD, which its op_kinds do not declare"):
        build_batch(Liar(Liar.Options(), 1), corpus, comp)
