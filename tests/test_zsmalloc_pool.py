"""zsmalloc pool: accounting by hand, object layout in the frames, list order."""

from __future__ import annotations

import random

import pytest
from zbench_zsmalloc import ZsOptions, ZsPool
from zbench_zsmalloc.fullness import INSERT_POLICIES
from zbench_zsmalloc.rules import InsertPolicy
from zbench_zsmalloc.size_class import SizeClass
from zbench_zsmalloc.zspage import ZsPage

from zbench import AllocationError, PageFrames


def make(kernel: str = "6.18", chain: int | None = None) -> tuple[ZsPool, PageFrames]:
    frames = PageFrames()
    return ZsPool(ZsOptions(kernel=kernel, chain_size=chain), frames), frames


@pytest.mark.parametrize("size", [0, -1, 4097, 10_000])
def test_size_out_of_range(size: int) -> None:
    pool, frames = make()
    with pytest.raises(AllocationError):
        pool.malloc(size)
    assert frames.allocated == 0 and pool.stats()["obj_used"] == 0


def test_size_limits_accepted() -> None:
    pool, _ = make()
    for n in (1, 4096):
        h = pool.malloc(n)
        data = bytes(range(256)) * 16
        pool.write(h, data[:n])
        assert pool.read(h) == data[:n]


# Hand computation (class tables by mm/zsmalloc.c's rules), chain 8 / min-waste:
#   200 B + 8 -> class 208: 3 pages, 59 objs; 100 objs -> 2 zspages -> 6 pages
#   100 B + 8 -> class 112: 7 pages, 256 objs; 10 objs -> 1 zspage -> 7 pages
#   3624 B + 8 -> class 3632: 8 pages, 9 objs; 2 objs -> 8 pages
#   4000 B -> huge (>= 3625): 1 page each -> 3 pages
# chain 4 / used-percent (6.1):
#   class 208: 2 pages, 39 objs -> 100 objs -> 3 zspages -> 6 pages
#   class 112: 2 pages, 73 objs -> 2 pages
#   3624 and 4000 are huge (>= 3257): 5 pages
@pytest.mark.parametrize(("kernel", "pages", "slots"), [
    ("6.18", 6 + 7 + 8 + 3, 100 * 208 + 10 * 112 + 2 * 3632 + 3 * 4096),
    ("6.1", 6 + 2 + 5, 100 * 208 + 10 * 112 + 5 * 4096),
])
def test_pool_pages_by_hand(kernel: str, pages: int, slots: int) -> None:
    pool, frames = make(kernel)
    handles = [pool.malloc(n) for n in [200] * 100 + [100] * 10 + [3624] * 2 + [4000] * 3]
    assert pool.pool_pages() == pages == frames.allocated
    assert pool.slot_bytes() == slots
    for h in handles:
        pool.free(h)
    assert pool.pool_pages() == 0 == frames.allocated and pool.slot_bytes() == 0


@pytest.mark.parametrize(("kernel", "objs", "ppz"), [("6.18", 59, 3), ("6.1", 39, 2)])
def test_zspage_pages(kernel: str, objs: int, ppz: int) -> None:
    """n objects in one class cost ceil(n / objs) * ppz pages; a zspage's pages go
    back as soon as its last object is freed."""
    pool, frames = make(kernel)
    for n in (1, objs - 1, objs, objs + 1, 3 * objs + 5):
        hs = [pool.malloc(200) for _ in range(n)]
        assert pool.pool_pages() == -(-n // objs) * ppz
        for h in hs[1:]:
            pool.free(h)
        assert pool.pool_pages() == ppz  # the zspage of hs[0] survives
        pool.free(hs[0])
        assert pool.pool_pages() == 0 == frames.allocated


def test_layout_and_straddling_object() -> None:
    """Class 208 (3 pages): objects at k*208; object 19 starts at 3952 of page 0 and
    ends at 64 of page 1; every object starts with handle | OBJ_ALLOCATED_TAG."""
    pool, frames = make("6.18")
    hs = [pool.malloc(200) for _ in range(21)]
    p0, p1, p2 = frames.pfns()
    assert frames.allocated == 3
    for k, h in enumerate(hs[:20]):
        assert pool.obj_location(h) == (p0, 208 * k)
    assert pool.obj_location(hs[20]) == (p1, 64)
    data = random.Random(5).randbytes(200)
    h = hs[19]
    pool.write(h, data)
    page0, page1 = frames.page(p0), frames.page(p1)
    assert page0[3952:3960] == (h | 1).to_bytes(8, "little")
    assert page0[3960:4096] == data[:136]
    assert page1[0:64] == data[136:]
    assert pool.read(h) == data
    assert pool.obj_header(h) == h | 1
    assert pool.obj_location(hs[0]) == (p0, 0) and page0[0:8] == (hs[0] | 1).to_bytes(8, "little")


def test_huge_object_has_no_header() -> None:
    pool, frames = make("6.18")
    data = random.Random(1).randbytes(4000)
    h = pool.malloc(4000)
    pool.write(h, data)
    (pfn,) = frames.pfns()
    assert frames.page(pfn)[:4000] == data
    assert pool.obj_location(h) == (pfn, 0)
    assert pool.obj_header(h) == h | 1  # kept in page->index, not in the frame
    assert pool.read(h) == data


def test_free_list_lifo_in_frames() -> None:
    """obj_free pushes the slot on the zspage free list head and writes the link
    (next index << 1, tag clear) into the slot; obj_malloc pops it again."""
    pool, frames = make("6.18")
    hs = [pool.malloc(200) for _ in range(5)]
    (p0, _, _) = frames.pfns()
    page = frames.page(p0)
    pool.free(hs[1])
    assert int.from_bytes(page[208:216], "little") == 5 << 1  # freeobj was 5
    pool.free(hs[3])
    assert int.from_bytes(page[624:632], "little") == 1 << 1
    a, b, c = pool.malloc(200), pool.malloc(200), pool.malloc(200)
    assert [pool.obj_location(x)[1] for x in (a, b, c)] == [624, 208, 5 * 208]


def test_fresh_free_list_order_and_end() -> None:
    """init_zspage links objects in index order and ends the list with -1UL << 1."""
    pool, frames = make("6.18")
    pool.malloc(200)
    p0, p1, p2 = frames.pfns()
    page0, page1, page2 = (frames.page(p) for p in (p0, p1, p2))
    assert int.from_bytes(page0[208:216], "little") == 2 << 1
    assert int.from_bytes(page0[3952:3960], "little") == 20 << 1  # straddler -> next page
    assert int.from_bytes(page1[64:72], "little") == 21 << 1
    # object 58 (last) starts at 58*208 = 12064 = page 2 offset 3872 and ends the list;
    # the phantom slot after it (4080) was initialised as well
    assert int.from_bytes(page2[3872:3880], "little") == 59 << 1
    assert int.from_bytes(page2[4080:4088], "little") == (-1 << 1) & (2**64 - 1)


def test_insert_policies() -> None:
    """insert_zspage placement per version, on bare lists."""
    expect = {
        InsertPolicy.HEAD: "DCBA",  # list_add at head (4.1-4.2, >= 6.4)
        InsertPolicy.INUSE_TAIL: "DBAC",  # 4.3-4.7: head if inuse >= head's, else tail
        InsertPolicy.INUSE_SECOND: "DBCA",  # 4.8-6.3: after head if inuse < head's
    }
    for policy, order in expect.items():
        cls = SizeClass(208, 11, 3, 59, 4)
        pages = {}
        for name, inuse in [("A", 10), ("B", 20), ("C", 5), ("D", 20)]:
            z = ZsPage(cls, [])
            z.inuse = inuse
            pages[id(z)] = name
            INSERT_POLICIES[policy](cls, z, 2)
        got = "".join(pages[id(z)] for z in cls.fullness_list[2].entries())
        assert got == order, policy
        assert cls.group_count[2] == 4


def _zspage_no(pool: ZsPool, h: int, ppz: int) -> int:
    return pool.obj_location(h)[0] // ppz


def test_alloc_prefers_fullest_group_v64() -> None:
    """>= 6.4 find_get_zspage scans 99% -> 0%: the fullest non-full zspage wins."""
    pool, _ = make("6.18")  # class 208: 3 pages, 59 objs
    hs = [pool.malloc(200) for _ in range(3 * 59)]
    z = [hs[i * 59:(i + 1) * 59] for i in range(3)]
    for h in z[0][:30]:  # 29/59 -> 49%
        pool.free(h)
    for h in z[1][:5]:  # 54/59 -> 91%
        pool.free(h)
    for h in z[2][:40]:  # 19/59 -> 32%
        pool.free(h)
    rows = {r["class"]: r for r in pool.class_stats()}
    r = rows[11]
    assert (r["50%"], r["99%"], r["40%"], r["100%"]) == (1, 1, 1, 0)
    h = pool.malloc(200)
    assert _zspage_no(pool, h, 3) == 1
    for _ in range(4):  # zspage 1 fills up to 100%
        assert _zspage_no(pool, pool.malloc(200), 3) == 1
    assert _zspage_no(pool, pool.malloc(200), 3) == 0  # 49% before 32%


def test_alloc_prefers_almost_full_v61() -> None:
    """<= 6.3: ALMOST_FULL before ALMOST_EMPTY, whatever was touched last."""
    pool, _ = make("6.1")  # class 208: 2 pages, 39 objs, 3N/4 = 29
    hs = [pool.malloc(200) for _ in range(2 * 39)]
    for h in hs[:5]:  # zspage 0: 34 in use -> ALMOST_FULL
        pool.free(h)
    for h in hs[39:59]:  # zspage 1: 19 in use -> ALMOST_EMPTY (inserted last)
        pool.free(h)
    rows = {r["class"]: r for r in pool.class_stats()}
    assert (rows[11]["almost_full"], rows[11]["almost_empty"]) == (1, 1)
    for _ in range(5):
        assert _zspage_no(pool, pool.malloc(200), 2) == 0
    assert _zspage_no(pool, pool.malloc(200), 2) == 1


@pytest.mark.parametrize("kernel", ["4.1", "4.3", "6.1", "6.18"])
def test_same_group_is_lifo(kernel: str) -> None:
    pool, _ = make(kernel)
    objs = pool.class_of(200).objs_per_zspage
    ppz = pool.class_of(200).pages_per_zspage
    hs = [pool.malloc(200) for _ in range(2 * objs)]
    pool.free(hs[0])  # zspage 0 leaves FULL first
    pool.free(hs[objs])  # zspage 1 joins the same group later, at the head
    assert _zspage_no(pool, pool.malloc(200), ppz) == 1
    assert _zspage_no(pool, pool.malloc(200), ppz) == 0


def test_bad_handles_and_lengths() -> None:
    pool, _ = make()
    h = pool.malloc(100)
    with pytest.raises(ValueError):
        pool.write(h, b"x" * 99)
    pool.free(0)  # zs_free(NULL) is a no-op
    pool.free(h)
    for bad in (h, 12345, -8, 7):
        with pytest.raises(ValueError):
            pool.read(bad)
    with pytest.raises(ValueError):
        pool.free(h)


def test_stats_and_class_stats() -> None:
    pool, frames = make("6.18")
    hs = [pool.malloc(200) for _ in range(100)] + [pool.malloc(4000)]
    for h in hs[:50]:
        pool.free(h)
    s = pool.stats()
    # list_ops: zspage 0 inserted + 10 group moves (2 each) filling, 9 moves emptying to 9
    # objects; zspage 1 inserted + 6 moves; the huge zspage inserted once: 21 + 18 + 13 + 1
    assert s == {"pages_compacted": 0, "objs_moved": 0, "zspages": 3, "obj_allocated": 119,
                 "obj_used": 51, "size_classes": 119, "huge_class_size": 3625,
                 "bytes_written": 0, "bytes_read": 0, "bytes_moved": 0, "bytes_copied": 0,
                 "page_crossing_copies": 0, "list_ops": 53}
    rows = pool.class_stats()
    assert len(rows) == 119
    assert list(rows[0]) == ["class", "size", "10%", "20%", "30%", "40%", "50%", "60%",
                             "70%", "80%", "90%", "99%", "100%", "obj_allocated", "obj_used",
                             "pages_used", "pages_per_zspage", "freeable"]
    assert sum(r["pages_used"] for r in rows) == pool.pool_pages() == frames.allocated == 7
    r = next(r for r in rows if r["size"] == 208)
    # objects 50..99 live: 9 in zspage 0 (0..58), 41 in zspage 1; freeable 68 // 59 * 3
    assert (r["obj_allocated"], r["obj_used"], r["pages_used"], r["freeable"]) == (118, 50, 6, 3)
    old, _ = make("6.1")
    assert list(old.class_stats()[0])[2:4] == ["almost_full", "almost_empty"]


def test_fill_100k_random_objects_keeps_pages_and_frames_in_step() -> None:
    """The speed of this fill is a target in benchmarks/model_fill.py, not asserted here."""
    pool, frames = make("6.18")
    rng = random.Random(0)
    chunk = rng.randbytes(4096)
    for _ in range(100_000):
        n = rng.randint(1, 4096)
        h = pool.malloc(n)
        pool.write(h, chunk[:n])
    assert pool.stats()["obj_used"] == 100_000
    assert pool.pool_pages() == frames.allocated
