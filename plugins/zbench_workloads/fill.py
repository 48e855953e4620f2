"""``fill``: store every corpus page once, at offsets 0..n-1 (a swap-out of everything)."""

from __future__ import annotations

import random
from collections.abc import Iterator

from pydantic import Field

from zbench import Op, OpKind, Workload, WorkloadOptions


class FillOptions(WorkloadOptions):
    order: str = Field(
        "dump", pattern="^(dump|shuffle)$", description="store order: dump order or seeded shuffle"
    )


class Fill(Workload):
    name = "fill"
    adhoc_default = True
    description = "store each corpus page once; no frees"
    Options = FillOptions

    def operations(self, n_pages: int) -> Iterator[Op]:
        order = list(range(n_pages))
        if self.options.order == "shuffle":  # type: ignore[attr-defined]
            random.Random(self.seed).shuffle(order)
        for offset, page in enumerate(order):
            yield Op(OpKind.STORE, offset, page)
        yield Op(OpKind.PHASE, label="fill")
