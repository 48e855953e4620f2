"""The migration core: isolate, migrate, put back, over any front end and allocator.

It plays the part of mm/migrate.c (``migrate_pages``: allocate the new page,
call the owner's ``migratepage``, free the old page on success, the new one and
``putback`` on failure) and of ``alloc_contig_range`` (CMA, gigantic pages) for
evacuating a pageblock: the block is isolated (``MIGRATE_ISOLATE``, no
allocation is served from it), every page in use in it must be isolated for
migration - a page that cannot be (an unmovable pool page, ``has_unmovable_pages``)
fails the block before anything moves - then each page is migrated out.

It knows no allocator: pool pages go to the case's :class:`~zbench.FrontEnd`
(which hands them to its allocator unless its pages are in its own
address_space), the workload's anonymous pages to :class:`~zbench.sim.anon.AnonPages`.
Simplified: one attempt per page (the kernel retries ``-EAGAIN`` up to 10 times;
a page mapped here stays mapped for all of them), no batches of 32.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from zbench.api.frames import PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER, PageFrames
from zbench.api.frontend import FrontEnd
from zbench.api.movable import MigrateResult
from zbench.sim.anon import AnonPages

#: reasons are grouped by their text up to the first ':' (the errno or "not movable")


def reason_key(reason: str) -> str:
    return reason.split(":", 1)[0].strip() or "unknown"


@dataclass
class Tally:
    """Sums over migration attempts."""

    attempts: int = 0
    succeeded: int = 0
    waited: int = 0
    objects: int = 0
    bytes_copied: int = 0
    handle_updates: int = 0
    index_updates: int = 0
    reverse_lookups: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def fail(self, reason: str) -> None:
        self.attempts += 1
        self.reasons[reason] += 1

    def add(self, r: MigrateResult) -> None:
        if not r.ok:
            self.fail(r.reason)
            return
        self.attempts += 1
        self.succeeded += 1
        self.waited += r.waited
        self.objects += r.objects
        self.bytes_copied += r.bytes_copied
        self.handle_updates += r.handle_updates
        self.index_updates += r.index_updates
        self.reverse_lookups += r.reverse_lookups

    def metrics(self, prefix: str) -> dict[str, int | float]:
        n = self.succeeded
        out: dict[str, int | float] = {
            f"{prefix}_attempts": self.attempts,
            f"{prefix}_succeeded": n,
            f"{prefix}_success_pct": round(100.0 * n / self.attempts, 2) if self.attempts
            else 0.0,
        }
        if prefix == "migrate":
            out.update({
                "migrate_objects": self.objects,
                "migrate_bytes_copied": self.bytes_copied,
                "migrate_handle_updates": self.handle_updates,
                "migrate_index_updates": self.index_updates,
                "migrate_reverse_lookups": self.reverse_lookups,
            })
            if n:
                out.update({
                    "migrate_objects_per_page": round(self.objects / n, 3),
                    "migrate_bytes_per_page": round(self.bytes_copied / n, 1),
                    "migrate_updates_per_page":
                        round((self.handle_updates + self.index_updates) / n, 3),
                    "migrate_reverse_lookups_per_page": round(self.reverse_lookups / n, 3),
                })
        else:
            out[f"{prefix}_waited"] = self.waited
        return out

    def record(self) -> dict[str, int]:
        """Failures by reason, for results.json."""
        return dict(sorted(self.reasons.items()))


class Migrator:
    """Moves page frames of one case: pool pages through the front end, anonymous
    pages through :class:`AnonPages`."""

    def __init__(self, frames: PageFrames, frontend: FrontEnd, anon: AnonPages | None) -> None:
        self.frames = frames
        self.frontend = frontend
        self.anon = anon

    def is_anon(self, pfn: int) -> bool:
        return self.anon is not None and self.anon.owns(pfn)

    def pool_pfns(self) -> list[int]:
        """Frames in use that are not the workload's own pages, ascending."""
        return [p for p in self.frames.pfns() if not self.is_anon(p)]

    def isolate(self, pfn: int) -> str | None:
        if self.is_anon(pfn):
            return None  # isolate_lru_page: an anonymous LRU page always isolates here
        return self.frontend.isolate_page(pfn)

    def putback(self, pfn: int) -> None:
        if not self.is_anon(pfn):
            self.frontend.putback_page(pfn)

    def migrate_isolated(self, pfn: int) -> MigrateResult:
        """``migrate_pages`` for one isolated page: new frame, ``migratepage``, free one."""
        info = self.frames.info(pfn)
        newpfn = self.frames.alloc(owner=info.owner, mobility=info.mobility)
        if self.is_anon(pfn):
            assert self.anon is not None
            r = self.anon.migrate(pfn, newpfn)
        else:
            r = self.frontend.migrate_page(pfn, newpfn)
        if r.ok:
            self.frames.free(pfn)
        else:
            self.frames.free(newpfn)
            self.putback(pfn)
        return r

    def migrate(self, pfn: int, tally: Tally) -> bool:
        """Isolate and migrate one page; account it in ``tally``."""
        why = self.isolate(pfn)
        if why is not None:
            tally.fail(why)
            return False
        r = self.migrate_isolated(pfn)
        tally.add(r)
        return r.ok

    def migrate_all(self, tally: Tally) -> None:
        """Try to migrate every pool page once (a snapshot of the pool's frames)."""
        for pfn in self.pool_pfns():
            if self.frames.is_allocated(pfn):  # a migration may have freed a page
                self.migrate(pfn, tally)


@dataclass
class Evacuation:
    """``alloc_contig_range`` over every pageblock of the zone that holds pages."""

    pageblocks: int = 0  # blocks holding pages at the start
    emptied: int = 0
    pool_pageblocks: int = 0  # blocks holding pool pages at the start
    pool_emptied: int = 0
    pinned_frames: int = 0  # pool frames that refused isolation
    moved: Tally = field(default_factory=Tally)
    refusals: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    def metrics(self) -> dict[str, int | float]:
        return {
            "evac_pageblocks": self.pageblocks,
            "evac_emptied": self.emptied,
            "evac_emptied_pct": round(100.0 * self.emptied / self.pageblocks, 2)
            if self.pageblocks else 0.0,
            "evac_pool_pageblocks": self.pool_pageblocks,
            "evac_pool_emptied_pct": round(100.0 * self.pool_emptied / self.pool_pageblocks, 2)
            if self.pool_pageblocks else 0.0,
            "evac_pinned_frames": self.pinned_frames,
            "evac_migrated_pages": self.moved.succeeded,
        }


def evacuate_pageblock(m: Migrator, block: int, ev: Evacuation) -> bool:
    """Empty one pageblock as CMA would; ``True`` when it ended up with no page in use.
    An emptied block stays isolated (the contiguous allocation holds it); the caller
    releases it."""
    frames = m.frames
    frames.isolate_pageblock(block)
    isolated: list[int] = []
    refused = 0
    for pfn in frames.pageblock_pfns(block):
        why = m.isolate(pfn)
        if why is None:
            isolated.append(pfn)
            continue
        refused += 1
        ev.pinned_frames += 1
        ev.refusals[why] += 1
    if refused:  # has_unmovable_pages / failed isolation: give up before moving
        for pfn in isolated:
            m.putback(pfn)
    else:
        for pfn in isolated:
            if frames.is_allocated(pfn):
                ev.moved.add(m.migrate_isolated(pfn))
    if frames.pageblock_used(block) == 0:
        return True
    frames.unisolate_pageblock(block)
    return False


def evacuate(m: Migrator) -> Evacuation:
    """Try to empty every pageblock that holds pages, lowest first, as a series of
    contiguous allocations would: an emptied block is held until all were tried (so
    it takes no displaced page), then every block is released."""
    ev = Evacuation()
    t0 = time.perf_counter()
    frames = m.frames
    blocks: list[tuple[int, bool]] = []
    for b in range(frames.nr_pageblocks):
        pfns = frames.pageblock_pfns(b)
        if pfns:
            blocks.append((b, any(not m.is_anon(p) for p in pfns)))
    held: list[int] = []
    try:
        for b, has_pool in blocks:
            ev.pageblocks += 1
            ev.pool_pageblocks += has_pool
            if evacuate_pageblock(m, b, ev):
                held.append(b)
                ev.emptied += 1
                ev.pool_emptied += has_pool
    finally:
        for b in held:
            frames.unisolate_pageblock(b)
    ev.elapsed_s = time.perf_counter() - t0
    return ev


def pageblock_of(pfn: int) -> int:
    return pfn >> PAGEBLOCK_ORDER


__all__ = ["PAGEBLOCK_NR_PAGES", "Evacuation", "Migrator", "Tally", "evacuate",
           "evacuate_pageblock", "pageblock_of", "reason_key"]
