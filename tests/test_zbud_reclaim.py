"""zbud_reclaim_page (kernels <= 6.4) with a fake evict callback.

Worked by hand: the LRU head is the page that last received an object; reclaim
takes the tail, evicts FIRST then LAST (a refusal skips the rest), frees the page
when both buddies are gone, else re-files it at the LRU head and tries the next.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from zbench_zbud import ZbudOptions, ZbudPool

from zbench import PageFrames


class Evictor:
    """zswap's writeback, faked: frees the handle unless it is refused."""

    def __init__(self, pool: ZbudPool, refuse: set[int] | None = None,
                 hook: Callable[[int], None] | None = None) -> None:
        self.pool, self.refuse, self.hook = pool, refuse or set(), hook
        self.calls: list[int] = []
        self.live: set[int] = set()

    def __call__(self, handle: int) -> bool:
        self.calls.append(handle)
        if self.hook:
            self.hook(handle)
        if handle in self.refuse or handle not in self.live:
            return False
        self.pool.free(handle)
        self.live.discard(handle)
        return True


def setup(kernel: str = "6.4") -> tuple[ZbudPool, PageFrames, dict[str, int]]:
    """Pages: A (pfn 0) = a1 2000 B FIRST + a2 1900 B LAST, B (pfn 1) = b1 3000 B,
    C (pfn 2) = c1 3000 B.  Allocation order a1, b1, a2, c1 -> LRU head..tail C, A, B."""
    frames = PageFrames()
    pool = ZbudPool(ZbudOptions(kernel=kernel), frames)
    h = {}
    for name, size in (("a1", 2000), ("b1", 3000), ("a2", 1900), ("c1", 3000)):
        h[name] = pool.malloc(size)
    assert [h[n] // 4096 for n in ("a1", "a2", "b1", "c1")] == [0, 0, 1, 2]
    return pool, frames, h


@pytest.mark.parametrize("kernel", ["3.11", "4.19", "6.1", "6.4"])
def test_reclaim_from_the_tail(kernel: str) -> None:
    pool, frames, h = setup(kernel)
    ev = Evictor(pool)
    ev.live = set(h.values())
    assert pool.reclaim_page(ev, 8) is True
    assert ev.calls == [h["b1"]] and pool.pool_pages() == 2 == frames.allocated
    assert pool.reclaim_page(ev, 8) is True
    assert ev.calls[1:] == [h["a1"], h["a2"]]  # FIRST then LAST
    assert pool.reclaim_page(ev, 8) is True
    assert ev.calls[3:] == [h["c1"]] and pool.pool_pages() == 0 == frames.allocated
    assert pool.reclaim_page(ev, 8) is False  # empty LRU: -EINVAL
    assert len(ev.calls) == 4
    st = pool.stats()
    assert (st["reclaimed_pages"], st["reclaim_attempts"], st["evict_calls"]) == (3, 3, 4)


def test_lru_moves_on_alloc_not_on_free() -> None:
    frames = PageFrames()
    pool = ZbudPool(ZbudOptions(kernel="6.4"), frames)
    p = pool.malloc(2900)  # pfn 0: 46 chunks, free 17
    q = pool.malloc(3000)  # pfn 1: 47 chunks, free 16
    r = pool.malloc(3000)  # pfn 2: free 16
    s = pool.malloc(1050)  # 17 chunks: only pfn 0 has room -> pfn 0 to the LRU head
    assert s // 4096 == 0
    pool.free(q)  # freeing does not touch the LRU order ...
    q2 = pool.malloc(3000)  # ... but pfn 1 was freed, so this is a new pfn 1 at the head
    assert q2 // 4096 == 1
    pool.free(s)  # pfn 0 keeps p and its place in the LRU (head..tail: q2, p, r)
    ev = Evictor(pool)
    ev.live = {p, r, q2}
    assert pool.reclaim_page(ev, 1) and ev.calls == [r]
    assert pool.reclaim_page(ev, 1) and ev.calls[1:] == [p]
    assert pool.reclaim_page(ev, 1) and ev.calls[2:] == [q2]


def test_refusal_skips_last_buddy_and_retries() -> None:
    pool, frames, h = setup()
    ev = Evictor(pool, refuse={h["a1"], h["b1"]})
    ev.live = set(h.values())
    # B refused -> B to the head (B C A); A: a1 refused, a2 not tried -> (A B C); C freed
    assert pool.reclaim_page(ev, 8) is True
    assert ev.calls == [h["b1"], h["a1"], h["c1"]]
    assert pool.pool_pages() == 2 == frames.allocated
    ev.calls.clear()
    # LRU now A, B (head..tail): B refused, A refused, retries exhausted
    assert pool.reclaim_page(ev, 2) is False  # -EAGAIN
    assert ev.calls == [h["b1"], h["a1"]]
    ev.calls.clear()
    assert pool.reclaim_page(ev, 0) is False and ev.calls == []
    assert pool.reclaim_page(ev, 3) is False
    assert ev.calls == [h["b1"], h["a1"], h["b1"]]  # the tail cycles through the LRU
    assert pool.pool_pages() == 2
    for n in ("a1", "a2", "b1"):
        assert pool.read(h[n]) == bytes({"a1": 2000, "a2": 1900, "b1": 3000}[n])
    st = pool.stats()
    assert st["reclaimed_pages"] == 1 and st["evict_failures"] == 7


def test_partial_eviction_refiles_the_page() -> None:
    frames = PageFrames()
    pool = ZbudPool(ZbudOptions(kernel="6.4"), frames)
    a1, a2 = pool.malloc(2000), pool.malloc(1900)
    ev = Evictor(pool, refuse={a2})
    ev.live = {a1, a2}
    assert pool.reclaim_page(ev, 1) is False
    assert ev.calls == [a1, a2]
    assert pool.pool_pages() == 1 and pool.stats()["zbud_objects"] == 1
    assert pool.slot_bytes() == 30 * 64
    # re-filed on unbuddied[63 - 30 = 33]: a 33-chunk object takes the FIRST slot
    h = pool.malloc(2112)
    assert h == 64 and pool.pool_pages() == 1


def test_under_reclaim_semantics() -> None:
    frames = PageFrames()
    pool = ZbudPool(ZbudOptions(kernel="6.4"), frames)
    a1, a2 = pool.malloc(2000), pool.malloc(1900)
    seen: list[tuple[int, bool, int, int]] = []
    extra: list[int] = []

    def hook(handle: int) -> None:
        zhdr = pool.pages[0]
        seen.append((handle, zhdr.under_reclaim, frames.page(0)[40], pool.pool_pages()))
        if handle == a1:
            pool.free(a2)  # the other buddy goes away meanwhile: only that side clears
            ev.live.discard(a2)
            assert pool.pool_pages() == 1  # reclaim, not free, releases the page
            extra.append(pool.malloc(64))  # the page is off the lists: a new page

    ev = Evictor(pool, hook=hook)
    ev.live = {a1, a2}
    assert pool.reclaim_page(ev, 1) is True
    # both handles were encoded before the callbacks, so a2 is still offered (and refused)
    assert [s[0] for s in seen] == [a1, a2]
    assert all(s[1] and s[2] == 1 for s in seen)
    assert extra[0] == 4096 + 64  # pfn 1, FIRST
    assert pool.pool_pages() == 1 == frames.allocated and frames.pfns() == [1]
    assert pool.read(extra[0]) == bytes(64)


@pytest.mark.parametrize("kernel", ["6.5", "6.10", "6.14"])
def test_no_reclaim_from_6_5(kernel: str) -> None:
    pool, _, h = setup(kernel)
    assert pool.evictable() is False
    with pytest.raises(NotImplementedError, match=r"removed in 6\.5"):
        pool.reclaim_page(lambda _h: True, 8)
    assert pool.pool_pages() == 3 and pool.stats()["reclaimed_pages"] == 0
