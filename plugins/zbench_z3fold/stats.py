"""Metrics of a pool and the tables of ``zbench inspect z3fold``.

The kernel exports only the pool size (``z3fold_get_pool_size``, pages); the other
metrics are the model's view of the headers and lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zbench import Metrics

from .layout import header_bytes, header_era
from .options import Z3Options
from .rules import Z3Rules

if TYPE_CHECKING:
    from .pool import Z3foldPool

COUNTERS = (
    "in_page_compactions",  # z3fold_compact_page moved the middle buddy (cumulative)
    "compact_middle_to_first",
    "compact_middle_down",
    "compact_middle_up",
    "inter_page_moves",  # compact_single_buddy moved a lone buddy and freed its page
    "slot_blocks_leaked",  # slot blocks of freed pages that nothing frees (see pool)
    "reclaim_attempts",  # pages taken off the LRU by reclaim_page
    "reclaimed_pages",
    "evict_calls",
    "evict_failures",
    "bytes_written",  # cost counters (zbench.api.metrics): object bytes copied in by write
    "bytes_read",  # ... copied out by read
    "bytes_moved",  # ... moved by in-page compaction and inter-page moves
)


def pool_stats(pool: Z3foldPool) -> Metrics:
    pages = pool.pages.values()
    z3 = [p for p in pages if not p.headless]
    out: Metrics = {
        "pages_nr": len(pool.pages),
        "z3fold_pages": len(z3),
        "headless_pages": pool.nr_headless,
        "objects": pool.nr_objects,
        "first_buddies": sum(1 for p in z3 if p.first_chunks),
        "middle_buddies": sum(1 for p in z3 if p.middle_chunks),
        "last_buddies": sum(1 for p in z3 if p.last_chunks),
        "full_pages": sum(1 for p in z3 if p.is_full()),
        "unbuddied_pages": pool.unbuddied.count,
        "foreign_handles": sum(p.foreign_handles for p in z3),
        "slot_blocks": pool.slots.live,
        "header_chunks": pool.geo.zhdr_chunks,
        "nchunks": pool.geo.nchunks,
    }
    out.update(pool.counters)
    c = pool.counters
    out.update(
        bytes_copied=c["bytes_written"] + c["bytes_read"] + c["bytes_moved"],
        objs_moved=c["in_page_compactions"] + c["inter_page_moves"],
        page_crossing_copies=0,  # a buddy never leaves its page
        list_ops=pool.unbuddied.ops + pool.lru.ops,
    )
    out["compact_pages_freed"] = c["inter_page_moves"]  # each frees the page it emptied
    out["pages_migrated"] = pool.movable.pages_migrated
    return out


def _per_page(chunks: int, nchunks: int) -> int:
    """Most objects of ``chunks`` chunks one page can hold."""
    return 3 if 3 * chunks <= nchunks else 2 if 2 * chunks <= nchunks else 1


def describe_rows(options: Z3Options) -> list[dict[str, Any]]:
    """One row per object size in chunks, then the headless row."""
    geo = Z3Rules.for_options(options).geometry
    top, size = geo.headless_above, geo.chunk_size
    rows: list[dict[str, Any]] = []
    for c in range(1, top // size + 1):
        rows.append({"chunks": c, "min_size": (c - 1) * size + 1,
                     "max_size": c * size, "slot_bytes": c * size,
                     "per_page": _per_page(c, geo.nchunks)})
    rows.append({"chunks": "headless", "min_size": top + 1, "max_size": geo.page_size,
                 "slot_bytes": geo.page_size, "per_page": 1})
    return rows


def describe_summary(options: Z3Options) -> dict[str, Any]:
    rules = Z3Rules.for_options(options)
    geo = rules.geometry
    k = rules.kernel
    return {
        "kernel": str(k),
        "header_chunks": geo.zhdr_chunks,
        "sizeof_z3fold_header": f"{header_bytes(k)} B (x86-64, {header_era(k)}-era fields)"
        if k >= "4.11" else "64 B fixed (ZHDR_SIZE_ALIGNED = CHUNK_SIZE)",
        "chunk_size": geo.chunk_size,
        "total_chunks": geo.total_chunks,
        "nchunks": geo.nchunks,
        "headless_above": geo.headless_above,
        "max_size": geo.page_size,
        "handles": "indirect (buddy slots)" if rules.indirect_handles else "direct",
        "compaction": ("in-page on free" + (" + inter-page" if rules.inter_page else "")
                       + (" (work item; run synchronously)" if rules.deferred_compaction
                          else "")),
        "lru_reclaim": "yes (z3fold_reclaim_page)" if rules.lru else "no (removed in 6.5)",
        "pages": rules.mobility.value,
    }
