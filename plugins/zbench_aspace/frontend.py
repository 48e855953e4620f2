"""zswap with its compressed pages in an address_space: Seth Jennings' idea of Sep 2013.

The idea (linux-mm, Sep 23 2013, lore 20130923220757.GC16191@variantweb.net, in the
"mm: migrate zbud pages" thread): replace zswap's rbtree by an address_space per swap type
whose ``page_tree`` (a radix tree keyed by swap offset) holds the compressed pages,
put those pages on the LRU (at the head of the inactive list) and let reclaim
(``writepage``: decompress and ``__swap_writepage``) and migration
(``migratepage``) work on them like on any page-cache page.  Tomasz Stanislawski
objected that the MM needs ``page->index`` to be *the* offset of a page, and
packing puts several offsets in a page (zbud two, zsmalloc more, and a zsmalloc
object can cross pages).  The variants argued in the thread (allocator option
``variant``):

* ``one-per-page``: one object per page, slot -> page, ``page->index`` = offset:
  consistent, no packing (a compressed page costs a whole page);
* ``buddy-tag``: zbud packing, each slot names the page with the buddy in a low
  tag bit; ``page->index`` names one offset, the others are found through the
  8-byte ``zswap_header`` (the offset) in front of each object;
* ``two-index``: zswap keeps its offset -> handle tree, and a second
  address_space of pool pages (``page->index`` = a page number) serves reclaim
  and migration; zbud keeps them consistent.

Counted: pages holding more than one offset, pages holding more than a one-bit
tag can tell apart, objects crossing a page, and the index updates and reverse
look-ups every migration needs.  Rules otherwise are zswap 3.11's: no
same-filled pages, a duplicate store replaces the entry; with the pages on the
LRU there is no pool limit.
"""

from __future__ import annotations

from collections import Counter, OrderedDict

from zbench import (
    PAGE_SIZE,
    AllocationError,
    Allocator,
    Compressor,
    FrontEnd,
    Metrics,
    MigrateResult,
    Page,
    PluginOptions,
    RadixTree,
    ReclaimResult,
)

from .pool import AspacePool

HEADER = 8  # struct zswap_header { swp_entry_t swpentry; }: the offset, the reverse map
RULES = {
    "one-per-page": "2013 address_space zswap, one object per page: migratepage copies the "
                    "page and re-points its one page_tree slot (page->index names it)",
    "buddy-tag": "2013 address_space zswap, zbud packing + low-bit buddy tag: migratepage "
                 "re-points a page_tree slot per buddy, found through the zswap_header",
    "two-index": "2013 address_space zswap, two indexes: migratepage re-points the pool "
                 "page's address_space slot and the zswap tree entry of every buddy",
}


class AspaceFeOptions(PluginOptions):
    """No options: the variant and kernel are the ``aspace`` allocator's."""


class AspaceZswap(FrontEnd):
    name = "zswap-aspace"
    #: 4 KiB only, like zswap (its load decompresses to 4096 bytes)
    page_sizes = (PAGE_SIZE,)
    description = "zswap 3.11 with compressed pages in an address_space (2013 proposal)"
    Options = AspaceFeOptions

    def __init__(self, options: PluginOptions, allocator: Allocator,
                 compressor: Compressor) -> None:
        super().__init__(options, allocator, compressor)
        if not isinstance(allocator, AspacePool):
            raise TypeError("zswap-aspace stores into the aspace pool")
        self.pool = allocator
        self.variant = allocator.variant
        self.hlen = 0 if self.variant == "one-per-page" else HEADER
        self.tree: RadixTree[int] = RadixTree()  # offset -> handle (page | tag)
        self.by_handle: dict[int, int] = {}  # handle -> offset (page->index / zswap_header)
        self.lengths: dict[int, int] = {}  # offset -> compressed length
        # two-index: the address_space of pool pages, keyed by page->index
        self.pages_tree: RadixTree[int] = RadixTree()
        self.page_index: dict[int, int] = {}  # pfn -> page->index
        self._next_index = 0
        self.lru: OrderedDict[int, None] = OrderedDict()  # inactive list: first = tail
        self.isolated: set[int] = set()
        self.locked: Counter[int] = Counter()  # pfn -> in-flight loads holding lock_page
        self.mapped_offsets: dict[int, tuple[int, ...]] = {}
        self.swap_device: dict[int, bytes] = {}
        self.c: Counter[str] = Counter()
        self.compressed_bytes = 0
        self.object_bytes = 0

    @classmethod
    def supports(cls, allocator: Allocator) -> str | None:
        return None if isinstance(allocator, AspacePool) else \
            "zswap-aspace stores into the aspace pool (allocator aspace)"

    @property
    def kernel(self) -> str:
        return (f"{self.pool.options.kernel} mm/zswap.c + address_space proposal "  # type: ignore[attr-defined]
                "(Jennings / Stanislawski, Sep 2013; not merged)")

    @property
    def simplifications(self) -> str:
        return ("the proposal as a model: one swap type, no swap-cache interplay, the inactive "
                "list alone (no aging), writepage synchronous; no pool limit")

    @property
    def migration(self) -> str:
        return RULES[self.variant]

    # -- store / load -------------------------------------------------------------
    def store(self, offset: int, page: Page) -> None:
        if page.clean and (offset in self.tree or offset in self.swap_device):
            return
        if offset in self.tree:
            self.c["duplicate_entry"] += 1
        self._drop(offset)
        self.swap_device.pop(offset, None)
        comp = page.compressed
        try:
            handle = self.pool.malloc(len(comp) + self.hlen)
        except AllocationError as exc:
            self.c["reject_compress_poor" if exc.code == "ENOSPC" else "reject_alloc_fail"] += 1
            self.swap_device[offset] = page.data
            return
        header = offset.to_bytes(HEADER, "little") if self.hlen else b""
        self.pool.write(handle, header + comp)
        self.tree.insert(offset, handle)
        self.by_handle[handle] = offset
        self.lengths[offset] = len(comp)
        self.compressed_bytes += len(comp)
        self.object_bytes += len(comp) + self.hlen
        for pfn in self.pool.object_pfns(handle):
            if pfn not in self.lru and pfn not in self.isolated:
                self.lru[pfn] = None  # lru_cache_add: the inactive list's head
            if self.variant == "two-index" and pfn not in self.page_index:
                self.page_index[pfn] = self._next_index
                self.pages_tree.insert(self._next_index, pfn)
                self._next_index += 1

    def _decompress(self, offset: int, handle: int) -> bytes:
        return self.compressor.decompress(self.pool.read(handle)[self.hlen:], PAGE_SIZE)

    def load(self, offset: int) -> bytes | None:
        handle = self.tree.lookup(offset)
        if handle is not None:
            return self._decompress(offset, handle)
        return self.swap_device.get(offset)

    def peek(self, offset: int) -> bytes | None:
        handle = self.tree.get(offset)
        if handle is not None:
            return self._decompress(offset, handle)
        return self.swap_device.get(offset)

    def invalidate(self, offset: int) -> None:
        self._drop(offset)
        self.swap_device.pop(offset, None)

    def _drop(self, offset: int) -> None:
        if offset not in self.tree:
            return
        handle = self.tree.delete(offset)
        del self.by_handle[handle]
        pfns = self.pool.object_pfns(handle)
        self.pool.free(handle)
        n = self.lengths.pop(offset)
        self.compressed_bytes -= n
        self.object_bytes -= n + self.hlen
        for pfn in pfns:
            if not self._is_pool_page(pfn):
                self._forget_page(pfn)

    def _is_pool_page(self, pfn: int) -> bool:
        f = self.pool.frames
        return f.is_allocated(pfn) and bool(self.pool.page_objects(pfn))

    def _forget_page(self, pfn: int) -> None:
        self.lru.pop(pfn, None)
        idx = self.page_index.pop(pfn, None)
        if idx is not None:
            self.pages_tree.delete(idx)

    def offsets(self) -> list[int]:
        return list(set(k for k, _ in self.tree.items()) | set(self.swap_device))

    def handle_of(self, offset: int) -> int | None:
        return self.tree.get(offset)

    # -- in-flight loads: the page stays locked ----------------------------------------
    def map_offset(self, offset: int) -> bool:
        handle = self.tree.get(offset)
        if handle is None:
            return False
        pfns = self.pool.object_pfns(handle)
        self.mapped_offsets[offset] = pfns
        for pfn in pfns:
            self.locked[pfn] += 1
        return True

    def unmap_offset(self, offset: int) -> None:
        for pfn in self.mapped_offsets.pop(offset, ()):
            self.locked[pfn] -= 1
            if not self.locked[pfn]:
                del self.locked[pfn]

    # -- the address_space's a_ops: migratepage -----------------------------------------
    def isolate_page(self, pfn: int) -> str | None:
        """``isolate_lru_page``: a pool page on the LRU always isolates."""
        if pfn not in self.lru:
            return "EBUSY: not on the LRU"
        del self.lru[pfn]
        self.isolated.add(pfn)
        return None

    def putback_page(self, pfn: int) -> None:
        if pfn in self.isolated:
            self.isolated.discard(pfn)
            self.lru[pfn] = None

    def migrate_page(self, pfn: int, newpfn: int) -> MigrateResult:
        if pfn not in self.isolated:
            return MigrateResult(False, "EINVAL: page not isolated")
        if self.locked.get(pfn):
            return MigrateResult(False, "EAGAIN: page locked by an in-flight load (lock_page)")
        r = self.pool.relocate_page(pfn, newpfn)
        if not r.ok:
            return r
        for old, new in r.remapped.items():
            offset = self.by_handle.pop(old)  # page->index or the object's zswap_header
            self.by_handle[new] = offset
            self.tree.replace(offset, new)
            r.reverse_lookups += 1
            r.index_updates += 1
        idx = self.page_index.pop(pfn, None)
        if idx is not None:
            self.page_index[newpfn] = idx
            self.pages_tree.replace(idx, newpfn)
            r.index_updates += 1
        self.isolated.discard(pfn)
        self.lru[newpfn] = None  # putback_lru_page of the new page
        return r

    # -- reclaim: shrink_inactive_list + writepage ---------------------------------------
    def reclaim_lru(self, nr_pages: int) -> ReclaimResult:
        res = ReclaimResult()
        budget = 2 * len(self.lru)
        while res.reclaimed < nr_pages and self.lru and res.scanned < budget:
            pfn = next(iter(self.lru))  # the inactive list's tail
            del self.lru[pfn]
            res.scanned += 1
            if not self._is_pool_page(pfn):
                self._forget_page(pfn)
                continue
            if self.locked.get(pfn):
                self.lru[pfn] = None
                res.failed += 1
                continue
            for handle in self.pool.page_objects(pfn):  # zswap_writepage
                offset = self.by_handle[handle]
                self.swap_device[offset] = self._decompress(offset, handle)
                res.decompressed += 1
                res.written_back += 1
                self.c["written_back_pages"] += 1
                self._drop(offset)
            if self._is_pool_page(pfn):
                self.lru[pfn] = None
                res.failed += 1
            else:
                res.reclaimed += 1
        return res

    # -- counters ----------------------------------------------------------------------
    def invariants(self) -> Metrics:
        multi = overflow = 0
        for pfn in self.pool.pool_pfns():
            n = len(self.pool.page_objects(pfn))
            multi += n > 1
            overflow += n > 2
        crossing = sum(len(self.pool.object_pfns(h)) > 1 for h in self.by_handle)
        nodes = self.tree.nodes + self.pages_tree.nodes
        return {
            "aspace_multi_offset_pages": multi,
            "aspace_tag_overflow_pages": overflow,
            "aspace_crossing_objects": crossing,
            "aspace_invariant_breaks": multi + crossing,
            "aspace_index_entries": len(self.tree) + len(self.pages_tree),
            "aspace_index_bytes": nodes * 576,
        }

    def metrics(self) -> Metrics:
        m: Metrics = {
            "stored_pages": len(self.tree),
            "same_filled_pages": 0,
            "huge_pages": 0,
            "compressed_bytes": self.compressed_bytes,
            "object_bytes": self.object_bytes,
            "pool_total_size": self.pool.pool_pages() * PAGE_SIZE,
            "swap_device_pages": len(self.swap_device),
        }
        for k in ("reject_compress_poor", "reject_alloc_fail", "written_back_pages",
                  "duplicate_entry"):
            m[k] = self.c[k]
        m.update(self.invariants())
        return m
