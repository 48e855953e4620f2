"""``fill``: store every corpus page once, at offsets 0..n-1 (a swap-out of everything)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from zbench import Op, OpKind, Workload, WorkloadOptions


class FillOptions(WorkloadOptions):
    order: str = Field(
        "dump", pattern="^(dump|shuffle)$", description="store order: dump order or seeded shuffle"
    )
    pages: str = Field(
        "all", pattern="^(all|first-half|second-half)$", description=(
            "which corpus pages: all, or one half (first-half: pages 0..n/2-1, the half "
            "`zbench dict train --half first` trains on; second-half: the other, to measure "
            "a dictionary on pages it never saw)"))

    @model_serializer(mode="wrap")
    def _omit_all_pages(self, handler: SerializerFunctionWrapHandler) -> Any:
        """``pages: all`` is left out of the record, so results from before the option
        keep their options (and cache keys)."""
        out = handler(self)
        if isinstance(out, dict) and out.get("pages") == "all":
            del out["pages"]
        return out


class Fill(Workload):
    name = "fill"
    adhoc_default = True
    description = "store each corpus page once; no frees"
    Options = FillOptions

    def operations(self, n_pages: int) -> Iterator[Op]:
        half = n_pages // 2
        pages = self.options.pages  # type: ignore[attr-defined]
        order = list(range(half) if pages == "first-half" else
                     range(half, n_pages) if pages == "second-half" else range(n_pages))
        if self.options.order == "shuffle":  # type: ignore[attr-defined]
            random.Random(self.seed).shuffle(order)
        for offset, page in enumerate(order):
            yield Op(OpKind.STORE, offset, page)
        yield Op(OpKind.PHASE, label="fill")
