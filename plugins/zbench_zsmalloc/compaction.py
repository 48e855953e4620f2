"""``zs_compact``: move live objects out of sparse zspages so they can be freed.

Three versions of ``__zs_compact`` are modelled (classes walked from index 254
down to 0 in all of them):

* 4.1-4.2: sources from ALMOST_EMPTY only; keep going while a source and a
  destination exist (no ``zs_can_compact`` test yet);
* 4.3-6.3: source = ALMOST_EMPTY else ALMOST_FULL, stop the class when
  ``zs_can_compact()`` is 0; destinations ALMOST_FULL then ALMOST_EMPTY, pulled
  one after another until the source is empty (``migrate_zspage`` stops before
  copying into a full destination);
* >= 6.4 ("zsmalloc: rework compaction algorithm"): while ``zs_can_compact``:
  keep one destination (fullest, 99% -> 10%) until it is 100% full, take the
  emptiest source (10% -> 99%), migrate until the destination is full or the
  source empty, put the source back and free it if empty.

Pages are counted as compacted only when an emptied source zspage is freed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .handle import location_to_obj, obj_to_location
from .rules import CompactAlgo
from .size_class import SizeClass
from .zspage import ZsPage, find_alloced_obj, obj_free, obj_malloc, zs_object_copy

if TYPE_CHECKING:
    from .pool import ZsPool


def zs_can_compact(cls: SizeClass) -> int:
    """Pages freeable in ``cls``: whole zspages' worth of allocated-but-unused slots."""
    if cls.obj_allocated <= cls.obj_used:
        return 0
    return (cls.obj_allocated - cls.obj_used) // cls.objs_per_zspage * cls.pages_per_zspage


def _move_object(pool: ZsPool, handle: int, src: ZsPage, dst: ZsPage) -> None:
    """One step of ``migrate_zspage``: obj_malloc in dst, copy, record_obj, obj_free."""
    frames = pool.frames
    used_obj = pool.handles.handle_to_obj(handle)
    s_pfn, s_idx = obj_to_location(used_obj)
    d_pfn, d_idx = obj_malloc(frames, dst, handle)
    zs_object_copy(frames, dst, d_idx, src, s_idx)
    pool.handles.record_obj(handle, location_to_obj(d_pfn, d_idx))
    obj_free(frames, src, s_pfn, s_idx)
    pool.objs_moved += 1
    size, page_size = src.cls.size, src.cls.page_size  # the whole slot, header included
    pool.bytes_moved += size
    if (s_idx * size) % page_size + size > page_size or \
            (d_idx * size) % page_size + size > page_size:
        pool.page_crossing_copies += 1


class _Cursor:
    """``struct zs_compact_control``'s source position (<= 6.3 keeps it across dsts)."""

    __slots__ = ("page_no", "obj_idx")

    def __init__(self) -> None:
        self.page_no = 0
        self.obj_idx = 0


def _migrate_legacy(pool: ZsPool, cc: _Cursor, src: ZsPage, dst: ZsPage) -> bool:
    """<= 6.3 ``migrate_zspage``; True (-ENOMEM) when it stopped because dst is full."""
    objs = src.cls.objs_per_zspage
    ppz = src.cls.pages_per_zspage
    while True:
        handle, cc.obj_idx = find_alloced_obj(pool.frames, src, cc.page_no, cc.obj_idx)
        if not handle:
            cc.page_no += 1
            if cc.page_no >= ppz:
                if src.inuse:
                    raise RuntimeError(f"zsmalloc model: live objects not found in {src!r}")
                return False
            cc.obj_idx = 0
            continue
        if dst.inuse == objs:  # "Stop if there is no more space"
            return True
        _move_object(pool, handle, src, dst)
        cc.obj_idx += 1


def _compact_class_legacy(pool: ZsPool, cls: SizeClass, check_can_compact: bool,
                          src_groups: tuple[int, ...]) -> int:
    dst_groups = pool.fullness.dst_order
    freed = 0
    src: ZsPage | None
    while (src := pool.isolate_zspage(cls, src_groups)) is not None:
        if check_can_compact and not zs_can_compact(cls):
            break
        cc = _Cursor()
        dst: ZsPage | None
        while (dst := pool.isolate_zspage(cls, dst_groups)) is not None:
            if not _migrate_legacy(pool, cc, src, dst):
                break
            pool.putback_zspage(cls, dst)
        if dst is None:  # "Stop if we couldn't find slot"
            break
        pool.putback_zspage(cls, dst)
        if pool.putback_zspage(cls, src) == pool.fullness.empty:
            pool.free_zspage(cls, src)
            freed += cls.pages_per_zspage
        src = None
    if src is not None:
        pool.putback_zspage(cls, src)
    return freed


def _migrate_v64(pool: ZsPool, src: ZsPage, dst: ZsPage) -> None:
    """>= 6.4 ``migrate_zspage``: stop when dst is full or src is empty."""
    objs = src.cls.objs_per_zspage
    ppz = src.cls.pages_per_zspage
    page_no = 0
    obj_idx = 0
    while True:
        handle, obj_idx = find_alloced_obj(pool.frames, src, page_no, obj_idx)
        if not handle:
            page_no += 1
            if page_no >= ppz:
                return
            obj_idx = 0
            continue
        _move_object(pool, handle, src, dst)
        obj_idx += 1
        if dst.inuse == objs or src.inuse == 0:
            return


def _compact_class_v64(pool: ZsPool, cls: SizeClass) -> int:
    fullness = pool.fullness
    freed = 0
    dst: ZsPage | None = None
    while zs_can_compact(cls):
        if dst is None:
            dst = pool.isolate_zspage(cls, fullness.dst_order)
            if dst is None:
                break
        src = pool.isolate_zspage(cls, fullness.src_order)
        if src is None:
            break
        moved = pool.objs_moved
        _migrate_v64(pool, src, dst)
        if pool.objs_moved == moved:
            raise RuntimeError(f"zsmalloc model: nothing migrated from {src!r}")
        if pool.putback_zspage(cls, src) == fullness.empty:
            pool.free_zspage(cls, src)
            freed += cls.pages_per_zspage
        if pool.fullness.group(dst.inuse, cls.objs_per_zspage) == fullness.full:
            pool.putback_zspage(cls, dst)
            dst = None
    if dst is not None:
        pool.putback_zspage(cls, dst)
    return freed


def zs_compact(pool: ZsPool) -> int:
    """Compact every class from the largest index down; return the pages freed."""
    algo = pool.rules.compaction
    fullness = pool.fullness
    freed = 0
    for cls in reversed(pool.table.distinct):
        if algo is CompactAlgo.V6_4:
            freed += _compact_class_v64(pool, cls)
        elif algo is CompactAlgo.V4_3:
            freed += _compact_class_legacy(pool, cls, True, fullness.src_order)
        else:
            freed += _compact_class_legacy(pool, cls, False, fullness.src_order[:1])
    pool.pages_compacted += freed
    return freed
