"""The front-end contract (zbench.testing.FrontEndContract) passes a correct front end and
fails broken ones, each failure naming the rule it broke (run through pytester, as a
third party's test run would)."""

from __future__ import annotations

import pytest
from inner import failed, of_class, outcomes

pytest_plugins = ["pytester"]

BROKEN = '''
from zbench import PAGE_SIZE, AllocationError, FrontEnd, same_filled_word
from zbench.testing import FrontEndContract


class Plain(FrontEnd):
    """A correct front end: same-filled pages as a word, the rest through the allocator,
    refused pages kept raw."""

    name = "plainfe"

    def __init__(self, options, allocator, compressor):
        super().__init__(options, allocator, compressor)
        self.entries, self.words, self.raw = {}, {}, {}

    @property
    def kernel(self):
        return "none"

    def store(self, offset, page):
        self.invalidate(offset)
        word = same_filled_word(page.data)
        if word is not None:
            self.words[offset] = word
            return
        data = page.compressed
        try:
            handle = self.allocator.malloc(len(data))
        except AllocationError:
            self.raw[offset] = page.data
            return
        self.allocator.write(handle, data)
        self.entries[offset] = (handle, len(data))

    def load(self, offset):
        if offset in self.words:
            return self.words[offset].to_bytes(8, "little") * (PAGE_SIZE // 8)
        if offset in self.entries:
            handle, _ = self.entries[offset]
            return self.compressor.decompress(self.allocator.read(handle), PAGE_SIZE)
        return self.raw.get(offset)

    def invalidate(self, offset):
        self.words.pop(offset, None)
        self.raw.pop(offset, None)
        entry = self.entries.pop(offset, None)
        if entry is not None:
            self.allocator.free(entry[0])

    def offsets(self):
        return sorted(self.entries.keys() | self.words.keys() | self.raw.keys())

    def metrics(self):
        n = sum(length for _, length in self.entries.values())
        return {"stored_pages": len(self.entries) + len(self.words),
                "same_filled_pages": len(self.words), "huge_pages": 0,
                "compressed_bytes": n, "object_bytes": n}


class ZeroWords(Plain):
    """Keeps every same-filled page as zeros."""

    name = "zerowords"

    def load(self, offset):
        if offset in self.words:
            return bytes(PAGE_SIZE)
        return super().load(offset)


class LeaksOnInvalidate(Plain):
    """Forgets the page but never frees its object."""

    name = "leaks"

    def invalidate(self, offset):
        self.words.pop(offset, None)
        self.raw.pop(offset, None)
        self.entries.pop(offset, None)


class PeekLoads(Plain):
    """Counts every read, peek() included."""

    name = "peekloads"

    def __init__(self, options, allocator, compressor):
        super().__init__(options, allocator, compressor)
        self.reads = 0

    def load(self, offset):
        self.reads += 1
        return super().load(offset)

    def metrics(self):
        return {**super().metrics(), "loads": self.reads}


class NoMetrics(Plain):
    name = "nometrics"

    def metrics(self):
        return {"stored_pages": len(self.entries)}


class Contract(FrontEndContract):
    n_pages = 48


class TestPlain(Contract):
    frontend_class = Plain


class TestPlainOverZbud(Contract):
    frontend_class = Plain
    allocator = "zbud"


class TestZeroWords(Contract):
    frontend_class = ZeroWords


class TestLeaksOnInvalidate(Contract):
    frontend_class = LeaksOnInvalidate


class TestPeekLoads(Contract):
    frontend_class = PeekLoads


class TestNoMetrics(Contract):
    frontend_class = NoMetrics
'''

_OUTCOME: dict[str, str] = {}


def run(pytester: pytest.Pytester, cls: str) -> dict[str, str]:
    """Test name -> failure text ("" = passed) for one class of BROKEN; one inner pytest
    run serves every test here (memoised)."""
    return of_class(outcomes(pytester, _OUTCOME, "test_broken_frontends", BROKEN), cls)




@pytest.mark.parametrize("cls", ["TestPlain", "TestPlainOverZbud"])
@pytest.mark.slow
def test_a_correct_front_end_passes(pytester: pytest.Pytester, cls: str) -> None:
    out = run(pytester, cls)
    assert len(out) == 4
    assert failed(out) == {}


def test_wrong_pages_break_round_trip(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestZeroWords"))
    text = f["test_contract_frontend_round_trip[default]"]
    assert "zbench frontend contract: rule 'frontend-round-trip' broken by zerowords" in text
    assert "returned 4096 different bytes, not the page stored there" in text


def test_a_leaked_object_breaks_metrics(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestLeaksOnInvalidate"))
    assert list(f) == ["test_contract_frontend_metrics[default]"]
    assert "the allocator holds" in f["test_contract_frontend_metrics[default]"]


def test_a_peek_that_changes_state_is_caught(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestPeekLoads"))
    text = f["test_contract_frontend_round_trip[default]"]
    assert "rule 'frontend-peek-changes-nothing' broken by peekloads" in text


def test_missing_metrics_are_named(pytester: pytest.Pytester) -> None:
    f = failed(run(pytester, "TestNoMetrics"))
    text = f["test_contract_frontend_metrics[default]"]
    assert "rule 'frontend-metrics'" in text and "'same_filled_pages'" in text
