"""zs_compact: pages freed against the zs_can_compact prediction, contents kept."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zbench_zsmalloc import ZsOptions, ZsPool

from zbench import PageFrames

KERNELS = ["4.1", "4.3", "4.8", "6.1", "6.3", "6.18"]
EXACT = ["4.3", "4.8", "6.1", "6.3", "6.18"]  # zs_can_compact-driven algorithms


def make(kernel: str, chain: int | None = None) -> tuple[ZsPool, PageFrames]:
    frames = PageFrames()
    return ZsPool(ZsOptions(kernel=kernel, chain_size=chain), frames), frames


def fill(pool: ZsPool, sizes: list[int], seed: int) -> dict[int, bytes]:
    rng = random.Random(seed)
    live = {}
    for n in sizes:
        h = pool.malloc(n)
        data = rng.randbytes(n)
        pool.write(h, data)
        live[h] = data
    return live


def check_contents(pool: ZsPool, live: dict[int, bytes]) -> None:
    for h, data in live.items():
        assert pool.read(h) == data
        assert pool.obj_header(h) == h | 1  # the header moved with the object


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_single_class_fragmentation(kernel: str, seed: int) -> None:
    """One class: N objects per zspage, ppz pages (mm/zsmalloc.c's rules: 200 B -> class 208,
    39 objs / 2 pages before 6.3, 59 / 3 at chain 8).  Predicted freed pages =
    floor((allocated - used) / N) * ppz."""
    pool, frames = make(kernel)
    n_objs, ppz = (59, 3) if kernel in ("6.3", "6.18") else (39, 2)
    zspages = 12
    live = fill(pool, [200] * (n_objs * zspages), seed)
    rng = random.Random(seed)
    for h in list(live):
        if rng.random() < 0.6:
            pool.free(h)
            del live[h]
    used = len(live)
    allocated = pool.stats()["obj_allocated"]
    assert allocated % n_objs == 0
    before = pool.pool_pages()
    assert before == allocated // n_objs * ppz
    predicted = (allocated - used) // n_objs * ppz
    assert sum(r["freeable"] for r in pool.class_stats()) == predicted
    freed = pool.compact()
    if kernel == "4.1":
        assert 0 <= freed <= predicted
    else:
        assert freed == predicted
    assert pool.pool_pages() == before - freed == frames.allocated
    assert pool.stats()["pages_compacted"] == freed
    if freed:
        assert pool.stats()["objs_moved"] > 0
    check_contents(pool, live)
    assert pool.compact() == 0  # nothing left to do
    for h in live:
        pool.free(h)
    assert pool.pool_pages() == 0 == frames.allocated


def test_v41_needs_almost_empty_source() -> None:
    """4.1-4.2 only take sources from ALMOST_EMPTY: five zspages at 31/39 (> 3N/4 = 29,
    ALMOST_FULL) hold 40 unused slots (one zspage's worth) but 4.1 frees nothing; 4.3
    ("consider ZS_ALMOST_FULL as migrate source") frees one zspage (2 pages)."""
    for kernel, expect in (("4.1", 0), ("4.3", 2), ("6.1", 2)):
        pool, _ = make(kernel)
        hs = [pool.malloc(200) for _ in range(5 * 39)]
        for z in range(5):
            for h in hs[z * 39:z * 39 + 8]:
                pool.free(h)
        rows = {r["class"]: r for r in pool.class_stats()}
        assert rows[11]["almost_full"] == 5 and rows[11]["freeable"] == 2
        assert pool.compact() == expect, kernel


def test_v64_fewer_moves_same_result() -> None:
    """Old and new algorithms free the same pages here; 6.4's emptiest-source /
    fullest-destination choice moves fewer objects (the rework's stated aim)."""
    results = {}
    for kernel in ("6.3", "6.18"):
        pool, _ = make(kernel, 8)
        live = fill(pool, [200] * (59 * 20), 7)
        rng = random.Random(7)
        for h in list(live):
            if rng.random() < 0.5:
                pool.free(h)
                del live[h]
        freed = pool.compact()
        check_contents(pool, live)
        results[kernel] = (freed, pool.stats()["objs_moved"], pool.pool_pages())
    assert results["6.3"][0] == results["6.18"][0] > 0
    assert results["6.3"][2] == results["6.18"][2]
    assert results["6.18"][1] <= results["6.3"][1]


def test_v64_keeps_destination_until_full() -> None:
    """6.4: dst = fullest (here 58/59), src = emptiest (1/59): one move fills dst and
    empties src -> 3 pages freed with a single object copy."""
    pool, _ = make("6.18")
    hs = [pool.malloc(200) for _ in range(3 * 59)]
    live_src = hs[0]
    for h in hs[1:59]:  # zspage 0: 1 live object
        pool.free(h)
    pool.free(hs[59])  # zspage 1: 58 live
    data = b"\xaa" * 200
    pool.write(live_src, data)
    assert pool.compact() == 3
    assert pool.stats()["objs_moved"] == 1
    assert pool.read(live_src) == data
    assert pool.obj_location(live_src)[0] // 3 == 1  # now in zspage 1


@pytest.mark.parametrize("kernel", EXACT)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compaction_reaches_prediction_all_classes(kernel: str, data: st.DataObject) -> None:
    """For the zs_can_compact-driven algorithms compaction frees exactly
    Σ freeable and leaves every class with freeable 0 (at most one partially used
    zspage's worth of free slots)."""
    sizes = data.draw(st.lists(st.sampled_from([1, 30, 100, 200, 500, 700, 1500, 2000, 3000,
                                                 3300, 3620, 4000]),
                               min_size=1, max_size=400), label="sizes")
    keep = data.draw(st.floats(0.05, 0.95), label="keep")
    pool, frames = make(kernel)
    live = fill(pool, sizes, 3)
    rng = random.Random(len(sizes))
    for h in list(live):
        if rng.random() > keep:
            pool.free(h)
            del live[h]
    predicted = sum(r["freeable"] for r in pool.class_stats())
    before = pool.pool_pages()
    assert pool.compact() == predicted
    assert pool.pool_pages() == before - predicted == frames.allocated
    assert all(r["freeable"] == 0 for r in pool.class_stats())
    check_contents(pool, live)


def _free_to(pool: ZsPool, zspage_handles: list[int], keep: int) -> list[int]:
    for h in zspage_handles[keep:]:
        pool.free(h)
    return zspage_handles[:keep]


def test_v64_emptiest_source_fullest_destination() -> None:
    """6.4: dst = fullest zspage (84%), src = emptiest (8%); 5 objects move, the 8%
    zspage is freed and zs_can_compact reaches 0 before any other move."""
    pool, frames = make("6.18")  # class 208: 59 objs, 3 pages
    hs = [pool.malloc(200) for _ in range(4 * 59)]
    z = [hs[i * 59:(i + 1) * 59] for i in range(4)]
    kept = [_free_to(pool, z[0], 50), _free_to(pool, z[1], 40),
            _free_to(pool, z[2], 5), _free_to(pool, z[3], 30)]
    assert pool.compact() == 3
    assert pool.stats()["objs_moved"] == 5
    # the emptiest zspage's frames (pfns 6..8) are gone; the others stay
    assert [frames.is_allocated(p) for p in range(12)] == [True] * 6 + [False] * 3 + [True] * 3
    for h in kept[2]:
        assert pool.obj_location(h)[0] // 3 == 0  # moved into the fullest zspage
    for h in kept[0] + kept[1] + kept[3]:
        assert pool.read(h) is not None


def test_v43_almost_empty_head_source_almost_full_destination() -> None:
    """<= 6.3: source = ALMOST_EMPTY list head (the zspage that dropped there last),
    destinations ALMOST_FULL first, then ALMOST_EMPTY, until the source is empty."""
    pool, frames = make("6.1")  # class 208: 39 objs, 2 pages, ALMOST_EMPTY <= 29
    hs = [pool.malloc(200) for _ in range(3 * 39)]
    z = [hs[i * 39:(i + 1) * 39] for i in range(3)]
    _free_to(pool, z[0], 35)  # ALMOST_FULL, 4 free slots
    _free_to(pool, z[1], 10)  # ALMOST_EMPTY (entered first)
    src = _free_to(pool, z[2], 20)  # ALMOST_EMPTY (entered last -> list head)
    assert pool.compact() == 2
    assert pool.stats()["objs_moved"] == 20
    assert [frames.is_allocated(p) for p in range(6)] == [True] * 4 + [False] * 2
    homes = [pool.obj_location(h)[0] // 2 for h in src]
    assert homes == [0] * 4 + [1] * 16  # fill the ALMOST_FULL zspage first
    rows = {r["class"]: r for r in pool.class_stats()}
    assert (rows[11]["almost_full"], rows[11]["almost_empty"]) == (0, 1)
