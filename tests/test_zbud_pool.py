"""zbud pool: pairing through the unbuddied lists, byte layout, limits, accounting.

Expected values are worked by hand: an object of n bytes takes ceil(n / 64) chunks;
a page has 63 usable chunks after its 64-byte header; a page holding one buddy of c
chunks sits on unbuddied[63 - c]; zbud_alloc scans unbuddied[c .. 62] and takes the
head (most recently filed) page of the first non-empty list.
"""

from __future__ import annotations

import random

import pytest
from zbench_zbud import ZbudOptions, ZbudPool

from zbench import AllocationError, PageFrames


def make(kernel: str = "6.14") -> tuple[ZbudPool, PageFrames]:
    frames = PageFrames()
    return ZbudPool(ZbudOptions(kernel=kernel), frames), frames


def loc(handle: int) -> tuple[int, int]:
    """(pfn, offset) of a direct handle: page address + offset, pages at pfn * 4096."""
    return handle // 4096, handle % 4096


def test_pair_2000_1900_share_a_page() -> None:
    pool, frames = make()
    h1 = pool.malloc(2000)  # 32 chunks -> FIRST of a new page, free 31
    h2 = pool.malloc(1900)  # 30 chunks <= 31 -> LAST of the same page
    assert loc(h1) == (0, 64)
    assert loc(h2) == (0, 4096 - 30 * 64) == (0, 2176)
    assert pool.pool_pages() == 1 == frames.allocated
    assert pool.slot_bytes() == 32 * 64 + 30 * 64
    st = pool.stats()
    assert (st["buddied_pages"], st["unbuddied_pages"], st["zbud_objects"]) == (1, 0, 2)


def test_2100_then_2000_do_not_pair() -> None:
    pool, frames = make()
    h1 = pool.malloc(2100)  # 33 chunks, free 30
    h2 = pool.malloc(2000)  # 32 chunks > 30 -> new page, FIRST
    assert loc(h1) == (0, 64) and loc(h2) == (1, 64)
    assert pool.pool_pages() == 2 == frames.allocated
    assert pool.stats()["unbuddied_pages"] == 2 and pool.stats()["buddied_pages"] == 0


@pytest.mark.parametrize(("second", "pairs"), [(1984, True), (1985, False), (1, True)])
def test_exact_fit_boundary(second: int, pairs: bool) -> None:
    """32 + 31 chunks = 63 fits; 32 + 32 does not."""
    pool, _ = make()
    pool.malloc(2000)
    h = pool.malloc(second)
    assert pool.pool_pages() == (1 if pairs else 2)
    if pairs:
        chunks = -(-second // 64)
        assert loc(h) == (0, 4096 - 64 * chunks)


def test_first_fit_takes_smallest_free_space() -> None:
    pool, _ = make()
    # three buddied pages, then free the big buddy: pfn 0 keeps 23 chunks (free 40),
    # pfn 1 keeps 28 (free 35), pfn 2 keeps 13 (free 50)
    y = []
    for keep, other in ((1472, 2560), (1792, 2240), (832, 3200)):
        pool.malloc(keep)
        y.append(pool.malloc(other))
    assert [loc(h)[0] for h in y] == [0, 1, 2] and pool.pool_pages() == 3
    for h in y:
        pool.free(h)
    assert pool.stats()["unbuddied_pages"] == 3
    assert loc(pool.malloc(1920)) == (1, 4096 - 1920)  # 30 chunks -> free-35 page
    assert loc(pool.malloc(2304)) == (0, 4096 - 2304)  # 36 chunks -> free-40 page
    assert loc(pool.malloc(2880)) == (2, 4096 - 2880)  # 45 chunks -> free-50 page
    assert loc(pool.malloc(1)) == (3, 64)  # every page buddied -> new page
    assert pool.stats()["buddied_pages"] == 3


def test_same_list_takes_the_head() -> None:
    """Two pages on unbuddied[31]: list_add puts the later one at the head."""
    pool, _ = make()
    pool.malloc(2000)  # pfn 0, free 31
    pool.malloc(2000)  # needs 32 > 31 -> pfn 1, free 31, filed at the head
    assert loc(pool.malloc(1900)) == (1, 2176)
    assert loc(pool.malloc(1900)) == (0, 2176)


def test_free_refiles_by_free_chunks() -> None:
    pool, frames = make()
    h1 = pool.malloc(2000)  # 32
    h2 = pool.malloc(1900)  # 30
    pool.free(h1)  # only the 30-chunk LAST left: free 33
    assert pool.pool_pages() == 1 and pool.stats()["unbuddied_pages"] == 1
    assert loc(pool.malloc(2176)) == (1, 64)  # 34 chunks > 33: new page
    h3 = pool.malloc(2112)  # 33 chunks: the hole left by h1, FIRST again
    assert loc(h3) == (0, 64)
    pool.free(h2)  # FIRST 33 left: free 30
    h4 = pool.malloc(1920)  # 30 chunks -> LAST of pfn 0
    assert loc(h4) == (0, 4096 - 1920)
    for h in (h3, h4):
        pool.free(h)
    assert pool.pool_pages() == 1 == frames.allocated  # pfn 1 remains
    assert frames.frees == 1


def test_both_free_releases_the_page() -> None:
    pool, frames = make()
    h1, h2 = pool.malloc(100), pool.malloc(200)
    assert loc(h1)[0] == loc(h2)[0] == 0
    pool.free(h2)
    assert pool.pool_pages() == 1
    pool.free(h1)
    assert pool.pool_pages() == 0 == frames.allocated and pool.slot_bytes() == 0
    assert pool.stats()["unbuddied_pages"] == 0 and pool.stats()["zbud_objects"] == 0


@pytest.mark.parametrize(("kernel", "offset"), [("6.14", 16), ("6.5", 16), ("6.4", 32),
                                                ("3.11", 32)])
def test_bytes_in_the_frame(kernel: str, offset: int) -> None:
    """FIRST at 64, LAST right-justified at chunk granularity; the header chunk holds
    first_chunks / last_chunks (u32) after the list heads."""
    pool, frames = make(kernel)
    a = bytes(range(256)) * 8
    d1, d2 = a[:2000], a[7:1907]
    h1, h2 = pool.malloc(2000), pool.malloc(1900)
    pool.write(h1, d1)
    pool.write(h2, d2)
    page = frames.page(0)
    assert bytes(page[64:2064]) == d1
    assert bytes(page[2176:4076]) == d2
    assert bytes(page[4076:]) == bytes(20)  # tail of the last chunk unused
    assert bytes(page[2064:2176]) == bytes(112)  # the gap between the buddies
    assert int.from_bytes(page[offset:offset + 4], "little") == 32
    assert int.from_bytes(page[offset + 4:offset + 8], "little") == 30
    assert pool.read(h1) == d1 and pool.read(h2) == d2
    pool.free(h1)
    assert int.from_bytes(page[offset:offset + 4], "little") == 0
    assert pool.read(h2) == d2  # objects never move


def test_max_size() -> None:
    pool, frames = make()
    h = pool.malloc(3968)  # 62 chunks: 64 + 3968 = 4032, leaves one chunk
    data = bytes([7]) * 3968
    pool.write(h, data)
    assert pool.read(h) == data and loc(h) == (0, 64)
    assert loc(pool.malloc(64)) == (0, 4032)  # the last chunk
    with pytest.raises(AllocationError) as exc:
        pool.malloc(3969)
    assert exc.value.code == "ENOSPC"
    assert frames.allocated == 1


@pytest.mark.parametrize("size", [0, -1])
def test_size_zero_is_einval(size: int) -> None:
    pool, frames = make()
    with pytest.raises(AllocationError) as exc:
        pool.malloc(size)
    assert exc.value.code == "EINVAL" and frames.allocated == 0


def test_3_11_takes_4032_alone() -> None:
    pool, _ = make("3.11")
    h = pool.malloc(4032)  # 63 chunks: the whole page after the header
    pool.write(h, b"\xaa" * 4032)
    assert loc(h) == (0, 64) and pool.read(h) == b"\xaa" * 4032
    assert loc(pool.malloc(1)) == (1, 64)  # no room left
    with pytest.raises(AllocationError):
        pool.malloc(4033)
    new, _ = make("3.12")
    with pytest.raises(AllocationError):
        new.malloc(4032)


def test_bad_handles_and_lengths() -> None:
    pool, _ = make()
    h1 = pool.malloc(100)
    h2 = pool.malloc(100)
    assert h2 == 4096 - 128  # 2 chunks, right-justified
    for bad in (0, -64, h1 + 1, h1 + 4096, 4096 - 192, 64 + 4096 * 5):
        with pytest.raises(ValueError):
            pool.read(bad)
    with pytest.raises(ValueError):
        pool.write(h1, b"x" * 99)
    pool.free(h1)
    with pytest.raises(ValueError):
        pool.free(h1)
    with pytest.raises(ValueError):
        pool.read(h1)
    assert pool.read(h2) == bytes(100)


def test_fill_100k_random_objects_and_free_half() -> None:
    """The speed of this fill is a target in benchmarks/model_fill.py, not asserted here."""
    pool, frames = make("6.4")
    rng = random.Random(0)
    chunk = rng.randbytes(4096)
    handles = []
    for _ in range(100_000):
        n = rng.randint(1, 3968)
        h = pool.malloc(n)
        pool.write(h, chunk[:n])
        handles.append(h)
    for h in handles[::2]:
        pool.free(h)
    assert pool.stats()["zbud_objects"] == 50_000
    assert pool.pool_pages() == frames.allocated <= 50_000
