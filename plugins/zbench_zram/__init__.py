"""The zram front end (drivers/block/zram/zram_drv.c) driving an allocator."""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl
from zbench_zram.frontend import Zram


@hookimpl
def register_frontends(register: Callable[[type], None]) -> None:
    register(Zram)
