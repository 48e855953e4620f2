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
