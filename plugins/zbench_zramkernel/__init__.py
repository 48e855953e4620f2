"""Drive the running kernel's zram (drivers/block/zram) as an oracle for the models.

Only :mod:`zbench_zramkernel.device` lives here for now; it creates its own zram
device through ``/sys/class/zram-control/hot_add`` and always removes it again.
Nothing is registered with zbench's plugin manager.
"""

from __future__ import annotations

from .device import (
    PAGE_SIZE,
    MmStat,
    PageRecord,
    ZramDevice,
    ZramError,
    kernel_rules,
    leftover_devices,
    offered_algorithms,
    parse_mm_stat,
    zram_available,
)

__all__ = [
    "PAGE_SIZE",
    "MmStat",
    "PageRecord",
    "ZramDevice",
    "ZramError",
    "kernel_rules",
    "leftover_devices",
    "offered_algorithms",
    "parse_mm_stat",
    "zram_available",
]
