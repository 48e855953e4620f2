"""zram's backing device, idle marking, writeback and ``mem_limit`` (options and rules).

Rules (drivers/block/zram/zram_drv.c of 6.12; Documentation/admin-guide/blockdev/zram.rst
"writeback", "memory limit"), with the release each one came in:

* ``mem_limit`` (3.18, "zram: zram memory size limitation"): ``mem_limit_store`` takes
  ``memparse`` text (``4M``), ``limit_pages = PAGE_ALIGN(limit) >> PAGE_SHIFT``, 0 = none.
  ``zram_write_page`` checks ``zs_get_total_pages() > limit_pages`` after ``zs_malloc`` of
  the new object and *before* ``zram_free_page`` of the old one (``update_used_max`` runs
  first, so ``mem_used_max`` may pass the limit); over it the new object is freed and the
  write fails with -ENOMEM: the old slot stays, ``zram_bio_write`` counts ``failed_writes``.
  A same-filled page allocates nothing and is never refused; a huge page is checked as any;
* ``backing_dev`` (4.14, "zram: add interface to specif backing device"): a bitmap of the
  device's blocks; ``alloc_block_bdev`` takes ``find_next_zero_bit`` from block 1 (block 0
  is never used: a handle of 0 means "none"), so N pages hold N - 1 written pages;
  ``bd_count`` counts the blocks in use.  4.14-4.19 wrote huge pages to it on every
  write ("zram: write incompressible pages to backing device"): not modelled, refused;
* ``idle`` (``echo all > idle``, 4.20, "zram: introduce ZRAM_IDLE flag"): ``mark_idle``
  sets ``ZRAM_IDLE`` on every allocated slot; 6.12 ("zram: do not mark idle slots that
  cannot be idle") skips ``ZRAM_SAME`` and ``ZRAM_WB`` slots.  A read or a write of the
  slot (``zram_accessed``) and ``zram_free_page`` clear it; 6.12 ("zram: clear IDLE flag
  after recompression") clears it on every slot ``zram_recompress`` reads;
* ``writeback`` (4.20, "zram: support idle/huge page writeback"; ``huge_idle`` 5.19, "zram:
  add a huge_idle writeback mode"; ``incompressible`` 6.2, "zram: add incompressible
  writeback"; ``writeback_limit`` with ``writeback_limit_enable`` 5.1, "zram: writeback
  throttle" / "zram: idle writeback fixes and cleanup"): ``writeback_store`` skips
  unallocated, ``ZRAM_WB``, ``ZRAM_SAME`` and ``ZRAM_UNDER_WB`` slots and those the type's
  flags (``ZRAM_IDLE``, ``ZRAM_HUGE``, ``ZRAM_INCOMPRESSIBLE``) exclude, in slot order
  (6.13+, "zram: rework writeback target selection strategy": ``zram_pp_ctl`` buckets of
  64 bytes of object size, largest first, as recompression); it stops at -EIO when the
  enabled limit is used up and at -ENOSPC when no block is free.  Each page is read from
  zsmalloc, written uncompressed to its block (``bd_writes``), ``zram_free_page`` frees
  the object (``huge_pages``, ``compr_data_size`` follow; ``pages_stored`` is given back)
  and the slot keeps ``ZRAM_WB`` and the block index; the limit drops by one 4 K page;
* a read of a ``ZRAM_WB`` slot is ``read_from_bdev`` (``bd_reads``; the slot stays on the
  device); a write or discard over it is ``zram_free_page`` -> ``free_block_bdev``.

Not modelled: ``ZRAM_UNDER_WB`` races (one thread), ``page_index=`` writeback,
``idle`` by age (``CONFIG_ZRAM_TRACK_ENTRY_ACTIME``: no access times, only ``all``),
retries of a failed write (the caller keeps the page, see ``Zram.store``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from zbench import PAGE_SIZE, KernelVersion, PluginOptions

MEM_LIMIT_SINCE = KernelVersion("3.18")
BACKING_DEV_SINCE = KernelVersion("4.14")
#: "zram: support idle/huge page writeback": the ``writeback`` knob, no write-time writeback
WRITEBACK_SINCE = KernelVersion("4.20")
IDLE_SINCE = KernelVersion("4.20")
WRITEBACK_LIMIT_SINCE = KernelVersion("5.1")
#: the release each writeback type came in
TYPE_SINCE = {"huge": WRITEBACK_SINCE, "idle": WRITEBACK_SINCE,
              "huge_idle": KernelVersion("5.19"), "incompressible": KernelVersion("6.2")}
#: "zram: do not mark idle slots that cannot be idle"
IDLE_SKIPS_SAME_WB_SINCE = KernelVersion("6.12")
#: "zram: clear IDLE flag after recompression"
RECOMPRESS_CLEARS_IDLE_SINCE = KernelVersion("6.12")
#: "zram: rework writeback target selection strategy" (zram_pp_ctl buckets)
WRITEBACK_PP_SINCE = KernelVersion("6.13")
PP_BUCKET_SIZE_RANGE = 64
_WHEN = r"^(end|phase:.+)$"
_MEMPARSE = re.compile(r"^\s*(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtTpPeE]?)\s*$")
_SHIFT = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}


def memparse(text: str) -> int:
    """``memparse`` (lib/cmdline.c): a C integer (``0x`` hex, leading-0 octal) with an
    optional K/M/G/T/P/E suffix.  Stricter than the kernel: trailing text is refused."""
    m = _MEMPARSE.match(text)
    if m is None:
        raise ValueError(f"mem_limit: {text!r} is not a size (bytes, or a number with "
                         "K, M or G as the sysfs knob takes)")
    digits = m.group(1)
    base = 16 if digits[:2].lower() == "0x" else 8 if digits.startswith("0") else 10
    return int(digits, base) << _SHIFT[m.group(2).lower()]


def limit_pages(limit: int | str, page_size: int = PAGE_SIZE) -> int:
    """``mem_limit_store``: ``PAGE_ALIGN(limit) >> PAGE_SHIFT``."""
    size = memparse(limit) if isinstance(limit, str) else limit
    if size < 0:
        raise ValueError(f"mem_limit: {size} is negative")
    return (size + page_size - 1) // page_size


class _When(PluginOptions):
    when: str = Field("end", pattern=_WHEN, description=(
        "end: once, after the workload; phase:LABEL: each time the workload ends the "
        "phase LABEL"))

    def at_phase(self, label: str) -> bool:
        return self.when == f"phase:{label}"


class BackingDevOptions(PluginOptions):
    """``echo /dev/X > backing_dev``: a simulated block device of ``pages`` pages."""

    pages: int = Field(ge=2, description="device size in pages (block 0 is never used)")


class MarkIdleOptions(_When):
    """``echo all > idle``."""


class WritebackOptions(_When):
    """``echo TYPE > writeback`` (with ``limit``: ``writeback_limit_enable`` = 1 and
    ``writeback_limit`` = limit, 4 K pages, shared by every pass)."""

    type: Literal["huge", "idle", "huge_idle", "incompressible"] = Field(
        description="slots to write back")
    limit: int | None = Field(None, ge=0, description="writeback_limit (4 K pages)")


def check_writeback(kernel: KernelVersion, mem_limit: int | str | None,
                    backing_dev: BackingDevOptions | None, mark_idle: MarkIdleOptions | None,
                    writeback: WritebackOptions | None) -> None:
    """One-line ValueErrors for options the kernel release has no knob for."""
    if mem_limit is not None:
        limit_pages(mem_limit)
        _since("mem_limit", MEM_LIMIT_SINCE, kernel)
    if backing_dev is not None:
        _since("backing_dev", BACKING_DEV_SINCE, kernel)
        if kernel < WRITEBACK_SINCE:
            raise ValueError(f"backing_dev is modelled from {WRITEBACK_SINCE} (4.14-4.19 "
                             f"wrote huge pages to it on every write) (kernel {kernel})")
    if mark_idle is not None:
        _since("mark_idle (idle)", IDLE_SINCE, kernel)
    if writeback is None:
        return
    _since(f"writeback type={writeback.type}", TYPE_SINCE[writeback.type], kernel)
    if writeback.limit is not None:
        _since("writeback limit (writeback_limit)", WRITEBACK_LIMIT_SINCE, kernel)
    if backing_dev is None:
        raise ValueError("writeback needs backing_dev (writeback_store: -ENODEV)")


def _since(option: str, since: KernelVersion, kernel: KernelVersion) -> None:
    if kernel < since:
        raise ValueError(f"zram {option} appeared in {since} (kernel {kernel})")


class BackingDevice:
    """The backing device's bitmap, its blocks' contents (the pages written, so loads
    come back exact) and bd_stat's three counters."""

    def __init__(self, pages: int) -> None:
        self.nr_pages = pages
        self.blocks: dict[int, bytes] = {}  # set bits of zram->bitmap -> page written
        self.bd_count = self.bd_reads = self.bd_writes = 0
        self._next_free = 1  # every block below is in use

    def alloc_block(self) -> int:
        """``alloc_block_bdev``: the first free block from 1; 0 when the device is full."""
        blk = self._next_free
        while blk in self.blocks:
            blk += 1
        if blk >= self.nr_pages:
            return 0
        self._next_free = blk + 1
        self.bd_count += 1
        return blk

    def write(self, blk: int, page: bytes) -> None:
        self.blocks[blk] = page
        self.bd_writes += 1

    def read(self, blk: int) -> bytes:
        """``read_from_bdev``: counted; the block stays allocated."""
        self.bd_reads += 1
        return self.blocks[blk]

    def peek(self, blk: int) -> bytes:
        return self.blocks[blk]

    def free_block(self, blk: int) -> None:
        """``free_block_bdev``."""
        del self.blocks[blk]
        self.bd_count -= 1
        self._next_free = min(self._next_free, blk)


def mark_idle(kernel: KernelVersion, table: dict[int, Any]) -> int:
    """``mark_idle(zram, 0)`` (``echo all > idle``): the slots marked."""
    skip = kernel >= IDLE_SKIPS_SAME_WB_SINCE
    marked = 0
    for slot in table.values():
        if skip and (slot.same is not None or slot.wb):
            continue
        slot.idle = True
        marked += 1
    return marked


def writeback_candidates(kernel: KernelVersion, table: dict[int, Any],
                         kind: str) -> Iterator[int]:
    """The slots ``writeback_store`` (``scan_slots_for_writeback`` from 6.13) picks for
    ``kind``, in the order it writes them."""
    picked = [off for off in sorted(table) if _qualifies(table[off], kind)]
    return iter(pp_order(table, picked) if kernel >= WRITEBACK_PP_SINCE else picked)


def pp_order(table: dict[int, Any], picked: list[int]) -> list[int]:
    """The order ``zram_pp_ctl`` post-processing (6.13+, writeback and recompression)
    takes the slots ``picked`` (in slot order) in: ``place_pp_slot`` ``list_add()``s each
    to the head of its bucket of ``PP_BUCKET_SIZE_RANGE`` bytes of object size,
    ``select_pp_slot`` takes the head of the highest non-empty bucket."""
    return sorted(reversed(picked), key=lambda off: -(table[off].size // PP_BUCKET_SIZE_RANGE))


def _qualifies(slot: Any, kind: str) -> bool:
    if slot.wb or slot.same is not None:
        return False
    if kind in ("idle", "huge_idle") and not slot.idle:
        return False
    if kind in ("huge", "huge_idle") and not slot.huge:
        return False
    return not (kind == "incompressible" and not slot.incompressible)
