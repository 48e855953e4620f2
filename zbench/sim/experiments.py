"""Migratability experiments, run by the case runner at a workload's ``MIGRATE`` ops.

A workload asks for an experiment with ``Op(OpKind.MIGRATE, label=..., page=..., size=...)``:

``interleave``  (``page`` = resident pages, ``size`` = free frames to leave)
    The workload's own memory: offsets ``0 .. page-1`` become resident movable
    anonymous pages (:mod:`zbench.sim.anon`) in a zone of ``page + size`` frames;
    from now on a store frees the offset's page after the front end stored it and
    a load faults it back in, so pool pages are allocated between them.
``migrate``
    Migrate every pool page once, nothing mapped: success rate and the cost per
    migrated page (objects, bytes copied, handle / index updates, reverse look-ups).
``load``  (``size`` = share of stored objects mapped, per mille)
    Map that share of the stored objects (in-flight loads), migrate every pool page
    once, unmap: success rate under load, migrations that had to wait.
``evacuate``
    Empty every pageblock holding pages as CMA / gigantic-page allocation would
    (:func:`zbench.sim.migrate.evacuate`): share emptied, frames that pinned a block,
    time taken.
``reclaim``  (``size`` = share of pool pages, per mille)
    Reclaim that many pool pages through the front end's LRU of pool pages
    (``FrontEnd.reclaim_lru``; the address_space zswap): pages written back and
    objects decompressed per reclaimed page.

Compaction needs no experiment: a ``COMPACT`` op runs it and the allocator's
``compact_pages_freed`` and ``bytes_moved`` give pages freed per MiB moved.
"""

from __future__ import annotations

import random
from typing import Any

from zbench.api.allocator import Allocator
from zbench.api.errors import CaseSkipped
from zbench.api.frames import PageFrames
from zbench.api.frontend import FrontEnd
from zbench.api.movable import ReclaimResult
from zbench.api.workload import Op
from zbench.sim.anon import AnonPages
from zbench.sim.migrate import Evacuation, Migrator, Tally, evacuate

LABELS = ("interleave", "migrate", "load", "evacuate", "reclaim")
MIB = 1 << 20


class MigrationLab:
    """The experiments of one case, and what they measured."""

    def __init__(self, frames: PageFrames, allocator: Allocator, frontend: FrontEnd,
                 seed: int) -> None:
        self.frames = frames
        self.allocator = allocator
        self.frontend = frontend
        self.seed = seed
        self.anon: AnonPages | None = None
        self.migrator = Migrator(frames, frontend, None)
        self.tallies: dict[str, Tally] = {}
        self.mapped = 0
        self.evacuation: Evacuation | None = None
        self.reclaim: ReclaimResult | None = None
        self.reclaim_unsupported = False
        self.zone: dict[str, int] = {}

    # -- the workload's own pages -------------------------------------------
    def on_store(self, offset: int) -> None:
        if self.anon is not None:
            self.anon.swap_out(offset)

    def on_load(self, offset: int) -> None:
        if self.anon is not None:
            self.anon.fault_in(offset)

    # -- experiments ----------------------------------------------------------
    def run(self, op: Op) -> None:
        label = op.label
        if label not in LABELS:
            raise ValueError(f"unknown migration experiment {label!r} (known: "
                             f"{', '.join(LABELS)})")
        if label == "interleave":
            self._interleave(op.page, op.size)
            return
        self._check_simulated()
        if label == "migrate":
            self.migrator.migrate_all(self.tallies.setdefault("migrate", Tally()))
        elif label == "load":
            self._under_load(op.size)
        elif label == "evacuate":
            self._snapshot_zone()
            self.evacuation = evacuate(self.migrator)
        else:
            self._reclaim(op.size)

    def _interleave(self, resident: int, free: int) -> None:
        self.frames.online(self.frames.allocated + resident + free)
        self.anon = AnonPages(self.frames)
        self.migrator.anon = self.anon
        for offset in range(resident):
            self.anon.fault_in(offset)

    def _check_simulated(self) -> None:
        if self.allocator.pool_pages() and not self.migrator.pool_pfns():
            raise CaseSkipped("migration experiments need the pool in simulated page frames "
                              f"({self.allocator.name} keeps its pages elsewhere)")

    def _under_load(self, permille: int) -> None:
        fe = self.frontend
        offsets = sorted(o for o in fe.offsets() if fe.handle_of(o) is not None)
        rng = random.Random(f"load:{self.seed}")
        chosen = rng.sample(offsets, round(len(offsets) * permille / 1000))
        mapped = [o for o in chosen if fe.map_offset(o)]
        self.mapped = len(mapped)
        try:
            self.migrator.migrate_all(self.tallies.setdefault("load", Tally()))
        finally:
            for o in mapped:
                fe.unmap_offset(o)

    def _snapshot_zone(self) -> None:
        f = self.frames
        self.zone = {"zone_pageblocks": f.nr_pageblocks, "pageblocks_mixed": f.mixed_pageblocks(),
                     "frame_fallbacks": f.fallbacks, "pageblock_steals": f.steals}

    def _reclaim(self, permille: int) -> None:
        nr = -(-self.allocator.pool_pages() * permille // 1000)
        r = self.frontend.reclaim_lru(nr)
        self.reclaim_unsupported = r is None
        self.reclaim = r

    # -- results -------------------------------------------------------------
    def metrics(self, stats: dict[str, Any]) -> dict[str, int | float]:
        """The experiments' metrics (deterministic); ``stats``: the case's metrics so far
        (the allocator's ``compact_pages_freed`` or ``pages_compacted``, ``bytes_moved``)."""
        m: dict[str, int | float] = dict(self.zone)
        for prefix, tally in self.tallies.items():
            m.update(tally.metrics(prefix))
        if "load" in self.tallies:
            m["load_mapped_objects"] = self.mapped
        if self.evacuation is not None:
            m.update(self.evacuation.metrics())
        if self.anon is not None:
            m["anon_pages"] = len(self.anon)
        freed = stats.get("compact_pages_freed", stats.get("pages_compacted"))
        moved = stats.get("bytes_moved")
        if freed is not None and moved:
            m["compact_pages_per_mib"] = round(freed / (moved / MIB), 2)
        r = self.reclaim
        if r is not None:
            m.update({"reclaim_scanned": r.scanned, "reclaim_pages": r.reclaimed,
                      "reclaim_written_back": r.written_back,
                      "reclaim_decompressed": r.decompressed})
            if r.reclaimed:
                m["reclaim_written_back_per_page"] = round(r.written_back / r.reclaimed, 3)
                m["reclaim_decompressed_per_page"] = round(r.decompressed / r.reclaimed, 3)
        return m

    def record(self) -> dict[str, Any]:
        """What results.json keeps beside the metrics: rules followed, failure reasons."""
        rec: dict[str, Any] = {
            "rules": self.frontend.migration or self.allocator.migration
            or "pages never migrate",
            "failures": {k: t.record() for k, t in self.tallies.items()},
        }
        if self.evacuation is not None:
            rec["failures"]["evacuate"] = dict(sorted(self.evacuation.refusals.items()))
            # wall time: kept out of the metrics, which are exact and compared exactly
            rec["evacuation_ms"] = round(1000 * self.evacuation.elapsed_s, 2)
        if self.reclaim_unsupported:
            rec["reclaim"] = "no LRU of pool pages in this front end"
        return rec
