"""``struct zblock_pool`` as a zbench :class:`~zbench.Allocator`: ``zblock_alloc``,
``zblock_free``, ``zblock_write`` / ``zblock_map`` and ``zblock_get_total_pages``.

Each block type has an *active list* of blocks with free slots (``list_add_rcu`` puts a
new block at the head, ``find_and_claim_block`` takes the head, a block that fills up
leaves the list, a full block that gets a slot back goes to the tail); a block whose last
object is freed is freed at once.  Blocks are ``__vmalloc_node`` areas: ``num_pages``
order-0 frames, contiguous only in the (simulated) vmalloc address space, so an object
may cross from one frame into the next.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from typing import Any

from zbench import (
    PAGE_SHIFT,
    PAGE_SIZE,
    AllocationError,
    Allocator,
    Metrics,
    Mobility,
    PageFrames,
    PluginOptions,
)

from .table import (
    MAX_SLOT_SIZE,
    OFF_BLOCK_TYPE,
    OFF_FREE_SLOTS,
    OFF_SLOT_INFO,
    SLOT_BITS,
    SLOT_MASK,
    TABLE,
    ZBLOCK_HEADER_SIZE,
    BlockDesc,
    block_type_for,
)

#: x86-64 ``VMALLOC_START`` (4-level paging): where the simulated vmalloc areas begin
VMALLOC_START = 0xFFFFC90000000000

SIMPLIFICATIONS = (
    "Single-threaded: no spinlocks or RCU (kvfree_rcu frees a block at once); vmalloc areas "
    "are handed out upwards, each followed by a guard page, and never reused; the header's "
    "list and rcu fields are not written to the frame (slot_info, block_type and free_slots "
    "are); object lengths are kept beside the block (zswap keeps them in its entry); a size "
    f"equal to the last slot size ({MAX_SLOT_SIZE}), which the posted code maps one past "
    "block_desc[], is refused with ENOSPC."
)


class ZblockOptions(PluginOptions):
    """zblock has no tunables: one block table per page size."""


class Block:
    """``struct zblock_block`` plus the frames of its vmalloc area."""

    __slots__ = ("vaddr", "desc", "pfns", "frames", "free_slots", "slot_info", "sizes")

    def __init__(self, vaddr: int, desc: BlockDesc, frames: PageFrames) -> None:
        self.vaddr = vaddr
        self.desc = desc
        self.pfns = [frames.alloc(owner="zblock", mobility=Mobility.UNMOVABLE)
                     for _ in range(desc.num_pages)]
        self.frames = [frames.page(pfn) for pfn in self.pfns]
        self.free_slots = desc.slots_per_block
        self.slot_info = 0  # DECLARE_BITMAP(slot_info, 1 << SLOT_BITS)
        self.sizes = [0] * desc.slots_per_block

    def sync_header(self) -> None:
        hdr = self.frames[0]
        struct.pack_into("<Q", hdr, OFF_SLOT_INFO, self.slot_info)
        struct.pack_into("<HH", hdr, OFF_BLOCK_TYPE, self.desc.index, self.free_slots)
        assert OFF_FREE_SLOTS == OFF_BLOCK_TYPE + 2

    def claim_slot(self) -> int:
        """find_first_zero_bit + test_and_set_bit."""
        bits = self.slot_info
        slot = (~bits & (bits + 1)).bit_length() - 1
        if slot >= self.desc.slots_per_block:  # BUG_ON in v2; free_slots > 0 rules it out
            raise AssertionError(f"zblock: block {self.vaddr:#x} has no free slot")
        self.slot_info |= 1 << slot
        return slot

    def copy(self, off: int, data: bytes | None, size: int) -> bytes:
        """Write ``data`` at byte ``off`` of the area (or read ``size`` bytes)."""
        out = bytearray()
        pos, end = off, off + size
        while pos < end:
            frame = self.frames[pos >> PAGE_SHIFT]
            start = pos & (PAGE_SIZE - 1)
            n = min(PAGE_SIZE - start, end - pos)
            if data is None:
                out += frame[start:start + n]
            else:
                frame[start:start + n] = data[pos - off:pos - off + n]
            pos += n
        return bytes(out)


class ZblockPool(Allocator):
    """zblock: per-size block types, each block a whole number of equal slots."""

    name = "zblock"
    description = "zblock (2025 proposal, not merged): multi-page blocks of equal slots"
    Options = ZblockOptions

    def __init__(self, options: PluginOptions, frames: PageFrames) -> None:
        super().__init__(options, frames)
        # pool->block_lists[i]: active_list (first key = head) and block_count
        self.active: list[OrderedDict[Block, None]] = [OrderedDict() for _ in TABLE]
        self.block_count = [0] * len(TABLE)
        self.blocks: dict[int, Block] = {}  # vmalloc address -> block
        self._next_vaddr = VMALLOC_START
        self._slot_bytes = 0
        self.nr_objects = 0
        self.blocks_allocated = 0  # cumulative
        self.blocks_freed = 0

    # -- identity --------------------------------------------------------
    @property
    def kernel(self) -> str:
        return "mm-new 2025 mm/zblock.c (\"mm: add zblock allocator\" v4 + fixes, not merged)"

    @property
    def simplifications(self) -> str:
        return SIMPLIFICATIONS

    # -- blocks ------------------------------------------------------------
    def _alloc_block(self, t: int) -> Block:
        """``alloc_block``: a new block, slot 0 taken, at the head of the active list."""
        desc = TABLE[t]
        block = Block(self._next_vaddr, desc, self.frames)
        self._next_vaddr += (desc.num_pages + 1) << PAGE_SHIFT  # area + guard page
        self.blocks[block.vaddr] = block
        block.free_slots = desc.slots_per_block - 1
        block.slot_info = 1
        self.active[t][block] = None
        self.active[t].move_to_end(block, last=False)  # list_add_rcu: at the head
        self.block_count[t] += 1
        self.blocks_allocated += 1
        return block

    def _find_and_claim_block(self, t: int) -> tuple[Block, int] | None:
        active = self.active[t]
        if not active:
            return None
        block = next(iter(active))  # list_first_or_null_rcu
        block.free_slots -= 1
        if block.free_slots == 0:
            del active[block]  # list_bidir_del_rcu
        return block, block.claim_slot()

    def locate(self, handle: int) -> tuple[Block, int]:
        """``handle_to_metadata``; ValueError unless the handle names a live object."""
        block = self.blocks.get(handle & ~SLOT_MASK) if isinstance(handle, int) else None
        slot = handle & SLOT_MASK if block is not None else -1
        if block is None or slot >= block.desc.slots_per_block or not block.slot_info >> slot & 1:
            raise ValueError(f"not a live zblock handle: {handle!r}")
        return block, slot

    # -- the object API --------------------------------------------------
    def malloc(self, size: int) -> int:
        """``zblock_alloc``."""
        if size < 1:
            raise AllocationError(f"zblock: size {size} < 1", code="EINVAL")
        if size >= MAX_SLOT_SIZE:
            raise AllocationError(f"zblock: size {size} > {MAX_SLOT_SIZE - 1}", code="ENOSPC")
        t = block_type_for(size)
        found = self._find_and_claim_block(t)
        if found is None:
            block, slot = self._alloc_block(t), 0
        else:
            block, slot = found
        block.sizes[slot] = size
        block.sync_header()
        self._slot_bytes += block.desc.slot_size
        self.nr_objects += 1
        return block.vaddr | slot

    def free(self, handle: int) -> None:
        """``zblock_free``."""
        block, slot = self.locate(handle)
        desc = block.desc
        block.slot_info &= ~(1 << slot)  # clear bit early
        block.sizes[slot] = 0
        block.free_slots += 1
        self._slot_bytes -= desc.slot_size
        self.nr_objects -= 1
        t = desc.index
        if block.free_slots == desc.slots_per_block:  # delete the whole block
            self.block_count[t] -= 1
            self.active[t].pop(block, None)
            del self.blocks[block.vaddr]
            for pfn in block.pfns:
                self.frames.free(pfn)
            self.blocks_freed += 1
            return
        if block.free_slots == 1:  # was full: back on the list, at the tail
            self.active[t][block] = None
        block.sync_header()

    def _offset(self, block: Block, slot: int) -> int:
        return ZBLOCK_HEADER_SIZE + slot * block.desc.slot_size

    def write(self, handle: int, data: bytes) -> None:
        """``zblock_write``: memcpy into the area."""
        block, slot = self.locate(handle)
        if len(data) != block.sizes[slot]:
            raise ValueError(f"zblock: write of {len(data)} bytes to a "
                             f"{block.sizes[slot]}-byte object")
        block.copy(self._offset(block, slot), data, len(data))

    def read(self, handle: int) -> bytes:
        """``zblock_map`` + memcpy of the object's length."""
        block, slot = self.locate(handle)
        return block.copy(self._offset(block, slot), None, block.sizes[slot])

    def obj_location(self, handle: int) -> tuple[int, int, int]:
        """(block type, pfn the object starts in, byte offset in that frame)."""
        block, slot = self.locate(handle)
        off = self._offset(block, slot)
        return block.desc.index, block.pfns[off >> PAGE_SHIFT], off & (PAGE_SIZE - 1)

    # -- accounting ------------------------------------------------------
    def max_size(self) -> int:
        return MAX_SLOT_SIZE - 1

    def pool_pages(self) -> int:
        """``zblock_get_total_pages``."""
        return sum(n * d.num_pages for n, d in zip(self.block_count, TABLE, strict=True))

    def slot_bytes(self) -> int:
        return self._slot_bytes

    def stats(self) -> Metrics:
        return {
            "blocks": sum(self.block_count),
            "block_types_used": sum(1 for n in self.block_count if n),
            "blocks_allocated": self.blocks_allocated,
            "blocks_freed": self.blocks_freed,
            "block_header_bytes": sum(self.block_count) * ZBLOCK_HEADER_SIZE,
        }

    def debugfs_blocks(self) -> list[str]:
        """The lines of ``/sys/kernel/debug/zblock/blocks``."""
        return [f"{i}: {n} blocks of {d.num_pages} pages (total {n * d.num_pages} pages)"
                for i, (n, d) in enumerate(zip(self.block_count, TABLE, strict=True))]

    @classmethod
    def describe(cls, options: PluginOptions) -> list[dict[str, Any]]:
        rows = []
        lo = 1
        for d in TABLE:
            hi = d.slot_size - 1  # a size equal to the slot size goes to the next type
            rows.append({"type": d.index, "slot_size": d.slot_size,
                         "slots_per_block": d.slots_per_block, "num_pages": d.num_pages,
                         "sizes": f"{lo}-{hi}", "tail_bytes": d.tail_bytes})
            lo = d.slot_size
        return rows

    @classmethod
    def describe_summary(cls, options: PluginOptions) -> dict[str, Any]:
        return {"block_types": len(TABLE), "slot_bits": SLOT_BITS,
                "header_bytes": ZBLOCK_HEADER_SIZE, "max_size": MAX_SLOT_SIZE - 1,
                "max_pages_per_block": max(d.num_pages for d in TABLE)}
