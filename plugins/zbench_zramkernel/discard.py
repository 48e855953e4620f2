"""``fill-discard``: store every page, discard a seeded share, then compact — the
sequence ``zbench validate`` runs through the kernel and the models alike."""

from __future__ import annotations

import random
from collections.abc import Iterator

from pydantic import Field

from zbench import Op, OpKind, Workload, WorkloadOptions


class FillDiscardOptions(WorkloadOptions):
    discard_pct: float = Field(50.0, ge=0, le=100, description="pages discarded after the fill")


class FillDiscard(Workload):
    name = "fill-discard"
    description = "store every page, discard a seeded share, compact"
    Options = FillDiscardOptions

    def discarded(self, n_pages: int) -> list[int]:
        o: FillDiscardOptions = self.options  # type: ignore[assignment]
        k = round(n_pages * o.discard_pct / 100)
        return sorted(random.Random(f"discard:{self.seed}").sample(range(n_pages), k))

    def operations(self, n_pages: int) -> Iterator[Op]:
        for offset in range(n_pages):
            yield Op(OpKind.STORE, offset, offset)
        yield Op(OpKind.PHASE, label="fill")
        for offset in self.discarded(n_pages):
            yield Op(OpKind.INVALIDATE, offset)
        yield Op(OpKind.PHASE, label="discard")
        yield Op(OpKind.COMPACT)
        yield Op(OpKind.PHASE, label="compact")
