"""The real kernel as a suite allocator: ``zram-kernel``.

``allocators: [zsmalloc, zram-kernel]`` runs the same workload once through
the models and once through a zram device of our own (the running kernel's
zram and zsmalloc).  The allocator brings its own front end, also named
``zram-kernel``, which writes each page to the device with O_DIRECT, reads it
back on a load, discards it with BLKDISCARD and compacts through sysfs; its
metrics are the device's ``mm_stat``.  Where zram or root is missing the case
is skipped with the reason.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from zbench import (
    PAGE_SIZE,
    Allocator,
    CaseSkipped,
    Compressor,
    FrontEnd,
    Metrics,
    Page,
    PageFrames,
    PluginOptions,
)

from .device import ZramDevice
from .host import kernel_rules, offered_algorithms, zram_available


class ZramKernelPool(Allocator):
    """The running kernel's zsmalloc, behind zram: it is driven only by its front end."""

    name = "zram-kernel"
    description = "the running kernel's zram + zsmalloc (root and zram needed)"
    frontend = "zram-kernel"
    #: not timed by ``zbench run`` (docs/timing.md): a pass would be a new zram device
    timeable = False

    def __init__(self, options: PluginOptions, frames: PageFrames) -> None:
        super().__init__(options, frames)
        self.device: ZramDevice | None = None

    @property
    def kernel(self) -> str:
        r = kernel_rules()
        return f"{r['kernel_release']} (the running kernel, chain {r['chain_size']})"

    def _refuse(self) -> Any:
        raise NotImplementedError("zram-kernel is driven by its own front end, not by objects")

    def malloc(self, size: int) -> int:
        return self._refuse()  # type: ignore[no-any-return]

    def free(self, handle: int) -> None:
        self._refuse()

    def write(self, handle: int, data: bytes) -> None:
        self._refuse()

    def read(self, handle: int) -> bytes:
        return self._refuse()  # type: ignore[no-any-return]

    def max_size(self) -> int:
        return PAGE_SIZE

    def huge_class_size(self) -> int | None:
        return None

    def pool_pages(self) -> int:
        if self.device is None or not self.device.is_live:
            return 0
        return self.device.mm_stat()["mem_used_total"] // PAGE_SIZE

    def slot_bytes(self) -> int | None:
        return None  # zsmalloc does not expose it (classes debugfs needs CONFIG_ZSMALLOC_STAT)


class ZramKernelOptions(PluginOptions):
    disksize_mb: int = Field(4096, ge=1, le=1 << 20,
                             description="device size; offsets must fit (16 B/page of table)")


class ZramKernel(FrontEnd):
    """A zram device of our own, fed page by page."""

    name = "zram-kernel"
    description = "the running kernel's zram (a device zbench creates and removes)"
    Options = ZramKernelOptions

    def __init__(self, options: ZramKernelOptions, allocator: Allocator,
                 compressor: Compressor) -> None:
        super().__init__(options, allocator, compressor)
        algorithm = getattr(compressor.options, "algorithm", compressor.name)
        reason = zram_available()
        if reason is None and algorithm not in offered_algorithms():
            reason = (f"the kernel's zram offers {' '.join(offered_algorithms())}, "
                      f"not {algorithm}")
        if reason is not None:
            raise CaseSkipped(reason)
        self.algorithm = algorithm
        self.device = ZramDevice(algorithm, options.disksize_mb << 20)
        self.device.open()
        if isinstance(allocator, ZramKernelPool):
            allocator.device = self.device
        self._stored: set[int] = set()

    @classmethod
    def supports(cls, allocator: Allocator) -> str | None:
        if not isinstance(allocator, ZramKernelPool):
            return "zram-kernel drives only the zram-kernel allocator"
        return zram_available()

    @property
    def kernel(self) -> str:
        return f"{kernel_rules()['kernel_release']} drivers/block/zram (real device, " \
               f"{self.algorithm})"

    @property
    def simplifications(self) -> str:
        return "none: this is the kernel; per-object layout is not visible from user space"

    def store(self, offset: int, page: Page) -> None:
        self.device.write_page(offset, page.data)
        self._stored.add(offset)

    def load(self, offset: int) -> bytes | None:
        return self.device.read_page(offset) if offset in self._stored else None

    def invalidate(self, offset: int) -> None:
        if offset in self._stored:
            self.device.discard([offset])
            self._stored.discard(offset)

    def offsets(self) -> list[int]:
        return list(self._stored)

    def compact(self) -> int:
        before = self.device.mm_stat()["pages_compacted"]
        self.device.compact()
        return self.device.mm_stat()["pages_compacted"] - before

    def metrics(self) -> Metrics:
        s = self.device.mm_stat()
        return {
            "stored_pages": s["orig_data_size"] // PAGE_SIZE,
            "same_filled_pages": s["same_pages"],
            "huge_pages": s["huge_pages"],
            "huge_pages_since": s["huge_pages_since"],
            "compressed_bytes": s["compr_data_size"],
            "object_bytes": s["compr_data_size"],
            "pool_pages": s["mem_used_total"] // PAGE_SIZE,
            "mem_used_max_pages": s["mem_used_max"] // PAGE_SIZE,
        }

    def close(self) -> None:
        self.device.close()
