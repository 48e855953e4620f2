"""The zram front end (drivers/block/zram/zram_drv.c) driving an allocator.

* :mod:`.frontend` - the front end ``zram``: write, read, discard;
* :mod:`.recompress` - secondary algorithms and the ``recompress`` pass (6.2+);
* :mod:`.writeback` - ``mem_limit``, the backing device, idle marking and writeback;
* :mod:`.metrics` - definitions of the metrics only configured features report;
* :mod:`.sizedbatch` - the write path over a sizes-only batch on the allocator's native
  engine (in C, ``_native.c``, over an engine with a C face; else in Python).
"""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl
from zbench_zram.frontend import Zram
from zbench_zram.metrics import METRICS


@hookimpl
def register_frontends(register: Callable[[type], None]) -> None:
    register(Zram)


@hookimpl
def register_metrics(register: Callable[[object], None]) -> None:
    for d in METRICS:
        register(d)
