"""``zipf``: swap traffic of a working set whose page popularity follows a Zipf law.

Memory holds ``resident_pct`` of the working set; the least recently used
page is swapped out when a new one comes in.  An access to a swapped-out page
swaps it in (LOAD).  A write access on swap-in frees the swap slot (as
``do_swap_page`` does for an exclusive write fault: INVALIDATE); a read leaves
the slot valid, so when that page is reclaimed again unchanged it is a
"clean" store that a front end still holding the copy skips — unless its
loads were exclusive (zswap 6.9+) and it dropped the copy.  A dirty page
with a valid slot is written to the same slot again (zswap's
``duplicate_entry``).  Freed slots are reused lowest first, like the swap
slot allocator's clustering, roughly.
"""

from __future__ import annotations

import heapq
import random
from collections import OrderedDict
from collections.abc import Iterator
from itertools import accumulate

from pydantic import Field

from zbench import Op, OpKind, Workload, WorkloadOptions


class ZipfOptions(WorkloadOptions):
    working_set_pct: float = Field(100.0, gt=0, le=100, description="corpus pages used, %")
    resident_pct: float = Field(50.0, gt=0, lt=100, description="working set that fits in RAM, %")
    accesses: int | None = Field(None, ge=0, description="accesses (default: 4 x working set)")
    exponent: float = Field(1.0, ge=0, le=5, description="Zipf exponent s (weight 1/rank^s)")
    write_pct: float = Field(30.0, ge=0, le=100, description="accesses that write the page, %")


class Zipf(Workload):
    name = "zipf"
    description = "Zipf-popular accesses over a working set with LRU swap-out and swap-in"
    Options = ZipfOptions
    op_kinds = frozenset({OpKind.STORE, OpKind.LOAD, OpKind.INVALIDATE, OpKind.PHASE})

    def operations(self, n_pages: int) -> Iterator[Op]:
        o: ZipfOptions = self.options  # type: ignore[assignment]
        rng = random.Random(f"zipf:{self.seed}")
        w = max(1, round(n_pages * o.working_set_pct / 100))
        pages = rng.sample(range(n_pages), w)
        capacity = max(1, round(w * o.resident_pct / 100))
        ranks = list(range(w))
        rng.shuffle(ranks)  # page i has popularity rank ranks[i]
        cum = list(accumulate(1.0 / (r + 1) ** o.exponent for r in ranks))
        resident: OrderedDict[int, bool] = OrderedDict()  # page -> dirty, LRU first
        slot: dict[int, int] = {}  # page -> swap offset holding a valid copy
        free_slots: list[int] = []
        next_slot = 0

        def swap_out() -> Iterator[Op]:
            nonlocal next_slot
            victim, dirty = resident.popitem(last=False)
            if victim in slot and not dirty:
                yield Op(OpKind.STORE, slot[victim], pages[victim], label="clean")
                return
            if victim not in slot:
                if free_slots:
                    slot[victim] = heapq.heappop(free_slots)
                else:
                    slot[victim] = next_slot
                    next_slot += 1
            yield Op(OpKind.STORE, slot[victim], pages[victim])

        def access(p: int, write: bool) -> Iterator[Op]:
            if p in resident:
                resident.move_to_end(p)
                resident[p] = resident[p] or write
                return
            if p in slot:
                yield Op(OpKind.LOAD, slot[p], pages[p])
                if write:
                    yield Op(OpKind.INVALIDATE, slot[p])
                    heapq.heappush(free_slots, slot.pop(p))
            resident[p] = write or p not in slot
            if len(resident) > capacity:
                yield from swap_out()

        for p in range(w):  # first touch: every page is written once
            yield from access(p, True)
        yield Op(OpKind.PHASE, label="warmup")
        n = 4 * w if o.accesses is None else o.accesses
        picks = rng.choices(range(w), cum_weights=cum, k=n)
        for p in picks:
            yield from access(p, rng.random() * 100 < o.write_pct)
        yield Op(OpKind.PHASE, label="zipf")
