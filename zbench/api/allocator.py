"""The allocator interface every allocator plugin implements.

It is the zpool-style API the kernel's front ends (zram, zswap) use:
``malloc`` returns an opaque handle, ``write``/``read`` copy an object in and
out (``zs_obj_write`` / ``zs_obj_read_begin``, or map + memcpy + unmap in older
kernels), ``free`` releases it, ``compact`` runs the allocator's compaction.

A model must store the bytes it is given in the frames of the
:class:`~zbench.api.frames.PageFrames` it was built with, laid out as the kernel
lays them out, and ``read`` must return them from there.

The abstract methods (and ``stats``) are the core every allocator writes
(:class:`~zbench.api.capabilities.AllocatorCore`); the rest are optional capabilities
with defaults here - LRU reclaim, page migration, keyed malloc, the page-to-object
map - each a protocol in :mod:`zbench.api.capabilities`, whose ``capabilities()`` tells
which ones an instance has.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar, TypedDict

from zbench.api.frames import PAGE_SIZE, Mobility, PageFrames
from zbench.api.movable import NOT_MOVABLE, MigrateResult, failed
from zbench.api.options import PluginOptions
from zbench.api.sized import SizedEngine

Metrics = dict[str, int | float]


class Finished(TypedDict, total=False):
    """What :meth:`Allocator.finish` returns: figures measured outside the model."""

    metrics: Metrics
    phases: list[Metrics]


class Allocator(abc.ABC):
    """Base class of allocator models (``zs_pool``, ``zbud_pool``, ...)."""

    #: Registry name used in suites (``allocators: [{name: ...}]``).
    name: ClassVar[str]
    #: One line for ``zbench plugins``.
    description: ClassVar[str] = ""
    #: The plugin's options model.
    Options: ClassVar[type[PluginOptions]] = PluginOptions
    #: The only front end this allocator runs under, if it has its own (e.g. the real
    #: kernel's zram); ``None`` = any front end the suite names that supports it.
    frontend: ClassVar[str | None] = None
    #: True for the one plugin of this kind an ad-hoc ``zbench run`` (no SUITE) uses when
    #: the flags name none (the built-ins: zsmalloc, lz4, fill).
    adhoc_default: ClassVar[bool] = False
    #: True if the allocator offers what zram calls (drivers/block/zram/zram_drv.c uses
    #: zsmalloc's own API: zs_malloc, zs_map_object, zs_huge_class_size, zs_compact), so
    #: the zram front end may drive it; zswap drives any allocator through zpool.
    zram_pool: ClassVar[bool] = False
    #: The page sizes (``frames.page_size``, the kernel's PAGE_SIZE) the model lays out
    #: objects in; a case of another page size is skipped with the reason, never run.
    #: Default: 4096 only.  A model that follows ``frames.page_size`` lists more
    #: (``zbench.PAGE_SIZES``: every one a case may have).
    page_sizes: ClassVar[tuple[int, ...]] = (PAGE_SIZE,)

    def __init__(self, options: PluginOptions, frames: PageFrames) -> None:
        self.options = self.coerce_options(options)
        self.frames = frames

    @classmethod
    def coerce_options(cls, options: PluginOptions) -> Any:
        """``options`` as an instance of this class's ``Options`` (a plain
        ``PluginOptions`` or another model's fields are validated into it), so a
        constructor or classmethod can rely on the type."""
        if isinstance(options, cls.Options):
            return options
        return cls.Options.model_validate(options.model_dump())

    # -- identity ---------------------------------------------------------
    @property
    @abc.abstractmethod
    def kernel(self) -> str:
        """The kernel version and source file whose rules this instance follows,
        e.g. ``"6.8 mm/zsmalloc.c"``."""

    @property
    def simplifications(self) -> str:
        """What the model leaves out, in one or two sentences (shown in reports)."""
        return ""

    # -- the object API ---------------------------------------------------
    @abc.abstractmethod
    def malloc(self, size: int) -> int:
        """Allocate room for an object of ``size`` bytes and return its handle.

        Raises :class:`~zbench.api.errors.AllocationError` when ``size`` is out of
        the allocator's range (``size < 1`` or ``> max_size()``)."""

    @abc.abstractmethod
    def free(self, handle: int) -> None:
        """Free the object (``zs_free``)."""

    @abc.abstractmethod
    def write(self, handle: int, data: bytes) -> None:
        """Copy ``data`` (exactly the size given to malloc) into the object's frames."""

    @abc.abstractmethod
    def read(self, handle: int) -> bytes:
        """Return the object's bytes, read from its frames."""

    def compact(self) -> int:
        """Run compaction (``zs_compact``); return the pages it freed.

        Allocators without compaction return 0."""
        return 0

    # -- backend-driven writeback (zbud/z3fold LRU, kernels <= 6.4) -------
    def evictable(self) -> bool:
        """``zpool_evictable()``: the allocator keeps an LRU of its pages and can
        reclaim them through an evict callback (zbud, z3fold up to 6.4)."""
        return False

    def reclaim_page(self, evict: Callable[[int], bool], retries: int) -> bool:
        """``zbud_reclaim_page`` / ``z3fold_reclaim_page``: take the LRU tail page and
        call ``evict(handle)`` for each live object in it; the front end writes the
        object back and calls :meth:`free` on it (``True``) or refuses (``False``).
        Return ``True`` when a page was freed, ``False`` (``-EAGAIN``) when
        ``retries`` pages were tried and none could be freed."""
        raise NotImplementedError(f"{self.name} has no LRU reclaim")

    # -- page migration (optional; the non-LRU movable page framework, 4.8+) -----
    @property
    def migration(self) -> str:
        """Which kernel's page-migration rules this instance follows, one line for
        reports (e.g. ``"zs_page_migrate 6.15+: ..."``); ``""`` when pages never move."""
        return ""

    def isolate_page(self, pfn: int) -> str | None:
        """``isolate_page`` of pool page ``pfn``: ``None`` when the page is now isolated
        for migration, else why it cannot be (``"not movable: ..."``, ``"EBUSY: ..."``).
        The default: no movable_operations, pages never move (zbud)."""
        return NOT_MOVABLE

    def migrate_page(self, pfn: int, newpfn: int) -> MigrateResult:
        """``migratepage``: move the isolated page ``pfn`` into the free frame ``newpfn``
        (allocated by the caller with the same owner and mobility): copy the bytes and
        re-point the allocator's own references.  On success the caller frees ``pfn``;
        on failure it frees ``newpfn`` and calls :meth:`putback_page`.  Handle values
        that changed (direct handles) are listed in ``remapped``."""
        return failed(NOT_MOVABLE)

    def putback_page(self, pfn: int) -> None:
        """``putback_page``: undo :meth:`isolate_page` after a failed migration."""
        return None

    def relocate_page(self, pfn: int, newpfn: int) -> MigrateResult:
        """Move pool page ``pfn`` into ``newpfn`` for a caller that owns the page (its
        ``mapping``: an address_space of pool pages) and re-points the handles listed in
        ``remapped`` itself.  The default is :meth:`isolate_page` + :meth:`migrate_page`
        (+ :meth:`putback_page` on failure); an allocator whose handles are addresses
        (zbud) moves the page and reports every handle remapped."""
        why = self.isolate_page(pfn)
        if why is not None:
            return failed(why)
        r = self.migrate_page(pfn, newpfn)
        if not r.ok:
            self.putback_page(pfn)
        return r

    def map_object(self, handle: int) -> None:
        """Map the object and keep it mapped (an in-flight load: ``zs_map_object`` /
        ``zpool_map_handle``) until :meth:`unmap_object`; a no-op where mapping pins
        nothing."""
        return None

    def unmap_object(self, handle: int) -> None:
        return None

    def page_objects(self, pfn: int) -> list[int]:
        """Handles of the live objects with bytes in pool page ``pfn`` (the reverse map
        writeback through a page needs)."""
        raise NotImplementedError(f"{self.name} has no reverse map from pages to objects")

    def object_pfns(self, handle: int) -> tuple[int, ...]:
        """The pool pages the object's bytes are in (two when it straddles a boundary)."""
        raise NotImplementedError(f"{self.name} does not expose object placement")

    def malloc_keyed(self, size: int, key: int) -> int:
        """:meth:`malloc` for a caller that names the object by a key of its own (zswap:
        the swap offset), for allocators indexed by it (the 2013 zbud series keyed its
        radix tree by swap offset).  The default ignores the key."""
        return self.malloc(size)

    def set_gfp(self, mobility: Mobility) -> bool:
        """The caller's GFP mobility for pool pages (``zpool_malloc``'s gfp); ``True``
        when the allocator honours it, ``False`` when its model fixes the mobility."""
        return False

    # -- accounting -------------------------------------------------------
    @abc.abstractmethod
    def max_size(self) -> int:
        """The largest object ``malloc`` accepts."""

    def huge_class_size(self) -> int | None:
        """Objects of at least this size occupy a whole page of their own
        (``zs_huge_class_size``); ``None`` when the allocator has no such class.
        zram stores a page raw when it compresses to this size or more."""
        return None

    @abc.abstractmethod
    def pool_pages(self) -> int:
        """Pages the pool holds now (``zs_get_total_pages``)."""

    @abc.abstractmethod
    def slot_bytes(self) -> int | None:
        """Bytes of the slots that live objects occupy, headers and padding
        included.  ``pool_pages·PAGE_SIZE − slot_bytes`` is external
        fragmentation; ``slot_bytes − Σ object sizes`` is internal.  ``None``
        when it cannot be known (the real kernel does not expose it)."""

    def stats(self) -> Metrics:
        """Allocator-specific metrics, under the kernel's names where it has them."""
        return {}

    def phase(self, label: str) -> None:
        """The workload ended the phase ``label`` (its figures are being taken)."""
        return None

    def finish(self) -> Finished | None:
        """Called once after the workload (and its verification): an allocator whose
        figures come from elsewhere (real kernel code run on the recorded operations)
        returns them here.  ``metrics`` win over the model's final metrics and each
        ``phases`` entry is merged into the phase of the same index.  ``None``: the
        model's own figures stand (the default)."""
        return None

    @classmethod
    def describe(cls, options: PluginOptions) -> list[dict[str, Any]]:
        """Rows for ``zbench inspect NAME`` (e.g. the size-class table)."""
        return []

    @classmethod
    def describe_summary(cls, options: PluginOptions) -> dict[str, Any]:
        """Summary values for ``zbench inspect NAME`` (e.g. class count)."""
        return {}

    # -- what the run layer asks of the class (zbench/run) ------------------------------
    #: False for an allocator whose store and load zbench cannot time under pyperf (the
    #: running kernel's zram, real code in a UML guest): its timing cases are skipped.
    timeable: ClassVar[bool] = True

    @classmethod
    def uses(cls, options: PluginOptions) -> list[tuple[str, str]]:
        """``(kind, name)`` of every plugin this allocator builds through the registry
        with ``options`` (e.g. a backend allocator it packs into), listed transitively:
        the case cache keys a case on those plugins' sources too, so editing one of them
        recomputes the case.  Default: none."""
        return []

    # -- optional: a native engine for batch runs (zbench.api.sized) ------------------
    def sized_engine(self) -> SizedEngine | None:
        """This pool's placement with the state in native code, for a front end that runs
        a case as one batch (:meth:`zbench.FrontEnd.run_sizes`), or ``None`` (the default:
        the run calls the model operation by operation).  Offered only for an empty pool
        and when :func:`zbench.api.sized.native_allowed`; on frames that keep bytes
        (``frames.payload``) only by an engine that keeps them too (``payload`` true).
        Its figures must equal the model's."""
        return None

    @classmethod
    def engine_status(cls) -> str | None:
        """One line for ``zbench plugins`` and the run header on the allocator's native
        engine: which one runs, or why the Python model runs instead (not built, turned
        off).  ``None`` (the default): the allocator has no native engine."""
        return None

    # -- optional: size classes (results.json "classes", the report's class plots) -------
    def size_classes(self) -> list[dict[str, int]] | None:
        """The allocator's size classes now, one row per class in ascending size: ``size``
        (the largest object the class holds), ``obj_allocated`` and ``obj_used`` (slots in
        the class's pages, and those holding an object), plus any integer figures of its
        own the allocator wants recorded beside them, in its row order.  ``None`` (the
        default): the allocator has no size classes."""
        return None
