"""zram's write/read/discard path as ``zram_write_page`` / ``zram_read_page`` do it.

Rules (drivers/block/zram/zram_drv.c; Documentation/admin-guide/blockdev/zram.rst):

* same-filled pages (every ``unsigned long`` equal) take no allocation; before
  4.11 only zero-filled pages did (``page_zero_filled``);
* a page compressing to ``huge_class_size`` or more (4.17+,
  ``zs_huge_class_size()``), or to more than ``max_zpage_size`` = 3072 bytes
  before, is stored uncompressed, ``PAGE_SIZE`` bytes, counted in ``huge_pages``;
* a write over a slot that holds a page frees the old object first;
* ``compr_data_size`` counts the stored length (huge = 4096).

Simplified: no writeback device, no recompression, no idle tracking, no
``mem_limit``.
"""

from __future__ import annotations

from pydantic import Field

from zbench import (
    PAGE_SIZE,
    Allocator,
    Compressor,
    FrontEnd,
    KernelVersion,
    Metrics,
    Page,
    PluginOptions,
    same_filled_word,
)

MAX_ZPAGE_SIZE_OLD = PAGE_SIZE // 4 * 3  # 3072, the cut-off before 4.17


class ZramOptions(PluginOptions):
    kernel: KernelVersion = Field(
        KernelVersion("6.18"), description="kernel whose zram rules apply"
    )


class _Slot:
    __slots__ = ("handle", "size", "same", "huge")

    def __init__(self, handle: int, size: int, same: int | None, huge: bool) -> None:
        self.handle = handle
        self.size = size
        self.same = same
        self.huge = huge


class Zram(FrontEnd):
    name = "zram"
    description = "zram block-device rules (same-filled, huge pages) over zsmalloc"
    Options = ZramOptions
    #: the front end of a suite without ``frontends:`` (zram drives zsmalloc's own API)
    default_frontend = True

    def __init__(self, options: ZramOptions, allocator: Allocator, compressor: Compressor) -> None:
        super().__init__(options, allocator, compressor)
        k = options.kernel
        self._same_any = k >= "4.11"  # "zram: extend zero pages to same element pages"
        huge = allocator.huge_class_size()
        self._huge_min = (
            huge if k >= "4.17" and huge is not None else MAX_ZPAGE_SIZE_OLD + 1
        )
        self._table: dict[int, _Slot] = {}
        self.pages_stored = 0
        self.same_pages = 0
        self.huge_pages = 0
        self.huge_pages_since = 0
        self.compr_data_size = 0
        self.object_bytes = 0
        self.mem_used_max = 0

    @classmethod
    def supports(cls, allocator: Allocator) -> str | None:
        if not allocator.zram_pool or allocator.huge_class_size() is None:
            return "zram drives zsmalloc (drivers/block/zram/zram_drv.c calls the zs_* API)"
        return None

    @property
    def kernel(self) -> str:
        return f"{self.options.kernel} drivers/block/zram/zram_drv.c"  # type: ignore[attr-defined]

    @property
    def simplifications(self) -> str:
        return ("no writeback device, recompression, idle tracking or mem_limit; "
                "one slot table, no locking")

    def store(self, offset: int, page: Page) -> None:
        if page.clean and offset in self._table:
            return  # a clean swap-cache page whose slot is still valid is not written again
        if offset in self._table:
            self._free_slot(offset)
        data = page.data
        word = same_filled_word(data)
        if word is not None and (word == 0 or self._same_any):
            self._table[offset] = _Slot(0, 0, word, False)
            self.same_pages += 1
            self.pages_stored += 1
            return
        comp = page.compressed
        huge = len(comp) >= self._huge_min
        if huge:
            comp = data
        size = len(comp)
        handle = self.allocator.malloc(size)
        self.allocator.write(handle, comp)
        self._table[offset] = _Slot(handle, size, None, huge)
        self.compr_data_size += size
        self.object_bytes += size
        self.pages_stored += 1
        if huge:
            self.huge_pages += 1
            self.huge_pages_since += 1
        used = self.allocator.pool_pages()
        if used > self.mem_used_max:
            self.mem_used_max = used

    def load(self, offset: int) -> bytes | None:
        slot = self._table.get(offset)
        if slot is None:
            return None
        if slot.same is not None:
            return slot.same.to_bytes(8, "little") * (PAGE_SIZE // 8)
        raw = self.allocator.read(slot.handle)
        if slot.huge:
            return raw
        return self.compressor.decompress(raw, PAGE_SIZE)

    def invalidate(self, offset: int) -> None:
        if offset in self._table:
            self._free_slot(offset)

    def _free_slot(self, offset: int) -> None:
        slot = self._table.pop(offset)
        self.pages_stored -= 1
        if slot.same is not None:
            self.same_pages -= 1
            return
        self.allocator.free(slot.handle)
        self.compr_data_size -= slot.size
        self.object_bytes -= slot.size
        if slot.huge:
            self.huge_pages -= 1

    def offsets(self) -> list[int]:
        return list(self._table)

    def handle_of(self, offset: int) -> int | None:
        slot = self._table.get(offset)
        return None if slot is None or slot.same is not None else slot.handle

    def metrics(self) -> Metrics:
        return {
            "stored_pages": self.pages_stored,
            "same_filled_pages": self.same_pages,
            "huge_pages": self.huge_pages,
            "huge_pages_since": self.huge_pages_since,
            "compressed_bytes": self.compr_data_size,
            "object_bytes": self.object_bytes,
            "mem_used_max_pages": self.mem_used_max,
        }
