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


# -- 6.1, checked against mm/zswap.c of linux-source-6.1 and the real 6.1 in user-mode Linux


def test_61_lz4_output_over_a_page_fails_without_a_counter() -> None:
    # zswap_frontswap_store: acomp_request_set_params(..., PAGE_SIZE, dlen = PAGE_SIZE),
    # so lz4 (crypto/lz4.c __lz4_compress_crypto) returns -EINVAL past a page, and
    # "if (ret) { ret = -EINVAL; goto put_dstmem; }" counts nothing; zpool_malloc is not
    # reached, so neither reject_compress_poor (zbud) nor reject_alloc_fail (zsmalloc)
    for alloc in ("zbud", "zsmalloc"):
        z = zswap("6.1", alloc)
        z.store(0, P(RANDOM))
        m = z.metrics()
        assert m["stored_pages"] == 0 and "reject_compress_fail" not in m, alloc
        assert m["reject_compress_poor"] == m["reject_alloc_fail"] == 0, alloc
        assert z.load(0) == RANDOM
    z = zswap("6.1")
    z.store(0, P(RANDOM, compressed=bytes(PAGE_SIZE)))  # exactly a page: zbud's -ENOSPC
    assert z.metrics()["reject_compress_poor"] == 1


def test_61_hysteresis_band_does_not_queue_the_worker() -> None:
    # zswap_frontswap_store: only "if (zswap_is_full())" reaches "shrink:" (queue_work);
    # in the accept band "if (!zswap_can_accept()) { ret = -ENOMEM; goto reject; }"
    z = _limit_zswap("6.1")  # max 25 pages; accept below 256 * 80 / 100 * 10 / 100 = 20
    z.hlen = 0
    for off in range(27):
        z.store(off, P(TEXT[off % 64]))  # the 27th: full, the worker writes back one page
    m = z.metrics()
    assert (m["pool_limit_hit"], m["written_back_pages"], m["stored_pages"]) == (1, 1, 25)
    for off in range(27, 37):
        z.store(off, P(TEXT[off % 64]))  # 25 pages, not full, not below 20: rejected
    m = z.metrics()
    assert (m["pool_limit_hit"], m["written_back_pages"], m["stored_pages"]) == (1, 1, 25)
    z5 = _limit_zswap("6.6")  # 6.5+: the band queues the worker, which writes back to 19
    for off in range(27):
        z5.store(off, P(TEXT[off % 64]))
    assert z5.metrics()["stored_pages"] == 19


def test_61_accept_threshold_rounding() -> None:
    # 6.1 zswap_can_accept: totalram * thr / 100 * max / 100, not (as 6.12's
    # zswap_accept_thr_pages) zswap_max_pages() * thr / 100
    z = zswap("6.1", ram_pages=103, max_pool_percent=25, accept_threshold_percent=90)
    assert (z.max_pages, z.accept_pages) == (25, 23)  # 103*90//100 = 92, 92*25//100 = 23
    z = zswap("6.12", ram_pages=103, max_pool_percent=25, accept_threshold_percent=90)
    assert (z.max_pages, z.accept_pages) == (25, 22)  # 25*90//100 = 22


def test_61_pool_size_is_stale_after_backend_reclaim() -> None:
    # zswap_pool_total_size is refreshed by zswap_update_total_size after a store and in
    # zswap_free_entry only; a reclaimed backend page is freed after its evictions
    # (zbud under_reclaim), so the next store still sees it and hits the limit again
    from zbench_zbud.pool import ZbudPool

    frames = PageFrames()
    a = ZbudPool(ZbudPool.Options(kernel="6.1"), frames)
    z = Zswap(Zswap.Options(kernel="6.1", ram_pages=100, max_pool_percent=10,
                            accept_threshold_percent=50), a, LZ4)
    def half(i: int) -> P:  # lz4 output of about 2300 bytes: one object per zbud page
        return P(random.Random(i).randbytes(2300) + bytes(PAGE_SIZE - 2300))

    for off in range(11):  # 11 pages; the 11th store saw 10: not full
        z.store(off, half(off))
    assert a.pool_pages() == 11 and z.metrics()["pool_total_size"] == 11 * PAGE_SIZE
    z.store(11, half(11))  # 10 < 11: hit, the worker writes back one page's object
    assert a.pool_pages() == 10 and z.metrics()["pool_total_size"] == 11 * PAGE_SIZE
    z.store(12, half(12))  # still sees 11: hit again
    m = z.metrics()
    assert (m["pool_limit_hit"], m["written_back_pages"]) == (2, 2)
    assert a.pool_pages() == 9 and m["pool_total_size"] == 10 * PAGE_SIZE
    z.store(13, half(13))  # sees 10: not full (and not below the accept threshold 5)
    assert z.metrics()["pool_limit_hit"] == 2
    assert z.load(0) == half(0).data and z.load(1) == half(1).data  # written back


def test_61_swap_slots_cache_batches_invalidations() -> None:
    # mm/swap_slots.c free_swap_slot: a freed slot waits in the per-CPU slots_ret
    # (SWAP_SLOTS_CACHE_SIZE = 64); when 64 wait, swapcache_free_entries returns them
    # (swap_range_free -> frontswap_invalidate_page) and the new one starts the next batch
    z = zswap("6.1", swap_slots_cache=True)
    for off in range(70):
        z.store(off, P(TEXT[off % 64]))
    for off in range(64):
        z.invalidate(off)
    assert z.metrics()["stored_pages"] == 70 and z.allocator.pool_pages() == 70
    z.invalidate(64)  # the 65th free: the first 64 reach zswap
    assert z.metrics()["stored_pages"] == 6 and z.allocator.pool_pages() == 6
    z.store(0, P(TEXT[5]))  # the offset may be used again while its old entry waits
    assert z.load(0) == TEXT[5] and z.metrics()["stored_pages"] == 7
    assert zswap("6.1").rules.invalidate_batch == 64 and zswap("6.12").rules.invalidate_batch == 0


def test_61_frontswap_invalidates_before_a_duplicate_store() -> None:
    # mm/frontswap.c __frontswap_store: "if (__frontswap_test(sis, offset))
    # { __frontswap_clear(); frontswap_ops->invalidate_page(); }" before zswap's store
    z = zswap("6.1")
    z.store(3, P(TEXT[0]))
    z.store(3, P(TEXT[1]))
    assert z.metrics()["duplicate_entry"] == 0 and z.load(3) == TEXT[1]


def test_61_writeback_skips_an_entry_in_the_swap_cache() -> None:
    # zswap_writeback_entry: ZSWAP_SWAPCACHE_EXIST ("page is already in the swap cache,
    # ignore for now", -EEXIST): a non-exclusive load left the page there, so the
    # backend's reclaim goes on to the next LRU page
    z = _limit_zswap("6.1")
    z.hlen = 0
    for off in range(26):
        z.store(off, P(TEXT[off % 64]))
    z.load(0)  # offset 0 (the LRU tail) is in the swap cache now
    z.store(26, P(TEXT[7]))  # full: reclaim skips 0, writes back 1
    m = z.metrics()
    assert m["written_back_pages"] == 1 and 0 in z.tree and 1 not in z.tree
