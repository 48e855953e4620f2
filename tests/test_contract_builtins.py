"""The built-in allocators pass the contract suite third parties run (zbench.testing),
with each allocator's own page bounds: the pool never holds more pages than its rules
allow for the objects that are live; the built-in front ends, zram and zswap, pass the
front-end contract over the allocators each kernel offered them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from zbench_tiny import PagePerObject
from zbench_z3fold import Z3foldPool
from zbench_zbud import ZbudPool
from zbench_zram import Zram
from zbench_zsmalloc.pool import ZsPool
from zbench_zswap import Zswap

from zbench import Allocator
from zbench.testing import AllocatorContract, FrontEndContract


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


class TestZsmallocContract(AllocatorContract):
    allocator_class = ZsPool
    option_sets = ({}, {"kernel": "6.1"}, {"kernel": "4.4"}, {"kernel": "6.18", "chain_size": 8})

    def pool_pages_bounds(self, pool: Allocator, live_sizes: list[int]) -> tuple[int, int]:
        # zs_free frees a zspage when its last object goes: per class, between the
        # zspages the objects need and one zspage per object
        assert isinstance(pool, ZsPool)
        per_class: Counter[Any] = Counter(pool.class_of(s) for s in live_sizes)
        lo = sum(_ceil(n, c.objs_per_zspage) * c.pages_per_zspage for c, n in per_class.items())
        hi = sum(n * c.pages_per_zspage for c, n in per_class.items())
        return lo, hi


class TestZbudContract(AllocatorContract):
    allocator_class = ZbudPool
    option_sets = ({}, {"kernel": "6.1"}, {"kernel": "3.11"})

    def pool_pages_bounds(self, pool: Allocator, live_sizes: list[int]) -> tuple[int, int]:
        n = len(live_sizes)  # two buddies at most per page; a page with none is freed
        return _ceil(n, 2), n


class TestZ3foldContract(AllocatorContract):
    allocator_class = Z3foldPool
    option_sets = ({}, {"kernel": "5.10"}, {"kernel": "4.19"}, {"kernel": "6.6"})

    def pool_pages_bounds(self, pool: Allocator, live_sizes: list[int]) -> tuple[int, int]:
        n = len(live_sizes)  # three buddies at most per page; an empty page is released
        return _ceil(n, 3), n


class TestTinyPluginContract(AllocatorContract):
    """The external fixture plugin (tests/fixtures/zbench-tiny) passes too."""

    allocator_class = PagePerObject

    def pool_pages_bounds(self, pool: Allocator, live_sizes: list[int]) -> tuple[int, int]:
        return len(live_sizes), len(live_sizes)


class TestZramContract(FrontEndContract):
    frontend_class = Zram
    option_sets = ({}, {"kernel": "6.1"}, {"kernel": "4.14"})


class TestZswapContract(FrontEndContract):
    """zswap over zsmalloc, with a pool small enough (1 MiB of RAM: 51 pages) that the
    pool limit rejects pages to the swap device, and with exclusive loads (6.9+)."""

    frontend_class = Zswap
    option_sets = ({}, {"kernel": "6.1"}, {"kernel": "6.18"}, {"kernel": "6.6", "ram_mb": 1})


class TestZswapZbudContract(FrontEndContract):
    """zswap over zbud, the only backend of 3.11, and with LRU writeback (<= 6.4) when
    the pool is full."""

    frontend_class = Zswap
    allocator = "zbud"
    allocator_options = {"kernel": "3.11"}
    option_sets = ({"kernel": "3.11"}, {"kernel": "3.11", "ram_mb": 1})
