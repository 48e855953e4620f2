"""zblock keeps zbench's allocator contract, with its own page bounds: per block type,
between the blocks its live objects need and one block per live object."""

from __future__ import annotations

from collections import Counter

from zbench_zblock import TABLE, ZblockPool, block_type_for

from zbench import Allocator
from zbench.testing import AllocatorContract


class TestZblockContract(AllocatorContract):
    allocator_class = ZblockPool

    def pool_pages_bounds(self, pool: Allocator, live_sizes: list[int]) -> tuple[int, int]:
        per_type = Counter(block_type_for(s) for s in live_sizes)
        lo = sum(-(-n // TABLE[t].slots_per_block) * TABLE[t].num_pages
                 for t, n in per_type.items())
        hi = sum(n * TABLE[t].num_pages for t, n in per_type.items())
        return lo, hi
