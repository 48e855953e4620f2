"""Simulated physical page frames.

Every allocator model gets its memory from a :class:`PageFrames`: one
``bytearray`` of ``page_size`` bytes per allocated frame, named by a page frame
number (PFN).  ``page_size`` is the case's page size: ``PAGE_SIZE`` (4096, x86-64)
unless the suite reads its dump as 16 K or 64 K pages (arm64's ``CONFIG_ARM64_16K_PAGES``
and ``CONFIG_ARM64_64K_PAGES``; docs/page-size.md); a model learns it from
``frames.page_size``.  Models store the real compressed bytes in these frames, so a
load really reads back what the model's layout rules put there.

Freed PFNs are reused lowest-first (a min-heap), like a buddy allocator that
prefers low addresses; the sequence is deterministic for a given workload.

The frames form a zone cut into pageblocks of ``PAGEBLOCK_NR_PAGES`` (512)
frames, each with a migratetype, as ``mm/page_alloc.c`` groups pages by
mobility: an allocation takes the lowest free frame of a pageblock of its own
migratetype; failing that it steals a whole free pageblock of another type;
failing that it falls back into another type's pageblock (``fallbacks[]``
order; the block changes type when at least half of it is free, as
``steal_suitable_fallback`` does); failing that the zone grows by a pageblock
(the model has no OOM).  A zone without a size (the default) has free memory
beyond its last pageblock, so there it grows before it falls back.  With one
mobility in play this is exactly the lowest-PFN-first sequence.  Isolated
pageblocks (``MIGRATE_ISOLATE``, as ``alloc_contig_range`` sets them) are
skipped.  Simplified: no buddy orders, no per-CPU lists, no watermarks, one zone.
"""

from __future__ import annotations

import enum
import heapq
import struct
from dataclasses import dataclass

PAGE_SIZE = 4096
PAGE_SHIFT = 12
#: the page sizes a case may have: the kernel's build-time PAGE_SIZE, a power of two from
#: 4 KiB (``CONFIG_PAGE_SIZE_4KB``) to 64 KiB (``CONFIG_PAGE_SIZE_64KB``, arm64 and ppc64)
PAGE_SIZES = (4096, 8192, 16384, 32768, 65536)
PAGEBLOCK_ORDER = 9  # pageblock_order on x86-64 (HPAGE_PMD_ORDER)
PAGEBLOCK_NR_PAGES = 1 << PAGEBLOCK_ORDER
_U64 = struct.Struct("<Q")


class Mobility(enum.Enum):
    """GFP mobility of a page (``MIGRATE_*`` in the kernel)."""

    UNMOVABLE = "unmovable"
    MOVABLE = "movable"
    RECLAIMABLE = "reclaimable"


def page_size_error(page_size: object) -> str | None:
    """Why ``page_size`` is not a page size a case may have (None: it is one of
    :data:`PAGE_SIZES`)."""
    if isinstance(page_size, int) and not isinstance(page_size, bool) \
            and page_size in PAGE_SIZES:
        return None
    return (f"page size {page_size!r} is not a power of two in "
            f"{PAGE_SIZES[0]}..{PAGE_SIZES[-1]}")


@dataclass(frozen=True)
class FrameInfo:
    """Who allocated a frame, and with which mobility (the ``struct page`` flags a
    model's rules look at).  One object is shared by all frames of one owner and
    mobility (:meth:`PageFrames.alloc`), so it is read, never changed."""

    owner: str
    mobility: Mobility


#: ``fallbacks[]`` of mm/page_alloc.c: where an allocation of each type may fall back to.
FALLBACKS: dict[Mobility, tuple[Mobility, ...]] = {
    Mobility.UNMOVABLE: (Mobility.RECLAIMABLE, Mobility.MOVABLE),
    Mobility.RECLAIMABLE: (Mobility.UNMOVABLE, Mobility.MOVABLE),
    Mobility.MOVABLE: (Mobility.RECLAIMABLE, Mobility.UNMOVABLE),
}


class PageFrames:
    """A zone of simulated page frames in pageblocks, counted exactly."""

    def __init__(self, page_size: int = PAGE_SIZE, zone_pages: int = 0) -> None:
        self.page_size = page_size
        self._data: dict[int, bytearray] = {}
        self._info: dict[int, FrameInfo] = {}
        # the FrameInfo of each (owner, mobility): a pool of 400 k frames holds a
        # handful of distinct ones, not 400 k objects of 96 bytes
        self._infos: dict[tuple[str, Mobility], FrameInfo] = {}
        self._last_info = self._frame_info("", Mobility.MOVABLE)  # what alloc asks next
        self.allocs = 0
        self.frees = 0
        self.peak = 0
        # frames a native engine holds outside this table (held_outside)
        self._outside = self._outside_allocs = self._outside_frees = 0
        # pageblocks: migratetype, free PFNs (min-heap), frames in use
        self._block_type: list[Mobility] = []
        self._block_free: list[list[int]] = []
        self._block_used: list[int] = []
        self._isolated: set[int] = set()
        # lazy min-heaps of block numbers: blocks of a type that may have a free frame,
        # and blocks that may be entirely free (entries are checked when popped)
        self._type_blocks: dict[Mobility, list[int]] = {m: [] for m in Mobility}
        self._empty_blocks: list[int] = []
        self.fallbacks = 0  # allocations placed in another migratetype's pageblock
        self.steals = 0  # pageblocks that changed migratetype to serve an allocation
        #: a zone of a given size (``zone_pages``, ``online``) falls back into other types'
        #: pageblocks before it grows; an unsized one grows first (it has free memory)
        self.sized = False
        if zone_pages > 0:
            self.online(zone_pages)

    # -- the zone ----------------------------------------------------------
    def online(self, nr_pages: int, mobility: Mobility = Mobility.MOVABLE) -> None:
        """Grow the zone to at least ``nr_pages`` frames with free pageblocks of
        ``mobility`` (memory comes up ``MIGRATE_MOVABLE`` at boot)."""
        self.sized = True
        while len(self._block_type) * PAGEBLOCK_NR_PAGES < nr_pages:
            self._new_block(mobility)

    def _new_block(self, mobility: Mobility) -> int:
        b = len(self._block_type)
        base = b << PAGEBLOCK_ORDER
        self._block_type.append(mobility)
        self._block_free.append(list(range(base, base + PAGEBLOCK_NR_PAGES)))
        self._block_used.append(0)
        heapq.heappush(self._type_blocks[mobility], b)
        heapq.heappush(self._empty_blocks, b)
        return b

    def _first_block(self, mobility: Mobility) -> int | None:
        """The lowest non-isolated pageblock of ``mobility`` with a free frame."""
        heap = self._type_blocks[mobility]
        while heap:
            b = heap[0]
            if self._block_free[b] and self._block_type[b] is mobility \
                    and b not in self._isolated:
                return b
            heapq.heappop(heap)
        return None

    def _first_empty_block(self) -> int | None:
        heap = self._empty_blocks
        while heap:
            b = heap[0]
            if not self._block_used[b] and b not in self._isolated:
                return b
            heapq.heappop(heap)
        return None

    def _set_block_type(self, b: int, mobility: Mobility) -> None:
        """``set_pageblock_migratetype``."""
        if self._block_type[b] is not mobility:
            self._block_type[b] = mobility
            self.steals += 1
            heapq.heappush(self._type_blocks[mobility], b)

    def _block_for(self, mobility: Mobility) -> int:
        b = self._first_block(mobility)
        if b is not None:
            return b
        b = self._first_empty_block()  # steal a whole free pageblock
        if b is not None:
            self._set_block_type(b, mobility)
            return b
        if not self.sized:
            return self._new_block(mobility)
        for other in FALLBACKS[mobility]:
            b = self._first_block(other)
            if b is not None:
                if 2 * len(self._block_free[b]) >= PAGEBLOCK_NR_PAGES:
                    self._set_block_type(b, mobility)
                else:
                    self.fallbacks += 1
                return b
        return self._new_block(mobility)

    # -- frames ------------------------------------------------------------
    #: True: frames hold the objects' bytes (``SizeFrames``: only the models' words)
    payload = True

    def _new_frame(self) -> bytearray:
        return bytearray(self.page_size)

    def alloc(self, owner: str = "", mobility: Mobility = Mobility.MOVABLE) -> int:
        """Allocate one zero-filled frame and return its PFN (``alloc_page``)."""
        b = self._block_for(mobility)
        pfn = heapq.heappop(self._block_free[b])
        self._block_used[b] += 1
        data = self._data
        data[pfn] = self._new_frame()
        info = self._last_info  # a pool allocates with one owner and mobility throughout
        if info.mobility is not mobility or info.owner != owner:
            info = self._frame_info(owner, mobility)
        self._info[pfn] = info
        self.allocs += 1
        if len(data) > self.peak:
            self.peak = len(data)
        return pfn

    def _frame_info(self, owner: str, mobility: Mobility) -> FrameInfo:
        """The shared FrameInfo of ``owner`` and ``mobility``."""
        info = self._infos.get((owner, mobility))
        if info is None:
            info = self._infos[owner, mobility] = FrameInfo(owner, mobility)
        self._last_info = info
        return info

    def free(self, pfn: int) -> None:
        """Return a frame (``__free_page``); freeing a frame twice is a model bug."""
        if pfn not in self._data:
            raise ValueError(f"PFN {pfn} is not allocated")
        del self._data[pfn]
        del self._info[pfn]
        b = pfn >> PAGEBLOCK_ORDER
        free = self._block_free[b]
        heapq.heappush(free, pfn)
        if len(free) == 1:
            heapq.heappush(self._type_blocks[self._block_type[b]], b)
        self._block_used[b] -= 1
        if not self._block_used[b]:
            heapq.heappush(self._empty_blocks, b)
        self.frees += 1

    def page(self, pfn: int) -> bytearray:
        """The frame's bytes, writable in place (``kmap_local_page``)."""
        return self._data[pfn]

    # -- access in words and spans (what a model's kernel does through kmap + memcpy) --
    def get_u64(self, pfn: int, off: int) -> int:
        """The little-endian ``unsigned long`` at ``off`` of the frame."""
        return _U64.unpack_from(self._data[pfn], off)[0]

    def put_u64(self, pfn: int, off: int, value: int) -> None:
        _U64.pack_into(self._data[pfn], off, value)

    def write(self, pfn: int, off: int, data: bytes) -> None:
        """Copy ``data`` into the frame at ``off`` (a payload: an object's bytes)."""
        self._data[pfn][off:off + len(data)] = data

    def read(self, pfn: int, off: int, n: int) -> bytes:
        return bytes(self._data[pfn][off:off + n])

    def copy(self, src: int, s_off: int, dst: int, d_off: int, n: int) -> None:
        """``memcpy`` of ``n`` bytes between (or within) frames."""
        self._data[dst][d_off:d_off + n] = self._data[src][s_off:s_off + n]

    def info(self, pfn: int) -> FrameInfo:
        return self._info[pfn]

    def is_allocated(self, pfn: int) -> bool:
        return pfn in self._data

    @property
    def allocated(self) -> int:
        """Frames in use now (those a native engine holds included, :meth:`held_outside`)."""
        return len(self._data) + self._outside

    def held_outside(self, allocs: int, frees: int, peak: int) -> None:
        """The frames an allocator's native engine has allocated and freed so far without
        this table (a sizes-only batch, :mod:`zbench.api.sized`): counted in
        :attr:`allocs`, :attr:`frees`, :attr:`peak` and :attr:`allocated`, no PFNs.  Each
        call gives the engine's totals; the frames of this table count beside them."""
        self.allocs += allocs - self._outside_allocs
        self.frees += frees - self._outside_frees
        self._outside_allocs, self._outside_frees = allocs, frees
        self._outside = allocs - frees
        self.peak = max(self.peak, len(self._data) + peak)

    def pfns(self) -> list[int]:
        """PFNs in use, ascending."""
        return sorted(self._data)

    # -- pageblocks --------------------------------------------------------
    @property
    def nr_pageblocks(self) -> int:
        return len(self._block_type)

    @property
    def zone_pages(self) -> int:
        """Frames in the zone (allocated or free)."""
        return len(self._block_type) * PAGEBLOCK_NR_PAGES

    def pageblock_type(self, block: int) -> Mobility:
        """``get_pageblock_migratetype``."""
        return self._block_type[block]

    def pageblock_pfns(self, block: int) -> list[int]:
        """PFNs in use in pageblock ``block``, ascending."""
        base = block << PAGEBLOCK_ORDER
        data = self._data
        return [p for p in range(base, base + PAGEBLOCK_NR_PAGES) if p in data]

    def pageblock_used(self, block: int) -> int:
        return self._block_used[block]

    def isolate_pageblock(self, block: int) -> None:
        """``set_migratetype_isolate``: no allocation is served from the block."""
        self._isolated.add(block)

    def unisolate_pageblock(self, block: int) -> None:
        """``unset_migratetype_isolate``."""
        if block in self._isolated:
            self._isolated.discard(block)
            if self._block_free[block]:
                heapq.heappush(self._type_blocks[self._block_type[block]], block)
            if not self._block_used[block]:
                heapq.heappush(self._empty_blocks, block)

    def is_isolated(self, block: int) -> bool:
        return block in self._isolated

    def mixed_pageblocks(self) -> int:
        """Pageblocks holding frames of more than one mobility."""
        seen: dict[int, Mobility] = {}
        mixed: set[int] = set()
        for pfn, info in self._info.items():
            b = pfn >> PAGEBLOCK_ORDER
            m = seen.setdefault(b, info.mobility)
            if m is not info.mobility:
                mixed.add(b)
        return len(mixed)
