"""Drive one allocator instance and check every contract rule after each step.

:class:`PoolChecker` keeps a reference copy of every live object, so the contract's
deterministic tests and its stateful machine share one set of checks and one wording
of the failure messages.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any

from zbench import PAGE_SIZE, AllocationError, Allocator, PageFrames
from zbench.testing.rules import ContractViolation

#: ``(pool, live object sizes) -> (fewest, most)`` pages the allocator's rules allow.
Bounds = Callable[[Allocator, list[int]], "tuple[int, int] | None"]

ERRNO_CODES = ("ENOSPC", "EINVAL", "ENOMEM")


def payload(tag: int, size: int) -> bytes:
    """Bytes unique to ``tag`` (no two objects share a prefix, none is all zeros)."""
    seed = hashlib.blake2b(tag.to_bytes(8, "little"), digest_size=32).digest()
    return (seed * (size // len(seed) + 1))[:size]


def _first_diff(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


class PoolChecker:
    """One allocator + its frames + the objects it should hold."""

    def __init__(self, alloc: Allocator, frames: PageFrames, who: str, *,
                 bounds: Bounds | None = None, releases_when_empty: bool = True,
                 pool_pages_are_frames: bool = True) -> None:
        self.alloc = alloc
        self.frames = frames
        self.who = who
        self.bounds = bounds
        self.releases_when_empty = releases_when_empty
        self.pool_pages_are_frames = pool_pages_are_frames
        self.live: dict[int, tuple[int, bytes, int]] = {}  # handle -> (size, data, nth)
        self.stored = 0
        self.freed = 0

    def fail(self, rule: str, detail: str) -> ContractViolation:
        return ContractViolation(rule, self.who, detail)

    # -- operations ---------------------------------------------------------
    def store(self, size: int) -> int:
        """malloc + write an object of a legal size; return its handle."""
        try:
            handle = self.alloc.malloc(size)
        except AllocationError as exc:
            raise self.fail("legal-sizes-accepted",
                            f"malloc({size}) raised AllocationError({exc}) although max_size() "
                            f"is {self.alloc.max_size()}") from None
        if not isinstance(handle, int) or isinstance(handle, bool):
            raise self.fail("distinct-handles",
                            f"malloc({size}) returned {handle!r}, not an int handle")
        if handle in self.live:
            raise self.fail("distinct-handles",
                            f"malloc({size}) returned handle {handle:#x}, which the live "
                            f"{self.live[handle][0]}-byte object stored "
                            f"{_nth(self.live[handle][2])} already has")
        self.stored += 1
        data = payload(self.stored, size)
        self.alloc.write(handle, data)
        self.live[handle] = (size, data, self.stored)
        return handle

    def free(self, handle: int) -> None:
        pages, held = self.alloc.pool_pages(), self.frames.allocated
        size = self.live[handle][0]
        self.alloc.free(handle)
        del self.live[handle]
        self.freed += 1
        after, held_after = self.alloc.pool_pages(), self.frames.allocated
        if after > pages or held_after > held:
            raise self.fail("free-releases-pages",
                            f"free() of a {size}-byte object grew the pool from {pages} to "
                            f"{after} pages ({held} to {held_after} frames allocated)")

    def compact(self) -> int:
        before = self.alloc.pool_pages()
        freed = self.alloc.compact()
        after = self.alloc.pool_pages()
        if not isinstance(freed, int) or freed < 0 or before - after != freed:
            raise self.fail("stats-add-up",
                            f"compact() returned {freed!r} but pool_pages() went from {before} "
                            f"to {after}")
        return freed

    # -- checks ---------------------------------------------------------------
    def verify(self, handle: int, context: str) -> None:
        size, data, nth = self.live[handle]
        try:
            got = self.alloc.read(handle)
        except Exception as exc:  # noqa: BLE001 - a lost object is the finding
            raise self.fail("round-trip",
                            f"read() of a {size}-byte object (handle {handle:#x}, stored "
                            f"{_nth(nth)}) raised {type(exc).__name__}({exc}), {context}"
                            ) from exc
        if not isinstance(got, bytes | bytearray | memoryview):
            raise self.fail("round-trip", f"read() of a {size}-byte object returned "
                                          f"{type(got).__name__}, not bytes, {context}")
        got = bytes(got)
        if got == data:
            return
        if len(got) != size:
            raise self.fail("round-trip",
                            f"a {size}-byte object (handle {handle:#x}, stored {_nth(nth)}) "
                            f"read back {len(got)} bytes, {context}")
        i = _first_diff(got, data)
        raise self.fail("round-trip",
                        f"a {size}-byte object (handle {handle:#x}, stored {_nth(nth)}) read "
                        f"back different bytes, first at byte {i} (got {got[i:i + 8].hex()}, "
                        f"expected {data[i:i + 8].hex()}), {context}")

    def verify_all(self, context: str) -> None:
        for handle in list(self.live):
            self.verify(handle, context)

    def check_stats(self, context: str) -> None:
        pages = self.alloc.pool_pages()
        if not isinstance(pages, int) or pages < 0:
            raise self.fail("stats-add-up", f"pool_pages() returned {pages!r} {context}")
        held = self.frames.allocated
        if self.pool_pages_are_frames and pages != held:
            raise self.fail("stats-add-up",
                            f"pool_pages() is {pages} but {held} page frames are allocated from "
                            f"the pool's PageFrames, {context} (pages taken with "
                            f"frames.alloc() must be counted, and pages dropped must be given "
                            f"back with frames.free())")
        sizes = [s for s, _, _ in self.live.values()]
        slot = self.alloc.slot_bytes()
        if slot is not None:
            live_bytes = sum(sizes)
            if not self.live and slot != 0:
                raise self.fail("stats-add-up",
                                f"slot_bytes() is {slot} with no live object, {context}")
            if slot < live_bytes:
                raise self.fail("stats-add-up",
                                f"slot_bytes() is {slot}, less than the {live_bytes} bytes of "
                                f"the {len(sizes)} live objects, {context}")
            if slot > pages * PAGE_SIZE:
                raise self.fail("stats-add-up",
                                f"slot_bytes() is {slot}, more than the pool's {pages} pages "
                                f"({pages * PAGE_SIZE} bytes), {context}")
        stats = self.alloc.stats()
        bad = {k: v for k, v in stats.items() if not isinstance(k, str)
               or isinstance(v, bool) or not isinstance(v, int | float)
               or (isinstance(v, float) and not math.isfinite(v))}
        if bad:
            raise self.fail("stats-add-up", f"stats() has non-numeric entries {bad!r}")
        if self.bounds is not None:
            span = self.bounds(self.alloc, sizes)
            if span is not None:
                lo, hi = span
                if pages > hi:
                    raise self.fail("free-releases-pages",
                                    f"the pool holds {pages} pages for {len(sizes)} live objects, "
                                    f"its rules allow at most {hi}, {context}")
                if pages < lo:
                    raise self.fail("stats-add-up",
                                    f"the pool holds {pages} pages for {len(sizes)} live objects, "
                                    f"its rules need at least {lo}, {context}")

    def check_empty(self, context: str) -> tuple[int, int]:
        """All objects are freed: the pool gives its pages back.  Returns (pages, frames)."""
        pages, held = self.alloc.pool_pages(), self.frames.allocated
        if self.releases_when_empty:
            freed = "its one object was freed" if self.freed == 1 else \
                f"all {self.freed} objects stored in it were freed"
            if pages:
                raise self.fail("free-releases-pages",
                                f"the pool still holds {_count(pages, 'page')} (pool_pages()) "
                                f"after {freed}, {context}")
            if held:
                raise self.fail("free-releases-pages",
                                f"{_count(held, 'page frame')} still allocated from PageFrames "
                                f"after {freed} (pool_pages() says {pages}), {context}: "
                                f"free() must hand pages back with frames.free()")
        self.check_stats(context)
        return pages, held

    def free_all(self, order: Sequence[int] | None = None) -> None:
        for handle in list(order if order is not None else self.live):
            self.free(handle)

    @property
    def live_sizes(self) -> list[int]:
        return [s for s, _, _ in self.live.values()]

    def snapshot(self) -> dict[str, Any]:
        return {"pool_pages": self.alloc.pool_pages(), "frames": self.frames.allocated,
                "slot_bytes": self.alloc.slot_bytes(), "live": len(self.live)}


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _nth(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
