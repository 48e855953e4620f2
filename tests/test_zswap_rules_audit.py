"""The zswap rules audited against mainline mm/zswap.c through 6.18, one case per rule.

Each case runs on both sides of the version that introduced the rule, so it fails
when the rule is missing or given to the wrong kernels.  The allocator is one object
per page frame, named zsmalloc so every version offers it: pool pages = stored
objects, which makes the pool-limit arithmetic exact.
"""

from __future__ import annotations

import random

import pytest
from conftest import make_pages
from zbench_compressors import Lz4
from zbench_tiny import PagePerObject
from zbench_zswap import Zswap, rules_for

from zbench import PAGE_SIZE, CaseSkipped, KernelVersion, PageFrames

LZ4 = Lz4(Lz4.Options())
TEXT = [make_pages(7, seed=s)[:PAGE_SIZE] for s in range(16)]  # compressible, distinct
RANDOM = random.Random(9).randbytes(PAGE_SIZE)  # lz4 output > PAGE_SIZE
ZERO = bytes(PAGE_SIZE)


class P:
    def __init__(self, data: bytes) -> None:
        self.data, self.clean = data, False
        self.compressed = LZ4.compress(data)


class OnePerPage(PagePerObject):
    """One object per page frame, under a name every zswap version offers."""

    name = "zsmalloc"


def zswap(kernel: str, **opts: object) -> Zswap:
    alloc = OnePerPage(OnePerPage.Options(), PageFrames())
    return Zswap(Zswap.Options(kernel=kernel, **opts), alloc, LZ4)


def small(kernel: str, **opts: object) -> Zswap:
    """A pool limit of 2 pages (10 pages of RAM, 20 %), accepting again at 1."""
    return zswap(kernel, ram_pages=10, max_pool_percent=20, accept_threshold_percent=50,
                 **opts)


def test_rule_versions() -> None:
    def r(k: str):  # noqa: ANN202
        return rules_for(KernelVersion(k))
    assert (r("6.12").folio_store, r("6.13").folio_store) == ("reject", "per-page")
    assert (r("6.7").writeback_control, r("6.8").writeback_control) == (False, True)
    assert (r("6.7").shrinker, r("6.8").shrinker) == (False, True)
    assert (r("6.17").store_incompressible, r("6.18").store_incompressible) == (False, True)
    assert (r("6.11").same_filled, r("6.12").same_filled) == ("zero", "zeromap")
    assert (r("6.17").zpool, r("6.18").zpool) == (True, False)
    assert "zbud" in r("6.14").backends and r("6.15").backends == frozenset({"zsmalloc"})


# -- pool limit: zswap_is_full (cur > max) vs zswap_check_limits (cur >= max) ----------
@pytest.mark.parametrize("kernel,stored", [("6.6", 3), ("6.12", 2)])
def test_pool_limit_boundary(kernel: str, stored: int) -> None:
    z = small(kernel)
    for i in range(3):
        z.store(i, P(TEXT[i]))
    m = z.metrics()
    assert m["stored_pages"] + m["written_back_pages"] == stored
    assert m["pool_limit_hit"] == 3 - stored


# -- zeromap: the swap layer's check comes before zswap_store's limits ------------------
@pytest.mark.parametrize("kernel,zeromap", [("6.11", 0), ("6.12", 1)])
def test_zero_page_bypasses_full_pool(kernel: str, zeromap: int) -> None:
    z = small(kernel)
    for i in range(3):  # 6.11 takes the third (2 > 2 is not full), 6.12 rejects it
        z.store(i, P(TEXT[i]))
    hits = z.metrics()["pool_limit_hit"]
    z.store(3, P(ZERO))  # 6.11: zswap's limit rejects it; 6.12: never reaches zswap
    m = z.metrics()
    assert m["zeromap_pages"] == zeromap
    assert m["pool_limit_hit"] == hits + (1 - zeromap)
    assert (3 in z.swap_device) == (not zeromap)
    assert z.load(3) == ZERO


# -- large folios ------------------------------------------------------------------------
@pytest.mark.parametrize("kernel,stored", [("6.12", 0), ("6.13", 4)])
def test_large_folio_stored_page_by_page(kernel: str, stored: int) -> None:
    z = zswap(kernel)
    z.store_folio(8, [P(t) for t in TEXT[:4]])
    m = z.metrics()
    assert m["stored_pages"] == stored and m["swap_device_pages"] == 4 - stored
    assert [z.load(8 + i) for i in range(4)] == TEXT[:4]


def test_large_folio_one_failed_page_fails_the_folio() -> None:
    z = zswap("6.13")
    z.store(9, P(TEXT[9]))  # a stale entry at one of the folio's offsets
    z.store_folio(8, [P(TEXT[0]), P(TEXT[1]), P(RANDOM), P(TEXT[3])])
    m = z.metrics()
    assert m["reject_compress_fail"] == 1
    assert m["stored_pages"] == 0 and z.allocator.pool_pages() == 0  # check_old erased all
    assert m["swap_device_pages"] == 4
    assert z.load(9) == TEXT[1]


def test_large_folio_incompressible_page_stored_as_is_618() -> None:
    z = zswap("6.18")
    z.store_folio(8, [P(TEXT[0]), P(TEXT[1]), P(RANDOM), P(TEXT[3])])
    m = z.metrics()
    assert m["stored_pages"] == 4 and m["stored_incompressible_pages"] == 1
    assert z.load(10) == RANDOM


def test_large_folio_limits_checked_once() -> None:
    z = small("6.13")
    z.store_folio(0, [P(t) for t in TEXT[:4]])  # below the limit when checked: all 4 in
    assert z.metrics()["stored_pages"] == 4 and z.metrics()["pool_limit_hit"] == 0
    z.store(4, P(TEXT[4]))  # now past it: rejected, the worker writes back to the threshold
    m = z.metrics()
    assert m["pool_limit_hit"] == 1 and z.allocator.pool_pages() <= 1


@pytest.mark.parametrize("pages,zeromap,stored", [
    ([ZERO] * 4, 4, 0),                        # zero throughout: the swap layer's zeromap
    ([ZERO, TEXT[1], ZERO, TEXT[3]], 0, 4),   # mixed: zswap compresses the zero pages too
])
def test_large_folio_zeromap_is_per_folio(pages: list[bytes], zeromap: int,
                                          stored: int) -> None:
    z = zswap("6.13")
    z.store_folio(0, [P(d) for d in pages])
    m = z.metrics()
    assert (m["zeromap_pages"], m["stored_pages"]) == (zeromap, stored)
    assert [z.load(i) for i in range(4)] == pages


# -- memory.zswap.writeback ----------------------------------------------------------------
def test_writeback_option_needs_68() -> None:
    with pytest.raises(ValueError, match="memory.zswap.writeback appeared in 6.8"):
        Zswap.Options(kernel="6.7", writeback=False)
    Zswap.Options(kernel="6.8", writeback=False)


@pytest.mark.parametrize("kernel", ["6.8", "6.12"])
@pytest.mark.parametrize("writeback", [True, False])
def test_writeback_off_keeps_rejected_pages_in_memory(kernel: str, writeback: bool) -> None:
    z = small(kernel, writeback=writeback)
    for i in range(4):
        z.store(i, P(TEXT[i]))
    m = z.metrics()
    assert m["pool_limit_hit"] >= 1
    if writeback:
        assert m["written_back_pages"] >= 1 and m["swap_device_pages"] >= 1
    else:
        assert m["written_back_pages"] == 0 and m["reject_reclaim_fail"] == 0
        assert m["swap_device_pages"] == 0  # the rejected pages stayed in memory
        assert m["stored_pages"] == (3 if kernel == "6.8" else 2)  # the limits' boundary
    assert [z.load(i) for i in range(4)] == TEXT[:4]


# -- incompressible pages (6.18) -------------------------------------------------------------
@pytest.mark.parametrize("kernel,writeback,raw,fail", [
    ("6.17", True, 0, 1),    # before dca4437a5861: the output limit fails the store
    ("6.18", True, 1, 0),    # stored as-is
    ("6.18", False, 0, 1),   # writeback off: -EINVAL, rejected
])
def test_incompressible_page(kernel: str, writeback: bool, raw: int, fail: int) -> None:
    z = zswap(kernel, writeback=writeback)
    z.store(0, P(RANDOM))
    m = z.metrics()
    assert m.get("stored_incompressible_pages", 0) == raw
    assert m["reject_compress_fail"] == fail and m["stored_pages"] == raw
    assert m["swap_device_pages"] == (fail if writeback else 0)
    assert z.load(0) == RANDOM


# -- backends --------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel,name,offered", [
    ("6.14", "zbud", True), ("6.15", "zbud", False), ("6.15", "z3fold", False),
    ("6.17", "zblock", True), ("6.18", "zblock", False),  # out-of-tree: only through zpool
])
def test_backends(kernel: str, name: str, offered: bool) -> None:
    class Named(PagePerObject):
        pass
    Named.name = name
    alloc = Named(Named.Options(), PageFrames())
    if offered:
        Zswap(Zswap.Options(kernel=kernel), alloc, LZ4)
    else:
        with pytest.raises(CaseSkipped):
            Zswap(Zswap.Options(kernel=kernel), alloc, LZ4)
