"""The allocator contract suite: subclass :class:`AllocatorContract` in your tests.

```python
from zbench.testing import AllocatorContract
from zbench_myalloc import MyAlloc


class TestMyAllocContract(AllocatorContract):
    allocator_class = MyAlloc
    option_sets = [{}, {"kernel": "6.1"}]   # optional: every test runs once per set
```

pytest collects the inherited ``test_contract_*`` methods; each failure is a
:class:`~zbench.testing.rules.ContractViolation` naming the rule that broke.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from zbench import PAGE_SIZE, AllocationError, Allocator, Capability, PageFrames, capabilities
from zbench.api.options import parse_options
from zbench.testing import migration
from zbench.testing.checker import ERRNO_CODES, PoolChecker


def _options_id(opts: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in opts.items()) or "default"


class AllocatorContract:
    """Rules every zbench allocator keeps.  Set :attr:`allocator_class`; override the rest
    only where your allocator's rules differ."""

    #: The allocator under test (a :class:`zbench.Allocator` subclass).
    allocator_class: ClassVar[type[Allocator]]
    #: Option mappings (as a suite would give them); every test runs once per entry.
    option_sets: ClassVar[Sequence[Mapping[str, Any]]] = ({},)
    #: Object sizes the deterministic tests draw from; ``None``: boundaries of 1..max_size()
    #: plus a seeded spread over the range.
    sizes: ClassVar[Sequence[int] | None] = None
    #: Objects stored by the round-trip and free tests.
    n_objects: ClassVar[int] = 240
    #: False if an empty pool keeps pages by design (then only "no growth per cycle" is checked).
    releases_pages_when_empty: ClassVar[bool] = True
    #: False if pool_pages() counts something other than the frames taken from PageFrames.
    pool_pages_are_frames: ClassVar[bool] = True
    #: Hypothesis budget of the stateful test (``--zbench-examples`` overrides examples).
    stateful_examples: ClassVar[int] = 25
    stateful_steps: ClassVar[int] = 40
    #: False: report a failing random sequence as found, without shrinking it (faster).
    stateful_shrink: ClassVar[bool] = True

    # -- hooks a subclass may override --------------------------------------------
    def make_allocator(self, options: Mapping[str, Any]) -> tuple[Allocator, PageFrames]:
        """A fresh allocator on fresh frames, options validated like a suite's."""
        cls = self.allocator_class
        opts = parse_options(cls.Options, dict(options), f"{cls.name} options")
        frames = PageFrames()
        return cls(opts, frames), frames

    def pool_pages_bounds(self, pool: Allocator, live_sizes: list[int]
                          ) -> tuple[int, int] | None:
        """The fewest and most pages the allocator's rules allow for these live objects
        (checked after every step); ``None``: no bound beyond "empty pool, no pages"."""
        return None

    # -- plumbing -------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "contract_options" in metafunc.fixturenames:
            sets = [dict(o) for o in self.option_sets]
            metafunc.parametrize("contract_options", sets, ids=[_options_id(o) for o in sets])

    def checker(self, options: Mapping[str, Any]) -> PoolChecker:
        alloc, frames = self.make_allocator(options)
        who = f"{self.allocator_class.name} ({_options_id(options)} options)"
        return PoolChecker(alloc, frames, who, bounds=self.pool_pages_bounds,
                           releases_when_empty=self.releases_pages_when_empty,
                           pool_pages_are_frames=self.pool_pages_are_frames)

    def size_set(self, max_size: int) -> list[int]:
        if self.sizes is not None:
            return [s for s in self.sizes if 1 <= s <= max_size]
        edges = {1, 2, 7, 8, 9, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512,
                 1000, 1024, 1500, 2000, 2048, 2049, 2500, 3000, 3500, 4000, PAGE_SIZE,
                 max_size // 3, max_size // 2, max_size - 1, max_size}
        rng = random.Random(max_size)
        spread = {rng.randint(1, max_size) for _ in range(64)}
        return sorted(s for s in edges | spread if 1 <= s <= max_size)

    def draw(self, rng: random.Random, max_size: int, n: int) -> list[int]:
        sizes = self.size_set(max_size)
        return [rng.choice(sizes) if rng.random() < 0.5 else rng.randint(1, max_size)
                for _ in range(n)]

    # -- the rules ---------------------------------------------------------------------
    def test_contract_round_trip(self, contract_options: dict[str, Any]) -> None:
        c = self.checker(contract_options)
        rng = random.Random(1)
        handles = [c.store(s) for s in self.draw(rng, c.alloc.max_size(), self.n_objects)]
        c.verify_all(f"after all {len(handles)} objects were stored")
        for h in handles[::3]:
            c.free(h)
        c.verify_all(f"after {c.freed} of {c.stored} objects were freed")
        c.compact()
        c.verify_all("after compact()")
        for s in self.draw(rng, c.alloc.max_size(), self.n_objects // 2):
            c.store(s)
        c.verify_all("after more objects were stored into the freed space")
        c.free_all(sorted(c.live, key=lambda _h: rng.random()))

    def test_contract_distinct_handles(self, contract_options: dict[str, Any]) -> None:
        """Handles stay distinct while freed room is reused: ``PoolChecker.store`` checks
        each new handle is an int and against every live one."""
        c = self.checker(contract_options)
        rng = random.Random(7)
        top = c.alloc.max_size()
        for round_ in range(3):
            for s in self.draw(rng, top, self.n_objects // 2):
                c.store(s)
            for h in sorted(c.live, key=lambda _h: rng.random())[: self.n_objects // 3]:
                c.free(h)
            c.verify_all(f"after round {round_ + 1} of storing and freeing")
        c.free_all()

    def test_contract_legal_sizes_accepted(self, contract_options: dict[str, Any]) -> None:
        c = self.checker(contract_options)
        top = c.alloc.max_size()
        if not isinstance(top, int) or top < 1:
            raise c.fail("legal-sizes-accepted", f"max_size() returned {top!r}")
        for size in self.size_set(top):
            h = c.store(size)
            c.verify(h, f"right after malloc({size})")
        c.verify_all("after one object of every size was stored")
        c.check_stats("after one object of every size was stored")

    def test_contract_bad_sizes_refused(self, contract_options: dict[str, Any]) -> None:
        c = self.checker(contract_options)
        top = c.alloc.max_size()
        for s in self.draw(random.Random(2), top, 24):
            c.store(s)
        for bad in (0, -1, top + 1, top + 8, top + PAGE_SIZE):
            before = c.snapshot()
            try:
                h = c.alloc.malloc(bad)
            except AllocationError as exc:
                if getattr(exc, "code", None) not in ERRNO_CODES:
                    raise c.fail("bad-sizes-refused",
                                 f"malloc({bad}) raised AllocationError with code "
                                 f"{getattr(exc, 'code', None)!r}") from None
            except Exception as exc:  # noqa: BLE001 - the point is to name it
                raise c.fail("bad-sizes-refused",
                             f"malloc({bad}) raised {type(exc).__name__}({exc}), not "
                             f"zbench.AllocationError (max_size() is {top})") from None
            else:
                raise c.fail("bad-sizes-refused",
                             f"malloc({bad}) returned handle {h!r} instead of raising "
                             f"zbench.AllocationError (max_size() is {top})")
            after = c.snapshot()
            if after != before:
                raise c.fail("bad-sizes-refused",
                             f"the refused malloc({bad}) changed the pool: {before} -> {after}")
            c.verify_all(f"after the refused malloc({bad})")

    def test_contract_free_releases_pages(self, contract_options: dict[str, Any]) -> None:
        c = self.checker(contract_options)
        c.check_empty("in a new pool")
        for size in self.size_set(c.alloc.max_size()):  # one object alone in the pool
            h = c.store(size)
            if c.frames.allocated < 1:
                raise c.fail("stats-add-up", f"a {size}-byte object is stored but the pool "
                                             f"holds no page frame")
            c.free(h)
            c.check_empty(f"after a lone {size}-byte object was stored and freed")
        rng = random.Random(3)
        left: list[tuple[int, int]] = []
        for cycle in range(3):  # fill, free in random order, twice more: nothing accumulates
            for s in self.draw(rng, c.alloc.max_size(), self.n_objects):
                c.store(s)
                c.check_stats(f"while filling (cycle {cycle + 1})")
            order = sorted(c.live, key=lambda _h: rng.random())
            for i, h in enumerate(order):
                c.free(h)
                if i % 16 == 0:
                    c.check_stats(f"while freeing (cycle {cycle + 1})")
                    c.verify_all(f"while freeing (cycle {cycle + 1})")
            left.append(c.check_empty(f"after fill-and-free cycle {cycle + 1}"))
        if left[-1] > left[0]:
            raise c.fail("free-releases-pages",
                         f"each fill-and-free cycle leaves more behind: (pool pages, frames) "
                         f"{left} after cycles 1-3")

    def test_contract_stats_add_up(self, contract_options: dict[str, Any]) -> None:
        c = self.checker(contract_options)
        c.check_stats("in a new pool")
        rng = random.Random(4)
        for s in self.draw(rng, c.alloc.max_size(), self.n_objects):
            c.store(s)
            c.check_stats(f"after {c.stored} objects were stored")
        for h in sorted(c.live, key=lambda _h: rng.random())[: self.n_objects // 2]:
            c.free(h)
            c.check_stats(f"after {c.freed} objects were freed")
        c.compact()
        c.check_stats("after compact()")
        c.free_all()
        c.check_empty("after every object was freed")

    def test_contract_migration_keeps_contents(self, contract_options: dict[str, Any]) -> None:
        c = self.checker(contract_options)
        api = migration.find(c.alloc)
        if api is None:
            pytest.skip(f"{self.allocator_class.name} does not move pages with these options "
                        f"({migration.WHAT_IS_LOOKED_FOR})")
        rng = random.Random(5)
        for s in self.draw(rng, c.alloc.max_size(), self.n_objects):
            c.store(s)
        for h in list(c.live)[::4]:
            c.free(h)
        moved = migration.migrate_every_page(c, api)
        c.verify_all(f"after migrating {moved} pages")
        c.check_stats(f"after migrating {moved} pages")
        c.free_all()
        c.check_empty("after migration and freeing every object")

    def test_contract_reclaim_frees_a_page(self, contract_options: dict[str, Any]) -> None:
        c = self.checker(contract_options)
        if Capability.EVICTABLE not in capabilities(c.alloc):
            if c.alloc.evictable():
                raise c.fail("reclaim-frees-a-page",
                             "evictable() is True but reclaim_page() is Allocator's default "
                             "(no LRU reclaim): a front end would call it and fail")
            pytest.skip(f"{self.allocator_class.name} is not evictable with these options")
        rng = random.Random(6)
        for s in self.draw(rng, c.alloc.max_size(), self.n_objects // 2):
            c.store(s)
        for _ in range(8):
            evicted: list[int] = []

            def evict(handle: int, _ev: list[int] = evicted) -> bool:
                if handle not in c.live:
                    raise c.fail("reclaim-frees-a-page",
                                 f"reclaim_page() called evict({handle!r}), not a live handle")
                c.verify(handle, "when reclaim_page() handed it to evict()")
                _ev.append(handle)
                c.free(handle)
                return True

            before = c.alloc.pool_pages()
            if not c.alloc.reclaim_page(evict, 8):
                raise c.fail("reclaim-frees-a-page",
                             f"reclaim_page() freed no page though evict() freed "
                             f"{len(evicted)} objects")
            if not evicted or c.alloc.pool_pages() >= before:
                raise c.fail("reclaim-frees-a-page",
                             f"reclaim_page() returned True but pool_pages() went from {before} "
                             f"to {c.alloc.pool_pages()} after {len(evicted)} evictions")
            c.verify_all("after reclaim_page()")
            c.check_stats("after reclaim_page()")
            if not c.live:
                break

    def test_contract_stateful(self, contract_options: dict[str, Any],
                               request: pytest.FixtureRequest) -> None:
        pytest.importorskip("hypothesis", reason="the stateful rule needs hypothesis")
        from zbench.testing.stateful import run_machine

        examples = request.config.getoption("zbench_examples", None) or self.stateful_examples
        run_machine(lambda: self.checker(contract_options), examples, self.stateful_steps,
                    shrink=self.stateful_shrink)
