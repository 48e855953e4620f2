"""Random malloc / write / free / compact sequences against simple invariants."""

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
from zbench_zsmalloc import ZsOptions, ZsPool

from zbench import AllocationError, PageFrames

KERNELS = [("4.1", None), ("4.3", None), ("4.8", None), ("6.1", None), ("6.3", 4),
           ("6.3", 8), ("6.4", 16), ("6.18", None), ("6.18", 5)]


def ref_class_size(size: int, chain: int, min_waste: bool) -> int:
    """Slot size for a request, computed independently of the plugin: the raw class
    of size + 8, then the largest class merged with it (same ppz and objs)."""

    def geometry(i: int) -> tuple[int, int]:
        s = min(32 + 16 * i, 4096)
        best_key, ppz = None, 1
        for n in range(1, chain + 1):
            waste = (n * 4096) % s
            used = (n * 4096 - waste) * 100 // (n * 4096)
            key = (waste, n) if min_waste else (-used, n)
            if best_key is None or key < best_key:
                best_key, ppz = key, n
        return ppz, ppz * 4096 // s

    need = size + 8
    i = 0 if need <= 32 else min(254, -(-(need - 32) // 16))
    geo = geometry(i)
    while i < 254 and geometry(i + 1) == geo:  # merged into the larger class
        i += 1
    return min(32 + 16 * i, 4096)


def payload(tag: int, n: int) -> bytes:
    seed = hashlib.blake2b(tag.to_bytes(8, "little")).digest()
    return (seed * (n // len(seed) + 1))[:n]


sizes = st.one_of(
    st.integers(1, 64), st.integers(65, 1024), st.integers(1025, 3700), st.integers(3600, 4096)
)


class ZsMachine(RuleBasedStateMachine):
    objects = Bundle("objects")

    @initialize(kc=st.sampled_from(KERNELS))
    def setup(self, kc: tuple[str, int | None]) -> None:
        self.frames = PageFrames()
        self.pool = ZsPool(ZsOptions(kernel=kc[0], chain_size=kc[1]), self.frames)
        self.min_waste = self.pool.options.kernel >= "6.3"
        self.chain = self.pool.rules.chain_size
        self.live: dict[int, tuple[int, bytes | None]] = {}
        self.tag = 0
        self.compacted = 0

    @rule(target=objects, n=sizes)
    def malloc(self, n: int) -> int:
        h = self.pool.malloc(n)
        assert h not in self.live
        self.live[h] = (n, None)
        return h

    @rule(n=st.one_of(st.integers(-5, 0), st.integers(4097, 9000)))
    def malloc_bad(self, n: int) -> None:
        try:
            self.pool.malloc(n)
        except AllocationError:
            return
        raise AssertionError("out-of-range malloc accepted")

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

    @rule()
    def compact(self) -> None:
        freeable = sum(r["freeable"] for r in self.pool.class_stats())
        freed = self.pool.compact()
        self.compacted += freed
        assert 0 <= freed <= freeable
        if self.pool.rules.compaction.value != "4.1":
            assert freed == freeable
        assert self.pool.stats()["pages_compacted"] == self.compacted

    @invariant()
    def contents(self) -> None:
        if not hasattr(self, "pool"):
            return
        for h, (n, data) in self.live.items():
            got = self.pool.read(h)
            assert len(got) == n
            if data is not None:
                assert got == data

    @invariant()
    def accounting(self) -> None:
        if not hasattr(self, "pool"):
            return
        pool = self.pool
        rows = pool.class_stats()
        assert pool.pool_pages() == sum(r["pages_used"] for r in rows) == self.frames.allocated
        assert pool.stats()["obj_used"] == len(self.live) == sum(r["obj_used"] for r in rows)
        assert pool.slot_bytes() == sum(
            ref_class_size(n, self.chain, self.min_waste) for n, _ in self.live.values())
        zspages = sum(r["pages_used"] // r["pages_per_zspage"] for r in rows)
        assert pool.stats()["zspages"] == zspages

    def teardown(self) -> None:
        if not hasattr(self, "pool"):
            return
        for h in list(self.live):
            self.pool.free(h)
        assert self.pool.pool_pages() == 0
        assert self.frames.allocated == 0
        assert self.pool.slot_bytes() == 0


_LONG = os.environ.get("ZBENCH_HYPOTHESIS_PROFILE") == "long"
ZsMachine.TestCase.settings = settings(
    max_examples=2000 if _LONG else 120, stateful_step_count=120 if _LONG else 40,
    deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
TestZsmallocStateful = ZsMachine.TestCase
