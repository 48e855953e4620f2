"""Every metric zbench reports, described once.

The results file, the tables, ``report.md``, ``zbench metrics`` and
docs/metrics.md all read these definitions, so they cannot disagree.  Names follow
the kernel's counters where it has one (zram ``mm_stat``, zswap debugfs,
zsmalloc ``classes``).

The core defines the metrics every case has; a plugin defines the metrics only its
models produce (a front end's counters, an experiment's figures) through the
``register_metrics`` hook (:mod:`zbench.api.hookspecs`), each in one of the
:data:`GROUPS`.  :func:`merged` lists the core's and the plugins' definitions in one
order: group by group, the core's first, then the plugins' in registration order, so
a report lists a front end's counters beside the core's counters whichever plugins
are installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

#: Cost counters also reported per operation (``<name>_per_op`` = name / operations).
COST_PER_OP: tuple[tuple[str, str, str], ...] = (
    ("bytes_copied", "bytes", "lower"),
    ("objs_moved", "objects", "lower"),
    ("page_crossing_copies", "copies", "lower"),
    ("list_ops", "ops", "lower"),
    ("frames_allocated", "pages", ""),
    ("frames_freed", "pages", ""),
)

#: Where a metric is listed, in this order: what the pool holds and the front end
#: counted (``counters``), what the run did (``work``: verified loads, cost counters),
#: pyperf timings (``timing``), the migratability experiments (``migration``).
GROUPS: tuple[str, ...] = ("counters", "work", "timing", "migration")


@dataclass(frozen=True)
class MetricDef:
    """One metric: its name in a case's ``metrics``, unit and meaning; ``better`` is
    ``"lower"``, ``"higher"`` or ``""`` (neither); ``kind`` ``deterministic`` or
    ``timing``; ``source`` the kernel counter it mirrors; ``group`` one of
    :data:`GROUPS` (where tables list it)."""

    name: str
    unit: str
    meaning: str
    better: str = ""
    kind: str = "deterministic"
    source: str = ""
    group: str = "counters"


def _in(group: str, defs: Iterable[MetricDef]) -> tuple[MetricDef, ...]:
    return tuple(replace(d, group=group) for d in defs)


COUNTER_METRICS: tuple[MetricDef, ...] = (
    MetricDef("stored_pages", "pages", "pages stored now, same-filled included",
              source="zram pages_stored (orig_data_size / 4096); zswap stored_pages"),
    MetricDef("same_filled_pages", "pages", "stored pages that were same-filled: no allocation",
              source="zram same_pages; zswap same_filled_pages"),
    MetricDef("huge_pages", "pages", "pages stored uncompressed because they compressed badly",
              source="zram huge_pages"),
    MetricDef("compressed_bytes", "bytes", "bytes handed to the allocator (huge pages count 4096)",
              source="zram compr_data_size"),
    MetricDef("object_bytes", "bytes", "sum of the sizes passed to malloc for live objects"),
    MetricDef("pool_pages", "pages", "page frames the allocator holds", "lower",
              source="zs_get_total_pages; zram mem_used_total/4096; zswap pool_total_size/4096"),
    MetricDef("mem_used_max_pages", "pages", "peak of pool_pages during the workload", "lower",
              source="zram mem_used_max / 4096"),
    MetricDef("effective_ratio", "x", "original bytes of stored pages / pool bytes", "higher"),
    MetricDef("compression_ratio", "x", "original bytes of compressed pages / compressed bytes",
              "higher"),
    MetricDef("allocator_efficiency", "%", "compressed bytes / pool bytes", "higher"),
    MetricDef("internal_fragmentation_bytes", "bytes",
              "slot bytes of live objects minus their sizes (class rounding, headers)", "lower"),
    MetricDef("external_fragmentation_bytes", "bytes",
              "pool bytes not in any live object's slot (free slots, tail waste)", "lower"),
    MetricDef("pages_compacted", "pages", "pages freed by compaction during the workload", "",
              source="zsmalloc pages_compacted (zram mm_stat column 7)"),
    MetricDef("objs_moved", "objects", "objects compaction moved (zsmalloc zs_compact; z3fold "
              "in-page and inter-page compaction)", "lower"),
    MetricDef("frames_allocated", "pages", "page frames allocated over the whole workload"),
    MetricDef("frames_freed", "pages", "page frames freed over the whole workload"),
    MetricDef("operations", "ops", "store, load and invalidate operations run"),
    MetricDef("slot_bytes", "bytes", "bytes of the slots live objects occupy (headers, padding)"),
    MetricDef("huge_pages_since", "pages", "huge pages stored since the start",
              source="zram huge_pages_since"),
)

WORK_METRICS: tuple[MetricDef, ...] = _in("work", (
    MetricDef("verified_loads", "loads", "loads checked byte for byte against the original page"),
    # -- cost counters: what the allocator model did, counted exactly -----------------
    MetricDef("bytes_written", "bytes", "object bytes copied into the pool by write (store)"),
    MetricDef("bytes_read", "bytes", "object bytes copied out of the pool by read (load)"),
    MetricDef("bytes_moved", "bytes", "bytes copied inside the pool by compaction (zsmalloc "
              "slots, z3fold buddies)", "lower"),
    MetricDef("bytes_copied", "bytes", "bytes_written + bytes_read + bytes_moved", "lower"),
    MetricDef("page_crossing_copies", "copies", "copies split over two pages (a zsmalloc slot "
              "that straddles a page boundary; two-page map)", "lower"),
    MetricDef("list_ops", "ops", "insertions into and removals from the allocator's lists "
              "(fullness, unbuddied, buddied, LRU)", "lower"),
    *(MetricDef(f"{name}_per_op", f"{unit}/op", f"{name} / operations", better)
      for name, unit, better in COST_PER_OP),
))

#: pyperf, per page; not deterministic.
TIMING_METRICS: tuple[MetricDef, ...] = _in("timing", (
    *(MetricDef(f"{op}_{stat}_ns", "ns", f"{what} {text}", better, kind="timing")
      for op, what in (("store", "store path (same-filled check, compress, malloc, copy in)"),
                       ("load", "load path (map, copy out, decompress)"))
      for stat, text, better in (
          ("mean", "per page: pyperf mean over all values", "lower"),
          ("std", "per page: pyperf standard deviation", ""),
          ("p50", "per operation: median of the per-operation histogram", "lower"),
          ("p90", "per operation: 90th percentile", "lower"),
          ("p99", "per operation: 99th percentile", "lower"))),
    MetricDef("store_compressor_share_pct", "%", "share of the store path spent in compress",
              kind="timing"),
    MetricDef("load_compressor_share_pct", "%", "share of the load path spent in decompress",
              kind="timing"),
))

#: Migratability: the ``migrate`` workload's experiments (zbench/sim/experiments.py,
#: docs/migration.md).  Per-page figures are over the pages that migrated.
MIGRATION_METRICS: tuple[MetricDef, ...] = _in("migration", (
    MetricDef("zone_pageblocks", "pageblocks",
              "pageblocks of 512 frames in the simulated zone when evacuation began"),
    MetricDef("pageblocks_mixed", "pageblocks",
              "pageblocks holding frames of more than one mobility when evacuation began", "lower"),
    MetricDef("frame_fallbacks", "pages", "allocations placed in a pageblock of another "
              "migratetype (fallbacks[])", "lower", source="mm/page_alloc.c __rmqueue_fallback"),
    MetricDef("pageblock_steals", "pageblocks",
              "pageblocks that changed migratetype to serve an allocation",
              source="set_pageblock_migratetype"),
    MetricDef("anon_pages", "pages", "the workload's resident anonymous pages at the end"),
    MetricDef("migrate_attempts", "pages", "pool pages the unloaded migration pass tried"),
    MetricDef("migrate_succeeded", "pages", "pool pages it migrated"),
    MetricDef("migrate_success_pct", "%", "pool pages migrated, nothing mapped", "higher"),
    MetricDef("migrate_objects", "objects", "objects with bytes in the migrated pages"),
    MetricDef("migrate_bytes_copied", "bytes", "bytes copied by the unloaded migration pass"),
    MetricDef("migrate_handle_updates", "updates",
              "allocator-owned references rewritten (handle slots, objs, radix slots)"),
    MetricDef("migrate_index_updates", "updates",
              "front-end index entries rewritten (zswap tree, address_space slots)"),
    MetricDef("migrate_reverse_lookups", "lookups",
              "look-ups from a page to the references naming its objects"),
    MetricDef("migrate_objects_per_page", "objects", "objects moved per migrated page"),
    MetricDef("migrate_bytes_per_page", "bytes", "bytes copied per migrated page", "lower"),
    MetricDef("migrate_updates_per_page", "updates",
              "handle + index updates per migrated page", "lower"),
    MetricDef("migrate_reverse_lookups_per_page", "lookups",
              "reverse look-ups per migrated page", "lower"),
    MetricDef("load_mapped_objects", "objects", "objects mapped (in-flight loads) during the "
              "loaded migration pass"),
    MetricDef("load_attempts", "pages", "pool pages the loaded migration pass tried"),
    MetricDef("load_succeeded", "pages", "pool pages it migrated"),
    MetricDef("load_success_pct", "%", "pool pages migrated with objects mapped", "higher"),
    MetricDef("load_waited", "pages", "migrations that first waited for a mapping to end",
              "lower"),
    MetricDef("evac_pageblocks", "pageblocks", "pageblocks holding pages when evacuation began"),
    MetricDef("evac_emptied", "pageblocks", "pageblocks evacuation emptied"),
    MetricDef("evac_emptied_pct", "%", "pageblocks emptied, of those holding pages", "higher",
              source="alloc_contig_range (CMA, gigantic pages)"),
    MetricDef("evac_pool_pageblocks", "pageblocks", "pageblocks holding pool pages"),
    MetricDef("evac_pool_emptied_pct", "%", "pageblocks holding pool pages that were emptied",
              "higher"),
    MetricDef("evac_pinned_frames", "pages", "pool pages that refused isolation and pinned "
              "their pageblock", "lower", source="has_unmovable_pages"),
    MetricDef("evac_migrated_pages", "pages", "pages evacuation migrated"),
    MetricDef("compact_pages_freed", "pages", "pool pages freed by compaction, cumulative "
              "(z3fold: inter-page moves)"),
    MetricDef("compact_pages_per_mib", "pages/MiB",
              "pool pages freed by compaction per MiB it moved", "higher"),
    MetricDef("pages_migrated", "pages", "pool pages the allocator migrated, cumulative"),
    MetricDef("reclaim_scanned", "pages", "pool pages taken off the inactive list"),
    MetricDef("reclaim_pages", "pages", "pool pages reclaimed through the LRU (writepage)"),
    MetricDef("reclaim_written_back", "pages", "swap pages written back by that reclaim"),
    MetricDef("reclaim_decompressed", "objects", "objects decompressed by that reclaim"),
    MetricDef("reclaim_written_back_per_page", "pages",
              "swap pages written back per reclaimed pool page"),
    MetricDef("reclaim_decompressed_per_page", "objects",
              "objects decompressed per reclaimed pool page", "lower"),
))

#: The core's metrics, in table order.
METRICS: tuple[MetricDef, ...] = (
    COUNTER_METRICS + WORK_METRICS + TIMING_METRICS + MIGRATION_METRICS)

BY_NAME: dict[str, MetricDef] = {m.name: m for m in METRICS}

#: cost counters a read changes; ``--verify``'s own reads are taken out of them
READ_COSTS = ("bytes_read", "bytes_copied", "page_crossing_copies")


def merged(extra: Iterable[MetricDef]) -> tuple[MetricDef, ...]:
    """The core's metrics and ``extra`` (the plugins'), group by group in :data:`GROUPS`
    order: within a group the core's first, then ``extra`` in its own order."""
    extra = tuple(extra)
    return tuple(d for group in GROUPS
                 for d in (*(m for m in METRICS if m.group == group),
                           *(m for m in extra if m.group == group)))


def read_costs(stats: dict[str, float | int]) -> dict[str, int]:
    """The :data:`READ_COSTS` present in an allocator's ``stats()``."""
    return {k: int(stats[k]) for k in READ_COSTS if k in stats}


def describe(name: str, defs: Iterable[MetricDef] = METRICS) -> MetricDef | None:
    """The definition of ``name`` among ``defs`` (default: the core's)."""
    return next((d for d in defs if d.name == name), None)


def derive(m: Mapping[str, Any], page_size: int) -> dict[str, float | int]:
    """Metrics computed from the raw counters (ratios and fragmentation); ``m`` holds
    numbers (``pool_pages``, ``stored_pages``, ... present), ``None`` where not measured."""
    pool_bytes = m["pool_pages"] * page_size
    compressed_pages = m["stored_pages"] - m["same_filled_pages"]
    out: dict[str, float | int] = {
        "effective_ratio": round(m["stored_pages"] * page_size / pool_bytes, 4)
        if pool_bytes else 0.0,
        "compression_ratio": round(compressed_pages * page_size / m["compressed_bytes"], 4)
        if m["compressed_bytes"] else 0.0,
        "allocator_efficiency": round(100.0 * m["compressed_bytes"] / pool_bytes, 3)
        if pool_bytes else 0.0,
    }
    if m.get("slot_bytes") is not None:
        out["internal_fragmentation_bytes"] = m["slot_bytes"] - m["object_bytes"]
        out["external_fragmentation_bytes"] = pool_bytes - m["slot_bytes"]
    ops = m.get("operations") or 0
    for name, _unit, _better in COST_PER_OP:
        value = m.get(name)
        if ops and value is not None:
            out[f"{name}_per_op"] = round(value / ops, 4)
    return out


def markdown_table(defs: Iterable[MetricDef] = METRICS) -> str:
    """The metric reference as a Markdown table (docs/metrics.md, report.md): ``defs``,
    by default the core's (a report passes the installed plugins' too)."""
    rows = ["| metric | unit | meaning | better | kind | kernel counter |",
            "|---|---|---|---|---|---|"]
    for d in defs:
        rows.append(f"| `{d.name}` | {d.unit} | {d.meaning} | {d.better or '—'} | {d.kind} | "
                    f"{d.source or '—'} |")
    return "\n".join(rows) + "\n"
