"""A z3fold page (``struct z3fold_header`` + ``page->private`` flags) and the page-level
rules: ``num_free_chunks``, the buddy choice, placement, ``z3fold_compact_page``.

Layout of a non-headless page, in chunks (``CHUNK_SIZE``: 64 bytes at 4 K, 256 at
16 K, 1024 at 64 K; :class:`~.layout.Geometry`): the header in chunks
``0 .. ZHDR_CHUNKS-1``; FIRST right after it; MIDDLE at ``start_middle``
(= ``first_chunks + ZHDR_CHUNKS`` when placed); LAST flush with the page end.  A
HEADLESS page holds one object at offset 0 and has no header.
"""

from __future__ import annotations

from zbench import PageFrames

from .layout import BIG_CHUNK_GAP, Geometry

HEADLESS, FIRST, MIDDLE, LAST = 0, 1, 2, 3  # enum buddy
BUDDY_NAMES = ("headless", "first", "middle", "last")

# in-page compaction outcomes (z3fold_compact_page returned 1), for stats
COMPACT_NONE, MIDDLE_TO_FIRST, MIDDLE_DOWN, MIDDLE_UP = 0, 1, 2, 3


class Z3Page:
    """One pool page.  ``sizes[bud]`` is the live object's byte size (what the zpool
    user knows; ``read`` needs it), 0 when that buddy is free."""

    __slots__ = ("pfn", "headless", "first_chunks", "middle_chunks", "last_chunks",
                 "start_middle", "first_num", "sizes", "slots", "foreign_handles",
                 "list_idx", "claimed")

    def __init__(self, pfn: int, headless: bool) -> None:
        self.pfn = pfn
        self.headless = headless
        self.first_chunks = 0
        self.middle_chunks = 0
        self.last_chunks = 0
        self.start_middle = 0
        self.first_num = 0  # unsigned short first_num:2
        self.sizes = [0, 0, 0, 0]
        self.slots = -1  # zhdr->slots: the page's own slot block id (>= 5.2), -1 = NULL
        self.foreign_handles = 0
        self.list_idx = -1  # unbuddied list the page is on, -1 = none
        self.claimed = False  # PAGE_CLAIMED by z3fold_reclaim_page

    def chunks(self, bud: int) -> int:
        if bud == FIRST:
            return self.first_chunks
        if bud == MIDDLE:
            return self.middle_chunks
        if bud == LAST:
            return self.last_chunks
        return 0

    def set_chunks(self, bud: int, chunks: int) -> None:
        if bud == FIRST:
            self.first_chunks = chunks
        elif bud == MIDDLE:
            self.middle_chunks = chunks
        else:
            self.last_chunks = chunks

    def is_empty(self) -> bool:
        return not (self.first_chunks or self.middle_chunks or self.last_chunks)

    def nr_buddies(self) -> int:
        return (self.first_chunks > 0) + (self.middle_chunks > 0) + (self.last_chunks > 0)

    def is_full(self) -> bool:
        """All three buddies used: ``add_to_unbuddied`` leaves the page on no list."""
        return bool(self.first_chunks and self.middle_chunks and self.last_chunks)

    def live_buddies(self) -> list[int]:
        return [b for b in (FIRST, MIDDLE, LAST) if self.chunks(b)]

    def offset(self, bud: int, geo: Geometry) -> int:
        """Byte offset of a buddy in the frame (z3fold_map)."""
        if bud == FIRST:
            return geo.zhdr_size_aligned
        if bud == MIDDLE:
            return self.start_middle << geo.chunk_shift
        if bud == LAST:
            return geo.page_size - (self.last_chunks << geo.chunk_shift)
        return 0

    def idx(self, bud: int) -> int:
        """``__idx``: the handle / slot index of a buddy, ``(bud + first_num) & 3``."""
        return (bud + self.first_num) & 3

    def buddy_of_idx(self, idx: int) -> int:
        """``handle_to_buddy``: ``(handle - first_num) & BUDDY_MASK``."""
        return (idx - self.first_num) & 3


def num_free_chunks(p: Z3Page, geo: Geometry, legacy: bool) -> int:
    """With a middle buddy: the larger free gap before it (if FIRST is free) or after it
    (if LAST is free); otherwise ``NCHUNKS - first - last``.  ``legacy`` (4.8 - 4.10):
    the gap after is ``NCHUNKS - start_middle - middle`` (one chunk short)."""
    if p.middle_chunks:
        before = 0 if p.first_chunks else p.start_middle - geo.zhdr_chunks
        if p.last_chunks:
            after = 0
        else:
            end = geo.nchunks if legacy else geo.total_chunks
            after = end - (p.start_middle + p.middle_chunks)
        return max(before, after)
    return geo.nchunks - p.first_chunks - p.last_chunks


def get_free_buddy(p: Z3Page, chunks: int, geo: Geometry) -> int:
    """``get_free_buddy`` (5.11+); HEADLESS means "no room"."""
    if p.middle_chunks:
        if not p.first_chunks and chunks <= p.start_middle - geo.zhdr_chunks:
            return FIRST
        if not p.last_chunks:
            return LAST
        return HEADLESS
    if not p.first_chunks:
        return FIRST
    if not p.last_chunks:
        return LAST
    return MIDDLE


def legacy_free_buddy(p: Z3Page, chunks: int) -> int:
    """The choice inlined in z3fold_alloc (4.8 - 5.10) and compact_single_buddy (5.5 -
    5.10).  It compares ``chunks`` with ``start_middle`` (header included): with a
    2-chunk header a FIRST of ``start_middle - 1`` chunks would overlap the middle
    buddy, but a page with FIRST and LAST free around a middle buddy is compacted
    before any allocation sees it, so the model never reaches that state."""
    if p.first_chunks == 0:
        if p.middle_chunks and chunks >= p.start_middle:
            return LAST
        return FIRST
    if p.last_chunks == 0:
        return LAST
    if p.middle_chunks == 0:
        return MIDDLE
    return HEADLESS


def place(p: Z3Page, bud: int, chunks: int, size: int, geo: Geometry) -> None:
    """``found:`` in z3fold_alloc: record the buddy (MIDDLE goes right after FIRST)."""
    if bud == FIRST:
        p.first_chunks = chunks
    elif bud == LAST:
        p.last_chunks = chunks
    else:
        p.middle_chunks = chunks
        p.start_middle = p.first_chunks + geo.zhdr_chunks
    p.sizes[bud] = size


def _mchunk_memmove(p: Z3Page, frames: PageFrames, dst_chunk: int, geo: Geometry) -> None:
    shift = geo.chunk_shift
    src = p.start_middle << shift
    dst = dst_chunk << shift
    n = p.middle_chunks << shift
    frames.copy(p.pfn, src, p.pfn, dst, n)


def compact_page(p: Z3Page, frames: PageFrames, geo: Geometry, big_gap: bool) -> int:
    """``z3fold_compact_page``: move the middle buddy's bytes inside the frame.

    1. only a middle buddy: move it next to the header, it becomes FIRST and
       ``first_num++`` so the handles already issued decode to FIRST;
    2. (4.11+) FIRST and no LAST, gap after FIRST >= BIG_CHUNK_GAP: slide it down;
    3. (4.11+) LAST and no FIRST, gap before LAST >= BIG_CHUNK_GAP: slide it up.
    Returns the case taken (``COMPACT_NONE`` = nothing moved)."""
    if p.middle_chunks == 0:
        return COMPACT_NONE
    if p.first_chunks == 0 and p.last_chunks == 0:
        _mchunk_memmove(p, frames, geo.zhdr_chunks, geo)
        p.first_chunks = p.middle_chunks
        p.middle_chunks = 0
        p.start_middle = 0
        p.first_num = (p.first_num + 1) & 3
        p.sizes[FIRST], p.sizes[MIDDLE] = p.sizes[MIDDLE], 0
        return MIDDLE_TO_FIRST
    if not big_gap:
        return COMPACT_NONE
    if (p.first_chunks and not p.last_chunks
            and p.start_middle - (p.first_chunks + geo.zhdr_chunks) >= BIG_CHUNK_GAP):
        dst = p.first_chunks + geo.zhdr_chunks
        _mchunk_memmove(p, frames, dst, geo)
        p.start_middle = dst
        return MIDDLE_DOWN
    if (p.last_chunks and not p.first_chunks
            and geo.total_chunks - (p.last_chunks + p.start_middle + p.middle_chunks)
            >= BIG_CHUNK_GAP):
        dst = geo.total_chunks - p.last_chunks - p.middle_chunks
        _mchunk_memmove(p, frames, dst, geo)
        p.start_middle = dst
        return MIDDLE_UP
    return COMPACT_NONE
