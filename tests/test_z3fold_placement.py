"""Buddy placement, free-chunk accounting, headless threshold and size limits.

Expected values are worked out by hand from mm/z3fold.c: 64-byte chunks, FIRST right
after the header, LAST flush with the page end, MIDDLE at first_chunks + ZHDR_CHUNKS.
"""

from __future__ import annotations

import random

import pytest
from zbench_z3fold import Z3foldPool, Z3Options
from zbench_z3fold.layout import Geometry
from zbench_z3fold.zpage import (
    FIRST,
    HEADLESS,
    LAST,
    MIDDLE,
    Z3Page,
    get_free_buddy,
    legacy_free_buddy,
    num_free_chunks,
)

from zbench import AllocationError, PageFrames


def make(kernel: str = "6.14", hdr: int | None = None) -> tuple[Z3foldPool, PageFrames]:
    frames = PageFrames()
    return Z3foldPool(Z3Options(kernel=kernel, header_chunks=hdr), frames), frames


def page(first: int = 0, middle: int = 0, start: int = 0, last: int = 0) -> Z3Page:
    p = Z3Page(0, False)
    p.first_chunks, p.middle_chunks, p.start_middle, p.last_chunks = first, middle, start, last
    return p


G1, G2 = Geometry(1), Geometry(2)


def test_geometry() -> None:
    assert (G1.zhdr_size_aligned, G1.nchunks, G1.headless_above) == (64, 63, 3968)
    assert (G2.zhdr_size_aligned, G2.nchunks, G2.headless_above) == (128, 62, 3904)


def test_three_buddies_placed_by_hand() -> None:
    pool, frames = make("6.14")  # 2-chunk header
    a = pool.malloc(100)  # 2 chunks -> new page, FIRST at 2 * 64
    b = pool.malloc(640)  # 10 chunks -> LAST at 4096 - 640
    c = pool.malloc(200)  # 4 chunks -> MIDDLE at (2 + 2) * 64
    pfn = pool.obj_location(a)[0]
    assert pool.obj_location(a) == (pfn, 128, "first")
    assert pool.obj_location(b) == (pfn, 3456, "last")
    assert pool.obj_location(c) == (pfn, 256, "middle")
    st = pool.stats()
    assert st["full_pages"] == 1 and st["unbuddied_pages"] == 0  # three buddies: no list
    d = pool.malloc(64)  # no page on any list -> a new page
    assert pool.obj_location(d)[1:] == (128, "first") and pool.obj_location(d)[0] != pfn
    assert pool.pool_pages() == frames.allocated == 2
    assert pool.slot_bytes() == (2 + 10 + 4 + 1) * 64


def test_three_buddies_one_chunk_header() -> None:
    pool, _ = make("4.8")
    a, b, c = pool.malloc(64), pool.malloc(65), pool.malloc(1)
    assert [pool.obj_location(h)[1:] for h in (a, b, c)] == [
        (64, "first"), (4096 - 128, "last"), (64 + 64, "middle")]


def test_first_fit_smallest_list_then_lifo() -> None:
    pool, _ = make("6.14")
    p1 = pool.obj_location(pool.malloc(31 * 64))[0]  # P1 free 62 - 31 = 31
    p2 = pool.obj_location(pool.malloc(32 * 64))[0]  # 32 > 31: new P2, free 30
    assert p2 != p1
    h = pool.malloc(30 * 64)  # lists >= 30: unbuddied[30] (P2) comes before [31] (P1)
    assert pool.obj_location(h) == (p2, 4096 - 30 * 64, "last")
    h = pool.malloc(64)  # P2 has 0 free chunks (list 0 is never scanned): P1
    assert pool.obj_location(h) == (p1, 4096 - 64, "last")
    # two pages on the same list: the most recently filed one is the list head
    p3 = pool.obj_location(pool.malloc(40 * 64))[0]
    p4 = pool.obj_location(pool.malloc(40 * 64))[0]  # P3 has 22 free < 40
    assert len({p1, p2, p3, p4}) == 4
    h = pool.malloc(22 * 64)
    assert pool.obj_location(h) == (p4, 4096 - 22 * 64, "last")
    h = pool.malloc(22 * 64)
    assert pool.obj_location(h) == (p3, 4096 - 22 * 64, "last")


@pytest.mark.parametrize(("hdr", "geo", "first", "middle", "start", "last", "free"), [
    (2, G2, 0, 0, 0, 0, 62),
    (2, G2, 5, 0, 0, 7, 50),  # NCHUNKS - first - last
    (2, G2, 0, 5, 10, 0, 49),  # max(10 - 2, 64 - 15)
    (2, G2, 0, 5, 50, 0, 48),  # max(50 - 2, 64 - 55)
    (2, G2, 0, 5, 10, 20, 8),  # LAST used: only the gap before
    (2, G2, 3, 5, 5, 0, 54),  # FIRST used: only the gap after
    (2, G2, 3, 5, 5, 40, 0),  # all three
    (1, G1, 0, 5, 10, 0, 49),  # max(10 - 1, 64 - 15)
    (1, G1, 2, 0, 0, 0, 61),
])
def test_num_free_chunks(hdr: int, geo: Geometry, first: int, middle: int, start: int,
                         last: int, free: int) -> None:
    assert num_free_chunks(page(first, middle, start, last), geo, legacy=False) == free


def test_num_free_chunks_legacy_48() -> None:
    # 4.8 - 4.10 count the gap after a middle buddy from NCHUNKS (63), one chunk short
    assert num_free_chunks(page(0, 5, 10, 0), G1, legacy=True) == 48
    assert num_free_chunks(page(3, 5, 4, 0), G1, legacy=True) == 63 - 9
    assert num_free_chunks(page(3, 5, 4, 0), G1, legacy=False) == 64 - 9
    assert num_free_chunks(page(0, 30, 2, 0), G1, legacy=True) == 31  # max(1, 31)


@pytest.mark.parametrize(("p", "chunks", "bud"), [
    (page(), 10, FIRST),
    (page(first=4), 10, LAST),
    (page(last=4), 10, FIRST),
    (page(first=4, last=4), 10, MIDDLE),
    (page(middle=5, start=10), 8, FIRST),  # fits in 10 - 2 chunks before the middle
    (page(middle=5, start=10), 9, LAST),  # does not: LAST (free)
    (page(middle=5, start=10, last=3), 9, HEADLESS),  # no room at all
    (page(first=2, middle=5, start=4), 9, LAST),
    (page(first=2, middle=5, start=4, last=3), 1, HEADLESS),
])
def test_get_free_buddy(p: Z3Page, chunks: int, bud: int) -> None:
    assert get_free_buddy(p, chunks, G2) == bud


def test_legacy_choice_compares_with_start_middle() -> None:
    # 4.8 - 5.10: FIRST when chunks < start_middle (header included)
    assert legacy_free_buddy(page(middle=5, start=10), 9) == FIRST  # overlaps with 2 chunks!
    assert get_free_buddy(page(middle=5, start=10), 9, G2) == LAST
    assert legacy_free_buddy(page(middle=5, start=10), 10) == LAST
    assert legacy_free_buddy(page(first=1), 3) == LAST
    assert legacy_free_buddy(page(first=1, last=1), 3) == MIDDLE
    assert legacy_free_buddy(page(first=1, middle=1, start=3, last=1), 1) == HEADLESS


@pytest.mark.parametrize(("kernel", "hdr", "limit"), [("6.14", None, 3904), ("4.8", None, 3968),
                                                      ("6.14", 1, 3968), ("4.11", 2, 3904)])
def test_headless_threshold(kernel: str, hdr: int | None, limit: int) -> None:
    pool, frames = make(kernel, hdr)
    assert pool.huge_class_size() == limit + 1
    a = pool.malloc(limit)  # the largest size that still gets a header page
    assert pool.obj_location(a)[1:] == (4096 - limit - 64, "first")
    assert pool.stats()["headless_pages"] == 0
    b = pool.malloc(limit + 1)
    pfn_b = pool.obj_location(b)[0]
    assert pool.obj_location(b) == (pfn_b, 0, "headless")
    assert pool.stats()["headless_pages"] == 1 and pool.pool_pages() == frames.allocated == 2
    assert pool.slot_bytes() == (limit // 64) * 64 + 4096
    c = pool.malloc(4096)
    assert pool.obj_location(c)[1:] == (0, "headless") and pool.pool_pages() == 3
    data = bytes(range(256)) * 16
    pool.write(c, data)
    assert pool.read(c) == data and frames.page(pool.obj_location(c)[0]) == data
    pool.free(b)
    assert pool.stats()["headless_pages"] == 1 and pool.pool_pages() == 2
    assert not frames.is_allocated(pfn_b)


@pytest.mark.parametrize(("size", "code"), [(0, "EINVAL"), (-1, "EINVAL"), (4097, "ENOSPC"),
                                            (1 << 20, "ENOSPC")])
def test_size_limits(size: int, code: str) -> None:
    pool, frames = make()
    with pytest.raises(AllocationError, match="out of range 1..4096") as exc:
        pool.malloc(size)
    assert exc.value.code == code  # z3fold_alloc: !size -> -EINVAL, > PAGE_SIZE -> -ENOSPC
    assert pool.pool_pages() == frames.allocated == 0


def test_write_size_checked() -> None:
    pool, _ = make()
    h = pool.malloc(10)
    with pytest.raises(ValueError, match="write of 9 bytes to a 10-byte object"):
        pool.write(h, bytes(9))


def test_page_freed_with_last_object() -> None:
    pool, frames = make("4.14")
    hs = [pool.malloc(s) for s in (100, 200, 300)]
    pfn = pool.obj_location(hs[0])[0]
    for h in hs:
        pool.free(h)
    assert pool.pool_pages() == frames.allocated == 0 and not frames.is_allocated(pfn)
    assert pool.slot_bytes() == 0 and pool.stats()["objects"] == 0


def test_100k_objects_fill_keeps_pages_and_frames_in_step() -> None:
    """The speed of this fill is a target in benchmarks/model_fill.py, not asserted here."""
    rng = random.Random(7)
    pool, frames = make("6.14")
    blob = bytes(4096)
    hs = []
    for _ in range(100_000):
        n = rng.randint(1, 4096)
        h = pool.malloc(n)
        pool.write(h, blob[:n])
        hs.append(h)
    assert pool.pool_pages() == frames.allocated
    assert pool.stats()["objects"] == 100_000
