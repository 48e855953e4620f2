"""A timing case's store and load as one batch on the native engines (:mod:`zbench.api.sized`).

When the case's front end runs a batch of payload over its allocator's engine with the
compressor's C face (``FrontEnd.sizes_engine``: zram over zsmalloc with lz4, engines
built), a case of bytes runs that way, so its timing does too: the timed pages stored as
one batch (each compressed live, as the kernel's write path compresses), then, on a
second fresh device, stored, a phase, and loaded in the seeded order, timed from the
phase.  The per-operation passes ask the loop for each operation's nanoseconds and the
codec's share of them (clocked in C).  No verify in the timed runs; the first batch made
(:meth:`EngineTiming.check`) verifies every load and every page at the end.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable

from zbench.api import sized
from zbench.api.compressor import Compressor
from zbench.api.errors import VerifyError
from zbench.api.frontend import FrontEnd
from zbench.api.pagefill import same_filled_word


def _fill(page: bytes) -> int:
    word = same_filled_word(page)
    return sized.NOT_FILLED if word is None else sized.ZERO_FILLED if word == 0 else (
        sized.WORD_FILLED)


class EngineTiming:
    """The two batches of a timing case and the passes over them."""

    def __init__(self, pages: list[bytes], order: list[int], comp: Compressor,
                 new_frontend: Callable[[Compressor], FrontEnd], name: str) -> None:
        self.comp, self.new_frontend, self.name = comp, new_frontend, name
        n = len(pages)
        self.n = n
        sizes = [len(comp.compress(p)) for p in pages]
        fills = [_fill(p) for p in pages]
        data = b"".join(pages)
        none = [0] * (n + 2)
        # stores, a phase
        self.store_batch = self._batch(
            [sized.STORE] * n + [sized.PHASE], list(range(n)) + [0], sizes + [0],
            fills + [0], list(range(n)) + [0], {n: "stored"}, data)
        # stores, a phase, loads in the seeded order, a phase
        self.load_batch = self._batch(
            [sized.STORE] * n + [sized.PHASE] + [sized.LOAD] * n + [sized.PHASE],
            [*range(n), 0, *order, 0], sizes + none, fills + none,
            [*range(n)] + none, {n: "stored", 2 * n + 1: "loaded"}, data)

    @staticmethod
    def _batch(kinds: list[int], offsets: list[int], sizes: list[int], fill: list[int],
               sources: list[int], labels: dict[int, str], data: bytes) -> sized.SizedBatch:
        return sized.SizedBatch(kinds=array("b", kinds), offsets=array("q", offsets),
                                sizes=array("i", sizes), fill=array("b", fill),
                                labels=labels,
                                payload=sized.PayloadPages(pages=data,
                                                           sources=array("q", sources)))

    def _run(self, batch: sized.SizedBatch) -> list[float]:
        """One batch on a fresh device: the ``perf_counter`` at the call and at each
        phase."""
        fe = self.new_frontend(self.comp)
        try:
            if fe.sizes_engine() is None:
                raise RuntimeError("the front end no longer offers a batch of payload")
            marks = [time.perf_counter()]
            fe.run_sizes(batch, lambda label, ops: marks.append(time.perf_counter()), None)
        finally:
            fe.close()
        return marks

    def check(self) -> None:
        """The load batch once with verify: every load, then every page, as stored."""
        payload = self.load_batch.payload
        assert payload is not None
        payload.verify = True
        try:
            self._run(self.load_batch)
            if payload.verified != 2 * self.n:
                raise VerifyError(f"the engine verified {payload.verified} of "
                                  f"{2 * self.n} reads")
        finally:
            payload.verify = False

    def time_store(self) -> float:
        marks = self._run(self.store_batch)
        return marks[1] - marks[0]

    def time_load(self) -> float:
        marks = self._run(self.load_batch)
        return marks[2] - marks[1]

    def clocked_pass(self, store_ns: list[int], load_ns: list[int]) -> tuple[int, int]:
        """One pass of the load batch with each operation clocked in C: its stores'
        and loads' nanoseconds appended, the codec's nanoseconds in each returned."""
        n = self.n
        payload = self.load_batch.payload
        assert payload is not None
        clocks = payload.clocks = array("q", bytes(8 * len(self.load_batch)))
        codec = payload.codec_clocks = array("q", bytes(8 * len(self.load_batch)))
        try:
            self._run(self.load_batch)
        finally:
            payload.clocks = payload.codec_clocks = None
        store_ns.extend(clocks[:n])
        load_ns.extend(clocks[n + 1:2 * n + 1])
        return sum(codec[:n]), sum(codec[n + 1:2 * n + 1])
