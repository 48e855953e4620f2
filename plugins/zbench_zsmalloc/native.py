"""The pool's C engine for batch runs (``zspool.c``, ``_native.c``, :mod:`zbench.api.sized`).

``_native.SizedPool`` is ``zs_malloc`` / ``zs_free`` placement with the state in C: the
class table, the fullness scheme and the ``insert_zspage`` policy come from this pool's
rules (every kernel version the model follows), so it places every object where
:meth:`ZsPool.malloc <.pool.ZsPool.malloc>` would and counts what the model counts.
For a pool whose frames keep bytes it keeps them too, in frames of its own laid out as
zspage.py's (the handle heading each non-huge slot, the object after it).
:class:`ZsSizedEngine` hands its counters back to the pool (``sync``), after which the
pool reports them as its own.  Built at install when a C compiler is there
(``setup.py``, an optional extension); without it the Python model runs every case.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

from zbench import sized

from .fullness import InuseRatioFullness
from .rules import CompactAlgo, InsertPolicy

if TYPE_CHECKING:
    from .pool import ZsPool

_native, _WHY = sized.load_extension(__package__)

_INSERT = {InsertPolicy.HEAD: 0, InsertPolicy.INUSE_TAIL: 1, InsertPolicy.INUSE_SECOND: 2}
#: zspool.h's COMPACT_* (zscompact.c)
_COMPACT = {CompactAlgo.V4_1: 0, CompactAlgo.V4_3: 1, CompactAlgo.V6_4: 2}
ENGINE = "C engine zbench_zsmalloc._native"


def status() -> str:
    """What runs a batch: the C engine, or the Python model and why."""
    return sized.engine_status(_native, _WHY, ENGINE)


_SEALED = ("zsmalloc: this pool ran a batch on its C engine; its "
           "state stays there (zbench.api.sized)")


class ZsSizedEngine:
    """The C pool's calls, and ``sync`` back into the Python pool's counters."""

    __slots__ = ("_pool", "_c", "payload", "malloc", "free", "write", "read", "pool_pages",
                 "compact")
    name = ENGINE

    def __init__(self, pool: ZsPool, c: Any, payload: bool) -> None:
        self._pool, self._c, self.payload = pool, c, payload
        self.malloc, self.free, self.write, self.read = c.malloc, c.free, c.write, c.read
        self.pool_pages = c.pool_pages
        self.compact = c.compact  # zs_compact (zscompact.c)

    @property
    def capsule(self) -> Any:
        """The engine's C face (``struct zbench_sized_ops``, zbench/include/zbench_sized.h),
        for a front end's loop in C."""
        return self._c.capsule

    def sync(self) -> None:
        """The pool's and its classes' counters, and the frames' counts, from the C state;
        the pool's object calls raise from now on (its zspages are in C)."""
        pool, c = self._pool, self._c
        n = c.counters()
        pool.pages_allocated = n["pages_allocated"]
        pool.nr_zspages = n["nr_zspages"]
        pool.bytes_written = n["bytes_written"]
        pool.bytes_read = n["bytes_read"]
        pool.page_crossing_copies = n["page_crossing_copies"]
        pool.pages_compacted = n["pages_compacted"]
        pool.objs_moved = n["objs_moved"]
        pool.bytes_moved = n["bytes_moved"]
        for cls, (allocated, used, list_ops, groups) in zip(pool.table.distinct,
                                                            c.class_counters(), strict=True):
            cls.obj_allocated, cls.obj_used, cls.list_ops = allocated, used, list_ops
            cls.group_count[:] = groups
        pool.frames.held_outside(n["frames_allocated"], n["frames_freed"], n["frames_peak"])
        sized.seal(pool, ("malloc", "free", "write", "read", "compact", "locate",
                          "malloc_keyed"), _SEALED)


def sized_engine(pool: ZsPool) -> ZsSizedEngine | None:
    """The C engine for ``pool``, keeping bytes when its frames do, or ``None``: not
    built, turned off, or the pool not empty."""
    if (_native is None or not sized.native_allowed() or pool.pages_allocated
            or pool.handles.live):
        return None
    distinct = pool.table.distinct
    index = {id(c): i for i, c in enumerate(distinct)}
    words = array("i")
    for c in distinct:
        words.extend((c.size, c.pages_per_zspage, c.objs_per_zspage, int(c.huge)))
    class_of = array("i", (index[id(pool.class_of(max(s, 1)))]
                           for s in range(pool.max_alloc_size + 1)))
    inuse_ratio = isinstance(pool.fullness, InuseRatioFullness)
    c = _native.SizedPool(pool.page_size, words.tobytes(), class_of.tobytes(),
                          int(inuse_ratio), _INSERT[pool.rules.insert],
                          bytes(pool.fullness.alloc_order), payload=pool.frames.payload,
                          compaction=_COMPACT[pool.rules.compaction],
                          src_order=bytes(pool.fullness.src_order),
                          dst_order=bytes(pool.fullness.dst_order))
    return ZsSizedEngine(pool, c, pool.frames.payload)
