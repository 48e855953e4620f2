"""``struct zs_pool`` as a zbench :class:`~zbench.Allocator`.

The pool's PAGE_SIZE is its frames' ``page_size`` (the case's: 4 KiB, or 8..64 KiB when
the suite reads its dump as larger pages): the class table (``zs_create_pool``),
``ZS_MAX_ALLOC_SIZE``, the huge class and every slot offset follow it, as mm/zsmalloc.c's
build-time ``PAGE_SIZE`` does.  The ``page_size`` option left at its default, 4096,
follows the frames; another value names the PAGE_SIZE the suite means, and a case whose
frames differ is skipped with the reason (docs/page-size.md)."""

from __future__ import annotations

from typing import Any

from zbench import (
    PAGE_SIZES,
    AllocationError,
    Allocator,
    CaseSkipped,
    Metrics,
    MigrateResult,
    Mobility,
    PageFrames,
    PluginOptions,
)

from . import compaction, native, stats
from .fullness import INSERT_POLICIES, ListHead, make_fullness, remove_zspage
from .handle import HANDLE_SHIFT, OBJ_INDEX_MASK, HandleTable, obj_to_location
from .migrate import ZsMovable
from .options import DEFAULT_PAGE_SIZE, ZsOptions
from .rules import ProposedChainRule, ZsRules
from .size_class import OBJ_INDEX_BITS, ZS_HANDLE_SIZE, SizeClass, build_class_table
from .zspage import (
    ZsPage,
    alloc_zspage,
    free_zspage_frames,
    obj_free,
    obj_malloc,
    obj_read,
    obj_write,
)

SIMPLIFICATIONS = (
    "Single-threaded: no locks, per-CPU map areas, shrinker (compaction only on compact()) "
    "or deferred zspage freeing; page migration (4.8+) is one attempt per page and a mapped "
    "object stays mapped through it; handles are table slots and obj values use the 4.8+ "
    "zspage-wide obj_idx in every version."
)


def pool_page_size(page_size: int, frames_page_size: int) -> int:
    """The PAGE_SIZE of a pool with option ``page_size`` on frames of ``frames_page_size``
    bytes: the frames', when the option is the default (4096) or says the same; a
    CaseSkipped naming both otherwise (the objects of a ``page_size`` zspage do not lay
    out in other frames)."""
    if page_size in (DEFAULT_PAGE_SIZE, frames_page_size):
        return frames_page_size
    raise CaseSkipped(f"zsmalloc page_size={page_size} needs {page_size}-byte page frames, "
                      f"these are {frames_page_size}-byte (give the suite's dump page_size: "
                      f"{page_size}, or leave the option out: it follows the case's pages; "
                      f"'zbench inspect zsmalloc --set page_size={page_size}' shows the "
                      f"class table)")


def _crosses(cls: SizeClass, obj_idx: int, n: int) -> bool:
    """True when ``n`` bytes from the start of slot ``obj_idx`` run into the next page
    (never in the huge class: one object per page, no header)."""
    return not cls.huge and (obj_idx * cls.size) % cls.page_size + n > cls.page_size


def _first_zspage(lists: list[ListHead], order: tuple[int, ...]) -> ZsPage | None:
    """``find_get_zspage``: the first entry of the first non-empty list among the
    fullness groups in ``order`` (the scheme's ``alloc_order``)."""
    for fg in order:
        head = lists[fg]
        node = head.next
        if node is not head:
            return node  # type: ignore[return-value]
    return None


class ZsPool(Allocator):
    """zsmalloc: size classes of multi-page zspages, indirect handles, compaction."""

    name = "zsmalloc"
    adhoc_default = True
    zram_pool = True
    description = "zsmalloc (mm/zsmalloc.c): size classes, zspage chains, compaction"
    Options = ZsOptions
    #: every page size: the layout follows ``frames.page_size`` (the module docstring)
    page_sizes = PAGE_SIZES

    def __init__(self, options: PluginOptions, frames: PageFrames) -> None:
        super().__init__(options, frames)  # coerces to this class's Options
        opts = self.options
        #: PAGE_SIZE of this pool (= frames.page_size)
        self.page_size = pool_page_size(opts.page_size, frames.page_size)
        self.rules = ZsRules.for_options(opts)
        self.fullness = make_fullness(self.rules.fullness)
        self.table = build_class_table(
            self.rules.chain_size, self.rules.chain_rule, self.fullness.nr_groups,
            self.page_size,
        )
        #: ZS_MAX_ALLOC_SIZE = PAGE_SIZE
        self.max_alloc_size = self.page_size
        # zs_malloc(size) -> class, precomputed for every legal size
        self._class_of: list[SizeClass] = [self.table.class_for(max(s, 1))
                                           for s in range(self.max_alloc_size + 1)]
        self._group = self.fullness.group
        self._alloc_order = self.fullness.alloc_order
        self._insert_fn = INSERT_POLICIES[self.rules.insert]
        self._mobility = Mobility.MOVABLE if self.rules.movable else Mobility.UNMOVABLE
        self.handles = HandleTable()
        self.zspage_of: dict[int, ZsPage] = {}  # pfn -> zspage (page->private)
        self.pages_allocated = 0  # pool->pages_allocated
        self.nr_zspages = 0
        self.pages_compacted = 0  # zs_pool_stats.pages_compacted (cumulative)
        self.objs_moved = 0  # objects migrated by compaction (cumulative)
        self.movable = ZsMovable(self)  # page migration state (4.8+)
        # cost counters (zbench.api.metrics): object bytes copied in / out / moved, and the
        # copies split over two pages (a slot straddling a page boundary)
        self.bytes_written = 0
        self.bytes_read = 0
        self.bytes_moved = 0
        self.page_crossing_copies = 0

    # -- identity --------------------------------------------------------
    @property
    def kernel(self) -> str:
        rfc = (" + RFC 'zsmalloc: size-classes chain-length tunings' (2026, not merged)"
               if self.rules.chain_rule is ProposedChainRule.RFC_2026_CHAIN else "")
        return f"{self.rules.kernel} mm/zsmalloc.c (chain {self.rules.chain_size}){rfc}"

    @property
    def simplifications(self) -> str:
        return SIMPLIFICATIONS

    # -- fullness lists ---------------------------------------------------
    def fix_fullness_group(self, cls: SizeClass, zspage: ZsPage) -> int:
        newfg = self._group(zspage.inuse, cls.objs_per_zspage)
        if newfg != zspage.fullness:
            remove_zspage(cls, zspage)
            self._insert_fn(cls, zspage, newfg)
        return newfg

    def putback_zspage(self, cls: SizeClass, zspage: ZsPage) -> int:
        fullness = self._group(zspage.inuse, cls.objs_per_zspage)
        self._insert_fn(cls, zspage, fullness)
        return fullness

    def isolate_zspage(self, cls: SizeClass, groups: tuple[int, ...]) -> ZsPage | None:
        """Take the first zspage of the first non-empty list among ``groups``."""
        for fg in groups:
            zspage = cls.fullness_list[fg].first()
            if zspage is not None:
                remove_zspage(cls, zspage)
                return zspage
        return None

    def find_get_zspage(self, cls: SizeClass) -> ZsPage | None:
        """``find_get_zspage``: the head of the first non-empty list in scan order."""
        return _first_zspage(cls.fullness_list, self._alloc_order)

    # -- zspage life cycle ---------------------------------------------------
    def alloc_zspage(self, cls: SizeClass) -> ZsPage:
        zspage = alloc_zspage(self.frames, cls, self._mobility)
        for pfn in zspage.pfns:
            self.zspage_of[pfn] = zspage
        self.pages_allocated += cls.pages_per_zspage
        cls.obj_allocated += cls.objs_per_zspage
        self.nr_zspages += 1
        return zspage

    def free_zspage(self, cls: SizeClass, zspage: ZsPage) -> None:
        """``free_zspage``: the zspage is off its list (isolated) or on the empty list."""
        if zspage.next is not zspage:
            remove_zspage(cls, zspage)
        for pfn in zspage.pfns:
            del self.zspage_of[pfn]
        free_zspage_frames(self.frames, zspage)
        cls.obj_allocated -= cls.objs_per_zspage
        self.pages_allocated -= cls.pages_per_zspage
        self.nr_zspages -= 1

    def locate(self, handle: int) -> tuple[ZsPage, int, int]:
        """handle -> (zspage, pfn, obj_idx) via the handle slot."""
        pfn, obj_idx = obj_to_location(self.handles.objs[self.handles.slot(handle)])
        return self.zspage_of[pfn], pfn, obj_idx

    # -- the object API --------------------------------------------------
    def malloc(self, size: int) -> int:
        """``zs_malloc``: ``cache_alloc_handle``, ``find_get_zspage`` (else
        ``alloc_zspage``), ``obj_malloc``, ``fix_fullness_group`` (or ``insert_zspage``
        for the new zspage), ``record_obj``, ``class_stat_inc(OBJ_USED)`` (every version,
        in this order).  The hot path of every store: the group function, the list scan
        and the handle slot are taken once into locals here rather than through the
        helper methods, which the other callers (compaction, migration) keep using."""
        if size < 1 or size > self.max_alloc_size:
            # zs_malloc: ERR_PTR(-EINVAL) (0 before 5.x); zpool passes an error that
            # is not -ENOSPC, so zswap counts reject_alloc_fail
            raise AllocationError(
                f"zsmalloc: size {size} out of range 1..{self.max_alloc_size}", code="EINVAL"
            )
        cls = self._class_of[size]
        handles = self.handles
        handle = handles.alloc(size)
        zspage = _first_zspage(cls.fullness_list, self._alloc_order)
        if zspage is not None:
            pfn, obj_idx = obj_malloc(self.frames, zspage, handle)
            newfg = self._group(zspage.inuse, cls.objs_per_zspage)
            if newfg != zspage.fullness:  # fix_fullness_group
                remove_zspage(cls, zspage)
                self._insert_fn(cls, zspage, newfg)
        else:
            zspage = self.alloc_zspage(cls)
            pfn, obj_idx = obj_malloc(self.frames, zspage, handle)
            self._insert_fn(cls, zspage, self._group(zspage.inuse, cls.objs_per_zspage))
        # record_obj(handle, location_to_obj(pfn, obj_idx))
        handles.objs[handle >> HANDLE_SHIFT] = (pfn << OBJ_INDEX_BITS) | (
            obj_idx & OBJ_INDEX_MASK)
        cls.obj_used += 1
        return handle

    def free(self, handle: int) -> None:
        if not handle:  # zs_free(NULL) is a no-op
            return
        zspage, pfn, obj_idx = self.locate(handle)
        cls = zspage.cls
        cls.obj_used -= 1
        obj_free(self.frames, zspage, pfn, obj_idx)
        if self.fix_fullness_group(cls, zspage) == self.fullness.empty:
            self.free_zspage(cls, zspage)
        self.handles.free(handle)

    def write(self, handle: int, data: bytes) -> None:
        """``zs_obj_write`` (``zs_map_object`` + memcpy before 6.15): the handle's slot
        gives the location (``handle_to_obj``, ``obj_to_location``), then
        :func:`obj_write` copies the bytes after the header."""
        handles = self.handles
        slot = handles.slot(handle)
        obj = handles.objs[slot]
        pfn, obj_idx = obj >> OBJ_INDEX_BITS, obj & OBJ_INDEX_MASK
        zspage = self.zspage_of[pfn]
        size = handles.sizes[slot]
        if len(data) != size:
            raise ValueError(f"zsmalloc: write of {len(data)} bytes to a {size}-byte object")
        obj_write(self.frames, zspage, pfn, obj_idx, data)
        self.bytes_written += size
        if _crosses(zspage.cls, obj_idx, ZS_HANDLE_SIZE + size):
            self.page_crossing_copies += 1

    def read(self, handle: int) -> bytes:
        zspage, pfn, obj_idx = self.locate(handle)
        size = self.handles.sizes[handle >> HANDLE_SHIFT]
        self.bytes_read += size
        if _crosses(zspage.cls, obj_idx, ZS_HANDLE_SIZE + size):
            self.page_crossing_copies += 1
        return obj_read(self.frames, zspage, pfn, obj_idx, size)

    def compact(self) -> int:
        return compaction.zs_compact(self)

    # -- page migration (migrate.py) ---------------------------------------------
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

    def page_objects(self, pfn: int) -> list[int]:
        return self.movable.page_objects(pfn)

    def object_pfns(self, handle: int) -> tuple[int, ...]:
        return self.movable.object_pfns(handle)

    def obj_location(self, handle: int) -> tuple[int, int]:
        """(pfn of the page the object starts in, byte offset of its slot in that page)."""
        zspage, pfn, obj_idx = self.locate(handle)
        return pfn, (obj_idx * zspage.cls.size) % self.page_size

    def class_of(self, size: int) -> SizeClass:
        """The size class ``malloc(size)`` uses."""
        return self._class_of[size]

    # -- batches on the C engine (native.py) -------------------------------------
    def sized_engine(self) -> native.ZsSizedEngine | None:
        return native.sized_engine(self)

    @classmethod
    def engine_status(cls) -> str | None:
        return native.status()

    # -- accounting ------------------------------------------------------
    def max_size(self) -> int:
        return self.max_alloc_size

    def huge_class_size(self) -> int | None:
        return self.table.huge_class_size

    def pool_pages(self) -> int:
        return self.pages_allocated

    def slot_bytes(self) -> int:
        return sum(c.obj_used * c.size for c in self.table.distinct)

    def stats(self) -> Metrics:
        return {
            "pages_compacted": self.pages_compacted,
            "objs_moved": self.objs_moved,
            "bytes_written": self.bytes_written,
            "bytes_read": self.bytes_read,
            "bytes_moved": self.bytes_moved,
            "bytes_copied": self.bytes_written + self.bytes_read + self.bytes_moved,
            "page_crossing_copies": self.page_crossing_copies,
            "list_ops": sum(c.list_ops for c in self.table.distinct),
            "zspages": self.nr_zspages,
            "obj_allocated": sum(c.obj_allocated for c in self.table.distinct),
            "obj_used": sum(c.obj_used for c in self.table.distinct),
            "size_classes": len(self.table.distinct),
            "huge_class_size": self.table.huge_class_size,
        }

    def class_stats(self) -> list[dict[str, int]]:
        """Rows of debugfs ``zsmalloc/<pool>/classes`` (one per distinct class)."""
        return stats.class_rows(self.table, self.fullness)

    def size_classes(self) -> list[dict[str, int]]:
        """The distinct classes for results.json: size, the zspage's page count (a zspage
        of ``pages_per_zspage`` pages holds ``objs_per_zspage`` objects), objects
        allocated and in use (from :meth:`class_stats`)."""
        return [{"size": r["size"], "pages_per_zspage": r["pages_per_zspage"],
                 "obj_allocated": r["obj_allocated"], "obj_used": r["obj_used"]}
                for r in self.class_stats()]

    @classmethod
    def describe(cls, options: PluginOptions) -> list[dict[str, Any]]:
        return stats.describe_rows(cls.coerce_options(options))

    @classmethod
    def describe_summary(cls, options: PluginOptions) -> dict[str, Any]:
        return stats.describe_summary(cls.coerce_options(options))

    def obj_header(self, handle: int) -> int:
        """The tagged handle stored for the object: its first 8 bytes in the frame,
        or the huge page's ``page->index``."""
        zspage, pfn, obj_idx = self.locate(handle)
        if zspage.cls.huge:
            return zspage.huge_handle
        off = (obj_idx * zspage.cls.size) % self.page_size
        return int.from_bytes(self.frames.page(pfn)[off:off + ZS_HANDLE_SIZE], "little")
