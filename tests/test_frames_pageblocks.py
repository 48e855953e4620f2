"""The zone of pageblocks under PageFrames, and the radix tree model."""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from zbench import PAGEBLOCK_NR_PAGES, Mobility, PageFrames, RadixTree
from zbench.api.frames import FALLBACKS

U, M, R = Mobility.UNMOVABLE, Mobility.MOVABLE, Mobility.RECLAIMABLE


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10**6)), max_size=1500),
       st.sampled_from(list(Mobility)))
def test_one_mobility_is_lowest_pfn_first(ops: list[tuple[bool, int]], mob: Mobility) -> None:
    """With one mobility the pageblock layer hands out exactly the old min-heap sequence."""
    f = PageFrames()
    free: list[int] = []
    nxt = 0
    live: list[int] = []
    for is_free, r in ops:
        if is_free and live:
            pfn = live.pop(r % len(live))
            f.free(pfn)
            heapq.heappush(free, pfn)
        else:
            want = heapq.heappop(free) if free else nxt
            nxt += want == nxt
            assert f.alloc("t", mob) == want
            live.append(want)
    assert f.allocated == len(live) and f.fallbacks == 0 and f.steals == 0


def test_mobilities_are_grouped_into_their_own_pageblocks() -> None:
    f = PageFrames()
    movable = [f.alloc("m", M) for _ in range(10)]
    unmovable = [f.alloc("u", U) for _ in range(10)]
    assert {p // PAGEBLOCK_NR_PAGES for p in movable} == {0}
    assert {p // PAGEBLOCK_NR_PAGES for p in unmovable} == {1}
    assert f.pageblock_type(0) is M and f.pageblock_type(1) is U
    assert f.mixed_pageblocks() == 0 and f.fallbacks == 0


def test_a_full_zone_falls_back_into_other_pageblocks() -> None:
    """No free frame of the type and no free pageblock: the lowest hole of a fallback type
    (fallbacks[]), and the block stays movable while less than half of it is free."""
    f = PageFrames(zone_pages=2 * PAGEBLOCK_NR_PAGES)
    anon = [f.alloc("anon", M) for _ in range(2 * PAGEBLOCK_NR_PAGES)]
    f.free(anon[5])
    f.free(anon[600])
    assert f.alloc("zbud", U) == 5
    assert f.alloc("zbud", U) == 600
    assert f.fallbacks == 2 and f.pageblock_type(0) is M and f.mixed_pageblocks() == 2
    assert f.alloc("zbud", U) == 2 * PAGEBLOCK_NR_PAGES  # nothing free: the zone grows
    assert f.pageblock_type(2) is U
    assert FALLBACKS[U] == (R, M)


def test_a_free_pageblock_is_stolen_whole_and_a_half_free_one_changes_type() -> None:
    f = PageFrames(zone_pages=2 * PAGEBLOCK_NR_PAGES)
    pfn = f.alloc("zbud", U)  # both blocks free and movable: steal block 0
    assert pfn == 0 and f.pageblock_type(0) is U and f.steals == 1
    g = PageFrames(zone_pages=PAGEBLOCK_NR_PAGES)
    pages = [g.alloc("anon", M) for _ in range(PAGEBLOCK_NR_PAGES)]
    for p in pages[:PAGEBLOCK_NR_PAGES // 2]:
        g.free(p)
    g.alloc("zbud", U)  # half the block is free: steal_suitable_fallback converts it
    assert g.pageblock_type(0) is U and g.steals == 1 and g.fallbacks == 0


def test_isolated_pageblocks_serve_no_allocation() -> None:
    f = PageFrames(zone_pages=2 * PAGEBLOCK_NR_PAGES)
    a = f.alloc("x", M)
    f.isolate_pageblock(0)
    b = f.alloc("x", M)
    assert a == 0 and b == PAGEBLOCK_NR_PAGES and f.is_isolated(0)
    f.unisolate_pageblock(0)
    assert f.alloc("x", M) == 1
    assert f.pageblock_pfns(0) == [0, 1] and f.pageblock_used(1) == 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 1 << 20)), max_size=300))
def test_radix_tree_shape_matches_a_brute_force_count(ops: list[tuple[bool, int]]) -> None:
    t: RadixTree[int] = RadixTree()
    keys: set[int] = set()
    for delete, k in ops:
        if delete and keys:
            victim = sorted(keys)[k % len(keys)]
            keys.discard(victim)
            assert t.delete(victim) == victim
        elif k not in keys:
            keys.add(k)
            t.insert(k, k)
        top = max(keys, default=0)
        height = 0 if top == 0 else -(-top.bit_length() // 6)
        nodes = sum(len({x >> (6 * (lv + 1)) for x in keys}) for lv in range(height))
        assert (t.height, t.nodes, len(t)) == (height, nodes, len(keys))
    assert all(t.get(k) == k for k in keys)
