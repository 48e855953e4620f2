"""``churn``: fill, then seeded swap-slot frees and new stores around a steady working set,
then compaction.

After the fill, each step frees a random live offset (swap slot freed /
zram discard) and, with the probability that steers the live count towards
``steady_pct`` of the corpus, stores a random corpus page at a fresh offset.
``load_pct`` of the steps also read a random live offset back.  The frees
leave partly used zspages behind; the final ``compact`` op measures what
compaction gives back.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from pydantic import Field

from zbench import Op, OpKind, Workload, WorkloadOptions


class ChurnOptions(WorkloadOptions):
    steps: int | None = Field(None, ge=0, description="churn steps (default: corpus pages)")
    steady_pct: float = Field(
        60.0, gt=0, le=100, description="live pages the churn settles at, % of corpus"
    )
    load_pct: float = Field(10.0, ge=0, le=100, description="steps that also load a page, %")
    compact: bool = Field(True, description="run compaction at the end")


class Churn(Workload):
    name = "churn"
    description = "fill, then seeded frees and re-stores around a working set, then compact"
    Options = ChurnOptions
    op_kinds = frozenset({OpKind.STORE, OpKind.LOAD, OpKind.INVALIDATE, OpKind.COMPACT,
                          OpKind.PHASE})

    def operations(self, n_pages: int) -> Iterator[Op]:
        o: ChurnOptions = self.options  # type: ignore[assignment]
        rng = random.Random(self.seed)
        live: list[int] = []
        for offset in range(n_pages):
            live.append(offset)
            yield Op(OpKind.STORE, offset, offset)
        yield Op(OpKind.PHASE, label="fill")
        next_offset = n_pages
        target = max(1, round(n_pages * o.steady_pct / 100))
        steps = n_pages if o.steps is None else o.steps
        for _ in range(steps):
            if live and rng.random() * 100 < o.load_pct:
                yield Op(OpKind.LOAD, live[rng.randrange(len(live))])
            if live:
                i = rng.randrange(len(live))
                live[i], live[-1] = live[-1], live[i]
                yield Op(OpKind.INVALIDATE, live.pop())
            # Store with probability p: the live count drifts towards ``target``.
            p = min(1.0, target / max(1, len(live)))
            if rng.random() < p:
                live.append(next_offset)
                yield Op(OpKind.STORE, next_offset, rng.randrange(n_pages))
                next_offset += 1
        yield Op(OpKind.PHASE, label="churn")
        if o.compact:
            yield Op(OpKind.COMPACT)
            yield Op(OpKind.PHASE, label="compact")
