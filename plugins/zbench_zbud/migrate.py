"""zbud and page migration: never in mainline; Krzysztof Kozlowski's 2013 series as a variant.

Mainline zbud (3.11 - 6.14) hands out *direct* handles - the object's address -
and allocates with the caller's gfp, which never has ``__GFP_MOVABLE`` (zswap
passes it only to allocators that support movable pages, and zbud never did),
so a zbud page can neither move nor be reclaimed by the MM: ``isolate_page``
refuses every page.

``relocate`` is the page move an owner of the handles could do (copy the page;
its header travels with it; the buddies' addresses change): the address_space
zswap model uses it as its ``migratepage``, re-pointing its own index.

``Kozlowski2013`` models "mm: migrate zbud pages" (RFC v1 Aug 30, v2 Sep 11 2013 on
3.11; v3 Oct 8 2013 on 3.12-rc4; not merged; v1 is lore
1377852176-30970-1-git-send-email-k.kozlowski@samsung.com; docs/migration.md):

* handles become *indirect*: keys of a per-pool radix tree whose slots hold the
  buddy's current address (``zbud_map`` translates); v3 keys the tree by swap
  offset (``malloc_keyed``: zswap passes the offset and a duplicate key is refused
  with -EEXIST), a caller without keys gets the next free index (v2);
* a per-buddy map count (``zbud_map`` / ``zbud_unmap``) closes the map/free and
  map/migrate races: a page with a mapped buddy is not migrated (-EAGAIN; the
  errno is this model's reading of the patches, not checked);
* ``zbud_migrate_page``: copy the page, re-point the radix slot of each live buddy
  (its key is kept in the header, so finding the slot is one look-up), keep the
  page on the LRU; pages come from movable memory (the series' aim).
Simplified: the page refcounting and ``PageZbud`` (``_mapcount`` marker) the series
needed to plug into mm/migrate.c are not modelled; one radix tree per pool.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from zbench import AllocationError, MigrateResult, RadixTree

from .page import ZbudHeader

if TYPE_CHECKING:
    from .pool import ZbudPool

SERIES = "kozlowski-2013"
OWN_KEYS = 1 << 40  # indexes the pool picks itself (v2) start here, above any swap offset


def relocate(pool: ZbudPool, pfn: int, newpfn: int) -> dict[int, int]:
    """Move zbud page ``pfn`` into the free frame ``newpfn``; returns the buddies'
    old -> new direct handles.  The page must be off every list."""
    zhdr = pool.pages.pop(pfn)
    old = zhdr.live_handles()
    pool.frames.copy(pfn, 0, newpfn, 0, zhdr.geo.page_size)  # copy_page: header and buddies
    zhdr.pfn = newpfn
    pool.pages[newpfn] = zhdr
    return dict(zip(old, zhdr.live_handles(), strict=True))


class Kozlowski2013:
    """The radix tree of indirect handles and the per-buddy map counts."""

    def __init__(self, pool: ZbudPool) -> None:
        self.pool = pool
        self.tree: RadixTree[int] = RadixTree()  # key -> direct handle (buddy address)
        self.key_of: dict[int, int] = {}  # direct handle -> key (kept in the zbud header)
        self.map_count: Counter[int] = Counter()  # key -> maps (first/last_map_count)
        self.isolated: set[ZbudHeader] = set()
        self._next = OWN_KEYS
        self.pages_migrated = 0

    rules = ("2013 'mm: migrate zbud pages' (Kozlowski, not merged): radix-tree handles keyed "
             "by swap offset, per-buddy map counts; a page with a mapped buddy is not "
             "migrated (-EAGAIN); copies the page and re-points its buddies' radix slots")

    # -- handles -----------------------------------------------------------------
    def check_key(self, key: int) -> None:
        """v3 refuses a store to an offset the tree holds (zswap drops it first)."""
        if key in self.tree:
            raise AllocationError(f"zbud: key {key} is stored already", code="EEXIST")

    def issue(self, direct: int, key: int | None) -> int:
        if key is None:
            while self._next in self.tree:
                self._next += 1
            key = self._next
            self._next += 1
        self.tree.insert(key, direct)
        self.key_of[direct] = key
        return key

    def direct(self, key: int) -> int:
        """``zbud_map``'s translation: the radix slot holds the buddy's address."""
        d = self.tree.lookup(key)
        if d is None:
            raise ValueError(f"not a live zbud handle: {key!r}")
        return d

    def release(self, key: int) -> int:
        """``zbud_free``: the key leaves the tree; returns the direct handle to free."""
        if self.map_count.get(key):
            raise ValueError(f"zbud: free of mapped handle {key}")
        d = self.tree.delete(key)
        del self.key_of[d]
        return d

    def user_handle(self, direct: int) -> int:
        return self.key_of[direct]

    # -- mapping -----------------------------------------------------------------
    def map_object(self, key: int) -> None:
        self.direct(key)
        self.map_count[key] += 1

    def unmap_object(self, key: int) -> None:
        if self.map_count[key] <= 0:
            raise ValueError(f"zbud: unmap of a handle that is not mapped: {key}")
        self.map_count[key] -= 1
        if not self.map_count[key]:
            del self.map_count[key]

    # -- isolate / migrate / putback ------------------------------------------------
    def isolate(self, pfn: int) -> str | None:
        pool = self.pool
        zhdr = pool.pages.get(pfn)
        if zhdr is None:
            return "EINVAL: not a zbud page"
        if zhdr in self.isolated:
            return "EBUSY: page already isolated"
        if zhdr.under_reclaim:
            return "EBUSY: page under reclaim"
        self.isolated.add(zhdr)
        pool.unfile_page(zhdr)
        pool.lru.pop(zhdr, None)
        return None

    def _refile(self, zhdr: ZbudHeader) -> None:
        self.isolated.discard(zhdr)
        self.pool.file_page(zhdr)
        if self.pool.rules.lru:
            self.pool.lru[zhdr] = None  # list_add: the LRU head

    def putback(self, pfn: int) -> None:
        zhdr = self.pool.pages.get(pfn)
        if zhdr is not None and zhdr in self.isolated:
            self._refile(zhdr)

    def migrate(self, pfn: int, newpfn: int) -> MigrateResult:
        pool = self.pool
        zhdr = pool.pages.get(pfn)
        if zhdr is None or zhdr not in self.isolated:
            return MigrateResult(False, "EINVAL: page not isolated")
        keys = [self.key_of[d] for d in zhdr.live_handles()]
        if any(self.map_count.get(k) for k in keys):
            return MigrateResult(False, "EAGAIN: a buddy is mapped (map count)")
        moved = relocate(pool, pfn, newpfn)
        for old, new in moved.items():
            key = self.key_of.pop(old)
            self.key_of[new] = key
            self.tree.replace(key, new)
        self._refile(zhdr)
        self.pages_migrated += 1
        return MigrateResult(True, objects=len(moved), bytes_copied=zhdr.geo.page_size,
                             handle_updates=len(moved), reverse_lookups=len(moved))


def page_objects(pool: ZbudPool, pfn: int) -> list[int]:
    """Live handles in page ``pfn`` as the pool's callers see them."""
    direct = pool.pages[pfn].live_handles()
    k = pool.kozlowski
    return direct if k is None else [k.user_handle(d) for d in direct]


def direct_pfn(direct: int, pool: ZbudPool) -> int:
    return direct >> pool.geo.page_shift


def direct_offset(direct: int, pool: ZbudPool) -> int:
    return direct & pool.geo.offset_mask
