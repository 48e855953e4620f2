"""Direct (<= 5.1) and indirect (5.2+) z3fold handles."""

from __future__ import annotations

import pytest
from zbench_z3fold import Z3foldPool, Z3Options
from zbench_z3fold.handles import DIRECT_MAP, SLOTS_BASE

from zbench import PageFrames


def make(kernel: str) -> tuple[Z3foldPool, PageFrames]:
    frames = PageFrames()
    return Z3foldPool(Z3Options(kernel=kernel), frames), frames


@pytest.mark.parametrize("kernel", ["4.8", "4.14", "5.1"])
def test_direct_handles(kernel: str) -> None:
    pool, _ = make(kernel)
    a = pool.malloc(100)  # pfn 0, FIRST: header address + (1 + 0) & 3
    b = pool.malloc(100)  # LAST: + 3
    c = pool.malloc(100)  # MIDDLE: + 2
    assert (a, b, c) == (DIRECT_MAP + 1, DIRECT_MAP + 3, DIRECT_MAP + 2)
    d = pool.malloc(4096)  # headless on pfn 1: the page address
    assert d == DIRECT_MAP + 4096
    e = pool.malloc(100)  # pfn 2, FIRST
    assert e == DIRECT_MAP + 2 * 4096 + 1
    pool.free(a)
    f = pool.malloc(100)  # the freed FIRST slot of pfn 0 again: the same handle value
    assert f == a


def test_indirect_handles() -> None:
    pool, _ = make("6.14")
    a = pool.malloc(100)  # page pfn 0 owns slot block 0; FIRST -> slot 1
    b = pool.malloc(640)  # LAST -> slot 3
    c = pool.malloc(100)  # MIDDLE -> slot 2
    assert (a, b, c) == (SLOTS_BASE + 8, SLOTS_BASE + 24, SLOTS_BASE + 16)
    blk = [pool.slots.get(0, i) for i in range(4)]
    # slot = header address + index (+ last_chunks << BUDDY_SHIFT for LAST)
    assert blk == [0, DIRECT_MAP + 1, DIRECT_MAP + 2, (DIRECT_MAP + 3) | (10 << 2)]
    d = pool.malloc(4000)  # headless, pfn 1: page address | 1 << PAGE_HEADLESS
    assert d == (DIRECT_MAP + 4096) | 1
    e = pool.malloc(100)  # pfn 2, block 1, FIRST
    assert e == SLOTS_BASE + 64 + 8
    assert pool.stats()["slot_blocks"] == 2


def test_indirect_slot_block_freed_and_renewed() -> None:
    pool, _ = make("6.14")
    a = pool.malloc(100)
    b = pool.malloc(100)
    assert pool.stats()["slot_blocks"] == 1
    pool.free(a)
    pool.free(b)  # last object: block and page freed
    assert pool.stats()["slot_blocks"] == 0 and pool.pool_pages() == 0
    assert pool.malloc(100) == a  # block 0 reused


def test_indirect_handle_follows_middle_to_first() -> None:
    pool, _ = make("6.14")
    a = pool.malloc(100)
    b = pool.malloc(100)
    c = pool.malloc(100)
    data = b"x" * 100
    pool.write(c, data)
    pool.free(a)
    pool.free(b)  # c alone: becomes FIRST with first_num 1
    assert pool.read(c) == data and pool.obj_location(c)[2] == "first"
    # c's slot (index 2) still holds header + 2; (2 - first_num 1) & 3 = FIRST
    assert pool.slots.get(0, 2) == DIRECT_MAP + 2
    e = pool.malloc(100)  # LAST: index (3 + 1) & 3 = 0
    assert e == SLOTS_BASE + 0 and pool.obj_location(e)[2] == "last"


@pytest.mark.parametrize("kernel", ["4.14", "6.14"])
def test_stale_and_bogus_handles_refused(kernel: str) -> None:
    pool, _ = make(kernel)
    a = pool.malloc(100)
    b = pool.malloc(100)
    pool.free(a)
    for bad in (a, 0, 12345, b + 4096 * 7, DIRECT_MAP + 4096 * 9):
        with pytest.raises(ValueError, match="not a live z3fold handle"):
            pool.read(bad)
    with pytest.raises(ValueError, match="not a live z3fold handle"):
        pool.free(a)
    assert pool.read(b) == bytes(100)


def test_headless_handle_refused_after_free() -> None:
    pool, _ = make("6.14")
    h = pool.malloc(4096)
    pool.free(h)
    with pytest.raises(ValueError, match="not a live z3fold handle"):
        pool.free(h)


@pytest.mark.parametrize("kernel", ["4.8", "4.14", "5.2", "6.14"])
def test_handles_unique_among_live_objects(kernel: str) -> None:
    pool, _ = make(kernel)
    live = {}
    for i in range(300):
        h = pool.malloc(1 + (i * 37) % 1500)
        assert h not in live
        live[h] = i
        if i % 3 == 2:
            victim = next(iter(live))
            pool.free(victim)
            del live[victim]
    assert pool.stats()["objects"] == len(live)
