"""``pressure``: keep storing past the pool limit, so writeback, hysteresis and rejects show.

The corpus is stored ``rounds`` times at fresh offsets (the pool only grows),
with ``free_pct`` of the stores followed by freeing a random earlier slot and
``load_pct`` of them by a swap-in of one.  Under zswap the pool soon passes
``max_pool_percent``: limit hits, writeback (or rejects) and the accept-threshold
hysteresis follow.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from pydantic import Field

from zbench import Op, OpKind, Workload, WorkloadOptions


class PressureOptions(WorkloadOptions):
    rounds: int = Field(6, ge=1, le=1000, description="times the corpus is stored")
    free_pct: float = Field(10.0, ge=0, le=100, description="stores followed by a free, %")
    load_pct: float = Field(5.0, ge=0, le=100, description="stores followed by a load, %")


class Pressure(Workload):
    name = "pressure"
    description = "store the corpus several times over without reuse: past the pool limit"
    Options = PressureOptions
    op_kinds = frozenset({OpKind.STORE, OpKind.LOAD, OpKind.INVALIDATE, OpKind.PHASE})

    def operations(self, n_pages: int) -> Iterator[Op]:
        o: PressureOptions = self.options  # type: ignore[assignment]
        rng = random.Random(f"pressure:{self.seed}")
        live: list[int] = []
        offset = 0
        for r in range(o.rounds):
            for page in range(n_pages):
                yield Op(OpKind.STORE, offset, page)
                live.append(offset)
                offset += 1
                if rng.random() * 100 < o.load_pct:
                    yield Op(OpKind.LOAD, live[rng.randrange(len(live))])
                if len(live) > 1 and rng.random() * 100 < o.free_pct:
                    i = rng.randrange(len(live))
                    live[i], live[-1] = live[-1], live[i]
                    yield Op(OpKind.INVALIDATE, live.pop())
            yield Op(OpKind.PHASE, label=f"round {r + 1}")
