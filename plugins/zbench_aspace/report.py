"""The address_space zswap's figures in the reports: metric definitions and the columns
it adds to the migratability table.

:class:`~.frontend.AspaceZswap` counts what breaks the one-index-per-page invariant
(pages holding several swap offsets, objects crossing a page) and the size of its
indexes; its LRU reclaim (``writepage``) writes back and decompresses objects.  These
are registered by ``register_metrics`` and shown, through :class:`AspaceColumns`, as
columns of the migratability table.
"""

from __future__ import annotations

from dataclasses import replace

from zbench import MetricDef, ReportTable

#: What the address_space zswap counts beyond the core's migration figures.
METRICS: tuple[MetricDef, ...] = tuple(replace(d, group="migration") for d in (
    MetricDef("aspace_multi_offset_pages", "pages",
              "pool pages holding more than one swap offset (page->index cannot name them)",
              "lower"),
    MetricDef("aspace_tag_overflow_pages", "pages",
              "pool pages holding more offsets than a one-bit buddy tag tells apart", "lower"),
    MetricDef("aspace_crossing_objects", "objects", "objects that cross a page boundary",
              "lower"),
    MetricDef("aspace_invariant_breaks", "count",
              "multi-offset pages + crossing objects: breaks of one index per page", "lower"),
    MetricDef("aspace_index_entries", "entries", "entries in the address_space and zswap "
              "indexes"),
    MetricDef("aspace_index_bytes", "bytes", "radix tree nodes of those indexes (576 B each)",
              "lower"),
))


class AspaceColumns(ReportTable):
    """No table of its own: the LRU reclaim and invariant columns of the migratability
    table."""

    name = "aspace-migratability"
    migration_columns = (
        ("reclaim_written_back_per_page", "wb/pg"),
        ("reclaim_decompressed_per_page", "decomp/pg"),
        ("aspace_multi_offset_pages", "multi-off"),
        ("aspace_crossing_objects", "crossing"),
    )
    migration_explain = (
        "`wb/pg`, `decomp/pg`: swap pages written back and objects decompressed per pool "
        "page reclaimed through the LRU (address_space zswap); `multi-off`, `crossing`: "
        "pages holding several offsets and objects crossing a page, the breaks of the "
        "address_space's one-index-per-page invariant")
