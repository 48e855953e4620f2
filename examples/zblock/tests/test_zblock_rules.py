"""zblock's own rules, as mm/zblock.[ch] (v4 + mm.git fixes) lay them down."""

from __future__ import annotations

import struct

import pytest
from zbench_zblock import TABLE, ZblockOptions, ZblockPool, block_type_for
from zbench_zblock.pool import VMALLOC_START
from zbench_zblock.table import MAX_SLOT_SIZE, ZBLOCK_HEADER_SIZE

from zbench import PAGE_SIZE, AllocationError, Mobility, PageFrames


def pool() -> tuple[ZblockPool, PageFrames]:
    frames = PageFrames()
    return ZblockPool(ZblockOptions(), frames), frames


def test_block_table_for_4k_pages() -> None:
    assert ZBLOCK_HEADER_SIZE == 48
    assert len(TABLE) == 37
    assert [(d.slot_size, d.slots_per_block, d.num_pages) for d in TABLE[:4]] == [
        (144, 28, 1), (224, 18, 1), (336, 12, 1), (400, 10, 1)]
    assert (TABLE[26].slot_size, TABLE[26].slots_per_block, TABLE[26].num_pages) == (2024, 2, 1)
    assert (TABLE[-1].slot_size, TABLE[-1].slots_per_block, TABLE[-1].num_pages) == (4080, 4, 4)
    assert MAX_SLOT_SIZE == 4080
    for d in TABLE:  # every block holds its slots; tails are small (the table was tuned)
        assert d.num_pages * PAGE_SIZE == ZBLOCK_HEADER_SIZE + d.slots_per_block * d.slot_size \
            + d.tail_bytes
        assert 0 <= d.tail_bytes < 128
        assert d.slot_size % 8 == 0


@pytest.mark.parametrize(("size", "block_type"), [
    (1, 0), (143, 0), (144, 1), (223, 1), (224, 2), (2023, 26), (2024, 27), (4079, 36)])
def test_a_size_equal_to_a_slot_size_takes_the_next_type(size: int, block_type: int) -> None:
    assert block_type_for(size) == block_type


def test_sizes_out_of_range() -> None:
    p, frames = pool()
    with pytest.raises(AllocationError) as e:
        p.malloc(0)
    assert e.value.code == "EINVAL"
    for size in (4080, 4081, PAGE_SIZE):  # 4080 would index past block_desc[]
        with pytest.raises(AllocationError) as e:
            p.malloc(size)
        assert e.value.code == "ENOSPC"
    assert p.max_size() == 4079 and frames.allocated == 0


def test_objects_sit_after_the_header_and_may_cross_pages() -> None:
    p, frames = pool()
    # type 4: 17 slots of 472 bytes in a 2-page block; slot 8 starts at 3824 and crosses
    handles = [p.malloc(400) for _ in range(9)]
    assert block_type_for(400) == 4
    first = handles[0]
    assert first & ~63 >= VMALLOC_START and first & 63 == 0 and first % PAGE_SIZE == 0
    assert [h & 63 for h in handles] == list(range(9))
    t, pfn0, off = p.obj_location(handles[0])
    assert (t, off) == (4, ZBLOCK_HEADER_SIZE)
    data = bytes(range(256)) + bytes(range(144))
    p.write(handles[8], data)
    _, pfn, off = p.obj_location(handles[8])
    assert (pfn, off) == (pfn0, 48 + 8 * 472)
    assert p.read(handles[8]) == data
    head = PAGE_SIZE - off
    assert bytes(frames.page(pfn0)[off:]) == data[:head]
    other = next(f for f in frames.pfns() if f != pfn0)
    assert bytes(frames.page(other)[:len(data) - head]) == data[head:]
    assert p.pool_pages() == 2 == frames.allocated
    assert all(frames.info(f).mobility is Mobility.UNMOVABLE for f in frames.pfns())


def test_header_is_written_to_the_first_frame() -> None:
    p, frames = pool()
    hs = [p.malloc(100) for _ in range(3)]
    p.free(hs[1])
    frame = frames.page(frames.pfns()[0])
    slot_info, = struct.unpack_from("<Q", frame, 0)
    block_type, free_slots = struct.unpack_from("<HH", frame, 40)
    assert (slot_info, block_type, free_slots) == (0b101, 0, 28 - 2)


def test_active_list_head_is_used_and_a_refilled_block_goes_to_the_tail() -> None:
    p, _ = pool()
    a = [p.malloc(100) for _ in range(28)]  # fills block A (28 slots): it leaves the list
    b = p.malloc(100)  # a new block B at the head
    assert b & ~63 != a[0] & ~63 and p.pool_pages() == 2
    p.free(a[5])  # A gets a slot back: list_add_tail
    c = p.malloc(100)  # the head is B, not A
    assert c & ~63 == b & ~63 and c & 63 == 1
    for h in [b, c]:
        p.free(h)  # B empties: freed at once
    assert p.pool_pages() == 1
    d = p.malloc(100)  # A is the only block on the list: the lowest free slot
    assert d == a[5]
    assert p.debugfs_blocks()[0] == "0: 1 blocks of 1 pages (total 1 pages)"


def test_blocks_are_freed_when_empty() -> None:
    p, frames = pool()
    hs = [p.malloc(s) for s in (100, 1000, 3000, 4000)]
    # types 0 (1 page), 13 (1008-byte slots, 1 page), 33 (3176, 7 pages), 36 (4080, 4 pages)
    assert p.pool_pages() == 1 + 1 + 7 + 4 == frames.allocated
    assert p.stats()["blocks"] == 4
    for h in hs:
        p.free(h)
    assert p.pool_pages() == 0 == frames.allocated
    with pytest.raises(ValueError):
        p.free(hs[0])


def test_inspect_rows() -> None:
    rows = ZblockPool.describe(ZblockOptions())
    assert rows[0]["sizes"] == "1-143" and rows[1]["sizes"] == "144-223"
    assert rows[-1]["sizes"] == "3632-4079"
    assert ZblockPool.describe_summary(ZblockOptions())["block_types"] == 37
