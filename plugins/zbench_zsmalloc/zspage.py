"""A zspage: a chain of order-0 frames used as one linear byte range.

Object k of a class of size S occupies bytes ``[k*S, (k+1)*S)`` of the chain and
may straddle a page boundary (never in the huge class).  The object's first 8
bytes are ``struct link_free``: the next free index (``idx << OBJ_TAG_BITS``,
tag bit clear) while it is free, ``handle | OBJ_ALLOCATED_TAG`` while allocated.
A huge zspage (one page, one object) keeps the tagged handle in its page
descriptor (``page->index``) instead, and its object has no header.

All object bytes live in the :class:`~zbench.PageFrames` frames.  Pages are the
class's ``page_size`` (the pool's PAGE_SIZE, its frames' ``page_size``: 4 KiB, or 16 /
64 KiB on arm64), so slot offsets, the page an object starts in and the split of one
that straddles a page boundary all follow it, as mm/zsmalloc.c's ``PAGE_SIZE`` and
``PAGE_SHIFT`` do (every version).
"""

from __future__ import annotations

import struct
from itertools import pairwise

from zbench import Mobility, PageFrames

from .fullness import ListNode
from .handle import OBJ_ALLOCATED_TAG, OBJ_TAG_BITS
from .size_class import ZS_HANDLE_SIZE, SizeClass

_U64 = struct.Struct("<Q")
_LONG_MASK = (1 << 64) - 1
#: init_zspage() ends the free list with ``-1UL << OBJ_TAG_BITS``.
LINK_END = (-1 << OBJ_TAG_BITS) & _LONG_MASK
_FREEOBJ_MASK = (1 << 32) - 1  # zspage->freeobj is an unsigned int
OWNER = "zsmalloc"


class ZsPage(ListNode):
    """``struct zspage``: class, frames, ``inuse``, ``freeobj``, fullness group."""

    __slots__ = ("cls", "pfns", "inuse", "freeobj", "fullness", "huge_handle")

    def __init__(self, cls: SizeClass, pfns: list[int]) -> None:
        super().__init__()
        self.cls = cls
        self.pfns = pfns
        self.inuse = 0
        self.freeobj = 0
        self.fullness = 0
        self.huge_handle = 0  # first page's page->index for ZsHugePage zspages

    def __repr__(self) -> str:
        return f"ZsPage(class={self.cls.index}, pfns={self.pfns}, inuse={self.inuse})"


def alloc_zspage(frames: PageFrames, cls: SizeClass, mobility: Mobility) -> ZsPage:
    """``alloc_zspage``: ``pages_per_zspage`` frames, linked, free list initialised."""
    pfns = [frames.alloc(owner=OWNER, mobility=mobility) for _ in range(cls.pages_per_zspage)]
    zspage = ZsPage(cls, pfns)
    init_zspage(frames, zspage)
    return zspage


def init_zspage(frames: PageFrames, zspage: ZsPage) -> None:
    """``init_zspage``: link every object slot to the next, in index order."""
    size, page_size = zspage.cls.size, zspage.cls.page_size
    put = frames.put_u64
    last = len(zspage.pfns) - 1
    freeobj = 1
    off = 0
    for page_no, pfn in enumerate(zspage.pfns):
        link = off
        off += size
        while off < page_size:
            put(pfn, link, freeobj << OBJ_TAG_BITS)
            freeobj += 1
            link += size
            off += size
        # the last (full or partial) object starting in this page points to
        # the first object of the next page, or ends the list
        if page_no < last:
            put(pfn, link, freeobj << OBJ_TAG_BITS)
            freeobj += 1
        else:
            put(pfn, link, LINK_END)
        off %= page_size
    zspage.freeobj = 0


def free_zspage_frames(frames: PageFrames, zspage: ZsPage) -> None:
    """``__free_zspage``: give the chain's frames back."""
    for pfn in zspage.pfns:
        frames.free(pfn)


def obj_malloc(frames: PageFrames, zspage: ZsPage, handle: int) -> tuple[int, int]:
    """``obj_malloc``: pop the free-list head; return (pfn, obj_idx) of the object."""
    cls = zspage.cls
    obj_idx = zspage.freeobj
    page_no, m_offset = divmod(obj_idx * cls.size, cls.page_size)
    pfn = zspage.pfns[page_no]
    link = frames.get_u64(pfn, m_offset)
    zspage.freeobj = (link >> OBJ_TAG_BITS) & _FREEOBJ_MASK
    if cls.huge:
        zspage.huge_handle = handle | OBJ_ALLOCATED_TAG
    else:
        frames.put_u64(pfn, m_offset, handle | OBJ_ALLOCATED_TAG)
    zspage.inuse += 1
    return pfn, obj_idx


def obj_free(frames: PageFrames, zspage: ZsPage, pfn: int, obj_idx: int) -> None:
    """``obj_free``: push the object on the zspage's free list (LIFO)."""
    cls = zspage.cls
    if cls.huge:
        zspage.huge_handle = 0
    else:
        f_offset = (obj_idx * cls.size) % cls.page_size
        frames.put_u64(pfn, f_offset, zspage.freeobj << OBJ_TAG_BITS)
    zspage.freeobj = obj_idx
    zspage.inuse -= 1


def obj_write(frames: PageFrames, zspage: ZsPage, pfn: int, obj_idx: int, data: bytes) -> None:
    """``zs_obj_write`` (map + memcpy + unmap before 6.15): copy after the header,
    in two parts when the object spans two pages."""
    cls = zspage.cls
    n = len(data)
    if cls.huge:
        frames.write(pfn, 0, data)
        return
    page_no, off = divmod(obj_idx * cls.size, cls.page_size)
    off += ZS_HANDLE_SIZE
    first = cls.page_size - off
    if n <= first:
        frames.write(pfn, off, data)
        return
    frames.write(pfn, off, data[:first])
    nxt = zspage.pfns[page_no + 1]
    frames.write(nxt, 0, data[first:])


def obj_read(frames: PageFrames, zspage: ZsPage, pfn: int, obj_idx: int, n: int) -> bytes:
    """``zs_obj_read_begin`` (or ``zs_map_object``): the object's ``n`` bytes."""
    cls = zspage.cls
    if cls.huge:
        return frames.read(pfn, 0, n)
    page_no, off = divmod(obj_idx * cls.size, cls.page_size)
    off += ZS_HANDLE_SIZE
    first = cls.page_size - off
    if n <= first:
        return frames.read(pfn, off, n)
    nxt = zspage.pfns[page_no + 1]
    return frames.read(pfn, off, first) + frames.read(nxt, 0, n - first)


def _slot_spans(zspage: ZsPage, obj_idx: int) -> list[tuple[int, int, int]]:
    """(pfn, offset, length) pieces of the whole class-size slot of ``obj_idx``."""
    size, page_size = zspage.cls.size, zspage.cls.page_size
    page_no, off = divmod(obj_idx * size, page_size)
    first = min(size, page_size - off)
    spans = [(zspage.pfns[page_no], off, first)]
    if first < size:
        spans.append((zspage.pfns[page_no + 1], 0, size - first))
    return spans


def zs_object_copy(frames: PageFrames, dst: ZsPage, d_idx: int, src: ZsPage, s_idx: int) -> None:
    """``zs_object_copy``: copy ``class->size`` bytes (header included) from the
    source slot to the destination slot, each side possibly split over two pages."""
    s_spans, d_spans = _slot_spans(src, s_idx), _slot_spans(dst, d_idx)
    cuts = sorted({0, s_spans[0][2], d_spans[0][2], src.cls.size})
    for lo, hi in pairwise(cuts):  # the pieces between either side's page break
        s_pfn, s_off = _at(s_spans, lo)
        d_pfn, d_off = _at(d_spans, lo)
        frames.copy(s_pfn, s_off, d_pfn, d_off, hi - lo)


def _at(spans: list[tuple[int, int, int]], pos: int) -> tuple[int, int]:
    """(pfn, offset) of byte ``pos`` of a slot split into ``spans``."""
    pfn, off, n = spans[0]
    if pos < n:
        return pfn, off + pos
    pfn, off, _ = spans[1]
    return pfn, off + pos - n


def find_alloced_obj(
    frames: PageFrames, zspage: ZsPage, page_no: int, index: int
) -> tuple[int, int]:
    """``find_alloced_obj``: from the ``index``-th object starting in page ``page_no``,
    the first allocated one -> (handle, its index in that page); handle 0 if none."""
    cls = zspage.cls
    size = cls.size
    huge = cls.huge
    offset = cls.first_obj_offset[page_no] + size * index
    pfn = zspage.pfns[page_no]
    get = frames.get_u64
    page_size = cls.page_size
    while offset < page_size:
        # obj_allocated(): a huge page keeps the tagged handle in page->index
        head = zspage.huge_handle if huge else get(pfn, offset)
        if head & OBJ_ALLOCATED_TAG:
            return head & ~OBJ_ALLOCATED_TAG, index
        offset += size
        index += 1
    return 0, index
