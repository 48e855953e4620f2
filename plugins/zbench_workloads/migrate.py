"""``migrate``: fill and churn the pool among the workload's own pages, then run the
migratability experiments (``OpKind.MIGRATE``, see :mod:`zbench.sim.experiments`).

1. ``interleave`` (optional): the workload has ``resident_pct`` % of the corpus
   size resident as movable anonymous pages, in a zone with ``free_pageblocks``
   free pageblocks besides; every corpus page is swapped out from a seeded random
   choice of those offsets, and each store frees its page - so pool pages are
   allocated in the holes earlier swap-outs left, as zswap allocates under memory
   pressure, between the pages that stay resident;
2. ``churn_pct`` of the corpus: swap a stored page in (load, then its slot is
   freed) and swap out another resident page (a store) - partly used pool pages;
3. ``evacuate``: try to empty every pageblock (CMA / huge-page allocation);
4. ``migrate``: migrate every pool page once, nothing mapped (cost per page);
5. ``load``: map ``mapped_pct`` of the stored objects (in-flight loads), migrate
   every pool page once more;
6. ``compact`` (optional): the allocator's compaction (pages freed per MiB moved);
7. ``reclaim``: reclaim ``reclaim_pct`` of the pool's pages through the front end's
   LRU of pool pages, where it has one (the address_space zswap).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from pydantic import Field

from zbench import PAGEBLOCK_NR_PAGES, Op, OpKind, Workload, WorkloadOptions


class MigrateOptions(WorkloadOptions):
    interleave: bool = Field(True, description="pool pages among the workload's own pages")
    resident_pct: float = Field(200.0, ge=100, le=1000,
                                description="resident pages before the swap-outs, % of corpus")
    free_pageblocks: int = Field(1, ge=0, le=1024,
                                 description="free pageblocks in the zone besides them")
    churn_pct: float = Field(30.0, ge=0, le=100,
                             description="swap-in + swap-out pairs, % of corpus")
    mapped_pct: float = Field(10.0, ge=0, le=100,
                              description="stored objects mapped during the loaded pass, %")
    reclaim_pct: float = Field(25.0, ge=0, le=100,
                               description="pool pages reclaimed through the LRU, %")
    compact: bool = Field(True, description="run the allocator's compaction")


class Migrate(Workload):
    name = "migrate"
    description = "fill and churn among the workload's own pages, then migratability experiments"
    Options = MigrateOptions

    def operations(self, n_pages: int) -> Iterator[Op]:
        o: MigrateOptions = self.options  # type: ignore[assignment]
        rng = random.Random(f"migrate:{self.seed}")
        resident = max(n_pages, round(n_pages * o.resident_pct / 100))
        if o.interleave:
            yield Op(OpKind.MIGRATE, page=resident, size=o.free_pageblocks * PAGEBLOCK_NR_PAGES,
                     label="interleave")
        offsets = rng.sample(range(resident), n_pages)
        stored = list(offsets)
        for page, offset in enumerate(offsets):
            yield Op(OpKind.STORE, offset, page)
        yield Op(OpKind.PHASE, label="fill")
        taken = set(offsets)
        in_memory = [x for x in range(resident) if x not in taken]
        for _ in range(round(n_pages * o.churn_pct / 100)):
            i = rng.randrange(len(stored))
            stored[i], stored[-1] = stored[-1], stored[i]
            back = stored.pop()
            yield Op(OpKind.LOAD, back)  # swap-in: the page is resident again
            yield Op(OpKind.INVALIDATE, back)  # and its swap slot freed
            if in_memory:
                j = rng.randrange(len(in_memory))
                in_memory[j], in_memory[-1] = in_memory[-1], in_memory[j]
                out = in_memory.pop()
                yield Op(OpKind.STORE, out, rng.randrange(n_pages))  # swap-out of another
                stored.append(out)
            in_memory.append(back)
        yield Op(OpKind.PHASE, label="churn")
        yield Op(OpKind.MIGRATE, label="evacuate")
        yield Op(OpKind.MIGRATE, label="migrate")
        yield Op(OpKind.MIGRATE, label="load", size=round(o.mapped_pct * 10))
        if o.compact:
            yield Op(OpKind.COMPACT)
        yield Op(OpKind.PHASE, label="migrate")
        yield Op(OpKind.MIGRATE, label="reclaim", size=round(o.reclaim_pct * 10))
        yield Op(OpKind.PHASE, label="reclaim")
