"""Every metric zbench reports, described once.

The results file, the tables, ``report.md``, ``zbench metrics`` and
docs/metrics.md all read this table, so they cannot disagree.  Names follow
the kernel's counters where it has one (zram ``mm_stat``, zswap debugfs,
zsmalloc ``classes``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricDef:
    name: str
    unit: str
    meaning: str
    better: str = ""  # "lower", "higher" or "" (neither)
    kind: str = "deterministic"  # or "timing"
    source: str = ""  # kernel counter it mirrors


METRICS: tuple[MetricDef, ...] = (
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
    MetricDef("objs_moved", "objects", "objects compaction moved", "lower"),
    MetricDef("frames_allocated", "pages", "page frames allocated over the whole workload"),
    MetricDef("frames_freed", "pages", "page frames freed over the whole workload"),
    MetricDef("operations", "ops", "store, load and invalidate operations run"),
    MetricDef("slot_bytes", "bytes", "bytes of the slots live objects occupy (headers, padding)"),
    MetricDef("huge_pages_since", "pages", "huge pages stored since the start",
              source="zram huge_pages_since"),
    MetricDef("pool_total_size", "bytes", "zswap pool size", "lower",
              source="zswap pool_total_size"),
    MetricDef("pool_limit_hit", "stores", "stores that found the pool over max_pool_percent",
              source="zswap pool_limit_hit"),
    MetricDef("reject_reclaim_fail", "events", "writebacks that could not make room",
              source="zswap reject_reclaim_fail"),
    MetricDef("reject_alloc_fail", "stores", "stores the allocator refused (not -ENOSPC)",
              source="zswap reject_alloc_fail"),
    MetricDef("reject_kmemcache_fail", "stores", "entry allocation failures (never here)",
              source="zswap reject_kmemcache_fail"),
    MetricDef("reject_compress_poor", "stores", "stores refused: compressed too big (-ENOSPC)",
              source="zswap reject_compress_poor"),
    MetricDef("reject_compress_fail", "stores", "compressor errors (6.6+)",
              source="zswap reject_compress_fail"),
    MetricDef("written_back_pages", "pages", "entries written back to the swap device",
              source="zswap written_back_pages"),
    MetricDef("duplicate_entry", "stores", "stores to an offset zswap already held (<= 6.8)",
              source="zswap duplicate_entry"),
    MetricDef("stored_incompressible_pages", "pages", "pages stored raw (6.18+)",
              source="zswap stored_incompressible_pages"),
    MetricDef("swap_device_pages", "pages",
              "pages on the simulated swap device (rejected or written back)"),
    MetricDef("zeromap_pages", "pages", "zero pages the swap layer kept out of zswap (6.12+)",
              source="swap zeromap"),
    MetricDef("verified_loads", "loads", "loads checked byte for byte against the original page"),
)

BY_NAME: dict[str, MetricDef] = {m.name: m for m in METRICS}


def describe(name: str) -> MetricDef | None:
    return BY_NAME.get(name)


def derive(m: dict[str, float | int | None], page_size: int) -> dict[str, float | int]:
    """Metrics computed from the raw counters (ratios and fragmentation)."""
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
    return out


def markdown_table() -> str:
    """The metric reference as a Markdown table (docs/metrics.md, report.md)."""
    rows = ["| metric | unit | meaning | better | kernel counter |", "|---|---|---|---|---|"]
    for d in METRICS:
        rows.append(f"| `{d.name}` | {d.unit} | {d.meaning} | {d.better or '—'} | "
                    f"{d.source or '—'} |")
    return "\n".join(rows) + "\n"
