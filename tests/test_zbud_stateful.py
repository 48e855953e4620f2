"""Random malloc / write / free / reclaim sequences against a reference dict.

Profiles: ``ZBENCH_HYPOTHESIS_PROFILE=long`` runs many more and longer sequences
than the default (``ci``).
"""

from __future__ import annotations

import hashlib
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)
from zbench_zbud import ZbudOptions, ZbudPool

from zbench import AllocationError, PageFrames

settings.register_profile(
    "zbud-ci", max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "zbud-long", max_examples=1500, stateful_step_count=120, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
PROFILE = "zbud-long" if os.environ.get("ZBENCH_HYPOTHESIS_PROFILE") == "long" else "zbud-ci"

KERNELS = ["3.11", "3.12", "4.19", "6.1", "6.4", "6.5", "6.14"]


def chunks(n: int) -> int:
    return -(-n // 64)


def payload(tag: int, n: int) -> bytes:
    seed = hashlib.blake2b(tag.to_bytes(8, "little")).digest()
    return (seed * (n // len(seed) + 1))[:n]


sizes = st.one_of(st.integers(1, 64), st.integers(65, 1984), st.integers(1985, 3968),
                  st.integers(3900, 4100))


class ZbudMachine(RuleBasedStateMachine):
    objects = Bundle("objects")

    @initialize(kernel=st.sampled_from(KERNELS))
    def setup(self, kernel: str) -> None:
        self.frames = PageFrames()
        self.pool = ZbudPool(ZbudOptions(kernel=kernel), self.frames)
        self.max = 4032 if kernel == "3.11" else 3968
        self.lru = kernel not in ("6.5", "6.14")
        self.live: dict[int, tuple[int, bytes | None]] = {}  # handle -> (size, data)
        self.tag = 0

    def by_page(self) -> dict[int, list[int]]:
        pages: dict[int, list[int]] = {}
        for h in self.live:
            pages.setdefault(h >> 12, []).append(h)
        return pages

    @rule(target=objects, n=sizes)
    def malloc(self, n: int) -> int:
        if n > self.max:
            try:
                self.pool.malloc(n)
            except AllocationError as exc:
                assert exc.code == "ENOSPC"
                return 0
            raise AssertionError(f"{n} accepted")
        # the smallest free space (in chunks) among one-buddy pages that fits n
        fits = [63 - chunks(self.live[hs[0]][0]) for hs in self.by_page().values()
                if len(hs) == 1 and 63 - chunks(self.live[hs[0]][0]) >= chunks(n)]
        before = set(self.by_page())
        h = self.pool.malloc(n)
        assert h not in self.live
        pfn = h >> 12
        if fits:
            assert pfn in before
            assert 63 - chunks(self.live[self.by_page()[pfn][0]][0]) == min(fits)
        else:
            assert pfn not in before
        self.live[h] = (n, None)
        return h

    @rule(n=st.integers(-3, 0))
    def malloc_bad(self, n: int) -> None:
        try:
            self.pool.malloc(n)
        except AllocationError as exc:
            assert exc.code == "EINVAL"
            return
        raise AssertionError("size <= 0 accepted")

    @rule(h=objects)
    def write(self, h: int) -> None:
        if h not in self.live:
            return
        n, _ = self.live[h]
        self.tag += 1
        data = payload(self.tag, n)
        self.pool.write(h, data)
        self.live[h] = (n, data)

    @rule(h=consumes(objects))
    def free(self, h: int) -> None:
        if h in self.live:
            self.pool.free(h)
            del self.live[h]

    @rule(retries=st.integers(0, 4), decisions=st.lists(st.booleans(), max_size=8))
    def reclaim(self, retries: int, decisions: list[bool]) -> None:
        if not self.lru:
            try:
                self.pool.reclaim_page(lambda _h: True, retries)
            except NotImplementedError:
                return
            raise AssertionError("reclaim on a kernel without zbud LRU")
        pages_before = self.pool.pool_pages()
        pfns_before = set(self.by_page())
        offered: list[int] = []

        def evict(handle: int) -> bool:
            offered.append(handle)
            ok = decisions.pop(0) if decisions else True
            if handle not in self.live or not ok:
                return False
            self.pool.free(handle)
            del self.live[handle]
            return True

        freed = self.pool.reclaim_page(evict, retries)
        assert len(offered) <= 2 * retries
        assert self.pool.pool_pages() == pages_before - int(freed)
        if freed:  # the page of the last offered handle is gone, nothing live in it
            assert offered and (offered[-1] >> 12) in pfns_before
            assert (offered[-1] >> 12) not in self.by_page()

    @invariant()
    def contents(self) -> None:
        if not hasattr(self, "pool"):
            return
        for h, (n, data) in self.live.items():
            got = self.pool.read(h)
            assert len(got) == n
            if data is not None:
                assert got == data
                off = h & 4095
                assert bytes(self.frames.page(h >> 12)[off:off + n]) == data

    @invariant()
    def layout_and_accounting(self) -> None:
        if not hasattr(self, "pool"):
            return
        pool, pages = self.pool, self.by_page()
        for hs in pages.values():
            assert len(hs) <= 2
            spans = []
            for h in hs:
                c, off = chunks(self.live[h][0]), h & 4095
                assert off in (64, 4096 - 64 * c)
                spans.append((off, off + 64 * c))
            spans.sort()
            assert spans[-1][1] <= 4096
            if len(spans) == 2:
                assert spans[0][0] == 64 and spans[0][1] <= spans[1][0]
        assert pool.pool_pages() == self.frames.allocated == len(pages)
        assert pool.slot_bytes() == sum(64 * chunks(n) for n, _ in self.live.values())
        st_ = pool.stats()
        assert st_["zbud_objects"] == len(self.live)
        assert st_["buddied_pages"] == sum(len(hs) == 2 for hs in pages.values())
        assert st_["unbuddied_pages"] == sum(len(hs) == 1 for hs in pages.values())

    def teardown(self) -> None:
        if not hasattr(self, "pool"):
            return
        for h in list(self.live):
            self.pool.free(h)
        assert self.pool.pool_pages() == 0 == self.frames.allocated
        assert self.pool.slot_bytes() == 0


ZbudMachine.TestCase.settings = settings.get_profile(PROFILE)
TestZbudStateful = ZbudMachine.TestCase
