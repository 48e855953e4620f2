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
from array import array
from collections.abc import Iterator

from pydantic import Field

from zbench import OP_CODE, Op, OpArrays, OpKind, Workload, WorkloadOptions


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

    def op_arrays(self, n_pages: int) -> OpArrays:
        """:meth:`operations` in arrays: the same draws from the same generator, in the
        same order, with no ``Op`` made (a batch run's input)."""
        o: ChurnOptions = self.options  # type: ignore[assignment]
        rng = random.Random(self.seed)
        random_, randrange = rng.random, rng.randrange
        store, load, inval = OP_CODE[OpKind.STORE], OP_CODE[OpKind.LOAD], OP_CODE[
            OpKind.INVALIDATE]
        kinds = array("b", bytes(n_pages))  # OP_CODE[STORE] == 0
        offsets = array("q", range(n_pages))
        pages = array("q", range(n_pages))
        labels = {n_pages: "fill"}
        kinds.append(OP_CODE[OpKind.PHASE])
        offsets.append(0)
        pages.append(0)
        live = list(range(n_pages))
        next_offset = n_pages
        target = max(1, round(n_pages * o.steady_pct / 100))
        steps = n_pages if o.steps is None else o.steps
        k_add, o_add, p_add = kinds.append, offsets.append, pages.append
        load_pct = o.load_pct
        for _ in range(steps):
            if live and random_() * 100 < load_pct:
                k_add(load)
                o_add(live[randrange(len(live))])
                p_add(0)
            if live:
                i = randrange(len(live))
                live[i], live[-1] = live[-1], live[i]
                k_add(inval)
                o_add(live.pop())
                p_add(0)
            if random_() < min(1.0, target / max(1, len(live))):
                live.append(next_offset)
                k_add(store)
                o_add(next_offset)
                p_add(randrange(n_pages))
                next_offset += 1
        labels[len(kinds)] = "churn"
        k_add(OP_CODE[OpKind.PHASE])
        o_add(0)
        p_add(0)
        if o.compact:
            k_add(OP_CODE[OpKind.COMPACT])
            o_add(0)
            p_add(0)
            labels[len(kinds)] = "compact"
            k_add(OP_CODE[OpKind.PHASE])
            o_add(0)
            p_add(0)
        return OpArrays(kinds, offsets, pages, labels)

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
