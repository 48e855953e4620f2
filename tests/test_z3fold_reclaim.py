"""z3fold_reclaim_page with a fake evict callback (the zswap writeback stand-in)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from zbench_z3fold import Z3foldPool, Z3Options

from zbench import PageFrames


def make(kernel: str) -> tuple[Z3foldPool, PageFrames]:
    frames = PageFrames()
    return Z3foldPool(Z3Options(kernel=kernel), frames), frames


class Evictor:
    """Records the calls; frees (writes back) unless the handle is refused."""

    def __init__(self, pool: Z3foldPool, refuse: set[int] | None = None,
                 refuse_all: bool = False) -> None:
        self.pool, self.refuse, self.refuse_all = pool, refuse or set(), refuse_all
        self.calls: list[int] = []
        self.written: dict[int, bytes] = {}

    def __call__(self, handle: int) -> bool:
        self.calls.append(handle)
        if self.refuse_all or handle in self.refuse:
            return False
        self.written[handle] = self.pool.read(handle)
        self.pool.free(handle)
        return True


def three(pool: Z3foldPool) -> tuple[int, int, int]:
    a = pool.malloc(100)  # FIRST
    b = pool.malloc(640)  # LAST
    c = pool.malloc(200)  # MIDDLE
    for i, h in enumerate((a, b, c)):
        pool.write(h, bytes([i + 1]) * len(pool.read(h)))
    return a, b, c


@pytest.mark.parametrize("kernel", ["4.8", "4.11", "4.14", "5.2", "6.1", "6.4"])
def test_reclaim_evicts_middle_first_last_and_frees(kernel: str) -> None:
    pool, frames = make(kernel)
    a, b, c = three(pool)
    ev = Evictor(pool)
    assert pool.reclaim_page(ev, 8) is True
    assert ev.calls == [c, a, b]  # MIDDLE, then FIRST, then LAST
    assert ev.written == {a: b"\x01" * 100, b: b"\x02" * 640, c: b"\x03" * 200}
    assert pool.pool_pages() == frames.allocated == 0 and pool.slot_bytes() == 0
    st = pool.stats()
    assert st["reclaimed_pages"] == 1 and st["evict_calls"] == 3
    assert pool.reclaim_page(ev, 8) is False  # empty LRU: -EINVAL


def test_lru_tail_is_least_recently_allocated_into() -> None:
    pool, _ = make("6.1")
    p1 = pool.malloc(3000)  # page 1: 47 chunks, 15 free
    p2 = pool.malloc(3500)  # page 2: 55 chunks, 7 free
    pool.malloc(500)  # 8 chunks: only page 1 has room (LAST): page 1 to the LRU head
    ev = Evictor(pool)
    assert pool.reclaim_page(ev, 1) is True
    assert ev.calls == [p2]
    assert pool.read(p1) == bytes(3000)


def test_headless_page_reclaimed() -> None:
    pool, frames = make("5.2")
    h = pool.malloc(4000)
    pool.write(h, b"z" * 4000)
    ev = Evictor(pool)
    assert pool.reclaim_page(ev, 1) is True
    assert ev.written == {h: b"z" * 4000} and frames.allocated == 0
    assert pool.stats()["headless_pages"] == 0


def test_refused_headless_goes_back_to_the_head() -> None:
    pool, _ = make("6.4")
    h1 = pool.malloc(4000)
    h2 = pool.malloc(4000)
    ev = Evictor(pool, refuse={h1})
    assert pool.reclaim_page(ev, 2) is True  # h1 refused and re-added at the head; h2 freed
    assert ev.calls == [h1, h2] and pool.pool_pages() == 1
    assert pool.read(h1) == bytes(4000)


@pytest.mark.parametrize(("kernel", "refiled"), [("4.8", 1), ("4.11", 1), ("4.14", 0),
                                                 ("6.4", 0)])
def test_partial_eviction_keeps_page(kernel: str, refiled: int) -> None:
    pool, frames = make(kernel)
    a, b, c = three(pool)
    ev = Evictor(pool, refuse={a})  # MIDDLE goes, FIRST refused, LAST never asked
    assert pool.reclaim_page(ev, 1) is False  # -EAGAIN
    assert ev.calls == [c, a]
    assert pool.pool_pages() == frames.allocated == 1
    assert pool.read(a) == b"\x01" * 100 and pool.read(b) == b"\x02" * 640
    st = pool.stats()
    assert st["evict_failures"] == 1 and st["objects"] == 2
    # up to 4.13 the page is re-filed on an unbuddied list; from 4.14 it is not, until
    # one of its buddies is freed (do_compact_page re-files it)
    assert st["unbuddied_pages"] == refiled
    pfn = pool.obj_location(a)[0]
    assert pfn in [p.pfn for p in pool.lru.from_tail()]  # back on the LRU
    h = pool.malloc(64)
    assert (pool.obj_location(h)[0] == pfn) is bool(refiled)


def test_stranded_page_refiled_by_a_free() -> None:
    pool, _ = make("6.4")
    a, b, c = three(pool)
    pool.reclaim_page(Evictor(pool, refuse={a}), 1)
    assert pool.stats()["unbuddied_pages"] == 0
    pool.free(b)  # do_compact_page: FIRST alone (no other page to move it to), re-filed
    assert pool.stats()["unbuddied_pages"] == 1


def test_retries_limit_and_zero() -> None:
    pool, _ = make("6.1")
    pool.malloc(3000)
    pool.malloc(3000)
    ev = Evictor(pool, refuse_all=True)
    assert pool.reclaim_page(ev, 0) is False and ev.calls == []
    assert pool.reclaim_page(ev, 3) is False
    assert len(ev.calls) == 3  # tail, tail (other page), tail (first again)
    assert ev.calls[0] == ev.calls[2] != ev.calls[1]
    assert pool.stats()["reclaim_attempts"] == 3 and pool.pool_pages() == 2


def test_pages_with_foreign_handles_skipped() -> None:
    pool, _ = make("6.4")
    a = pool.malloc(20 * 64)  # P1
    x = pool.malloc(50 * 64)  # P2
    y = pool.malloc(10 * 64)  # P2 LAST
    pool.free(x)  # y moves into P1: P1 holds a foreign handle
    z = pool.malloc(3000)  # P3 (most recent)
    assert pool.stats()["foreign_handles"] == 1
    ev = Evictor(pool)
    assert pool.reclaim_page(ev, 1) is True
    assert ev.calls == [z]  # P1 is the LRU tail but is passed over
    assert pool.reclaim_page(ev, 1) is False  # only P1 is left: nothing to pick
    assert pool.read(a) == bytes(20 * 64) and pool.read(y) == bytes(640)


def test_evict_must_free() -> None:
    pool, _ = make("6.1")
    pool.malloc(100)
    liar: Callable[[int], bool] = lambda _h: True  # noqa: E731
    with pytest.raises(ValueError, match="without freeing"):
        pool.reclaim_page(liar, 1)


@pytest.mark.parametrize("kernel", ["6.5", "6.14"])
def test_no_reclaim_after_64(kernel: str) -> None:
    pool, _ = make(kernel)
    pool.malloc(100)
    with pytest.raises(NotImplementedError, match="removed in 6.5"):
        pool.reclaim_page(Evictor(pool), 8)
    assert len(pool.lru) == 0


def test_free_during_reclaim_keeps_page_until_the_end() -> None:
    pool, frames = make("6.1")
    a, b, c = three(pool)
    pfn = pool.obj_location(a)[0]
    seen: list[bool] = []

    def evict(h: int) -> bool:
        pool.free(h)
        seen.append(frames.is_allocated(pfn))  # claimed: not compacted, not freed yet
        return True

    assert pool.reclaim_page(evict, 1) is True
    assert seen == [True, True, True] and not frames.is_allocated(pfn)
    assert pool.stats()["in_page_compactions"] == 0
