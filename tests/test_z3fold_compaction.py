"""In-page compaction (z3fold_compact_page) and inter-page compaction (compact_single_buddy).

Every case checks where the bytes are in the frame and that the handles issued before
the move still read the right bytes.  Offsets are worked out by hand (64-byte chunks).
"""

from __future__ import annotations

import pytest
from zbench_z3fold import Z3foldPool, Z3Options

from zbench import PageFrames


def make(kernel: str, hdr: int | None = None) -> tuple[Z3foldPool, PageFrames]:
    frames = PageFrames()
    return Z3foldPool(Z3Options(kernel=kernel, header_chunks=hdr), frames), frames


def fill(pool: Z3foldPool, size: int, tag: int) -> tuple[int, bytes]:
    h = pool.malloc(size)
    data = bytes((tag + i) & 0xFF for i in range(size))
    pool.write(h, data)
    return h, data


def at(frames: PageFrames, pfn: int, off: int, n: int) -> bytes:
    return bytes(frames.page(pfn)[off:off + n])


# FIRST 2 chunks, LAST 10 chunks, MIDDLE 5 chunks at first + header
@pytest.mark.parametrize(("kernel", "hdr", "hdr_bytes"), [
    ("6.14", None, 128), ("4.14", None, 128), ("4.11", None, 64), ("5.2", 1, 64)])
def test_slide_middle_up_then_middle_becomes_first(kernel: str, hdr: int | None,
                                                   hdr_bytes: int) -> None:
    pool, frames = make(kernel, hdr)
    zc = hdr_bytes // 64
    a, _ = fill(pool, 128, 1)
    b, db = fill(pool, 640, 2)
    c, dc = fill(pool, 300, 3)
    pfn = pool.obj_location(a)[0]
    assert pool.obj_location(c) == (pfn, (2 + zc) * 64, "middle")
    # free FIRST: LAST stays, gap after the middle = 64 - (10 + 2 + zc + 5) >= 3
    pool.free(a)
    new_start = 64 - 10 - 5  # slid up against LAST
    assert pool.obj_location(c) == (pfn, new_start * 64, "middle")
    assert at(frames, pfn, new_start * 64, 300) == dc
    assert pool.read(c) == dc and pool.read(b) == db
    st = pool.stats()
    assert st["compact_middle_up"] == 1 and st["in_page_compactions"] == 1
    # free LAST: only the middle is left -> moved next to the header, now FIRST
    pool.free(b)
    assert pool.obj_location(c) == (pfn, hdr_bytes, "first")
    assert at(frames, pfn, hdr_bytes, 300) == dc and pool.read(c) == dc
    st = pool.stats()
    assert st["compact_middle_to_first"] == 1 and st["in_page_compactions"] == 2
    assert st["first_buddies"] == 1 and st["middle_buddies"] == 0
    # the page is a FIRST-only page again: a new object goes LAST, c is untouched
    e, de = fill(pool, 64, 9)
    assert pool.obj_location(e) == (pfn, 4096 - 64, "last")
    assert pool.read(c) == dc and pool.read(e) == de
    pool.free(c)
    assert pool.read(e) == de


def test_slide_middle_down() -> None:
    pool, frames = make("6.14")  # 2-chunk header
    a, _ = fill(pool, 640, 1)  # FIRST 10 chunks at 128
    b, db = fill(pool, 640, 2)  # LAST 10 chunks at 3456
    c, dc = fill(pool, 320, 3)  # MIDDLE 5 chunks at chunk 12
    pfn = pool.obj_location(a)[0]
    pool.free(a)  # case 3: slide up to 64 - 10 - 5 = 49
    assert pool.obj_location(c) == (pfn, 49 * 64, "middle")
    d, dd = fill(pool, 64, 4)  # free before the middle: 49 - 2 = 47 >= 1 -> FIRST
    assert pool.obj_location(d) == (pfn, 128, "first")
    pool.free(b)  # FIRST, no LAST, gap 49 - (1 + 2) = 46 >= 3: slide down to chunk 3
    assert pool.obj_location(c) == (pfn, 3 * 64, "middle")
    assert at(frames, pfn, 192, 320) == dc
    assert pool.read(c) == dc and pool.read(d) == dd
    assert pool.stats()["compact_middle_down"] == 1


def test_small_gap_not_moved() -> None:
    pool, frames = make("6.14")
    a, da = fill(pool, 640, 1)  # FIRST 10 chunks
    b, _ = fill(pool, 64 * 48, 2)  # LAST 48 chunks: 2 + 10 + 48 = 60
    c, dc = fill(pool, 128, 3)  # MIDDLE 2 chunks at chunk 12, gap after it 64 - 48 - 14 = 2
    pfn = pool.obj_location(a)[0]
    pool.free(a)  # LAST and no FIRST, but 64 - (48 + 12 + 2) = 2 < BIG_CHUNK_GAP
    assert pool.obj_location(c) == (pfn, 12 * 64, "middle")
    assert pool.stats()["in_page_compactions"] == 0
    assert pool.read(c) == dc
    # gap before the middle is 12 - 2 = 10: a FIRST of 10 chunks fits, of 11 does not
    d, _ = fill(pool, 640, 4)
    assert pool.obj_location(d) == (pfn, 128, "first")
    pool.free(b)  # FIRST right before the middle: gap 12 - 12 = 0, nothing moves
    assert pool.obj_location(c) == (pfn, 12 * 64, "middle")
    assert at(frames, pfn, 12 * 64, 128) == dc


@pytest.mark.parametrize(("kernel", "after"), [("4.8", 55), ("4.11", 56)])
def test_48_only_moves_a_lone_middle(kernel: str, after: int) -> None:
    pool, frames = make(kernel)  # 1-chunk header
    a, da = fill(pool, 128, 1)
    b, _ = fill(pool, 640, 2)
    c, dc = fill(pool, 300, 3)  # MIDDLE at chunk 3
    pfn = pool.obj_location(a)[0]
    pool.free(b)  # FIRST + MIDDLE: the middle is already next to FIRST
    assert pool.obj_location(c) == (pfn, 3 * 64, "middle")
    assert pool.stats()["in_page_compactions"] == 0
    # free chunks = the gap after the middle: 4.8 - 4.10 count it from NCHUNKS,
    # 63 - (3 + 5) = 55; from 4.11 from TOTAL_CHUNKS, 64 - 8 = 56
    assert pool.pages[pfn].list_idx == after
    pool.free(a)
    assert pool.obj_location(c) == (pfn, 64, "first") and pool.read(c) == dc
    assert at(frames, pfn, 64, 300) == dc
    assert pool.stats()["compact_middle_to_first"] == 1


def test_48_no_slide_up() -> None:
    pool, _ = make("4.8")
    a, _ = fill(pool, 128, 1)
    b, db = fill(pool, 640, 2)
    c, dc = fill(pool, 300, 3)
    pfn = pool.obj_location(a)[0]
    pool.free(a)  # 4.11+ would slide the middle up (gap 64 - 18 = 46); 4.8 does not
    assert pool.obj_location(c) == (pfn, 3 * 64, "middle")
    assert pool.pages[pfn].list_idx == 2  # LAST used: only the gap before, 3 - 1
    assert pool.read(b) == db and pool.read(c) == dc


def test_direct_handles_survive_middle_to_first() -> None:
    pool, _ = make("4.14")
    a, _ = fill(pool, 100, 1)
    b, _ = fill(pool, 100, 2)
    c, dc = fill(pool, 100, 3)
    page = pool.pages[pool.obj_location(c)[0]]
    assert (a & 3, c & 3, b & 3) == (1, 2, 3)  # (bud + first_num) & 3, first_num 0
    pool.free(a)
    pool.free(b)
    assert page.first_num == 1
    assert pool.obj_location(c)[2] == "first" and pool.read(c) == dc
    e, de = fill(pool, 100, 4)  # LAST: (3 + 1) & 3 = 0
    f, df = fill(pool, 100, 5)  # MIDDLE: (2 + 1) & 3 = 3
    assert (e & 3, f & 3) == (0, 3)
    assert len({c, e, f}) == 3
    assert [pool.read(h) for h in (c, e, f)] == [dc, de, df]


def test_inter_page_moves_lone_buddy() -> None:
    pool, frames = make("6.14")
    a, da = fill(pool, 20 * 64, 1)  # P1: FIRST 20 chunks, free 42
    x, _ = fill(pool, 50 * 64, 2)  # 50 > 42: P2 FIRST 50, free 12
    y, dy = fill(pool, 10 * 64, 3)  # list 12 before list 42: P2 LAST
    p1, p2 = pool.obj_location(a)[0], pool.obj_location(x)[0]
    assert pool.obj_location(y) == (p2, 4096 - 640, "last")
    assert pool.pool_pages() == 2 and pool.stats()["slot_blocks"] == 2
    pool.free(x)  # P2 keeps only y: moved into P1 (LAST, 42 >= 10), P2 freed
    assert pool.pool_pages() == frames.allocated == 1 and not frames.is_allocated(p2)
    assert pool.obj_location(y) == (p1, 4096 - 640, "last")
    assert at(frames, p1, 4096 - 640, 640) == dy
    assert pool.read(y) == dy and pool.read(a) == da
    st = pool.stats()
    assert st["inter_page_moves"] == 1 and st["foreign_handles"] == 1
    assert st["slot_blocks"] == 2  # y's handle still lives in P2's old slot block
    assert pool.pages[p1].list_idx == 62 - 20 - 10
    pool.free(y)
    st = pool.stats()
    assert st["foreign_handles"] == 0 and st["slot_blocks"] == 1
    assert pool.read(a) == da


def test_inter_page_needs_a_page_with_room() -> None:
    pool, _ = make("6.14")
    fill(pool, 60 * 64, 1)  # P1 free 2
    x, _ = fill(pool, 30 * 64, 2)  # P2 FIRST 30, free 32
    y, dy = fill(pool, 20 * 64, 3)  # P2 LAST 20 (list 32 is the only one >= 20)
    pool.free(x)  # lone buddy of 20 chunks, P1 has 2 free: stays, nothing to slide
    assert pool.pool_pages() == 2 and pool.stats()["inter_page_moves"] == 0
    assert pool.read(y) == dy


@pytest.mark.parametrize("kernel", ["5.2", "5.4", "4.14"])
def test_no_inter_page_before_55(kernel: str) -> None:
    pool, _ = make(kernel)
    fill(pool, 20 * 64, 1)
    x, _ = fill(pool, 50 * 64, 2)
    y, dy = fill(pool, 10 * 64, 3)
    pool.free(x)
    assert pool.pool_pages() == 2 and pool.stats()["inter_page_moves"] == 0
    assert pool.read(y) == dy


def test_foreign_page_keeps_its_objects() -> None:
    # a page that received a foreign object does not give its lone buddy away
    pool, _ = make("6.14")
    a, da = fill(pool, 20 * 64, 1)  # P1
    x, _ = fill(pool, 50 * 64, 2)  # P2
    y, dy = fill(pool, 10 * 64, 3)  # P2 LAST
    pool.free(x)  # y -> P1 (foreign)
    z, _ = fill(pool, 45 * 64, 4)  # P1 has 32 free: new page P3, free 17
    pool.free(a)  # P1 holds only the foreign y: no compact_single_buddy
    assert pool.stats()["inter_page_moves"] == 1
    assert pool.read(y) == dy and pool.pool_pages() == 2


def test_unused_slot_block_of_a_move_target_is_leaked() -> None:
    pool, frames = make("6.14")
    a, _ = fill(pool, 20 * 64, 1)  # P1 FIRST, slot block 0
    x, _ = fill(pool, 50 * 64, 2)  # P2 FIRST, block 1
    y, dy = fill(pool, 10 * 64, 3)  # P2 LAST
    pool.free(x)  # y -> P1 (foreign, handle stays in block 1)
    p1 = pool.obj_location(y)[0]
    pool.free(a)  # P1's own block 0 empties: freed, zhdr->slots = NULL
    assert pool.pages[p1].slots == -1 and pool.stats()["slot_blocks"] == 1
    u, _ = fill(pool, 55 * 64, 4)  # P3 (block 0 again)
    w, dw = fill(pool, 5 * 64, 5)  # P3 LAST (P1 has 52 free, P3 7: list 7 first)
    assert pool.obj_location(w)[0] != p1
    pool.free(u)  # w -> P1: __z3fold_alloc gives P1 a new block 2 that no handle uses
    assert pool.obj_location(w) == (p1, 128, "first") and pool.read(w) == dw
    st = pool.stats()
    assert st["inter_page_moves"] == 2 and st["foreign_handles"] == 2 and st["slot_blocks"] == 3
    pool.free(y)
    pool.free(w)
    st = pool.stats()
    assert frames.allocated == 0 and st["slot_blocks"] == 1 and st["slot_blocks_leaked"] == 1
