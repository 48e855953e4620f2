"""``struct zbud_pool`` as a zbench :class:`~zbench.Allocator`.

Lists are ``OrderedDict`` keyed by the page's header: the *last* key is the list
head, so ``list_add`` (the only insertion zbud uses, in ``zbud_alloc``,
``zbud_free`` and ``zbud_reclaim_page``) appends and ``list_first_entry`` is the
last key; the LRU tail (``list_last_entry``) is the first key.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from zbench import (
    PAGE_SIZES,
    AllocationError,
    Allocator,
    Metrics,
    MigrateResult,
    Mobility,
    PageFrames,
    PluginOptions,
)

from . import native, reclaim, stats
from .migrate import SERIES, Kozlowski2013, page_objects, relocate
from .options import ZbudOptions
from .page import BUDDIED, OFF_LIST, ZbudHeader
from .rules import HDR_UNDER_RECLAIM_OFFSET, ZbudRules

SIMPLIFICATIONS = (
    "Single-threaded: no pool lock, so zbud_reclaim_page's unlocked evict window holds only "
    "what the evict callback itself does; alloc_page never fails (no -ENOMEM); the header's "
    "list pointers are not written to the frame (first/last_chunks and under_reclaim are); "
    "object lengths are kept beside the page (the kernel's caller keeps them)."
)

_CHUNKS = struct.Struct("<II")  # first_chunks, last_chunks (unsigned int)


class ZbudPool(Allocator):
    """zbud: at most two objects ("buddies") per page, first-fit over free-chunk lists."""

    name = "zbud"
    #: every page size: CHUNK_SHIFT, CHUNK_SIZE, NCHUNKS, the largest size and the
    #: handles' offsets follow ``frames.page_size`` (rules.ZbudGeometry, mm/zbud.c)
    page_sizes = PAGE_SIZES
    description = "zbud (mm/zbud.c, 3.11-6.14): two buddies per page, 64-byte chunks"
    Options = ZbudOptions

    def __init__(self, options: PluginOptions, frames: PageFrames) -> None:
        super().__init__(options, frames)  # coerces to this class's Options
        opts = self.options
        self.rules = ZbudRules.for_options(opts, frames.page_size)
        #: mm/zbud.c's PAGE_SIZE constants for this case's page size
        self.geo = self.rules.geometry
        self._max = self.rules.max_size
        self._chunks_off = self.rules.chunks_offset
        # pool->unbuddied[NCHUNKS], indexed by free chunks; pool->buddied; pool->lru
        self.unbuddied: list[OrderedDict[ZbudHeader, None]] = [
            OrderedDict() for _ in range(self.geo.nchunks)]
        self.buddied: OrderedDict[ZbudHeader, None] = OrderedDict()
        self.lru: OrderedDict[ZbudHeader, None] = OrderedDict()
        self._nonempty = 0  # bit i set <=> unbuddied[i] is not empty (speeds up the scan)
        self.pages: dict[int, ZbudHeader] = {}  # pfn -> header (page_address)
        self.pages_nr = 0  # pool->pages_nr
        self.nr_objects = 0
        self.live_chunks = 0
        self.reclaimed_pages = 0  # pages freed by reclaim_page (cumulative)
        # the 2013 migration series (migrate.py); None: mainline zbud, pages never move
        self.kozlowski = Kozlowski2013(self) if opts.migration == SERIES else None
        self._gfp = Mobility.UNMOVABLE if self.kozlowski is None else Mobility.MOVABLE
        self.reclaim_attempts = 0  # pages taken from the LRU tail (cumulative)
        self.evict_calls = 0
        self.evict_failures = 0
        # cost counters (zbench.api.metrics); a buddy never straddles pages or moves
        self.bytes_written = 0
        self.bytes_read = 0
        self.list_ops = 0  # list_add / list_del / list_move on unbuddied, buddied, lru
        #: (buddied, unbuddied) pages once a batch ran on the C engine (native.py)
        self.engine_lists: tuple[int, int] | None = None

    # -- identity --------------------------------------------------------
    @property
    def kernel(self) -> str:
        if self.kozlowski is not None:
            return f"{self.rules.kernel} mm/zbud.c + 'mm: migrate zbud pages' (2013, not merged)"
        return f"{self.rules.kernel} mm/zbud.c"

    @property
    def simplifications(self) -> str:
        return SIMPLIFICATIONS

    # -- lists -------------------------------------------------------------
    def file_page(self, zhdr: ZbudHeader) -> None:
        """``list_add`` to ``unbuddied[num_free_chunks]`` (one buddy) or ``buddied``."""
        if zhdr.first_chunks == 0 or zhdr.last_chunks == 0:
            i = zhdr.free_chunks()
            self.unbuddied[i][zhdr] = None
            self._nonempty |= 1 << i
            zhdr.on = i
        else:
            self.buddied[zhdr] = None
            zhdr.on = BUDDIED
        self.list_ops += 1

    def unfile_page(self, zhdr: ZbudHeader) -> None:
        """``list_del(&zhdr->buddy)``."""
        i = zhdr.on
        if i >= 0:
            lst = self.unbuddied[i]
            del lst[zhdr]
            if not lst:
                self._nonempty &= ~(1 << i)
        elif i == BUDDIED:
            del self.buddied[zhdr]
        else:
            return
        self.list_ops += 1
        zhdr.on = OFF_LIST

    def free_page(self, zhdr: ZbudHeader) -> None:
        """``free_zbud_page`` + ``pages_nr--``; the page is off the buddy lists."""
        if self.lru.pop(zhdr, 0) is None:
            self.list_ops += 1
        del self.pages[zhdr.pfn]
        self.frames.free(zhdr.pfn)
        self.pages_nr -= 1

    def set_under_reclaim(self, zhdr: ZbudHeader, value: bool) -> None:
        zhdr.under_reclaim = value
        self.frames.write(zhdr.pfn, HDR_UNDER_RECLAIM_OFFSET, b"\x01" if value else b"\x00")

    def _sync_header(self, zhdr: ZbudHeader) -> None:
        self.frames.write(zhdr.pfn, self._chunks_off,
                          _CHUNKS.pack(zhdr.first_chunks, zhdr.last_chunks))

    def locate(self, handle: int) -> tuple[ZbudHeader, bool]:
        """handle -> (page header, True for the first buddy); ValueError unless live."""
        geo = self.geo
        zhdr = self.pages.get(handle >> geo.page_shift) if handle > 0 else None
        if zhdr is not None:
            off = handle & geo.offset_mask
            if off == geo.zhdr_size_aligned:
                if zhdr.first_chunks:
                    return zhdr, True
            elif zhdr.last_chunks and off == zhdr.last_handle() & geo.offset_mask:
                return zhdr, False
        raise ValueError(f"not a live zbud handle: {handle!r}")

    # -- the object API --------------------------------------------------
    def malloc(self, size: int) -> int:
        h = self._zbud_alloc(size)
        return h if self.kozlowski is None else self.kozlowski.issue(h, None)

    def malloc_keyed(self, size: int, key: int) -> int:
        """The 2013 series keys its radix tree by the caller's key (zswap: the offset)."""
        if self.kozlowski is None:
            return self._zbud_alloc(size)
        self.kozlowski.check_key(key)
        return self.kozlowski.issue(self._zbud_alloc(size), key)

    def _zbud_alloc(self, size: int) -> int:
        """``zbud_alloc``: returns the direct handle."""
        if size < 1:
            raise AllocationError(f"zbud: size {size} < 1", code="EINVAL")
        if size > self._max:
            raise AllocationError(f"zbud: size {size} > {self._max}", code="ENOSPC")
        chunks = (size + self.geo.chunk_size - 1) >> self.geo.chunk_shift
        # first fit: the first non-empty unbuddied[i], i = chunks .. NCHUNKS-1
        m = self._nonempty >> chunks
        if m:
            lst = self.unbuddied[chunks + (m & -m).bit_length() - 1]
            zhdr = next(reversed(lst))  # list_first_entry: the head
            self.unfile_page(zhdr)
            first = zhdr.first_chunks == 0
        else:
            pfn = self.frames.alloc(owner="zbud", mobility=self._gfp)
            zhdr = ZbudHeader(pfn, self.geo)
            self.pages[pfn] = zhdr
            self.pages_nr += 1
            first = True
        if first:
            zhdr.first_chunks, zhdr.first_size = chunks, size
        else:
            zhdr.last_chunks, zhdr.last_size = chunks, size
        self._sync_header(zhdr)
        self.file_page(zhdr)
        if self.rules.lru:  # add/move the page to the LRU head
            self.lru[zhdr] = None
            self.lru.move_to_end(zhdr)
            self.list_ops += 1
        self.nr_objects += 1
        self.live_chunks += chunks
        return zhdr.first_handle() if first else zhdr.last_handle()

    def free(self, handle: int) -> None:
        """``zbud_free``: a page under reclaim only loses the buddy; reclaim frees it."""
        if self.kozlowski is not None:
            handle = self.kozlowski.release(handle)
        zhdr, first = self.locate(handle)
        if first:
            self.live_chunks -= zhdr.first_chunks
            zhdr.first_chunks = zhdr.first_size = 0
        else:
            self.live_chunks -= zhdr.last_chunks
            zhdr.last_chunks = zhdr.last_size = 0
        self.nr_objects -= 1
        self._sync_header(zhdr)
        if zhdr.under_reclaim:
            return
        self.unfile_page(zhdr)
        if zhdr.first_chunks == 0 and zhdr.last_chunks == 0:
            self.free_page(zhdr)
        else:
            self.file_page(zhdr)

    def write(self, handle: int, data: bytes) -> None:
        if self.kozlowski is not None:
            handle = self.kozlowski.direct(handle)
        zhdr, first = self.locate(handle)
        size = zhdr.first_size if first else zhdr.last_size
        if len(data) != size:
            raise ValueError(f"zbud: write of {len(data)} bytes to a {size}-byte object")
        off = handle & self.geo.offset_mask
        self.frames.write(zhdr.pfn, off, data)
        self.bytes_written += size

    def read(self, handle: int) -> bytes:
        if self.kozlowski is not None:
            handle = self.kozlowski.direct(handle)
        zhdr, first = self.locate(handle)
        off = handle & self.geo.offset_mask
        size = zhdr.first_size if first else zhdr.last_size
        self.bytes_read += size
        return self.frames.read(zhdr.pfn, off, size)

    def obj_location(self, handle: int) -> tuple[int, int]:
        """(pfn, byte offset of the object in that page)."""
        if self.kozlowski is not None:
            handle = self.kozlowski.direct(handle)
        zhdr, _ = self.locate(handle)
        return zhdr.pfn, handle & self.geo.offset_mask

    # -- page migration (migrate.py) ---------------------------------------------
    @property
    def migration(self) -> str:
        return "" if self.kozlowski is None else self.kozlowski.rules

    def isolate_page(self, pfn: int) -> str | None:
        if self.kozlowski is None:
            return "not movable: zbud handles are addresses (direct); no movable_operations"
        return self.kozlowski.isolate(pfn)

    def migrate_page(self, pfn: int, newpfn: int) -> MigrateResult:
        if self.kozlowski is None:
            return MigrateResult(False, "not movable: zbud pages never migrate")
        return self.kozlowski.migrate(pfn, newpfn)

    def putback_page(self, pfn: int) -> None:
        if self.kozlowski is not None:
            self.kozlowski.putback(pfn)

    def map_object(self, handle: int) -> None:
        if self.kozlowski is not None:
            self.kozlowski.map_object(handle)

    def unmap_object(self, handle: int) -> None:
        if self.kozlowski is not None:
            self.kozlowski.unmap_object(handle)

    def page_objects(self, pfn: int) -> list[int]:
        return page_objects(self, pfn)

    def object_pfns(self, handle: int) -> tuple[int, ...]:
        return (self.obj_location(handle)[0],)

    def set_gfp(self, mobility: Mobility) -> bool:
        """zbud_alloc allocates with the caller's gfp (mainline zswap never asked for
        movable memory; the address_space model does)."""
        self._gfp = mobility
        return True

    def relocate_page(self, pfn: int, newpfn: int) -> MigrateResult:
        """Move a zbud page for the owner of its handles (the address_space model): copy
        it, report every buddy's handle remapped.  Mainline zbud offers no page to
        migration itself (``isolate_page`` refuses)."""
        if self.kozlowski is not None:
            return super().relocate_page(pfn, newpfn)
        zhdr = self.pages[pfn]
        self.unfile_page(zhdr)
        in_lru = self.lru.pop(zhdr, 0) is None
        moved = relocate(self, pfn, newpfn)
        self.file_page(zhdr)
        if in_lru:
            self.lru[zhdr] = None
        return MigrateResult(True, objects=len(moved), bytes_copied=self.geo.page_size,
                             remapped=moved)

    # -- LRU reclaim (<= 6.4) -------------------------------------------------
    def evictable(self) -> bool:
        return self.rules.lru

    def reclaim_page(self, evict: Callable[[int], bool], retries: int) -> bool:
        return reclaim.zbud_reclaim_page(self, evict, retries)

    # -- batches on the C engine (native.py) ----------------------------------------
    def sized_engine(self) -> native.ZbudSizedEngine | None:
        return native.sized_engine(self)

    @classmethod
    def engine_status(cls) -> str | None:
        return native.status()

    # -- accounting ------------------------------------------------------
    def max_size(self) -> int:
        return self._max

    def pool_pages(self) -> int:
        return self.pages_nr

    def slot_bytes(self) -> int:
        return self.live_chunks * self.geo.chunk_size

    def stats(self) -> Metrics:
        return stats.pool_stats(self)

    @classmethod
    def describe(cls, options: PluginOptions) -> list[dict[str, Any]]:
        return stats.describe_rows(ZbudRules.for_options(cls.coerce_options(options)))

    @classmethod
    def describe_summary(cls, options: PluginOptions) -> dict[str, Any]:
        return stats.describe_summary(ZbudRules.for_options(cls.coerce_options(options)))
