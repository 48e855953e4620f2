"""Deliberately broken allocators fail the contract suite, and each failure names the rule
it broke (run through pytester, as a third party's test run would)."""

from __future__ import annotations

import pytest
from inner import failed, of_class, outcomes

pytest_plugins = ["pytester"]

BROKEN = '''
import types

from zbench import PAGE_SIZE, AllocationError, Allocator, PluginOptions
from zbench.testing import AllocatorContract


class OnePerPage(Allocator):
    """A correct allocator: one object per page frame."""

    name = "oneperpage"

    def __init__(self, options, frames):
        super().__init__(options, frames)
        self.size = {}

    @property
    def kernel(self):
        return "none"

    def malloc(self, size):
        if not 1 <= size <= PAGE_SIZE:
            raise AllocationError(f"size {size}", code="EINVAL")
        pfn = self.frames.alloc(owner=self.name)
        self.size[pfn] = size
        return pfn + 1

    def free(self, handle):
        del self.size[handle - 1]
        self.frames.free(handle - 1)

    def write(self, handle, data):
        self.frames.page(handle - 1)[: len(data)] = data

    def read(self, handle):
        return bytes(self.frames.page(handle - 1)[: self.size[handle - 1]])

    def max_size(self):
        return PAGE_SIZE

    def pool_pages(self):
        return len(self.size)

    def slot_bytes(self):
        return PAGE_SIZE * len(self.size)


class WrongBytes(OnePerPage):
    """Objects above 2 KiB lose their last byte's value."""

    name = "wrongbytes"

    def read(self, handle):
        data = bytearray(super().read(handle))
        if len(data) > 2048:
            data[-1] ^= 0xFF
        return bytes(data)


class LeaksFrames(OnePerPage):
    """Forgets to give the frame back to PageFrames."""

    name = "leaksframes"

    def free(self, handle):
        del self.size[handle - 1]


class KeepsPages(OnePerPage):
    """Counts freed pages as still held (an empty pool never shrinks)."""

    name = "keepspages"

    def __init__(self, options, frames):
        super().__init__(options, frames)
        self.held = 0

    def malloc(self, size):
        handle = super().malloc(size)
        self.held = max(self.held, len(self.size))
        return handle

    def pool_pages(self):
        return self.held

    def free(self, handle):
        del self.size[handle - 1]


class AcceptsTooBig(OnePerPage):
    name = "acceptstoobig"

    def max_size(self):
        return 2048


class WrongError(OnePerPage):
    name = "wrongerror"

    def malloc(self, size):
        if size < 1:
            raise ValueError("negative")
        return super().malloc(size)


class ShortSlots(OnePerPage):
    name = "shortslots"

    def slot_bytes(self):
        return sum(self.size.values()) - 1 if self.size else 0


class HalfMigration(OnePerPage):
    """Moves pages, but copies only the first half of each."""

    name = "halfmigration"
    migration = "test rules"

    def isolate_page(self, pfn):
        return None

    def migrate_page(self, pfn, newpfn):
        self.frames.page(newpfn)[:2048] = self.frames.page(pfn)[:2048]
        self.size[newpfn] = self.size.pop(pfn)
        return types.SimpleNamespace(ok=True, reason="", remapped={pfn + 1: newpfn + 1})


class EvictableNoReclaim(OnePerPage):
    """Says it is evictable but keeps Allocator's reclaim_page (no LRU reclaim)."""

    name = "evictablenoreclaim"

    def evictable(self):
        return True


class ReusesHandles(OnePerPage):
    """Numbers its handles from a counter that wraps at 40: a live object's handle is
    handed out again."""

    name = "reuseshandles"

    def __init__(self, options, frames):
        super().__init__(options, frames)
        self.inner = {}
        self.n = 0

    def malloc(self, size):
        inner = super().malloc(size)
        self.n += 1
        handle = self.n % 40 + 1
        self.inner[handle] = inner
        return handle

    def free(self, handle):
        super().free(self.inner.pop(handle))

    def write(self, handle, data):
        super().write(self.inner[handle], data)

    def read(self, handle):
        return super().read(self.inner[handle])


class Contract(AllocatorContract):
    n_objects = 60  # enough to break the rules, quick to run
    stateful_shrink = False


class TestOk(Contract):
    allocator_class = OnePerPage


class TestWrongBytes(Contract):
    allocator_class = WrongBytes


class TestLeaksFrames(Contract):
    allocator_class = LeaksFrames


class TestKeepsPages(Contract):
    allocator_class = KeepsPages


class TestAcceptsTooBig(Contract):
    allocator_class = AcceptsTooBig


class TestWrongError(Contract):
    allocator_class = WrongError


class TestShortSlots(Contract):
    allocator_class = ShortSlots


class TestHalfMigration(Contract):
    allocator_class = HalfMigration


class TestEvictableNoReclaim(Contract):
    allocator_class = EvictableNoReclaim


class TestReusesHandles(Contract):
    allocator_class = ReusesHandles
'''


_OUTCOME: dict[str, str] = {}


def run(pytester: pytest.Pytester, cls: str) -> dict[str, str]:
    """The contract's outcome for one class of BROKEN: test name -> failure text ("" =
    passed).  One inner pytest run serves every test here (memoised); the stateful test,
    slow when it fails, runs only for TestOk and TestWrongBytes."""
    memo = outcomes(pytester, _OUTCOME, "test_broken", BROKEN,
                    "-k", "not stateful or TestOk or TestWrongBytes", "--zbench-examples", "10")
    return of_class(memo, cls)




def test_a_correct_allocator_passes(pytester: pytest.Pytester) -> None:
    out = run(pytester, "TestOk")
    assert len(out) == 9
    assert failed(out) == {}


def test_wrong_bytes_break_round_trip(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestWrongBytes"))
    text = f["test_contract_round_trip[default]"]
    assert "rule 'round-trip' broken by wrongbytes" in text
    assert "read back different bytes, first at byte" in text
    assert "every stored object loads back byte-identical" in text
    assert "rule 'round-trip'" in f["test_contract_stateful[default]"]
    assert all("rule 'round-trip'" in t for t in f.values())  # the only rule it breaks


def test_leaked_frames_break_free_and_stats(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestLeaksFrames"))
    text = f["test_contract_free_releases_pages[default]"]
    assert "rule 'free-releases-pages' broken by leaksframes" in text
    assert "still allocated from PageFrames after" in text
    assert "free() must hand pages back with frames.free()" in text
    assert "rule 'stats-add-up'" in f["test_contract_stats_add_up[default]"]
    assert "pool_pages() is" in f["test_contract_stats_add_up[default]"]


def test_pages_kept_after_free_break_free_rule(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestKeepsPages"))
    text = f["test_contract_free_releases_pages[default]"]
    assert "rule 'free-releases-pages' broken by keepspages" in text
    assert "still holds 1 page (pool_pages()) after its one object was freed" in text


def test_bad_sizes(pytester: pytest.Pytester) -> None:
    text = failed(run(pytester, "TestAcceptsTooBig"))["test_contract_bad_sizes_refused[default]"]
    assert "rule 'bad-sizes-refused' broken by acceptstoobig" in text
    assert "malloc(2049) returned handle" in text
    text = failed(run(pytester, "TestWrongError"))["test_contract_bad_sizes_refused[default]"]
    assert "malloc(0) raised ValueError(negative), not zbench.AllocationError" in text


def test_short_slot_bytes_break_stats(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestShortSlots"))
    assert "rule 'stats-add-up' broken by shortslots" in f["test_contract_stats_add_up[default]"]
    assert "less than the" in f["test_contract_stats_add_up[default]"]


def test_migration_that_loses_bytes_breaks_its_rule(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestHalfMigration"))
    assert list(f) == ["test_contract_migration_keeps_contents[default]"]
    text = f["test_contract_migration_keeps_contents[default]"]
    assert "rule 'migration-keeps-contents' broken by halfmigration" in text
    assert "read back different bytes, first at byte 2048" in text
    assert "after migrating PFN" in text


def test_evictable_without_reclaim_breaks_the_reclaim_rule(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestEvictableNoReclaim"))
    assert list(f) == ["test_contract_reclaim_frees_a_page[default]"]
    text = f["test_contract_reclaim_frees_a_page[default]"]
    assert "rule 'reclaim-frees-a-page' broken by evictablenoreclaim" in text
    assert "evictable() is True but reclaim_page() is Allocator's default" in text


def test_reused_handles_break_distinct_handles(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestReusesHandles"))
    text = f["test_contract_distinct_handles[default]"]
    assert "rule 'distinct-handles' broken by reuseshandles" in text
    assert "which the live" in text
