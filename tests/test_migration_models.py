"""Page migration per allocator model, as the kernel does it (docs/migration.md).

Acceptance: zbud pool pages are never movable; zsmalloc (>= 4.8) and z3fold
(>= 5.2) migrate every unmapped page the kernel lets move and keep the data.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zbench_z3fold import Z3foldPool, Z3Options
from zbench_zbud import ZbudOptions, ZbudPool
from zbench_zsmalloc import ZsOptions, ZsPool

from zbench import Mobility, OptionsError, PageFrames
from zbench.api.options import parse_options
from zbench.sim.migrate import Migrator, Tally, evacuate


class _Direct:
    """The smallest front end the migration core needs: hands pages to the allocator."""

    def __init__(self, allocator: object) -> None:
        self.allocator = allocator

    def isolate_page(self, pfn: int) -> str | None:
        return self.allocator.isolate_page(pfn)  # type: ignore[attr-defined]

    def migrate_page(self, pfn: int, newpfn: int):  # noqa: ANN201
        return self.allocator.migrate_page(pfn, newpfn)  # type: ignore[attr-defined]

    def putback_page(self, pfn: int) -> None:
        self.allocator.putback_page(pfn)  # type: ignore[attr-defined]


def _fill(pool, rng: random.Random, n: int, big: bool = True) -> dict[int, bytes]:  # noqa: ANN001
    data: dict[int, bytes] = {}
    for _ in range(n):
        hi = min(pool.max_size(), 4096 if big else 3000)
        size = rng.choice([rng.randint(1, 300), rng.randint(300, 2000), rng.randint(2000, hi)])
        h = pool.malloc(size)
        blob = rng.randbytes(size)
        pool.write(h, blob)
        data[h] = blob
    for h in list(data)[::3]:
        pool.free(h)
        del data[h]
    return data


def _migrate_all(pool, frames: PageFrames) -> Tally:  # noqa: ANN001
    tally = Tally()
    Migrator(frames, _Direct(pool), None).migrate_all(tally)  # type: ignore[arg-type]
    return tally


def _check(pool, data: dict[int, bytes]) -> None:  # noqa: ANN001
    for h, blob in data.items():
        assert pool.read(h) == blob


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32), st.sampled_from(["3.11", "4.8", "6.6", "6.14"]))
def test_zbud_pool_pages_are_never_movable(seed: int, kernel: str) -> None:
    frames = PageFrames()
    pool = ZbudPool(ZbudOptions(kernel=kernel), frames)
    data = _fill(pool, random.Random(seed), 300, big=False)
    before = {p: bytes(frames.page(p)) for p in frames.pfns()}
    assert all(frames.info(p).mobility is Mobility.UNMOVABLE for p in frames.pfns())
    tally = _migrate_all(pool, frames)
    assert tally.succeeded == 0 and tally.attempts == len(before)
    assert set(tally.reasons) == {
        "not movable: zbud handles are addresses (direct); no movable_operations"}
    assert {p: bytes(frames.page(p)) for p in frames.pfns()} == before  # nothing moved
    ev = evacuate(Migrator(frames, _Direct(pool), None))  # type: ignore[arg-type]
    assert ev.pool_emptied == 0 and ev.pinned_frames == len(before)
    assert pool.migration == ""
    _check(pool, data)


@pytest.mark.parametrize("kernel", ["4.8", "5.10", "5.17", "6.6", "6.18"])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32), chain=st.sampled_from([4, 8]))
def test_zsmalloc_migrates_every_unmapped_page_and_keeps_the_data(
        kernel: str, seed: int, chain: int) -> None:
    if kernel < "6.3":
        chain = 4
    frames = PageFrames()
    pool = ZsPool(ZsOptions(kernel=kernel, chain_size=chain), frames)
    rng = random.Random(seed)
    data = _fill(pool, rng, 400)
    pages = frames.allocated
    assert all(frames.info(p).mobility is Mobility.MOVABLE for p in frames.pfns())
    tally = _migrate_all(pool, frames)
    assert (tally.attempts, tally.succeeded) == (pages, pages), tally.reasons
    assert tally.bytes_copied == 4096 * pages and tally.handle_updates == len(data)
    _check(pool, data)
    data.update(_fill(pool, rng, 100))  # the moved zspages keep working
    pool.compact()
    _check(pool, data)
    assert frames.allocated == pool.pool_pages()


def test_zsmalloc_before_4_8_is_not_movable() -> None:
    frames = PageFrames()
    pool = ZsPool(ZsOptions(kernel="4.7", chain_size=4), frames)
    _fill(pool, random.Random(1), 50)
    assert all(frames.info(p).mobility is Mobility.UNMOVABLE for p in frames.pfns())
    assert _migrate_all(pool, frames).succeeded == 0


@pytest.mark.parametrize(("kernel", "fails"), [("5.10", False), ("6.6", False), ("6.18", True)])
def test_zsmalloc_mapped_object_waits_before_6_15_and_fails_after(kernel: str,
                                                                   fails: bool) -> None:
    frames = PageFrames()
    pool = ZsPool(ZsOptions(kernel=kernel, chain_size=4), frames)
    data = _fill(pool, random.Random(7), 200)
    h = next(iter(data))
    pool.map_object(h)
    zspage = pool.locate(h)[0]
    tally = _migrate_all(pool, frames)
    pool.unmap_object(h)
    if fails:  # zspage_write_trylock fails for every page of the zspage
        assert tally.attempts - tally.succeeded == len(zspage.pfns)
        assert set(tally.reasons) == {
            "EINVAL: zspage_write_trylock failed (an object of the zspage is mapped)"}
    else:
        assert tally.succeeded == tally.attempts and tally.waited == len(zspage.pfns)
    _check(pool, data)


@pytest.mark.parametrize("kernel", ["5.2", "5.4", "5.5", "6.6", "6.14"])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_z3fold_migrates_every_unmapped_page_the_kernel_lets_move(kernel: str,
                                                                   seed: int) -> None:
    """>= 5.2: every page but headless ones and (5.5+) pages holding foreign handles."""
    frames = PageFrames()
    pool = Z3foldPool(Z3Options(kernel=kernel), frames)
    rng = random.Random(seed)
    data = _fill(pool, rng, 400)
    m = Migrator(frames, _Direct(pool), None)  # type: ignore[arg-type]
    moved = 0
    for pfn in sorted(pool.pages):
        page = pool.pages.get(pfn)
        if page is None:  # freed by the compaction a migration queued (5.5+)
            continue
        tally = Tally()
        ok = m.migrate(pfn, tally)
        if page.headless:
            assert not ok and set(tally.reasons) == {
                "not movable: headless page (never __SetPageMovable)"}
        elif page.foreign_handles:
            assert kernel >= "5.5" and not ok
            assert set(tally.reasons) == {"EBUSY: page holds foreign handles"}
        else:
            assert ok, tally.reasons
            moved += 1
    assert moved > 0
    _check(pool, data)
    data.update(_fill(pool, rng, 100))
    _check(pool, data)
    assert frames.allocated == pool.pool_pages()


def test_z3fold_before_5_2_is_not_movable_and_mapped_buddies_block_isolation() -> None:
    frames = PageFrames()
    old = Z3foldPool(Z3Options(kernel="5.1"), frames)
    _fill(old, random.Random(2), 60, big=False)
    assert _migrate_all(old, frames).succeeded == 0
    frames = PageFrames()
    pool = Z3foldPool(Z3Options(kernel="6.6"), frames)
    data = _fill(pool, random.Random(3), 60, big=False)
    h = next(iter(data))
    pool.map_object(h)
    assert pool.isolate_page(pool.locate(h)[0].pfn) == "EBUSY: a buddy is mapped (mapped_count)"
    pool.unmap_object(h)
    assert pool.isolate_page(pool.locate(h)[0].pfn) is None


def test_zbud_2013_series_is_movable_keyed_and_refuses_mapped_buddies() -> None:
    frames = PageFrames()
    pool = ZbudPool(ZbudOptions(kernel="3.11", migration="kozlowski-2013"), frames)
    rng = random.Random(4)
    data = {}
    for offset in range(200):
        size = rng.randint(1, 2000)
        h = pool.malloc_keyed(size, offset)
        assert h == offset  # v3: the radix tree is keyed by swap offset
        pool.write(h, blob := rng.randbytes(size))
        data[h] = blob
    with pytest.raises(Exception, match="stored already"):
        pool.malloc_keyed(10, 5)
    assert all(frames.info(p).mobility is Mobility.MOVABLE for p in frames.pfns())
    pool.map_object(7)
    tally = _migrate_all(pool, frames)
    assert tally.attempts - tally.succeeded == 1
    assert set(tally.reasons) == {"EAGAIN: a buddy is mapped (map count)"}
    pool.unmap_object(7)
    assert _migrate_all(pool, frames).succeeded == pool.pool_pages()
    _check(pool, data)
    assert pool.kozlowski is not None and pool.kozlowski.tree.nodes == 5  # 0..199: 4 leaves, a root
    with pytest.raises(OptionsError, match="3.11 - 3.12"):
        parse_options(ZbudOptions, {"kernel": "6.6", "migration": "kozlowski-2013"}, "x")
