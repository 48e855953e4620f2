"""Compressors, corpus, workloads and the zram front end, each on its own."""

from __future__ import annotations

from collections import Counter

import lz4.block
import pytest
from conftest import make_pages
from zbench_compressors import Deflate, Lz4, Zstd
from zbench_tiny import PagePerObject
from zbench_workloads import Churn, Fill
from zbench_zram.frontend import Zram

from zbench import PAGE_SIZE, OpKind, PageFrames
from zbench.input.corpus import Corpus


class _Dump:
    def __init__(self, data: bytes) -> None:
        self.data, self.n_pages, self.sha256 = data, len(data) // PAGE_SIZE, "x" * 64

    def page(self, i: int) -> bytes:
        return self.data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]


@pytest.mark.parametrize("cls", [Lz4, Zstd, Deflate])
def test_compressors_round_trip(cls: type) -> None:
    comp = cls(cls.Options())
    pages = make_pages(30)
    for i in range(30):
        page = pages[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
        c = comp.compress(page)
        assert comp.decompress(c, PAGE_SIZE) == page
    assert comp.library_version()


def test_lz4_is_block_mode_without_size_prefix() -> None:
    page = make_pages(1)
    out = Lz4(Lz4.Options()).compress(page)
    assert out == lz4.block.compress(page, store_size=False)
    assert len(out) < len(lz4.block.compress(page))  # the 4-byte prefix is not there


def test_zstd_level_changes_params_and_output() -> None:
    page = make_pages(3)[PAGE_SIZE:2 * PAGE_SIZE]
    a, b = Zstd(Zstd.Options(level=1)), Zstd(Zstd.Options(level=19))
    assert a.params() != b.params()
    assert len(b.compress(page)) <= len(a.compress(page))
    assert Zstd.Options().level == 3


def test_corpus_injects_the_asked_share_of_same_filled_pages() -> None:
    dump = _Dump(make_pages(90))
    c = Corpus(dump, zero_pct=10, same_pct=0, seed=3)
    assert c.n_pages == 100 and c.zero_pages == 10
    zero = sum(1 for i in range(c.n_pages) if c.data(i) == bytes(PAGE_SIZE))
    assert zero >= 10  # plus any zero pages the dump had itself
    dump_pages = sorted(c.source(i) for i in range(c.n_pages) if c.source(i) >= 0)
    assert dump_pages == list(range(90))
    c2 = Corpus(dump, zero_pct=10, same_pct=0, seed=3)
    assert [c2.source(i) for i in range(100)] == [c.source(i) for i in range(100)]
    with pytest.raises(ValueError):
        Corpus(dump, 60, 40, 0)


def test_fill_stores_every_page_once() -> None:
    ops = list(Fill(Fill.Options(), 0).operations(50))
    stores = [o for o in ops if o.kind is OpKind.STORE]
    assert sorted(o.page for o in stores) == list(range(50))
    assert ops[-1].kind is OpKind.PHASE


def test_churn_is_seeded_and_settles_near_the_steady_share() -> None:
    opts = Churn.Options(steps=3000, steady_pct=50)
    a = list(Churn(opts, 5).operations(1000))
    assert a == list(Churn(opts, 5).operations(1000))
    assert a != list(Churn(opts, 6).operations(1000))
    live: set[int] = set()
    for o in a:
        if o.kind is OpKind.STORE:
            live.add(o.offset)
        elif o.kind is OpKind.INVALIDATE:
            assert o.offset in live
            live.remove(o.offset)
        elif o.kind is OpKind.LOAD:
            assert o.offset in live
    assert 450 <= len(live) <= 550
    kinds = Counter(o.kind for o in a)
    assert kinds[OpKind.COMPACT] == 1


class _Page:
    def __init__(self, data: bytes, comp: Lz4, clean: bool = False) -> None:
        self.data, self.compressed, self.clean = data, comp.compress(data), clean


def _zram(kernel: str = "6.18") -> Zram:
    frames = PageFrames()
    alloc = PagePerObject(PagePerObject.Options(), frames)
    return Zram(Zram.Options(kernel=kernel), alloc, Lz4(Lz4.Options()))


def test_zram_same_filled_pages_take_no_allocation() -> None:
    z = _zram()
    z.store(0, _Page(bytes(PAGE_SIZE), z.compressor))
    z.store(1, _Page(b"\x01\x02\x03\x04\x05\x06\x07\x08" * 512, z.compressor))
    m = z.metrics()
    assert m["stored_pages"] == 2 and m["same_filled_pages"] == 2
    assert z.allocator.pool_pages() == 0
    assert z.load(1) == b"\x01\x02\x03\x04\x05\x06\x07\x08" * 512


def test_zram_before_4_11_only_zero_pages_are_special() -> None:
    z = _zram("4.10")
    z.store(0, _Page(bytes(PAGE_SIZE), z.compressor))
    z.store(1, _Page(b"\x01" * PAGE_SIZE, z.compressor))
    assert z.metrics()["same_filled_pages"] == 1
    assert z.allocator.pool_pages() == 1


def test_zram_huge_pages_are_stored_raw_and_overwrites_free() -> None:
    import random

    z = _zram()
    page = random.Random(1).randbytes(PAGE_SIZE)
    z.store(7, _Page(page, z.compressor))
    m = z.metrics()
    assert m["huge_pages"] == 1 and m["compressed_bytes"] == PAGE_SIZE
    assert z.load(7) == page
    text = make_pages(1)
    z.store(7, _Page(text, z.compressor))  # overwrite frees the old object
    m = z.metrics()
    assert m["huge_pages"] == 0 and m["stored_pages"] == 1
    assert m["compressed_bytes"] == len(z.compressor.compress(text))
    z.invalidate(7)
    assert z.metrics()["stored_pages"] == 0 and z.allocator.pool_pages() == 0
    assert z.load(7) is None


def test_metrics_doc_is_generated_from_the_table() -> None:
    from conftest import ROOT

    from zbench.api.metrics import markdown_table

    assert markdown_table() in (ROOT / "docs" / "metrics.md").read_text()


def test_corpus_scales_a_dump_by_seeded_sampling() -> None:
    dump = _Dump(make_pages(50))
    c = Corpus(dump, zero_pct=0, same_pct=0, seed=1, scale_pages=1000)
    assert c.n_pages == 1000
    sources = [c.source(i) for i in range(c.n_pages)]
    assert set(sources) == set(range(50))  # every dump page at least once
    assert sources == [Corpus(dump, 0, 0, 1, 1000).source(i) for i in range(1000)]
    assert sources != [Corpus(dump, 0, 0, 2, 1000).source(i) for i in range(1000)]
    assert c.data(7) == dump.page(sources[7])
    small = Corpus(dump, zero_pct=0, same_pct=0, seed=1, scale_pages=20)
    assert small.n_pages == 20 and len({small.source(i) for i in range(20)}) == 20
