"""Definitions of the metrics the zram front end reports only when a feature is
configured (recompression, 6.2+; ``mem_limit``; ``backing_dev``; ``mark_idle``), for
``zbench metrics``, ``zbench compare`` and the reports.

mm_stat has no recompression field (its nine columns end with ``huge_pages`` and
``huge_pages_since``); the per-slot state is in debugfs ``block_state``, whose ``r``
column marks a slot compressed by a secondary algorithm (``zram_get_priority``) and
``n`` one marked ``ZRAM_INCOMPRESSIBLE``: those two are counted here, and ``i``
(``ZRAM_IDLE``).  bd_stat's columns are in 4 K units (``FOUR_K``): pages here, with
4 K pages.
"""

from __future__ import annotations

from zbench import MetricDef

#: the recompression figures, under block_state's flags where the kernel has them
METRICS: tuple[MetricDef, ...] = (
    MetricDef("recompressed_pages", "pages",
              "slots whose object a secondary algorithm compressed (priority > 0)",
              source="zram block_state r"),
    MetricDef("incompressible_pages", "pages",
              "slots no secondary algorithm could move to a smaller size class",
              source="zram block_state n (ZRAM_INCOMPRESSIBLE)"),
    MetricDef("recompress_attempts", "pages",
              "slots recompress_slot decompressed and tried to recompress"),
    MetricDef("huge_pages_before_recompress", "pages",
              "huge_pages when the recompress pass started", source="zram huge_pages"),
    MetricDef("compressed_bytes_before_recompress", "bytes",
              "compr_data_size when the recompress pass started",
              source="zram compr_data_size"),
    MetricDef("pool_pages_before_recompress", "pages",
              "pool pages when the recompress pass started", "lower",
              source="zs_get_total_pages"),
    MetricDef("failed_writes", "pages",
              "writes refused (-ENOMEM: over mem_limit); the old slot content stayed",
              "lower", source="zram io_stat failed_writes"),
    MetricDef("mem_limit_pages", "pages", "the device's memory limit (0: none)",
              source="zram mm_stat mem_limit (limit_pages)"),
    MetricDef("bd_count_pages", "pages", "backing-device blocks holding a written-back page",
              source="zram bd_stat bd_count"),
    MetricDef("bd_reads_pages", "pages", "pages read back from the backing device",
              source="zram bd_stat bd_reads"),
    MetricDef("bd_writes_pages", "pages", "pages written to the backing device",
              source="zram bd_stat bd_writes"),
    MetricDef("idle_pages", "pages", "slots marked ZRAM_IDLE and not accessed since",
              source="zram block_state i (ZRAM_IDLE)"),
)
