"""Page migration of zsmalloc pages (non-LRU movable pages, 4.8+).

zsmalloc's pages became movable in 4.8 ("zsmalloc: page migration support", part
of Minchan Kim's "Support non-lru page migration"): ``zs_page_isolate``,
``zs_page_migrate`` and ``zs_page_putback`` (an address_space's a_ops, 6.0+
``struct movable_operations``).  ``zs_page_migrate`` copies the whole page, then
for each allocated object *starting* in the page reads its header
(``handle | OBJ_ALLOCATED_TAG``, or the huge page's ``page->index``) and
re-encodes the handle's obj with the new PFN and the same ``obj_idx``
(``record_obj``); ``replace_sub_page`` puts the new page in the zspage chain.
An object straddling in from the previous page moves with the bytes but keeps
its obj (it names the page it starts in).

Versions:

* 4.8 - 5.16: ``zs_page_isolate`` takes the zspage off its class's fullness list
  on its first isolated page (``inc_zspage_isolation``) and puts it back when the
  last one is migrated or put back.  ``zs_map_object`` holds the zspage's
  ``migrate_read_lock`` (and pins the handle) until ``zs_unmap_object``, so
  ``migrate_write_lock`` waits for an in-flight load to end; then it migrates.
* 5.17 - 6.14 ("zsmalloc: remove zspage isolation for migration"): isolation only
  checks the page; the wait on a mapped object is the same (``migrate_write_lock``,
  a spinning rwlock, 6.x ``zspage->lock``).
* >= 6.15 ("zsmalloc: convert to sleepable zspage lock"): ``zs_page_migrate`` calls
  ``zspage_write_trylock`` and returns ``-EINVAL`` while any object of the zspage
  is mapped (``zs_obj_read_begin`` .. ``_end`` holds the zspage's read lock).

Simplified: mappings are held across the whole attempt (the model is one thread),
so "waits" means the migration went ahead after the load ended.
"""

from __future__ import annotations

import struct
from collections import Counter
from typing import TYPE_CHECKING

from zbench import MigrateResult

from .fullness import remove_zspage
from .handle import HANDLE_SHIFT, OBJ_ALLOCATED_TAG, location_to_obj
from .size_class import ZS_HANDLE_SIZE
from .zspage import ZsPage

if TYPE_CHECKING:
    from .pool import ZsPool

_U64 = struct.Struct("<Q")

MOVABLE_KERNEL = "4.8"
NO_ISOLATION_KERNEL = "5.17"
TRYLOCK_KERNEL = "6.15"


class ZsMovable:
    """The pool's migration state: isolated pages and zspages, mapped objects."""

    def __init__(self, pool: ZsPool) -> None:
        k = pool.rules.kernel
        self.pool = pool
        self.enabled = pool.rules.movable
        self.zspage_isolation = k < NO_ISOLATION_KERNEL
        self.trylock = k >= TRYLOCK_KERNEL
        self.isolated_pfns: set[int] = set()  # PG_isolated
        self.isolated: Counter[ZsPage] = Counter()  # 4.8-5.16: zspage->isolated
        self.mapped: Counter[ZsPage] = Counter()  # readers of the zspage lock
        self.mapped_handles: Counter[int] = Counter()
        self.pages_migrated = 0

    @property
    def rules(self) -> str:
        if not self.enabled:
            return ""
        if self.trylock:
            return ("6.15 zs_page_migrate: copy the page, re-encode the objs starting in it; "
                    "-EINVAL (zspage_write_trylock) while an object of the zspage is mapped")
        if self.zspage_isolation:
            return ("4.8 zs_page_isolate/migrate: zspage off its list while isolated; waits "
                    "for a mapped object (migrate_write_lock), then copies and re-encodes")
        return ("5.17 zs_page_migrate (no zspage isolation): waits on the zspage lock while "
                "an object is mapped, then copies the page and re-encodes its objs")

    # -- mapping -----------------------------------------------------------------
    def map_object(self, handle: int) -> None:
        zspage, _pfn, _idx = self.pool.locate(handle)
        self.mapped[zspage] += 1
        self.mapped_handles[handle] += 1

    def unmap_object(self, handle: int) -> None:
        if self.mapped_handles[handle] <= 0:
            raise ValueError(f"zsmalloc: unmap of a handle that is not mapped: {handle}")
        zspage, _pfn, _idx = self.pool.locate(handle)
        self.mapped_handles[handle] -= 1
        if not self.mapped_handles[handle]:
            del self.mapped_handles[handle]
        self.mapped[zspage] -= 1
        if not self.mapped[zspage]:
            del self.mapped[zspage]

    # -- isolate / migrate / putback ----------------------------------------------------
    def isolate(self, pfn: int) -> str | None:
        if not self.enabled:
            return "not movable: zsmalloc pages are movable from 4.8"
        zspage = self.pool.zspage_of.get(pfn)
        if zspage is None:
            return "EINVAL: not a zsmalloc page"
        if pfn in self.isolated_pfns:
            return "EBUSY: page already isolated (PageIsolated)"
        if self.zspage_isolation:
            if zspage.inuse == 0:
                return "EBUSY: empty zspage"
            if not self.isolated[zspage]:
                remove_zspage(zspage.cls, zspage)
            self.isolated[zspage] += 1
        self.isolated_pfns.add(pfn)
        return None

    def putback(self, pfn: int) -> None:
        if pfn not in self.isolated_pfns:
            return
        self.isolated_pfns.discard(pfn)
        self._dec_isolation(self.pool.zspage_of[pfn])

    def _dec_isolation(self, zspage: ZsPage) -> None:
        if not self.zspage_isolation:
            return
        self.isolated[zspage] -= 1
        if not self.isolated[zspage]:
            del self.isolated[zspage]
            self.pool.putback_zspage(zspage.cls, zspage)

    def migrate(self, pfn: int, newpfn: int) -> MigrateResult:
        pool = self.pool
        if pfn not in self.isolated_pfns:
            return MigrateResult(False, "EINVAL: page not isolated")
        zspage = pool.zspage_of[pfn]
        n_mapped = self.mapped.get(zspage, 0)
        if n_mapped and self.trylock:
            return MigrateResult(False, "EINVAL: zspage_write_trylock failed (an object of "
                                        "the zspage is mapped)")
        frames = pool.frames
        src = frames.page(pfn)
        frames.page(newpfn)[:] = src  # copy_page
        cls = zspage.cls
        size, page_size = cls.size, cls.page_size
        page_no = zspage.pfns.index(pfn)
        objects = updates = 0
        off = cls.first_obj_offset[page_no]
        while off < page_size:
            head = zspage.huge_handle if cls.huge else _U64.unpack_from(src, off)[0]
            if head & OBJ_ALLOCATED_TAG:
                handle = head & ~OBJ_ALLOCATED_TAG
                obj_idx = (page_no * page_size + off) // size
                pool.handles.record_obj(handle, location_to_obj(newpfn, obj_idx))
                objects += 1
                updates += 1
            off += size
        if page_no and cls.first_obj_offset[page_no]:  # an object straddling in
            start = (page_no * page_size) // size * size
            prev = frames.page(zspage.pfns[page_no - 1])
            if _U64.unpack_from(prev, start % page_size)[0] & OBJ_ALLOCATED_TAG:
                objects += 1
        # replace_sub_page: the new page takes the old one's place in the chain
        zspage.pfns[page_no] = newpfn
        del pool.zspage_of[pfn]
        pool.zspage_of[newpfn] = zspage
        self.isolated_pfns.discard(pfn)
        self._dec_isolation(zspage)
        self.pages_migrated += 1
        return MigrateResult(True, objects=objects, bytes_copied=page_size,
                             handle_updates=updates, reverse_lookups=updates,
                             waited=n_mapped > 0)

    # -- reverse map -------------------------------------------------------------------
    def page_objects(self, pfn: int) -> list[int]:
        """Live handles with bytes in ``pfn``: the objects starting in it and an object
        straddling in from the previous page."""
        pool = self.pool
        zspage = pool.zspage_of[pfn]
        cls = zspage.cls
        if cls.huge:
            return [zspage.huge_handle & ~OBJ_ALLOCATED_TAG] if zspage.huge_handle else []
        page_no = zspage.pfns.index(pfn)
        out = []
        frames = pool.frames
        first = cls.first_obj_offset[page_no]
        page_size = cls.page_size
        if page_no and first:
            start = (page_no * page_size) // cls.size * cls.size
            head = _U64.unpack_from(frames.page(zspage.pfns[page_no - 1]), start % page_size)[0]
            if head & OBJ_ALLOCATED_TAG and self._ends_after(head & ~OBJ_ALLOCATED_TAG, start):
                out.append(head & ~OBJ_ALLOCATED_TAG)
        page = frames.page(pfn)
        for off in range(first, page_size, cls.size):
            head = _U64.unpack_from(page, off)[0]
            if head & OBJ_ALLOCATED_TAG:
                out.append(head & ~OBJ_ALLOCATED_TAG)
        return out

    def _ends_after(self, handle: int, start: int) -> bool:
        """The object's bytes (header + data) run past the end of the page it starts in."""
        n = ZS_HANDLE_SIZE + self.pool.handles.sizes[handle >> HANDLE_SHIFT]
        page_size = self.pool.page_size
        return start % page_size + n > page_size

    def object_pfns(self, handle: int) -> tuple[int, ...]:
        zspage, pfn, obj_idx = self.pool.locate(handle)
        if zspage.cls.huge:
            return (pfn,)
        start = obj_idx * zspage.cls.size
        if self._ends_after(handle, start):
            return (pfn, zspage.pfns[start // zspage.cls.page_size + 1])
        return (pfn,)
