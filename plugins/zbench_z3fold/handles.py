"""z3fold handles: direct (4.8 - 5.1) and indirect through buddy slots (5.2+).

Page addresses are modelled as x86-64 direct-map addresses,
``DIRECT_MAP + (pfn << PAGE_SHIFT)``, so handles look like the kernel's.

* Direct (``encode_handle`` <= 5.1): the header address plus
  ``(bud + first_num) & BUDDY_MASK`` in the low bits; a headless page's handle is its
  address.  Decoding reads the *current* ``first_num``, which is why in-page
  compaction can turn a MIDDLE into a FIRST by incrementing it.  (From ≈4.16 the
  kernel also stores LAST's length at ``BUDDY_SHIFT``; the model leaves those bits out,
  they only serve map during a free/reclaim race.)
* Indirect (5.2+, "z3fold: add structure for buddy handles"): each page owns a
  ``struct z3fold_buddy_slots`` (four ``unsigned long`` slots, 64-byte aligned, from
  the ``z3fold_handle`` kmem_cache); the handle is the address of a slot, the slot
  holds the header address + buddy index (+ ``last_chunks << BUDDY_SHIFT`` for LAST).
  A headless handle is the page address with bit ``PAGE_HEADLESS`` (0) set.  A slot
  block is freed when its last slot is cleared (``free_handle``, the 5.11 rule) and a
  page whose block was freed gets a new one on its next allocation.
"""

from __future__ import annotations

from array import array

from zbench import PAGE_SHIFT

from .layout import BUDDY_SHIFT, SLOTS_ALIGN

DIRECT_MAP = 0xFFFF_8880_0000_0000  # page_offset_base without KASLR
SLOTS_BASE = DIRECT_MAP + (1 << 44)  # where the model's z3fold_handle slab lives
PAGE_HEADLESS_BIT = 1  # 1 << PAGE_HEADLESS
SLOT_SIZE = 8  # sizeof(unsigned long)
_ZERO_BLOCK = array("Q", [0, 0, 0, 0])


def page_addr(pfn: int, page_shift: int = PAGE_SHIFT) -> int:
    """``page_address``: the direct map address of frame ``pfn`` (pages of
    ``1 << page_shift`` bytes, the pool's PAGE_SHIFT)."""
    return DIRECT_MAP + (pfn << page_shift)


def addr_pfn(addr: int, page_shift: int = PAGE_SHIFT) -> int:
    return (addr - DIRECT_MAP) >> page_shift


def slot_value(pfn: int, idx: int, last_chunks: int = 0, page_shift: int = PAGE_SHIFT) -> int:
    """What ``__encode_handle`` stores in a slot (``last_chunks`` only for LAST)."""
    return page_addr(pfn, page_shift) + idx | (last_chunks << BUDDY_SHIFT)


class SlotTable:
    """The ``z3fold_handle`` kmem_cache: blocks of four slots (``struct
    z3fold_buddy_slots``'s ``slot[4]``) in one flat array of ``unsigned long``, block
    ``bid``'s slot ``idx`` at ``4 * bid + idx``; blocks reused last-freed-first."""

    __slots__ = ("words", "_free", "live")

    def __init__(self) -> None:
        self.words = array("Q")
        self._free = array("I")
        self.live = 0

    def __len__(self) -> int:
        """Blocks ever taken from the cache (live or on its free list)."""
        return len(self.words) >> 2

    def alloc(self) -> int:
        """``alloc_slots``: a zeroed block; returns its id."""
        self.live += 1
        if self._free:
            bid = self._free.pop()
            self.words[bid << 2:(bid << 2) + 4] = _ZERO_BLOCK
            return bid
        self.words.extend(_ZERO_BLOCK)
        return len(self.words) // 4 - 1

    def release(self, bid: int) -> None:
        """``kmem_cache_free(pool->c_handle, slots)``."""
        self.live -= 1
        self._free.append(bid)

    def get(self, bid: int, idx: int) -> int:
        return self.words[(bid << 2) + idx]

    def set(self, bid: int, idx: int, value: int) -> None:
        self.words[(bid << 2) + idx] = value

    @staticmethod
    def handle(bid: int, idx: int) -> int:
        return SLOTS_BASE + bid * SLOTS_ALIGN + idx * SLOT_SIZE

    def locate(self, handle: int) -> tuple[int, int]:
        """(block id, slot index) of a slot handle; ValueError if it names no live slot."""
        off = handle - SLOTS_BASE
        bid, rem = divmod(off, SLOTS_ALIGN)
        idx, bad = divmod(rem, SLOT_SIZE)
        if off < 0 or bad or idx > 3 or bid >= len(self) or not self.words[(bid << 2) + idx]:
            raise ValueError(f"not a live z3fold handle: {handle:#x}")
        return bid, idx

    def is_empty(self, bid: int) -> bool:
        return not any(self.words[bid << 2:(bid << 2) + 4])
