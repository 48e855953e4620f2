"""Real kernels as zbench backends: user-mode Linux 6.1 and 6.12.

``zbench kernel build`` builds a UML kernel from Debian's ``linux-source``
package with zbud, z3fold, zsmalloc, zswap and zram and zbench's in-kernel
driver (``driver/zbench_drv.c``); the allocator ``kernel-uml`` runs the
operations of any case on the real allocator code in that kernel; ``zbench
kernel validate`` sets every model beside the real code.  See docs/kernel.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zbench import hookimpl

from .allocator import KernelUml
from .reporter import KernelLatency


@hookimpl
def register_allocators(register: Callable[[type], None]) -> None:
    register(KernelUml)


@hookimpl
def register_reporters(register: Callable[[type], None]) -> None:
    register(KernelLatency)


@hookimpl
def register_commands(cli: Any) -> None:
    from .cli import kernel_group

    cli.add_command(kernel_group)
