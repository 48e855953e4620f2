"""zswap's rules per kernel version, worked by hand on small cases."""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable

import pytest
from conftest import make_pages
from zbench_compressors import Lz4
from zbench_tiny import PagePerObject
from zbench_zsmalloc import ZsOptions, ZsPool
from zbench_zswap import Zswap, rules_for

from zbench import PAGE_SIZE, AllocationError, CaseSkipped, KernelVersion, PageFrames

LZ4 = Lz4(Lz4.Options())
TEXT = [make_pages(7, seed=s)[:PAGE_SIZE] for s in range(64)]  # compressible, distinct
RANDOM = random.Random(9).randbytes(PAGE_SIZE)  # lz4 output > 4096


class P:
    def __init__(self, data: bytes, clean: bool = False, compressed: bytes | None = None):
        self.data, self.clean = data, clean
        self.compressed = LZ4.compress(data) if compressed is None else compressed


class FakeZbud(PagePerObject):
    """One object per page, zbud's 3968-byte limit and an LRU with reclaim (as zbud <= 6.4)."""

    name = "zbud"

    def __init__(self, options, frames: PageFrames) -> None:  # noqa: ANN001
        super().__init__(options, frames)
        self.lru: OrderedDict[int, None] = OrderedDict()  # oldest first

    def malloc(self, size: int) -> int:
        if size > 3968:
            raise AllocationError("too big", code="ENOSPC")
        h = super().malloc(size)
        self.lru[h] = None
        return h

    def free(self, handle: int) -> None:
        self.lru.pop(handle, None)
        super().free(handle)

    def evictable(self) -> bool:
        return True

    def reclaim_page(self, evict: Callable[[int], bool], retries: int) -> bool:
        for _ in range(retries):
            if not self.lru:
                return False
            h = next(iter(self.lru))
            if evict(h):
                return True
            self.lru.move_to_end(h)
        return False


def zswap(kernel: str, alloc: str = "zbud", **opts: object) -> Zswap:
    frames = PageFrames()
    if alloc == "zbud":
        a = FakeZbud(FakeZbud.Options(), frames)
    else:
        a = ZsPool(ZsOptions(kernel=kernel if KernelVersion(kernel) >= "4.1" else "4.1"), frames)
    return Zswap(Zswap.Options(kernel=kernel, **opts), a, LZ4)


def test_rules_by_version() -> None:
    table = {
        "3.11": ("none", "always", "sync", False, frozenset({"zbud"})),
        "4.16": ("any", "evictable", "sync", False, frozenset({"zbud", "zsmalloc", "z3fold"})),
        "5.6": ("any", "evictable", "worker-one", True, frozenset({"zbud", "zsmalloc", "z3fold"})),
        "6.3": ("any", "always", "worker-one", True, frozenset({"zbud", "zsmalloc", "z3fold"})),
        "6.5": ("any", "none", "worker-loop", True, frozenset({"zbud", "zsmalloc", "z3fold"})),
        "6.10": ("zero", "none", "worker-loop", True, frozenset({"zbud", "zsmalloc", "z3fold"})),
        "6.11": ("zero", "none", "worker-loop", True, frozenset({"zbud", "zsmalloc", "z3fold"})),
        "6.12": ("zeromap", "none", "second-chance", True,
                 frozenset({"zbud", "zsmalloc", "z3fold"})),
        "6.15": ("zeromap", "none", "second-chance", True, frozenset({"zsmalloc"})),
    }
    for k, (same, header, shrink, hyst, backends) in table.items():
        r = rules_for(KernelVersion(k))
        assert (r.same_filled, r.header, r.shrink, r.hysteresis, r.backends) == (
            same, header, shrink, hyst, backends), k
    assert rules_for(KernelVersion("6.8")).duplicate_counter
    assert not rules_for(KernelVersion("6.9")).duplicate_counter
    assert rules_for(KernelVersion("6.9")).exclusive_default


def test_backend_not_offered_is_skipped() -> None:
    with pytest.raises(CaseSkipped, match="zswap 3.11 offers zbud, not zsmalloc"):
        zswap("3.11", "zsmalloc")
    with pytest.raises(ValueError, match="exclusive loads appeared in 6.5"):
        Zswap.Options(kernel="6.1", exclusive_loads=True)


@pytest.mark.parametrize("kernel,zero_kept,ones_kept,same,zeromap", [
    ("4.15", False, False, 0, 0),   # no same-filled handling: both compressed
    ("5.4", True, True, 2, 0),      # any repeated word
    ("6.10", True, False, 1, 0),    # zero pages only
    ("6.12", False, False, 0, 1),   # zero pages never reach zswap (zeromap)
])
def test_same_filled_rules(kernel: str, zero_kept: bool, ones_kept: bool, same: int,
                           zeromap: int) -> None:
    z = zswap(kernel)
    z.store(0, P(bytes(PAGE_SIZE)))
    z.store(1, P(b"\x01" * PAGE_SIZE))
    m = z.metrics()
    assert m["same_filled_pages"] == same and m["zeromap_pages"] == zeromap
    compressed = (not zero_kept and not zeromap) + (not ones_kept)
    assert z.allocator.pool_pages() == compressed
    assert m["stored_pages"] == 2 - zeromap
    assert z.load(0) == bytes(PAGE_SIZE) and z.load(1) == b"\x01" * PAGE_SIZE


def test_header_per_version_and_backend() -> None:
    n = len(LZ4.compress(TEXT[0]))
    for kernel, alloc, hlen in [("3.11", "zbud", 8), ("5.4", "zbud", 8), ("5.4", "zsmalloc", 0),
                                ("6.3", "zsmalloc", 8), ("6.6", "zbud", 0)]:
        z = zswap(kernel, alloc)
        z.store(0, P(TEXT[0]))
        assert z.metrics()["object_bytes"] == n + hlen, (kernel, alloc)
        assert z.metrics()["compressed_bytes"] == n
        assert z.load(0) == TEXT[0]


def test_zbud_size_limit_with_header() -> None:
    # dlen 3960 + 8-byte header = 3968 fits zbud; 3961 + 8 does not: reject_compress_poor
    for dlen, stored in [(3960, True), (3961, False)]:
        z = zswap("5.4")
        z.store(0, P(RANDOM, compressed=bytes(dlen)))
        m = z.metrics()
        assert m["stored_pages"] == int(stored) and m["reject_compress_poor"] == int(not stored)
        if not stored:
            assert z.load(0) == RANDOM  # rejected pages went to the swap device


# 6.9+: lz4's output is limited to PAGE_SIZE and overflowing it is -EINVAL
# (crypto/lz4.c), counted as reject_compress_fail; the real 6.12 zswap in user-mode
# Linux counts the shipped dump's 80 incompressible pages so (docs/kernel.md)
@pytest.mark.parametrize("kernel,counter", [("6.6", "reject_alloc_fail"),
                                            ("6.9", "reject_compress_fail"),
                                            ("6.18", "stored_incompressible_pages")])
def test_incompressible_page_on_zsmalloc(kernel: str, counter: str) -> None:
    z = zswap(kernel, "zsmalloc")
    assert len(LZ4.compress(RANDOM)) > PAGE_SIZE
    z.store(0, P(RANDOM))
    m = z.metrics()
    assert m[counter] == 1
    assert m["stored_pages"] == (1 if kernel == "6.18" else 0)
    assert z.load(0) == RANDOM


def _limit_zswap(kernel: str) -> Zswap:
    # 1 MiB of RAM = 256 pages; 10 % -> max 25 pool pages; 80 % of that -> accept below 20
    return zswap(kernel, "zbud", ram_mb=1, max_pool_percent=10, accept_threshold_percent=80)


def test_hysteresis_after_pool_limit_hit() -> None:
    z = _limit_zswap("6.1")
    z.allocator.evictable = lambda: False  # type: ignore[method-assign] - nothing to write back
    z.hlen = 0
    for off in range(26):  # 26 stores fit: the 26th sees 25 pages, not above the limit
        z.store(off, P(TEXT[off % 64]))
    assert z.allocator.pool_pages() == 26 and z.metrics()["pool_limit_hit"] == 0
    z.store(26, P(TEXT[1]))  # 25 < 26: full -> limit hit, rejected
    m = z.metrics()
    assert m["pool_limit_hit"] == 1 and m["stored_pages"] == 26
    assert m["reject_reclaim_fail"] == 1  # the worker could not write anything back
    for off in range(5):
        z.invalidate(off)  # 21 pages: below the limit but not below 20
    z.store(27, P(TEXT[2]))
    assert z.metrics()["stored_pages"] == 21 and z.metrics()["pool_limit_hit"] == 1
    z.invalidate(5)
    z.invalidate(6)  # 19 pages
    z.store(28, P(TEXT[3]))  # 20 > 19: accepted again, hysteresis over
    z.store(29, P(TEXT[4]))
    assert z.metrics()["stored_pages"] == 21
    assert z.load(26) == TEXT[1] and z.load(27) == TEXT[2]  # rejected -> swap device


def test_no_hysteresis_before_5_6() -> None:
    z = _limit_zswap("5.4")
    z.allocator.evictable = lambda: False  # type: ignore[method-assign]
    for off in range(27):
        z.store(off, P(TEXT[off % 64]))
    m = z.metrics()
    assert m["pool_limit_hit"] == 1 and m["reject_reclaim_fail"] == 1
    for off in range(5):
        z.invalidate(off)  # 21 pages: accepted at once, no accept threshold
    z.store(30, P(TEXT[5]))
    assert z.metrics()["stored_pages"] == 22


def test_sync_writeback_through_the_backend_lru() -> None:
    z = _limit_zswap("5.4")
    for off in range(27):
        z.store(off, P(TEXT[off % 64]))
    m = z.metrics()
    # the 27th store hit the limit, zbud reclaimed its LRU tail page (offset 0), then stored
    assert m["pool_limit_hit"] == 1 and m["written_back_pages"] == 1
    assert m["stored_pages"] == 26 and 0 not in z.tree
    assert z.load(0) == TEXT[0]  # from the swap device


def test_zswap_lru_writes_back_oldest_and_loads_rotate() -> None:
    z = _limit_zswap("6.6")
    for off in range(26):
        z.store(off, P(TEXT[off % 64]))
    z.load(0)  # non-exclusive load: offset 0 becomes the newest
    z.store(26, P(TEXT[7]))  # limit hit: the worker writes back until below 20 pages
    m = z.metrics()
    assert m["pool_limit_hit"] == 1 and m["written_back_pages"] == 7
    assert 0 in z.tree and all(off not in z.tree for off in range(1, 8))
    assert z.allocator.pool_pages() == 19


def test_duplicate_entry_and_clean_stores() -> None:
    z = zswap("6.6")
    z.store(3, P(TEXT[0]))
    z.store(3, P(TEXT[1]))  # a dirty page written to the same slot again
    assert z.metrics()["duplicate_entry"] == 1 and z.load(3) == TEXT[1]
    z.store(3, P(TEXT[1], clean=True))  # clean, copy still valid: nothing stored
    assert z.metrics()["duplicate_entry"] == 1
    assert "duplicate_entry" not in zswap("6.9").metrics()


def test_exclusive_loads_drop_the_entry() -> None:
    z = zswap("6.9")
    z.store(1, P(TEXT[0]))
    assert z.load(1) == TEXT[0]
    assert z.metrics()["stored_pages"] == 0 and z.allocator.pool_pages() == 0
    assert z.peek(1) == TEXT[0]  # still in memory (dirty swap cache)
    z.store(1, P(TEXT[0], clean=True))  # reclaimed again: must be stored anew
    assert z.metrics()["stored_pages"] == 1
    nx = zswap("6.6")
    nx.store(1, P(TEXT[0]))
    nx.load(1)
    assert nx.metrics()["stored_pages"] == 1


def test_612_limit_check_and_second_chance_worker() -> None:
    """6.12 (mm/zswap.c zswap_check_limits, shrink_worker, shrink_memcg_cb): full at
    pool >= max; the worker rotates each referenced entry once (a failure each) before
    it writes back, until the pool is at most the accept threshold."""
    # 100 pages of RAM, 10 % -> full at 10 pool pages; 50 % of that -> accept at <= 5
    z = zswap("6.12", ram_pages=100, max_pool_percent=10, accept_threshold_percent=50)
    for i in range(10):  # one object per page: 10 pages, the last store still admitted
        z.store(i, P(TEXT[i]))
    m = z.metrics()
    assert (m["stored_pages"], m["pool_limit_hit"], m["written_back_pages"]) == (10, 0, 0)
    z.store(10, P(TEXT[10]))  # 10 >= 10: rejected; the worker: 10 rotations, then 5 written
    m = z.metrics()
    assert (m["stored_pages"], m["pool_limit_hit"], m["written_back_pages"]) == (5, 1, 5)
    assert z.load(10) == TEXT[10] and z.load(0) == TEXT[0]  # from the swap device
    z.store(11, P(TEXT[11]))  # 5 <= 5: accepting again
    assert z.metrics()["stored_pages"] == 6


def test_612_worker_stops_after_max_reclaim_retries_rotations() -> None:
    # 200 pages, 10 % -> full at 20; 16 rotations end the worker before any writeback
    z = zswap("6.12", ram_pages=200, max_pool_percent=10, accept_threshold_percent=50)
    for i in range(21):
        z.store(i, P(TEXT[i]))
    m = z.metrics()
    assert (m["stored_pages"], m["pool_limit_hit"], m["written_back_pages"]) == (20, 1, 0)
    z.store(21, P(TEXT[21]))  # rejected again: 4 more rotations clear the last bits,
    m = z.metrics()           # then 10 written back (20 -> 10 pages)
    assert (m["stored_pages"], m["pool_limit_hit"], m["written_back_pages"]) == (10, 2, 10)
