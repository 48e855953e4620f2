"""``struct z3fold_pool`` as a zbench :class:`~zbench.Allocator`: ``z3fold_alloc``,
``z3fold_free``, map + memcpy for ``write``/``read``, the LRU and page life cycle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zbench import (
    PAGE_SIZES,
    AllocationError,
    Allocator,
    Metrics,
    MigrateResult,
    PageFrames,
    PluginOptions,
)

from . import compaction, reclaim, stats
from .handles import PAGE_HEADLESS_BIT, SlotTable, addr_pfn, page_addr, slot_value
from .lists import Lru, Unbuddied
from .migrate import Z3Movable
from .options import Z3Options
from .rules import Z3Rules
from .zpage import (
    BUDDY_NAMES,
    FIRST,
    HEADLESS,
    LAST,
    Z3Page,
    get_free_buddy,
    legacy_free_buddy,
    num_free_chunks,
    place,
)

SIMPLIFICATIONS = (
    "Single-threaded and synchronous: one CPU's unbuddied lists; the compaction work "
    "(>= 4.14) and stale-page release run inside free(); objects are left mapped only by the "
    "migration experiments (mapped_count), so MIDDLE_CHUNK_MAPPED never blocks compaction; page "
    "migration (5.2+) runs the queued compaction of the new page at once; the header's "
    "fields are kept beside the frame, not written into it; direct handles omit LAST's length "
    "bits; reclaim passes evict() the handles malloc returned (5.11+ kernels pass temporary "
    "slot copies) and slot blocks follow the 5.11 free_handle rule in every 5.2+ kernel."
)


class Z3foldPool(Allocator):
    """z3fold: up to three buddies per page, headless pages, in-page compaction."""

    name = "z3fold"
    #: every page size: CHUNK_SHIFT, ZHDR_CHUNKS, NCHUNKS, the headless cut-off and the
    #: buddies' offsets follow ``frames.page_size`` (layout.Geometry, mm/z3fold.c)
    page_sizes = PAGE_SIZES
    description = "z3fold (mm/z3fold.c): three buddies per page, headless pages, compaction"
    Options = Z3Options

    def __init__(self, options: PluginOptions, frames: PageFrames) -> None:
        super().__init__(options, frames)  # coerces to this class's Options
        opts = self.options
        self.rules = r = Z3Rules.for_options(opts, frames.page_size)
        self.geo = r.geometry
        self._indirect = r.indirect_handles
        self._choose: Callable[[Z3Page, int], int] = (
            (lambda p, c: get_free_buddy(p, c, self.geo)) if r.get_free_buddy
            else legacy_free_buddy)
        self.unbuddied = Unbuddied(self.geo.nchunks)
        self.lru = Lru()
        self.pages: dict[int, Z3Page] = {}  # pfn -> page (pages_nr = len)
        self.slots = SlotTable()
        self.nr_headless = 0
        self.nr_objects = 0
        self._slot_bytes = 0
        self.counters: dict[str, int] = dict.fromkeys(stats.COUNTERS, 0)
        self.movable = Z3Movable(self)  # page migration (5.2+)

    # -- identity --------------------------------------------------------
    @property
    def kernel(self) -> str:
        n = self.geo.zhdr_chunks
        return f"{self.rules.kernel} mm/z3fold.c (header {n} chunk{'s' if n > 1 else ''})"

    @property
    def simplifications(self) -> str:
        return SIMPLIFICATIONS

    # -- handles ---------------------------------------------------------
    def encode_handle(self, page: Z3Page, bud: int) -> int:
        """``encode_handle``: direct (<= 5.1) or the address of the page's slot (5.2+)."""
        addr = page_addr(page.pfn, self.geo.page_shift)
        if bud == HEADLESS:
            return addr | PAGE_HEADLESS_BIT if self._indirect else addr
        idx = page.idx(bud)
        if not self._indirect:
            return addr + idx
        self.slots.set(page.slots, idx, slot_value(
            page.pfn, idx, page.last_chunks if bud == LAST else 0, self.geo.page_shift))
        return SlotTable.handle(page.slots, idx)

    def locate(self, handle: int) -> tuple[Z3Page, int]:
        """handle -> (page, buddy); ValueError when it names no live object."""
        if self._indirect and not handle & PAGE_HEADLESS_BIT:
            bid, idx = self.slots.locate(handle)
            value = self.slots.get(bid, idx)
            page = self.pages.get(addr_pfn(value, self.geo.page_shift))
            idx = value & 3
        else:
            addr = handle & ~PAGE_HEADLESS_BIT if self._indirect else handle
            shift = self.geo.page_shift
            page = self.pages.get(addr_pfn(addr, shift))
            idx = addr - page_addr(page.pfn, shift) if page is not None else -1
        if page is None or not 0 <= idx <= 3:
            raise ValueError(f"not a live z3fold handle: {handle:#x}")
        if page.headless:
            if idx or not page.sizes[HEADLESS]:
                raise ValueError(f"not a live z3fold handle: {handle:#x}")
            return page, HEADLESS
        bud = page.buddy_of_idx(idx)
        if bud == HEADLESS or not page.chunks(bud):
            raise ValueError(f"not a live z3fold handle: {handle:#x}")
        return page, bud

    def free_handle(self, handle: int, page: Z3Page) -> None:
        """``free_handle`` (5.2+): clear the slot, count a foreign handle off the page,
        free the block once all four slots are clear."""
        bid, idx = self.slots.locate(handle)
        self.slots.set(bid, idx, 0)
        if bid != page.slots:
            page.foreign_handles -= 1
        if self.slots.is_empty(bid):
            if page.slots == bid:
                page.slots = -1
            self.slots.release(bid)

    # -- pages -----------------------------------------------------------
    def new_page(self, headless: bool) -> Z3Page:
        """alloc_page + ``init_z3fold_page`` (a slot block for a non-headless page)."""
        pfn = self.frames.alloc(owner="z3fold", mobility=self.rules.mobility)
        page = Z3Page(pfn, headless)
        if headless:
            self.nr_headless += 1
        elif self._indirect:
            page.slots = self.slots.alloc()
        self.pages[pfn] = page
        return page

    def release_page(self, page: Z3Page) -> None:
        """kref reached zero: off every list, the frame back to the page allocator.

        A page still owning a slot block here got it from ``__z3fold_alloc`` as the
        target of ``compact_single_buddy`` and never used it; nothing frees such a block
        (5.11+ ``__release_z3fold_page`` leaves slots to ``free_handle``): counted."""
        if page.slots >= 0:
            self.counters["slot_blocks_leaked"] += 1
        self.unbuddied.remove(page)
        self.lru.remove(page)
        del self.pages[page.pfn]
        if page.headless:
            self.nr_headless -= 1
        self.frames.free(page.pfn)

    def add_to_unbuddied(self, page: Z3Page) -> None:
        """``add_to_unbuddied``: pages with all three buddies go on no list."""
        if not page.is_full():
            self.unbuddied.add(page, num_free_chunks(page, self.geo, self.rules.legacy_nfree))

    def take_unbuddied(self, chunks: int) -> Z3Page | None:
        """``__z3fold_alloc``: the head of the first list with >= ``chunks`` free chunks,
        taken off it (with a new slot block if the page's was freed)."""
        page = self.unbuddied.first_fit(chunks)
        if page is not None:
            self.unbuddied.remove(page)
            if self._indirect and page.slots < 0:
                page.slots = self.slots.alloc()
        return page

    def choose_buddy(self, page: Z3Page, chunks: int) -> int:
        return self._choose(page, chunks)

    # -- the object API --------------------------------------------------
    def malloc(self, size: int) -> int:
        psize = self.geo.page_size
        if size < 1:  # z3fold_alloc: !size -> -EINVAL
            raise AllocationError(f"z3fold: size {size} out of range 1..{psize}",
                                  code="EINVAL")
        if size > psize:  # -ENOSPC
            raise AllocationError(f"z3fold: size {size} out of range 1..{psize}",
                                  code="ENOSPC")
        if size > self.geo.headless_above:
            page = self.new_page(headless=True)
            page.sizes[HEADLESS] = size
            bud = HEADLESS
            self._slot_bytes += psize
        else:
            chunks = self.geo.size_to_chunks(size)
            page_or_none = self.take_unbuddied(chunks)
            if page_or_none is None:
                page, bud = self.new_page(headless=False), FIRST
            else:
                page, bud = page_or_none, self._choose(page_or_none, chunks)
                if bud == HEADLESS:  # "No free chunks in unbuddied": impossible by the lists
                    raise AssertionError(f"z3fold: page {page.pfn} has no room for {chunks}")
            place(page, bud, chunks, size, self.geo)
            self.add_to_unbuddied(page)
            self._slot_bytes += chunks << self.geo.chunk_shift
        if self.rules.lru:
            self.lru.add_head(page)
        self.nr_objects += 1
        return self.encode_handle(page, bud)

    def free(self, handle: int) -> None:
        page, bud = self.locate(handle)
        self.nr_objects -= 1
        if bud == HEADLESS:
            page.sizes[HEADLESS] = 0
            self._slot_bytes -= self.geo.page_size
            if not page.claimed:  # under reclaim, z3fold_reclaim_page frees the page
                self.release_page(page)
            return
        self._slot_bytes -= page.chunks(bud) << self.geo.chunk_shift
        page.set_chunks(bud, 0)
        page.sizes[bud] = 0
        if self._indirect:
            self.free_handle(handle, page)
        if page.claimed:  # UNDER_RECLAIM / PAGE_CLAIMED: reclaim re-files or frees it
            return
        if page.is_empty():
            self.release_page(page)
            return
        compaction.do_compact_page(self, page)

    def _object(self, handle: int) -> tuple[int, int, int]:
        page, bud = self.locate(handle)
        return page.pfn, page.offset(bud, self.geo), page.sizes[bud]

    def write(self, handle: int, data: bytes) -> None:
        pfn, off, size = self._object(handle)
        if len(data) != size:
            raise ValueError(f"z3fold: write of {len(data)} bytes to a {size}-byte object")
        self.frames.write(pfn, off, data)
        self.counters["bytes_written"] += size

    def read(self, handle: int) -> bytes:
        pfn, off, size = self._object(handle)
        self.counters["bytes_read"] += size
        return self.frames.read(pfn, off, size)

    def compact(self) -> int:
        """z3fold's zpool driver has no ``.compact``: nothing pool-wide to run."""
        return 0

    def obj_location(self, handle: int) -> tuple[int, int, str]:
        """(pfn, byte offset in the frame, buddy name) of a live object."""
        page, bud = self.locate(handle)
        return page.pfn, page.offset(bud, self.geo), BUDDY_NAMES[bud]

    # -- page migration (5.2+, migrate.py) ------------------------------
    @property
    def migration(self) -> str:
        return self.movable.rules

    def isolate_page(self, pfn: int) -> str | None:
        return self.movable.isolate(pfn)

    def migrate_page(self, pfn: int, newpfn: int) -> MigrateResult:
        return self.movable.migrate(pfn, newpfn)

    def putback_page(self, pfn: int) -> None:
        self.movable.putback(pfn)

    def map_object(self, handle: int) -> None:
        self.movable.map_object(handle)

    def unmap_object(self, handle: int) -> None:
        self.movable.unmap_object(handle)

    def object_pfns(self, handle: int) -> tuple[int, ...]:
        return self.movable.object_pfns(handle)

    # -- LRU reclaim (<= 6.4) -------------------------------------------
    def evictable(self) -> bool:
        return self.rules.lru

    def reclaim_page(self, evict: Callable[[int], bool], retries: int) -> bool:
        return reclaim.z3fold_reclaim_page(self, evict, retries)

    # -- accounting ------------------------------------------------------
    def max_size(self) -> int:
        return self.geo.page_size

    def huge_class_size(self) -> int | None:
        """Sizes from here on get a HEADLESS page of their own."""
        return self.geo.headless_above + 1

    def pool_pages(self) -> int:
        return len(self.pages)

    def slot_bytes(self) -> int:
        return self._slot_bytes

    def stats(self) -> Metrics:
        return stats.pool_stats(self)

    @classmethod
    def describe(cls, options: PluginOptions) -> list[dict[str, Any]]:
        return stats.describe_rows(cls.coerce_options(options))

    @classmethod
    def describe_summary(cls, options: PluginOptions) -> dict[str, Any]:
        return stats.describe_summary(cls.coerce_options(options))
