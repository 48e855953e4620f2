"""zbud, z3fold and zswap on 16 K / 64 K pages: their PAGE_SIZE constants against the
kernel's formulas computed here (mm/zbud.c, mm/z3fold.c), the 4 K values as they always
were, objects laid out in big frames, zswap's PAGE_SIZE rules at 16 K, and the shipped dump
read as 16 K pages under zswap with zbud and with z3fold, every load verified
(docs/page-size.md)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from zbench_compressors import Lz4
from zbench_z3fold import Z3foldPool, Z3Options
from zbench_zbud import ZbudOptions, ZbudPool
from zbench_zswap import Zswap

from zbench import PAGE_SIZE, PAGE_SIZES, PageFrames
from zbench.api.registry import get_registry
from zbench.run.runner import expand, run_suite
from zbench.run.suite import parse_suite

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DUMP = ROOT / "dumps" / "default.zbdump"
K16, K64 = 16384, 65536
LZ4 = Lz4(Lz4.Options())


def _shift(page_size: int) -> int:
    return {4096: 12, 8192: 13, 16384: 14, 32768: 15, 65536: 16}[page_size]


# -- zbud ---------------------------------------------------------------------------------
def _zbud_kernel(page_size: int, kernel: str) -> dict[str, int]:
    """mm/zbud.c's #defines and zbud_alloc's -ENOSPC bound, worked out by hand."""
    chunk_shift = _shift(page_size) - 6  # PAGE_SHIFT - NCHUNKS_ORDER
    chunk = 2 ** chunk_shift
    hdr = chunk  # ZHDR_SIZE_ALIGNED = CHUNK_SIZE
    fixed = kernel != "3.11"  # "mm: zbud: fix condition check on allocation size"
    return {"page_size": page_size, "chunk_size": chunk, "header_bytes": hdr,
            "nchunks": (page_size - hdr) // chunk,
            "max_size": page_size - hdr - (chunk if fixed else 0)}


@pytest.mark.parametrize("kernel", ["3.11", "4.19", "6.6", "6.14"])
@pytest.mark.parametrize("page_size", PAGE_SIZES)
def test_zbud_constants_follow_the_kernel_formulas(page_size: int, kernel: str) -> None:
    pool = ZbudPool(ZbudOptions(kernel=kernel), PageFrames(page_size))
    geo = pool.geo
    got = {"page_size": geo.page_size, "chunk_size": geo.chunk_size,
           "header_bytes": geo.zhdr_size_aligned, "nchunks": geo.nchunks,
           "max_size": pool.max_size()}
    assert got == _zbud_kernel(page_size, kernel)
    assert len(pool.unbuddied) == geo.nchunks == 63


def test_zbud_4k_constants_are_todays() -> None:
    fixed = ZbudPool.describe_summary(ZbudOptions(kernel="6.6"))
    assert (fixed["page_size"], fixed["chunk_size"], fixed["header_bytes"], fixed["nchunks"],
            fixed["max_size"], fixed["max_chunks"]) == (4096, 64, 64, 63, 3968, 62)
    assert ZbudPool.describe_summary(ZbudOptions(kernel="3.11"))["max_size"] == 4032
    assert ZbudPool(ZbudOptions(), PageFrames()).geo.chunk_shift == 6


@pytest.mark.parametrize("page_size", [K16, K64])
def test_zbud_buddies_sit_at_the_kernels_offsets_in_big_frames(page_size: int) -> None:
    frames = PageFrames(page_size)
    pool = ZbudPool(ZbudOptions(kernel="6.6"), frames)
    chunk = page_size >> 6
    big = page_size - 2 * chunk  # the largest size: it fills the page but for one chunk
    first = pool.malloc(big)
    with pytest.raises(Exception, match="ENOSPC|>"):
        pool.malloc(big + 1)
    small = pool.malloc(100)  # one chunk: the first page's last buddy, at its end
    a = pool.malloc(3 * chunk - 5)  # 3 chunks: no room left, a new page's first buddy
    b = pool.malloc(3 * chunk)  # its last buddy
    assert pool.pool_pages() == 2
    assert [pool.obj_location(h)[1] for h in (first, small, a, b)] == [
        chunk, page_size - chunk, chunk, page_size - 3 * chunk]
    assert pool.obj_location(first)[0] == pool.obj_location(small)[0]
    rng = random.Random(page_size)
    data = {h: rng.randbytes(n) for h, n in ((first, big), (small, 100),
                                             (a, 3 * chunk - 5), (b, 3 * chunk))}
    for h, d in data.items():
        pool.write(h, d)
    assert all(pool.read(h) == d for h, d in data.items())
    assert pool.slot_bytes() == (62 + 1 + 3 + 3) * chunk
    for h in data:
        pool.free(h)
    assert pool.pool_pages() == 0


# -- z3fold -------------------------------------------------------------------------------
def _z3fold_kernel(page_size: int, header_bytes: int) -> dict[str, int]:
    """mm/z3fold.c's #defines for a header of ``header_bytes``, worked out by hand."""
    chunk_shift = _shift(page_size) - 6
    chunk = 2 ** chunk_shift
    total = page_size // chunk  # TOTAL_CHUNKS
    zhdr = -(-header_bytes // chunk) * chunk  # round_up(sizeof(struct z3fold_header), ..)
    return {"chunk_size": chunk, "total_chunks": total, "zhdr_chunks": zhdr // chunk,
            "nchunks": total - zhdr // chunk, "headless_above": page_size - zhdr - chunk}


# (kernel, sizeof(struct z3fold_header) on x86-64: layout.py's field lists)
Z3_HEADERS = [("4.8", 64), ("4.11", 40), ("4.14", 80), ("5.2", 80), ("5.10", 88), ("6.6", 88)]


@pytest.mark.parametrize(("kernel", "header"), Z3_HEADERS)
@pytest.mark.parametrize("page_size", PAGE_SIZES)
def test_z3fold_constants_follow_the_kernel_formulas(page_size: int, kernel: str,
                                                     header: int) -> None:
    pool = Z3foldPool(Z3Options(kernel=kernel), PageFrames(page_size))
    g = pool.geo
    got = {"chunk_size": g.chunk_size, "total_chunks": g.total_chunks,
           "zhdr_chunks": g.zhdr_chunks, "nchunks": g.nchunks,
           "headless_above": g.headless_above}
    assert got == _z3fold_kernel(page_size, header)
    assert pool.max_size() == page_size and pool.huge_class_size() == g.headless_above + 1


def test_z3fold_4k_constants_are_todays() -> None:
    one = Z3foldPool.describe_summary(Z3Options(kernel="4.11"))
    two = Z3foldPool.describe_summary(Z3Options(kernel="6.6"))
    for s, hdr, nchunks, headless in ((one, 1, 63, 3968), (two, 2, 62, 3904)):
        assert (s["chunk_size"], s["total_chunks"], s["header_chunks"], s["nchunks"],
                s["headless_above"], s["max_size"]) == (64, 64, hdr, nchunks, headless, 4096)


@pytest.mark.parametrize("page_size", [K16, K64])
def test_z3fold_three_buddies_and_headless_pages_in_big_frames(page_size: int) -> None:
    frames = PageFrames(page_size)
    pool = Z3foldPool(Z3Options(kernel="6.6"), frames)
    chunk = page_size >> 6
    rng = random.Random(page_size)
    sizes = [chunk * 10, chunk * 10 - 3, chunk * 20, page_size - 2 * chunk,
             page_size - 2 * chunk + 1, page_size]
    objs = {}
    for n in sizes:
        h = pool.malloc(n)
        objs[h] = rng.randbytes(n)
        pool.write(h, objs[h])
    # three buddies share the first page (get_free_buddy: FIRST, LAST, then MIDDLE after
    # FIRST); the largest non-headless size fills one page; the two above it are headless
    assert pool.pool_pages() == 4 and pool.nr_headless == 2
    offs = sorted(pool.obj_location(h)[1] for h in list(objs)[:3])
    assert offs == [chunk, 11 * chunk, page_size - 10 * chunk]
    assert all(pool.read(h) == d for h, d in objs.items())
    for h in list(objs)[:2]:  # free FIRST and MIDDLE: compaction moves nothing of LAST
        pool.free(h)
        del objs[h]
    assert all(pool.read(h) == d for h, d in objs.items())


# -- zswap --------------------------------------------------------------------------------
class _P:
    def __init__(self, data: bytes) -> None:
        self.data, self.clean = data, False
        self.compressed = LZ4.compress(data)


def _zswap(page_size: int, kernel: str = "6.6", **opts: Any) -> Zswap:
    pool = ZbudPool(ZbudOptions(kernel=kernel), PageFrames(page_size))
    return Zswap(Zswap.Options(kernel=kernel, **opts), pool, LZ4)


@pytest.mark.parametrize(("page_size", "pages"), [(4096, 128 * 256), (K16, 128 * 64),
                                                 (K64, 128 * 16)])
def test_zswap_pool_limit_counts_pages_of_the_case(page_size: int, pages: int) -> None:
    z = _zswap(page_size, ram_mb=128, max_pool_percent=20)
    assert z.max_pages == pages * 20 // 100  # zswap_max_pages: totalram_pages * 20 / 100
    assert _zswap(page_size, ram_pages=1000, max_pool_percent=10).max_pages == 100


def test_zswap_same_filled_check_covers_the_whole_16k_page() -> None:
    z = _zswap(K16)
    word = (0x1234).to_bytes(8, "little")
    z.store(1, _P(word * (K16 // 8)))
    z.store(2, _P(word * 512 + bytes(range(256)) * 48))  # same for 4 KiB only
    assert z.metrics()["same_filled_pages"] == 1
    assert z.load(1) == word * (K16 // 8)
    assert len(z.load(2) or b"") == K16


def test_zswap_compares_the_compressed_length_with_a_16k_page() -> None:
    """An lz4 output of ~8 KiB does not fit a 4 K page but fits a 16 K one; random 16 KiB
    does not (6.9+: the PAGE_SIZE destination, reject_compress_fail)."""
    z = _zswap(K16, kernel="6.12")
    half = random.Random(1).randbytes(K16 // 2) + bytes(K16 // 2)
    assert PAGE_SIZE < len(LZ4.compress(half)) < K16
    z.store(1, _P(half))
    noise = random.Random(2).randbytes(K16)
    assert len(LZ4.compress(noise)) > K16
    z.store(2, _P(noise))
    m = z.metrics()
    assert m["stored_pages"] == 1 and m["reject_compress_fail"] == 1
    assert z.allocator.pool_pages() == 1 and m["pool_total_size"] == K16  # bytes
    assert z.load(1) == half and z.load(2) == noise  # 2 from the swap device


# -- end to end ---------------------------------------------------------------------------
@pytest.mark.parametrize(("allocator", "kernel"), [("zbud", "6.6"), ("z3fold", "6.6"),
                                                   ("zbud", "6.1")])
def test_16k_fill_and_churn_under_zswap_verify_every_load(allocator: str, kernel: str) -> None:
    """The shipped dump as 16 K pages, a pool limit it overruns (writeback, and zbud's
    own LRU reclaim on 6.1), every load verified."""
    data = {"name": "ps", "seed": 3, "verify": True, "compressors": ["lz4"],
            "dumps": [{"path": str(DEFAULT_DUMP), "page_size": K16}],
            "frontends": [{"name": "zswap", "options": {"kernel": kernel, "ram_mb": 16,
                                                        "max_pool_percent": 20}}],
            "allocators": [{"name": allocator, "options": {"kernel": kernel}}],
            "workloads": ["fill", {"name": "churn", "options": {"steps": 600,
                                                                "zero_filled_pct": 10}}]}
    reg = get_registry()
    suite = parse_suite(data, "t.yaml")
    res = run_suite(suite, expand(suite, ROOT, "t.yaml", reg), reg, lambda _s: None)
    cases = {c["id"].split("/")[3]: c for c in res["cases"]}
    assert set(cases) == {"fill", "churn"}
    for c in cases.values():
        assert "failed" not in c and "skipped" not in c, c
        assert c["dump"]["page_size"] == K16
        m = c["metrics"]
        assert m["verified_loads"] > 0
        assert 0 < m["pool_pages"] <= 16 * 64 * 20 // 100 + 1
        assert m["written_back_pages"] > 0  # the 204-page limit was hit and enforced
    assert cases["fill"]["metrics"]["verified_loads"] == 1024
