"""zswap's counters in the reports: their metric definitions and the zswap counters table.

The debugfs counters of mm/zswap.c (``/sys/kernel/debug/zswap``) that
:class:`~.frontend.Zswap` reports, described for ``zbench metrics`` and
``zbench compare`` (registered by ``register_metrics``), and shown by
:class:`ZswapCounters` for every case that ran behind zswap, with the pages zswap
rejected or wrote back under the allocators side by side where they differ.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tabulate import tabulate

from zbench import MetricDef, ReportTable, SideRow

from .frontend import Zswap

#: zswap's counters (debugfs names) and the swap layer's figures around it.
METRICS: tuple[MetricDef, ...] = (
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
)

#: (metric, column header) of the zswap counters table.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("stored_pages", "stored"),
    ("same_filled_pages", "same"),
    ("pool_total_size", "pool KiB"),
    ("pool_limit_hit", "limit hit"),
    ("written_back_pages", "written back"),
    ("reject_compress_poor", "rej poor"),
    ("reject_alloc_fail", "rej alloc"),
    ("reject_reclaim_fail", "rej reclaim"),
    ("duplicate_entry", "dup"),
    ("stored_incompressible_pages", "raw"),
)
#: zswap's ``reject_*`` counters: every way a store can be refused.
REJECTED = ("reject_compress_poor", "reject_alloc_fail", "reject_reclaim_fail",
            "reject_kmemcache_fail", "reject_compress_fail")
MISSING = "the counter does not exist in that kernel version"


def _cell(metric: str, value: Any) -> Any:
    if value is None:
        return "—"
    return f"{value / 1024:.0f}" if metric == "pool_total_size" else value


def counter_rows(results: dict[str, Any]) -> list[list[Any]]:
    """One row per case that ran behind zswap: its labels, then :data:`COLUMNS`."""
    rows = []
    for c in results["cases"]:
        if c["frontend"]["name"] != Zswap.name or c.get("skipped") or c.get("failed"):
            continue
        m = c["metrics"]
        rows.append([c["allocator"]["label"], c["frontend"]["label"], c["compressor"]["label"],
                     c["workload"]["label"], *(_cell(k, m.get(k)) for k, _ in COLUMNS)])
    return rows


class ZswapCounters(ReportTable):
    """The zswap debugfs counters of every case that ran under zswap."""

    name = "zswap-counters"
    title = "zswap counters"
    keys = 4
    columns = COLUMNS
    legend_extra: ClassVar[tuple[tuple[str, str], ...]] = (("—", MISSING),)
    side_rows: ClassVar[tuple[SideRow, ...]] = (
        SideRow("rejected", REJECTED, "that zswap rejected"),
        SideRow("written back", ("written_back_pages",), "that it wrote back"),
    )

    @classmethod
    def render(cls, results: dict[str, Any], fmt: str) -> tuple[str, str] | None:
        rows = counter_rows(results)
        if not rows:
            return None
        headers = ["allocator", "front end", "compressor", "workload", *(h for _, h in COLUMNS)]
        table = tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)
        return table, f"`—`: {MISSING}."
