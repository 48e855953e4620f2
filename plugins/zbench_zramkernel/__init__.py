"""The running kernel as an oracle: a zram device of our own, fed the same pages.

Registers the allocator and front end ``zram-kernel``, the compressor
``kernel`` (the kernel's own per-page sizes), the workload ``fill-discard``
and the command ``zbench validate``.  Every device is created through
``/sys/class/zram-control/hot_add`` and always removed (:mod:`.device`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zbench import hookimpl

from .device import PAGE_SIZE, MmStat, PageRecord, ZramDevice, ZramError, leftover_devices
from .discard import FillDiscard
from .host import kernel_rules, offered_algorithms, zram_available
from .kernelsizes import KernelSizes
from .oracle import ZramKernel, ZramKernelPool

__all__ = [
    "PAGE_SIZE",
    "MmStat",
    "PageRecord",
    "ZramDevice",
    "ZramError",
    "kernel_rules",
    "leftover_devices",
    "offered_algorithms",
    "zram_available",
]


@hookimpl
def register_allocators(register: Callable[[type], None]) -> None:
    register(ZramKernelPool)


@hookimpl
def register_frontends(register: Callable[[type], None]) -> None:
    register(ZramKernel)


@hookimpl
def register_compressors(register: Callable[[type], None]) -> None:
    register(KernelSizes)


@hookimpl
def register_workloads(register: Callable[[type], None]) -> None:
    register(FillDiscard)


@hookimpl
def register_commands(cli: Any) -> None:
    from .validate import validate_cmd

    cli.add_command(validate_cmd)
