"""Counters and the ``zbench inspect zbud`` tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zbench import Metrics

from .rules import ZbudRules

if TYPE_CHECKING:
    from .pool import ZbudPool


def pool_stats(pool: ZbudPool) -> Metrics:
    if pool.engine_lists is not None:  # the lists are in the C engine (native.py)
        buddied, unbuddied = pool.engine_lists
    else:
        buddied, unbuddied = len(pool.buddied), sum(len(lst) for lst in pool.unbuddied)
    return {
        "zbud_pages": pool.pages_nr,
        "buddied_pages": buddied,
        "unbuddied_pages": unbuddied,
        "zbud_objects": pool.nr_objects,
        "reclaimed_pages": pool.reclaimed_pages,
        "reclaim_attempts": pool.reclaim_attempts,
        "evict_calls": pool.evict_calls,
        "evict_failures": pool.evict_failures,
        "bytes_written": pool.bytes_written,
        "bytes_read": pool.bytes_read,
        "bytes_moved": 0,
        "bytes_copied": pool.bytes_written + pool.bytes_read,
        "objs_moved": 0,
        "page_crossing_copies": 0,
        "list_ops": pool.list_ops,
    }


def describe_summary(rules: ZbudRules) -> dict[str, Any]:
    g = rules.geometry
    return {
        "kernel": str(rules.kernel),
        "page_size": g.page_size,
        "chunk_size": g.chunk_size,
        "header_bytes": g.zhdr_size_aligned,
        "nchunks": g.nchunks,
        "max_size": rules.max_size,
        "max_chunks": g.size_to_chunks(rules.max_size),
        "buddies_per_page": 2,
        "lru": "yes (zbud_reclaim_page)" if rules.lru else "no (removed in 6.5)",
        "handles": "direct (object address); pages unmovable",
    }


def describe_rows(rules: ZbudRules) -> list[dict[str, Any]]:
    """One row per object size in chunks: the sizes it covers, its slot, and the
    largest object that can share its page."""
    g = rules.geometry
    size, nchunks = g.chunk_size, g.nchunks
    rows = []
    for c in range(1, g.size_to_chunks(rules.max_size) + 1):
        buddy = min((nchunks - c) * size, rules.max_size)
        rows.append({
            "chunks": c,
            "sizes": f"{(c - 1) * size + 1}-{min(c * size, rules.max_size)}",
            "slot_bytes": c * size,
            "free_chunks_alone": nchunks - c,
            "max_buddy_size": buddy,
        })
    return rows
