"""Batches of payload: zram's write and read paths in C (plugins/zbench_zram/_native.c) over
the zsmalloc C engine keeping the objects' bytes (plugins/zbench_zsmalloc/zspool.c), lz4
called from C through python-lz4's own functions (zbench_compressors.lz4_native).

The reference is the Python path operation by operation: ``Zram.store`` / ``load`` /
``invalidate`` / ``phase`` over ``ZsPool`` on ``PageFrames`` with the real ``Lz4``, every
load compared with the page stored.  The same operations go as one batch carrying the
pages (``SizedBatch.payload``).  Every figure must be equal, every load must return the
page stored (the batch's ``verify``), and a damaged object must fail the case."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from batchkit import ZRAM_PARTS, case_figures, replay, run_cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zbench_compressors import Lz4, Zstd
from zbench_zram import Zram, sizedbatch
from zbench_zsmalloc import ZsPool, native

from zbench import KernelVersion, VerifyError, same_filled_word
from zbench.api import sized
from zbench.api.frames import PageFrames
from zbench.api.metrics import read_costs

pytestmark = pytest.mark.skipif(native._native is None or sizedbatch._native is None,
                                reason="the C engines are not built (no compiler)")

ROOT = Path(__file__).resolve().parent.parent
PAGE = 4096
KERNELS = [("6.18", "6.18"), ("6.3", "6.3"), ("5.10", "5.10"), ("4.9", "4.5")]


def _pages() -> list[bytes]:
    """Pages of every kind a store meets: random (huge: stored whole), compressible to
    many sizes (objects of many classes, some straddling pages), zero- and word-filled."""
    rng = random.Random(7)
    pages = [rng.randbytes(PAGE), bytes(PAGE), (0x5A5A5A5A5A5A5A5A).to_bytes(8, "little") * 512]
    for noise in (8, 40, 150, 400, 900, 1500, 2200, 2900, 3300):
        page = bytearray(b"zbench page " * 342)[:PAGE]
        for _ in range(noise):
            page[rng.randrange(PAGE)] = rng.randrange(256)
        pages.append(bytes(page))
    return pages


PAGES = _pages()
LZ4 = Lz4(Lz4.Options())
BLOBS = [LZ4.compress(p) for p in PAGES]


class _Page:
    __slots__ = ("data", "compressed", "clean")

    def __init__(self, src: int, clean: bool) -> None:
        self.data, self.compressed, self.clean = PAGES[src], BLOBS[src], clean


def _device(kernels: tuple[str, str], chain: int,
            comp: Any = LZ4) -> tuple[Zram, ZsPool, PageFrames]:
    frames = PageFrames(PAGE)
    chain_opt = {"chain_size": chain} if KernelVersion(kernels[1]) >= "6.3" else {}
    pool = ZsPool(ZsPool.Options(kernel=kernels[1], **chain_opt), frames)
    return Zram(Zram.Options(kernel=kernels[0]), pool, comp), pool, frames


def _figures(fe: Zram, pool: ZsPool, frames: PageFrames) -> dict[str, Any]:
    return {"metrics": fe.metrics(), "stats": pool.stats(), "classes": pool.class_stats(),
            "pool_pages": pool.pool_pages(), "slot_bytes": pool.slot_bytes(),
            "frames": (frames.allocs, frames.frees, frames.allocated)}


def _fill(src: int) -> int:
    word = same_filled_word(PAGES[src])
    return sized.NOT_FILLED if word is None else sized.ZERO_FILLED if word == 0 else (
        sized.WORD_FILLED)


def _batch(ops: list[tuple[int, int, int]], cached: bool) -> sized.SizedBatch:
    b = sized.SizedBatch()
    sources = []
    for i, (kind, off, src) in enumerate(ops):
        b.kinds.append(kind)  # type: ignore[attr-defined]
        b.offsets.append(off)  # type: ignore[attr-defined]
        b.sizes.append(len(BLOBS[src]))  # type: ignore[attr-defined]
        b.fill.append(_fill(src))  # type: ignore[attr-defined]
        sources.append(src)
        if kind == sized.PHASE:
            b.labels[i] = f"p{i}"
    offs = [0]
    for blob in BLOBS:
        offs.append(offs[-1] + len(blob))
    b.payload = sized.PayloadPages(
        pages=b"".join(PAGES), sources=sources, verify=True,
        blobs=b"".join(BLOBS) if cached else None, blob_offs=offs if cached else None)
    return b


def _reference(kernels: tuple[str, str], chain: int, batch: sized.SizedBatch
               ) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """Operation by operation, every load checked; the figures before the final read-back
    of every live slot (the case's verifier takes those reads out)."""
    fe, pool, frames = _device(kernels, chain)
    assert batch.payload is not None
    sources = batch.payload.sources
    held: dict[int, int] = {}
    verified = 0

    def check(i: int, kind: int, off: int, got: Any) -> None:
        nonlocal verified
        if kind == sized.INVALIDATE:
            held.pop(off, None)
        elif kind == sized.LOAD and off in held:
            assert got == PAGES[held[off]]
            verified += 1
        elif kind == sized.COMPACT:  # then every live page read back, uncounted
            before = read_costs(pool.stats())
            for o, src in held.items():
                assert fe.peek(o) == PAGES[src]
                verified += 1
            taken = {k: v - before[k] for k, v in read_costs(pool.stats()).items()}
            pool.bytes_read -= taken["bytes_read"]
            pool.page_crossing_copies -= taken["page_crossing_copies"]
        elif kind in (sized.STORE, sized.STORE_CLEAN) and not (
                kind == sized.STORE_CLEAN and off in held):
            held[off] = sources[i]

    def page(i: int, clean: bool) -> _Page:
        return _Page(sources[i], clean)

    phases, _ = replay(fe, batch, page, lambda: _figures(fe, pool, frames), check)
    figures = _figures(fe, pool, frames)
    for off, src in held.items():
        assert fe.peek(off) == PAGES[src]
        verified += 1
    return figures, phases, verified


def _batched(kernels: tuple[str, str], chain: int, batch: sized.SizedBatch
             ) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    fe, pool, frames = _device(kernels, chain)
    assert (fe.sizes_engine() or "").endswith("bytes and lz4 in C")
    phases: list[dict[str, Any]] = []
    fe.run_sizes(batch, lambda label, ops: phases.append(_figures(fe, pool, frames)), None)
    assert batch.payload is not None
    return _figures(fe, pool, frames), phases, batch.payload.verified


_op = st.one_of(
    st.tuples(st.just(sized.STORE), st.integers(0, 30), st.integers(0, len(PAGES) - 1)),
    st.tuples(st.just(sized.STORE_CLEAN), st.integers(0, 30), st.integers(0, len(PAGES) - 1)),
    st.tuples(st.just(sized.INVALIDATE), st.integers(0, 30), st.just(0)),
    st.tuples(st.just(sized.LOAD), st.integers(0, 30), st.just(0)),
    st.tuples(st.just(sized.PHASE), st.just(0), st.just(0)),
    st.tuples(st.just(sized.COMPACT), st.just(0), st.just(0)),
)


@pytest.mark.parametrize("kernels", KERNELS, ids=lambda k: f"zram{k[0]}-zs{k[1]}")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, max_size=250), chain=st.sampled_from([4, 8, 16]),
       cached=st.booleans())
def test_a_batch_of_payload_equals_the_python_model_and_loads_what_it_stored(
        kernels: tuple[str, str], chain: int, ops: list[tuple[int, int, int]],
        cached: bool) -> None:
    """Live lz4 in C (as zram_write_page compresses) or the case's cached pages: the
    same figures, phase by phase, and every load equal to the page stored."""
    batch = _batch(ops, cached)
    assert _batched(kernels, chain, batch) == _reference(kernels, chain, batch)


def test_a_damaged_object_fails_the_batch() -> None:
    """A byte flipped in a stored object (through the engine, between two phases): the
    next load of it raises VerifyError."""
    fe, pool, _ = _device(("6.18", "6.18"), 8)
    assert fe.sizes_engine()
    engine = fe._engine
    src = 7  # a compressible page: a small object
    batch = _batch([(sized.STORE, 3, src), (sized.PHASE, 0, 0), (sized.LOAD, 3, 0)], True)

    def damage(label: str, ops: int) -> None:
        handle = 1 << 3  # the first handle of a fresh pool (slot 1)
        obj = bytearray(engine._c.read_bytes(handle))
        assert bytes(obj) == BLOBS[src]
        obj[len(obj) // 2] ^= 0x40
        engine._c.write_bytes(handle, bytes(obj))

    with pytest.raises(VerifyError, match="offset 3"):
        fe.run_sizes(batch, damage, None)


def test_a_batch_whose_sizes_disagree_with_the_compressor_is_refused() -> None:
    fe, _, _ = _device(("6.18", "6.18"), 8)
    assert fe.sizes_engine()
    batch = _batch([(sized.STORE, 0, 5)], False)
    batch.sizes[0] += 1  # type: ignore[index]
    with pytest.raises(ValueError, match="compressed to"):
        fe.run_sizes(batch, lambda *a: None, None)


def test_no_batch_of_payload_without_the_compressors_c_face() -> None:
    """zstd has no C face, nor lz4 with a dictionary: those cases run in Python."""
    assert LZ4.native_codec() is not None
    fe, _, _ = _device(("6.18", "6.18"), 8, Zstd(Zstd.Options()))
    assert fe.sizes_engine() is None


def test_the_engine_frames_hold_the_handle_then_the_object() -> None:
    """zspage.py's layout: a non-huge slot starts with its handle (OBJ_ALLOCATED_TAG set)."""
    pool = ZsPool(ZsPool.Options(), PageFrames(PAGE))
    engine = pool.sized_engine()
    assert engine is not None and engine.payload
    handle = engine.malloc(len(BLOBS[5]))
    engine._c.write_bytes(handle, BLOBS[5])
    assert engine._c.read_bytes(handle) == BLOBS[5]
    with pytest.raises(ValueError, match="write of"):
        engine._c.write_bytes(handle, BLOBS[5] + b"x")


@pytest.mark.parametrize("workload", [
    {"name": "fill", "options": {"scale_pages": 6000, "zero_filled_pct": 5,
                                 "same_filled_pct": 2}},
    {"name": "zipf", "options": {"resident_pct": 50, "write_pct": 30, "zero_filled_pct": 5}},
    {"name": "pressure", "options": {"rounds": 2, "same_filled_pct": 2}},
    {"name": "churn", "options": {"scale_pages": 5000, "zero_filled_pct": 5}},
], ids=["fill-scaled", "zipf", "pressure", "churn"])
def test_a_verified_case_of_bytes_in_one_batch_equals_the_case_op_by_op(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workload: dict[str, Any]) -> None:
    batched = run_cases(tmp_path, "batched", workload, monkeypatch, ZRAM_PARTS, verify=True)
    assert all(c.get("engine", "").endswith("bytes and lz4 in C") for c in batched["cases"])
    monkeypatch.setenv("ZBENCH_NATIVE", "0")
    python = run_cases(tmp_path, "python", workload, monkeypatch, ZRAM_PARTS, verify=True)
    assert all("engine" not in c for c in python["cases"])
    assert case_figures(batched) == case_figures(python)
    assert all(c["metrics"]["verified_loads"] > 0 for c in batched["cases"])


def test_a_timing_case_on_the_engines_times_stores_and_loads_clocked_in_c() -> None:
    """zbench.run.benchbatch: the verified check passes, both passes take time, and the
    per-operation clocks give one figure per store and load, the codec's share inside."""
    from zbench.run.benchbatch import EngineTiming

    pages = PAGES * 3
    order = list(reversed(range(len(pages))))

    def new_frontend(comp: Any) -> Zram:
        return _device(("6.18", "6.18"), 8, comp)[0]

    name = new_frontend(LZ4).sizes_engine()
    assert name is not None and name.endswith("bytes and lz4 in C")
    timing = EngineTiming(pages, order, LZ4, new_frontend, name)
    timing.check()
    assert timing.time_store() > 0 and timing.time_load() > 0
    store_ns: list[int] = []
    load_ns: list[int] = []
    codec_store, codec_load = timing.clocked_pass(store_ns, load_ns)
    assert len(store_ns) == len(load_ns) == len(pages)
    assert all(ns > 0 for ns in store_ns + load_ns)
    assert 0 < codec_store < sum(store_ns) and 0 < codec_load < sum(load_ns)


def test_lz4s_c_face_is_named_and_without_the_build_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from zbench_compressors import lz4_native

    assert "C face" in (Lz4.engine_status() or "")
    monkeypatch.setattr(lz4_native, "_face", None)
    assert LZ4.native_codec() is None
    assert "not built" in (Lz4.engine_status() or "")
    fe, _, _ = _device(("6.18", "6.18"), 8)
    assert fe.sizes_engine() is None  # a case of bytes runs in the Python models then
    monkeypatch.undo()
    monkeypatch.setenv("ZBENCH_NATIVE", "0")
    assert LZ4.native_codec() is None and "turned off" in (Lz4.engine_status() or "")
