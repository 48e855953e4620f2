"""The front-end contract suite: subclass :class:`FrontEndContract` in your tests.

```python
from zbench.testing import FrontEndContract
from zbench_myfront import MyFront


class TestMyFrontContract(FrontEndContract):
    frontend_class = MyFront
    option_sets = [{}, {"kernel": "6.1"}]   # optional: every test runs once per set
    allocator = "zsmalloc"                   # optional: the allocator behind it (a name)
```

A front end sits where zram's ``zram_write_page`` / ``zram_read_page`` and zswap's
``zswap_store`` / ``zswap_load`` sit: it takes pages, decides how to keep them, and hands
compressed bytes to an allocator.  Whatever it decides (same-filled pages kept as a word,
incompressible pages stored raw, rejected pages sent to the swap device), every page it
was given must come back byte for byte until it is invalidated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from zbench import (
    PAGE_SIZE,
    Allocator,
    Compressor,
    FrontEnd,
    Metrics,
    PageFrames,
    VerifyError,
    get_plugin_class,
)
from zbench.api.options import parse_options
from zbench.testing.others import _Contract, _options_id, _registry_with, make_pages
from zbench.testing.rules import ContractViolation

#: what FrontEnd.metrics() must always report
REQUIRED_METRICS = ("stored_pages", "same_filled_pages", "huge_pages", "compressed_bytes",
                    "object_bytes")


class ContractPage:
    """A :class:`zbench.Page`: the page, its compressed form, whether it is clean."""

    __slots__ = ("data", "compressed", "clean")

    def __init__(self, data: bytes, compressed: bytes, clean: bool = False) -> None:
        self.data, self.compressed, self.clean = data, compressed, clean


def contract_pages(n: int, seed: int) -> list[bytes]:
    """``n`` pages: :func:`make_pages`' mix (text, numbers, random, zero-filled) plus
    same-filled pages of a non-zero word every 11th page."""
    raw = make_pages(n, seed)
    pages = [raw[i * PAGE_SIZE:(i + 1) * PAGE_SIZE] for i in range(n)]
    for i in range(5, n, 11):
        pages[i] = (0x5A5A0000 + i).to_bytes(8, "little") * (PAGE_SIZE // 8)
    return pages


class FrontEndHarness:
    """One front end over one allocator, and the pages it should hold."""

    def __init__(self, frontend: FrontEnd, allocator: Allocator, frames: PageFrames,
                 compressor: Compressor, who: str) -> None:
        self.fe, self.alloc, self.frames, self.comp = frontend, allocator, frames, compressor
        self.who = who
        self.held: dict[int, bytes] = {}  # offset -> the page it must load back

    def fail(self, rule: str, detail: str) -> ContractViolation:
        return ContractViolation(rule, self.who, detail)

    def store(self, offset: int, data: bytes) -> None:
        self.fe.store(offset, ContractPage(data, self.comp.compress(data)))
        self.held[offset] = data

    def invalidate(self, offset: int) -> None:
        self.fe.invalidate(offset)
        self.held.pop(offset, None)

    def check_page(self, offset: int, got: bytes | None, how: str, context: str) -> None:
        want = self.held.get(offset)
        if got == want:
            return
        if want is None:
            raise self.fail("frontend-round-trip", f"{how}({offset}) returned "
                            f"{len(got or b'')} bytes for an offset holding no page, {context}")
        what = "nothing" if got is None else f"{len(got)} different bytes"
        raise self.fail("frontend-round-trip",
                        f"{how}({offset}) returned {what}, not the page stored there, {context}")

    def state(self) -> tuple[list[int], Metrics, int]:
        return sorted(self.fe.offsets()), dict(self.fe.metrics()), self.alloc.pool_pages()

    def verify_all(self, context: str, *, load: bool = False) -> None:
        """Every held page through ``peek`` (changing nothing), then ``load`` if asked."""
        self.check_offsets(context)
        for offset in sorted(self.held):
            before = self.state()
            self.check_page(offset, self.fe.peek(offset), "peek", context)
            if self.state() != before:
                raise self.fail("frontend-peek-changes-nothing",
                                f"peek({offset}) changed the front end "
                                f"(offsets, metrics(), pool pages), {context}")
        if load:
            for offset in sorted(self.held):
                self.check_page(offset, self.fe.load(offset), "load", context)
        self.check_metrics(context)

    def check_offsets(self, context: str) -> None:
        have = set(self.fe.offsets())
        if have != set(self.held):
            lost, extra = sorted(set(self.held) - have)[:5], sorted(have - set(self.held))[:5]
            raise self.fail("frontend-offsets",
                            f"offsets() lists {len(have)} offsets, {len(self.held)} hold a page "
                            f"(missing e.g. {lost}, extra e.g. {extra}), {context}")

    def check_metrics(self, context: str) -> Metrics:
        m = self.fe.metrics()
        missing = [k for k in REQUIRED_METRICS if k not in m]
        if missing:
            raise self.fail("frontend-metrics", f"metrics() lacks {missing}, {context}")
        bad = {k: v for k, v in m.items() if not isinstance(k, str) or isinstance(v, bool)
               or not isinstance(v, int | float) or (isinstance(v, float) and not math.isfinite(v))
               or (k in REQUIRED_METRICS and v < 0)}
        if bad:
            raise self.fail("frontend-metrics", f"metrics() has bad entries {bad!r}, {context}")
        return m


class FrontEndContract(_Contract):
    """Rules every zbench front end keeps.  Set :attr:`frontend_class`; override the rest
    only where your front end's rules differ."""

    #: The front end under test (a :class:`zbench.FrontEnd` subclass).
    frontend_class: ClassVar[type[FrontEnd]]
    #: The allocator behind it, by registry name, and its options.
    allocator: ClassVar[str] = "zsmalloc"
    allocator_options: ClassVar[Mapping[str, Any]] = {}
    #: The compressor of the pages, by registry name.
    compressor: ClassVar[str] = "lz4"
    #: Pages stored by the deterministic tests.
    n_pages: ClassVar[int] = 160
    #: False if invalidated pages stay stored for a while by design (zswap 6.1 with the
    #: swap slots cache: they wait for the batch); then the empty-pool check is skipped.
    releases_when_invalidated: ClassVar[bool] = True

    # -- hooks a subclass may override --------------------------------------------
    def make_frontend(self, options: Mapping[str, Any]) -> FrontEndHarness:
        """A fresh front end over a fresh allocator on fresh frames."""
        fcls = self.frontend_class
        acls: type[Allocator] = get_plugin_class("allocator", self.allocator)
        ccls: type[Compressor] = get_plugin_class("compressor", self.compressor)
        frames = PageFrames()
        alloc: Allocator = acls(parse_options(acls.Options, dict(self.allocator_options),
                                              f"{self.allocator} options"), frames)
        comp: Compressor = ccls(ccls.Options())
        why = fcls.supports(alloc)
        if why is not None:
            raise ContractViolation("frontend-runs", self.who(options),
                                    f"supports({self.allocator}) refused: {why}")
        fe = fcls(parse_options(fcls.Options, dict(options), f"{fcls.name} options"), alloc, comp)
        return FrontEndHarness(fe, alloc, frames, comp, self.who(options))

    def who(self, options: Mapping[str, Any]) -> str:
        return (f"{self.frontend_class.name} ({_options_id(options)} options, over "
                f"{self.allocator})")

    # -- the rules ---------------------------------------------------------------------
    def test_contract_frontend_round_trip(self, contract_options: dict[str, Any]) -> None:
        h = self.make_frontend(contract_options)
        pages = contract_pages(self.n_pages, seed=21)
        try:
            for i, page in enumerate(pages):
                h.store(i, page)
            h.verify_all(f"after all {len(pages)} pages were stored")
            for i in range(0, len(pages), 3):
                h.invalidate(i)
            h.verify_all("after every third page was invalidated")
            for i in range(1, len(pages), 4):  # stored over: the old copy must go
                h.store(i, pages[(i * 7) % len(pages)])
            h.verify_all("after a quarter of the offsets were stored over")
            h.fe.compact()
            h.verify_all("after compact()", load=True)
            h.verify_all("after every page was loaded once", load=True)
        finally:
            h.fe.close()

    def test_contract_frontend_offsets(self, contract_options: dict[str, Any]) -> None:
        h = self.make_frontend(contract_options)
        pages = contract_pages(self.n_pages // 2, seed=22)
        try:
            h.check_offsets("in a new front end")
            for i, page in enumerate(pages):
                h.store(1000 + 3 * i, page)
            h.check_offsets("after the pages were stored")
            for off in (0, 1, 999, 1001, 1000 + 3 * len(pages)):
                h.check_page(off, h.fe.load(off), "load", "for an offset never stored")
            for off in sorted(h.held)[::2]:
                h.invalidate(off)
                h.check_page(off, h.fe.load(off), "load", "right after invalidate()")
            h.check_offsets("after half were invalidated")
        finally:
            h.fe.close()

    def test_contract_frontend_metrics(self, contract_options: dict[str, Any]) -> None:
        h = self.make_frontend(contract_options)
        pages = contract_pages(self.n_pages, seed=23)
        try:
            h.check_metrics("in a new front end")
            for i, page in enumerate(pages):
                h.store(i, page)
            m = h.check_metrics(f"after {len(pages)} pages were stored")
            if m["stored_pages"] > len(pages) or m["stored_pages"] < 1:
                raise h.fail("frontend-metrics", f"stored_pages is {m['stored_pages']} after "
                                                 f"{len(pages)} pages were stored")
            for off in list(h.held):
                h.invalidate(off)
            m = h.check_metrics("after every page was invalidated")
            if not self.releases_when_invalidated:
                return
            left = {k: m[k] for k in ("stored_pages", "compressed_bytes", "object_bytes")
                    if m[k]}
            if left or h.alloc.pool_pages():
                raise h.fail("frontend-metrics",
                             f"with every page invalidated metrics() still says {left} and "
                             f"the allocator holds {h.alloc.pool_pages()} pages")
        finally:
            h.fe.close()

    def test_contract_frontend_runs(self, contract_options: dict[str, Any],
                                    tmp_path: Path) -> None:
        reg = _registry_with("frontend", self.frontend_class)
        dump = tmp_path / "contract.pages"
        dump.write_bytes(make_pages(96))
        data = {"name": "contract", "dumps": [str(dump)], "compressors": [self.compressor],
                "allocators": [{"name": self.allocator,
                                "options": dict(self.allocator_options)}],
                "frontends": [{"name": self.frontend_class.name,
                               "options": dict(contract_options)}],
                "workloads": ["fill", "churn"], "verify": True}
        from zbench.run.runner import run_suite_data

        try:
            res = run_suite_data(data, "contract suite", base=tmp_path, registry=reg,
                                 report=lambda _m: None)
        except VerifyError as exc:
            raise ContractViolation("frontend-runs", self.who(contract_options),
                                    f"a verified run failed: {exc}") from None
        cases = res["cases"]
        if len(cases) != 2 or any("skipped" in c or "failed" in c for c in cases):
            raise ContractViolation("frontend-runs", self.who(contract_options),
                                    f"the run did not complete: {cases}")
