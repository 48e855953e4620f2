"""Page migration of z3fold pages (5.2+).

"z3fold: support page migration" (Vitaly Wool, 5.2, with "z3fold: add structure
for buddy handles") registered ``z3fold_page_isolate``, ``z3fold_page_migrate``
and ``z3fold_page_putback`` through a z3fold pseudo-fs inode (6.0+:
``struct movable_operations``).  Read from ``mm/z3fold.c@014284a0`` (≈5.12-5.19):

* isolate refuses a HEADLESS page (never ``__SetPageMovable``: it pins its
  pageblock although it came from ``__GFP_MOVABLE`` memory), a page already
  ``PAGE_CLAIMED`` (isolated, or under ``z3fold_reclaim_page``), a page with
  ``mapped_count`` > 0 (a buddy mapped by ``z3fold_map``) and (5.5+) a page holding
  foreign handles; otherwise it claims the page and takes it off its unbuddied
  list and the LRU;
* migrate copies the whole page (header included), re-encodes the handle slots of
  every live buddy with the new header address (``encode_handle``: the slots hang
  off ``zhdr->slots``), puts the new page at the LRU head (<= 6.4), sets
  ``NEEDS_COMPACTING`` and queues its compaction work, which the model runs at
  once (``do_compact_page``: in-page compaction, or, 5.5+, moving a lone buddy
  into another page and freeing the new one);
* putback returns the page to the LRU and an unbuddied list and unclaims it.

Before 5.2 handles were direct (the header address) and no page moved.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from zbench import MigrateResult

from . import compaction
from .zpage import FIRST, HEADLESS, LAST, MIDDLE, Z3Page

if TYPE_CHECKING:
    from .pool import Z3foldPool

ENCODE_ORDER = (FIRST, LAST, MIDDLE)  # the order z3fold_page_migrate re-encodes in


class Z3Movable:
    """Mapped buddies (``mapped_count``) and the pages isolated for migration."""

    def __init__(self, pool: Z3foldPool) -> None:
        self.pool = pool
        self.enabled = pool.rules.indirect_handles
        self.mapped_count: Counter[Z3Page] = Counter()
        self.mapped_handles: Counter[int] = Counter()
        self.isolated: set[Z3Page] = set()
        self.pages_migrated = 0

    @property
    def rules(self) -> str:
        if not self.enabled:
            return ""
        return ("5.2 z3fold_page_isolate/migrate: refuses headless pages, mapped buddies"
                + (" and foreign handles (5.5+)" if self.pool.rules.inter_page else "")
                + "; copies the page, re-encodes its slot handles, queues compaction")

    # -- mapping ------------------------------------------------------------------
    def map_object(self, handle: int) -> None:
        """``z3fold_map``: ``mapped_count++`` (a headless page is not counted)."""
        page, bud = self.pool.locate(handle)
        self.mapped_handles[handle] += 1
        if bud != HEADLESS:
            self.mapped_count[page] += 1

    def unmap_object(self, handle: int) -> None:
        if self.mapped_handles[handle] <= 0:
            raise ValueError(f"z3fold: unmap of a handle that is not mapped: {handle:#x}")
        page, bud = self.pool.locate(handle)
        self.mapped_handles[handle] -= 1
        if not self.mapped_handles[handle]:
            del self.mapped_handles[handle]
        if bud != HEADLESS:
            self.mapped_count[page] -= 1
            if not self.mapped_count[page]:
                del self.mapped_count[page]

    # -- isolate / migrate / putback ------------------------------------------------
    def _busy(self, page: Z3Page) -> str | None:
        if self.mapped_count.get(page):
            return "EBUSY: a buddy is mapped (mapped_count)"
        if page.foreign_handles:
            return "EBUSY: page holds foreign handles"
        return None

    def isolate(self, pfn: int) -> str | None:
        if not self.enabled:
            return "not movable: z3fold pages are movable from 5.2 (indirect handles)"
        page = self.pool.pages.get(pfn)
        if page is None:
            return "EINVAL: not a z3fold page"
        if page.headless:
            return "not movable: headless page (never __SetPageMovable)"
        if page.claimed:
            return "EBUSY: page claimed (isolated or under reclaim)"
        busy = self._busy(page)
        if busy:
            return busy
        page.claimed = True
        self.isolated.add(page)
        self.pool.unbuddied.remove(page)
        self.pool.lru.remove(page)
        return None

    def putback(self, pfn: int) -> None:
        page = self.pool.pages.get(pfn)
        if page is None or page not in self.isolated:
            return
        self.isolated.discard(page)
        page.claimed = False
        if self.pool.rules.lru:
            self.pool.lru.add_head(page)
        self.pool.add_to_unbuddied(page)

    def migrate(self, pfn: int, newpfn: int) -> MigrateResult:
        pool = self.pool
        page = pool.pages.get(pfn)
        if page is None or page not in self.isolated:
            return MigrateResult(False, "EINVAL: page not isolated")
        busy = self._busy(page)
        if busy:
            return MigrateResult(False, busy)
        frames = pool.frames
        frames.copy(pfn, 0, newpfn, 0, pool.geo.page_size)  # memcpy(.., PAGE_SIZE)
        del pool.pages[pfn]
        page.pfn = newpfn
        pool.pages[newpfn] = page
        buddies = [b for b in ENCODE_ORDER if page.chunks(b)]
        for bud in buddies:
            pool.encode_handle(page, bud)
        self.isolated.discard(page)
        page.claimed = False
        if pool.rules.lru:
            pool.lru.add_head(page)
        self.pages_migrated += 1
        compaction.do_compact_page(pool, page)  # NEEDS_COMPACTING + the queued work
        return MigrateResult(True, objects=len(buddies), bytes_copied=pool.geo.page_size,
                             handle_updates=len(buddies), reverse_lookups=1)

    def object_pfns(self, handle: int) -> tuple[int, ...]:
        page, _bud = self.pool.locate(handle)
        return (page.pfn,)
