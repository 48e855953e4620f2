"""zblock's geometry for 4 KiB pages: ``mm/zblock.h`` of "mm: add zblock allocator" as
carried in mm.git (v4 of 12 Apr 2025 with its -fix patches, posted in full by Andrew
Morton on 19 Jul 2025).

A block is ``num_pages`` pages (vmalloc'd, 1 to 8) holding ``slots_per_block`` slots of
``slot_size`` bytes after a ``ZBLOCK_HEADER_SIZE`` header; every object of a block type
gets the same slot.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from zbench import PAGE_SHIFT, PAGE_SIZE

SIZEOF_LONG = 8
#: ``PAGE_SIZE == 0x1000``: max 64 slots per block, max table size 64
SLOT_BITS = 6
MAX_SLOTS = 1 << SLOT_BITS
SLOT_MASK = MAX_SLOTS - 1
MAX_TABLE_SIZE = 1 << (PAGE_SHIFT - SLOT_BITS)
ZBLOCK_MAX_PAGES_PER_BLOCK = 8

#: struct zblock_block { DECLARE_BITMAP(slot_info, 64); struct list_head link;
#: struct rcu_head rcu; unsigned short block_type; unsigned short free_slots; }
#: = 8 + 16 + 16 + 2 + 2 = 44 bytes, 48 with the struct's 8-byte alignment.
OFF_SLOT_INFO = 0
OFF_BLOCK_TYPE = 40
OFF_FREE_SLOTS = 42
SIZEOF_ZBLOCK_BLOCK = 48
ZBLOCK_HEADER_SIZE = -(-SIZEOF_ZBLOCK_BLOCK // SIZEOF_LONG) * SIZEOF_LONG  # round_up


def block_data_size(num_pages: int) -> int:
    """``BLOCK_DATA_SIZE(num)``."""
    return PAGE_SIZE * num_pages - ZBLOCK_HEADER_SIZE


def slot_size(nslots: int, num_pages: int) -> int:
    """``SLOT_SIZE(nslots, num)``: rounded down to ``sizeof(long)``."""
    return block_data_size(num_pages) // nslots // SIZEOF_LONG * SIZEOF_LONG


#: ``block_desc[]`` for ``PAGE_SIZE == 0x1000``: (slots_per_block, num_pages), in order.
BLOCK_DESC_4K: tuple[tuple[int, int], ...] = (
    (28, 1), (18, 1), (12, 1), (10, 1), (17, 2), (15, 2), (13, 2), (6, 1), (11, 2), (5, 1),
    (19, 4), (9, 2), (17, 4), (4, 1), (23, 6), (11, 3), (7, 2), (10, 3), (19, 6), (6, 2),
    (14, 5), (8, 3), (5, 2), (12, 5), (9, 4), (15, 7), (2, 1), (15, 8), (9, 5), (12, 7),
    (13, 8), (6, 4), (11, 8), (9, 7), (6, 5), (9, 8), (4, 4),
)


@dataclass(frozen=True, slots=True)
class BlockDesc:
    """``struct block_desc``."""

    index: int
    slot_size: int
    slots_per_block: int
    num_pages: int

    @property
    def tail_bytes(self) -> int:
        """Bytes of a block neither header nor slot."""
        return block_data_size(self.num_pages) - self.slots_per_block * self.slot_size


def build_table() -> tuple[BlockDesc, ...]:
    """The table, checked as ``create_rbtree`` checks it (ascending slot sizes)."""
    table = tuple(BlockDesc(i, slot_size(n, p), n, p) for i, (n, p) in enumerate(BLOCK_DESC_4K))
    if len(table) > MAX_TABLE_SIZE:  # BUILD_BUG_ON
        raise AssertionError("block_desc is larger than MAX_TABLE_SIZE")
    for prev, cur in zip(table, table[1:], strict=False):
        if cur.slot_size <= prev.slot_size:
            raise AssertionError("block descriptors not in ascending order")
    for d in table:
        if not 1 <= d.num_pages <= ZBLOCK_MAX_PAGES_PER_BLOCK or d.slots_per_block > MAX_SLOTS:
            raise AssertionError(f"block type {d.index} is out of range")
    return table


TABLE = build_table()
_SLOT_SIZES = [d.slot_size for d in TABLE]
#: ``zblock_alloc``: sizes above the last slot size are ``-ENOSPC``
MAX_SLOT_SIZE = _SLOT_SIZES[-1]


def block_type_for(size: int) -> int:
    """The block type ``zblock_alloc`` picks for ``size`` (1 <= size).

    Below ``block_desc[0].slot_size`` it is type 0; otherwise the rbtree search looks for
    the node with ``this_slot_size <= size < next_slot_size`` and takes ``block_idx + 1``.
    So a size *equal* to a slot size goes to the next type up: the number of slot sizes
    ``<= size``.  For ``size == MAX_SLOT_SIZE`` that is ``len(TABLE)``, one past the table
    (the posted code only checks ``block_type < 0``); callers refuse that size.
    """
    return bisect.bisect_right(_SLOT_SIZES, size)
