"""``fill``: store every corpus page once, at offsets 0..n-1 (a swap-out of everything)."""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterator
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from zbench import OP_CODE, Op, OpArrays, OpKind, Workload, WorkloadOptions


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
    op_kinds = frozenset({OpKind.STORE, OpKind.PHASE})

    def _order(self, n_pages: int) -> list[int]:
        """The corpus pages in store order."""
        half = n_pages // 2
        pages = self.options.pages  # type: ignore[attr-defined]
        order = list(range(half) if pages == "first-half" else
                     range(half, n_pages) if pages == "second-half" else range(n_pages))
        if self.options.order == "shuffle":  # type: ignore[attr-defined]
            random.Random(self.seed).shuffle(order)
        return order

    def operations(self, n_pages: int) -> Iterator[Op]:
        for offset, page in enumerate(self._order(n_pages)):
            yield Op(OpKind.STORE, offset, page)
        yield Op(OpKind.PHASE, label="fill")

    def op_arrays(self, n_pages: int) -> OpArrays:
        order = self._order(n_pages)
        n = len(order)
        kinds = array("b", bytes(n))  # OP_CODE[STORE] == 0
        kinds.append(OP_CODE[OpKind.PHASE])
        offsets = array("q", range(n))
        offsets.append(0)  # the phase's offset and page, as Op's defaults
        order.append(0)
        return OpArrays(kinds, offsets, order, {n: "fill"})
