"""Definitions of the metrics the zram front end reports only when recompression is
configured (``recomp_algorithms`` / ``recompress``, Linux 6.2+), for ``zbench metrics``,
``zbench compare`` and the reports.

mm_stat has no recompression field (its nine columns end with ``huge_pages`` and
``huge_pages_since``); the per-slot state is in debugfs ``block_state``, whose ``r``
column marks a slot compressed by a secondary algorithm (``zram_get_priority``) and
``n`` one marked ``ZRAM_INCOMPRESSIBLE``: those two are counted here.
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
)
