"""Random malloc / write / free / reclaim sequences against a reference dict.

Profiles: ``z3fold-ci`` (default, bounded) and ``z3fold-long``
(``ZBENCH_HYPOTHESIS_PROFILE=long``).
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
from zbench_z3fold import Z3foldPool, Z3Options

from zbench import AllocationError, PageFrames

settings.register_profile("z3fold-ci", max_examples=80, stateful_step_count=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("z3fold-long", max_examples=1500, stateful_step_count=120,
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROFILE = "z3fold-long" if os.environ.get("ZBENCH_HYPOTHESIS_PROFILE") == "long" else "z3fold-ci"

CONFIGS = [("4.8", None), ("4.10", None), ("4.11", None), ("4.13", 2), ("4.14", None),
           ("5.1", 1), ("5.2", None), ("5.4", None), ("5.5", None), ("5.10", 1),
           ("5.11", None), ("6.1", None), ("6.4", None), ("6.5", None), ("6.14", None),
           ("6.14", 1)]


def payload(tag: int, n: int) -> bytes:
    seed = hashlib.blake2b(tag.to_bytes(8, "little")).digest()
    return (seed * (n // len(seed) + 1))[:n]


def ref_slot(size: int, hdr: int) -> int:
    """Bytes an object occupies, computed independently: a page if it is above
    4096 - 64 * (header chunks + 1), else whole 64-byte chunks."""
    if size > 4096 - 64 * (hdr + 1):
        return 4096
    return -(-size // 64) * 64


sizes = st.one_of(st.integers(1, 64), st.integers(65, 1024), st.integers(1025, 2100),
                  st.integers(2100, 4096))


class Z3Machine(RuleBasedStateMachine):
    objects = Bundle("objects")

    @initialize(cfg=st.sampled_from(CONFIGS))
    def setup(self, cfg: tuple[str, int | None]) -> None:
        self.frames = PageFrames()
        self.pool = Z3foldPool(Z3Options(kernel=cfg[0], header_chunks=cfg[1]), self.frames)
        self.hdr = self.pool.geo.zhdr_chunks
        self.live: dict[int, tuple[int, bytes]] = {}
        self.tag = 0
        self.reclaimed = False

    def _data(self, n: int) -> bytes:
        self.tag += 1
        return payload(self.tag, n)

    @rule(target=objects, n=sizes)
    def malloc(self, n: int) -> int:
        h = self.pool.malloc(n)
        assert h not in self.live
        data = self._data(n)
        self.pool.write(h, data)
        self.live[h] = (n, data)
        return h

    @rule(n=st.one_of(st.integers(-3, 0), st.integers(4097, 9000)))
    def malloc_bad(self, n: int) -> None:
        try:
            self.pool.malloc(n)
        except AllocationError:
            return
        raise AssertionError("out-of-range malloc accepted")

    @rule(h=objects)
    def rewrite(self, h: int) -> None:
        if h in self.live:
            n, _ = self.live[h]
            data = self._data(n)
            self.pool.write(h, data)
            self.live[h] = (n, data)

    @rule(h=consumes(objects))
    def free(self, h: int) -> None:
        if h in self.live:
            self.pool.free(h)
            del self.live[h]

    @rule(retries=st.integers(0, 4), refuse=st.frozensets(st.integers(0, 9), max_size=6))
    def reclaim(self, retries: int, refuse: frozenset[int]) -> None:
        if not self.pool.evictable():
            return
        calls: list[int] = []

        def evict(h: int) -> bool:
            calls.append(h)
            assert h in self.live
            if len(calls) - 1 in refuse:
                return False
            assert self.pool.read(h) == self.live[h][1]  # written back intact
            self.pool.free(h)
            del self.live[h]
            return True

        pages = self.pool.pool_pages()
        freed = self.pool.reclaim_page(evict, retries)
        self.reclaimed = True
        assert self.pool.pool_pages() == pages - freed  # the evictions free no other page

    @invariant()
    def contents(self) -> None:
        if not hasattr(self, "pool"):
            return
        for h, (_n, data) in self.live.items():
            assert self.pool.read(h) == data

    @invariant()
    def accounting(self) -> None:
        if not hasattr(self, "pool"):
            return
        pool, st_ = self.pool, self.pool.stats()
        assert pool.pool_pages() == self.frames.allocated == st_["pages_nr"]
        assert pool.slot_bytes() == sum(ref_slot(n, self.hdr) for n, _ in self.live.values())
        assert st_["objects"] == len(self.live)
        headless = sum(1 for n, _ in self.live.values() if ref_slot(n, self.hdr) == 4096)
        assert st_["headless_pages"] == headless

    @invariant()
    def layout(self) -> None:
        """Objects lie inside their page, after the header, and never overlap."""
        if not hasattr(self, "pool"):
            return
        spans: dict[int, list[tuple[int, int, str]]] = {}
        for h, (n, _) in self.live.items():
            pfn, off, bud = self.pool.obj_location(h)
            spans.setdefault(pfn, []).append((off, off + ref_slot(n, self.hdr), bud))
        assert set(spans) == set(self.pool.pages)
        for objs in spans.values():
            objs.sort()
            if any(b == "headless" for _, _, b in objs):
                assert objs == [(0, 4096, "headless")]
                continue
            assert len(objs) <= 3 and objs[0][0] >= 64 * self.hdr and objs[-1][1] <= 4096
            for (_, end, _), (start, _, _) in zip(objs, objs[1:], strict=False):
                assert end <= start

    def _ref_free_chunks(self, objs: dict[str, tuple[int, int]]) -> int:
        """num_free_chunks from the objects' chunk spans (header chunks excluded)."""
        first, last = objs.get("first"), objs.get("last")
        if "middle" in objs:
            start, end = objs["middle"]
            before = 0 if first else start - self.hdr
            legacy = self.pool.options.kernel < "4.11"  # counted from NCHUNKS up to 4.10
            after = 0 if last else (64 - self.hdr if legacy else 64) - end
            return max(before, after)
        used = sum(e - s for s, e in objs.values())
        return 64 - self.hdr - used

    @invariant()
    def lists(self) -> None:
        if not hasattr(self, "pool"):
            return
        pool = self.pool
        by_page: dict[int, dict[str, tuple[int, int]]] = {}
        for h, (n, _) in self.live.items():
            pfn, off, bud = pool.obj_location(h)
            by_page.setdefault(pfn, {})[bud] = (off // 64, (off + ref_slot(n, self.hdr)) // 64)
        for pfn, objs in by_page.items():
            page = pool.pages[pfn]
            if "headless" in objs:
                assert page.list_idx < 0
            elif page.list_idx >= 0:
                assert len(objs) < 3
                assert page.list_idx == self._ref_free_chunks(objs)
            elif not (pool.rules.deferred_compaction and self.reclaimed):
                assert len(objs) == 3  # only reclaim (4.14+) strands a partial page

    def teardown(self) -> None:
        if not hasattr(self, "pool"):
            return
        for h in list(self.live):
            self.pool.free(h)
        assert self.pool.pool_pages() == 0 and self.frames.allocated == 0
        st_ = self.pool.stats()
        assert self.pool.slot_bytes() == 0
        assert st_["slot_blocks"] == st_["slot_blocks_leaked"]  # only never-used blocks


Z3Machine.TestCase.settings = settings.get_profile(PROFILE)
TestZ3foldStateful = Z3Machine.TestCase
