"""The pages a case works on: a dump's pages plus injected same-filled pages.

With ``scale_pages`` the dump's pages are sampled (seeded) up to that many, so a
million-page run needs no 4 GiB dump.

Fleets see 10–20 % same-filled pages in zswap ("zswap: same-filled pages handling",
2017; Meta's fleet, 2024), live captures < 1 % (docs/dumps.md), so a workload's
``zero_filled_pct`` / ``same_filled_pct`` add such pages to the dump's.  They are
appended after the dump's pages and then the whole corpus is permuted with the
case seed, so they are spread through the workload rather than bunched at the end.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from typing import Protocol

from zbench.api.frames import PAGE_SIZE

# Non-zero fill words seen in real memory: V8's tagged hole value, which fills
# pre-allocated arrays (1.9 % of a captured node process's pages),
# all-ones, a 0x01 byte pattern and a pointer-like value.
_FILL_WORDS = (0x5BC29D404E9, 0xFFFFFFFFFFFFFFFF, 0x0101010101010101, 0x00007F0000001000)
#: a dump up to this size has its pages sliced once, when the corpus is built (the shipped
#: dump is 16 MiB): :meth:`Corpus.data` runs on every store
_SLICED_DUMP_BYTES = 64 << 20


class DumpLike(Protocol):
    n_pages: int
    sha256: str

    def page(self, i: int) -> bytes: ...


def _fill_counts(n: int, zero_pct: float, same_pct: float) -> tuple[int, int]:
    """Zero-filled and same-filled pages injected beside ``n`` dump pages."""
    rest = 100.0 - zero_pct - same_pct
    if rest <= 0:
        raise ValueError("zero_filled_pct + same_filled_pct must be below 100")
    return round(n * zero_pct / rest), round(n * same_pct / rest)


def corpus_pages(dump_pages: int, zero_pct: float, same_pct: float,
                 scale_pages: int | None = None) -> int:
    """How many pages :class:`Corpus` holds for these options (without building it)."""
    n = dump_pages if scale_pages is None else scale_pages
    return n + sum(_fill_counts(n, zero_pct, same_pct))


class Corpus:
    """Page ``i`` of the corpus is a dump page or an injected same-filled page."""

    def __init__(self, dump: DumpLike, zero_pct: float, same_pct: float, seed: int,
                 scale_pages: int | None = None) -> None:
        self.dump = dump
        #: the case's page size: the dump's (read as larger pages: ``Dump.paged``)
        self.page_size: int = getattr(dump, "page_size", PAGE_SIZE)
        n = dump.n_pages if scale_pages is None else scale_pages
        n_zero, n_same = _fill_counts(n, zero_pct, same_pct)
        rng = random.Random(f"corpus:{seed}")
        # index -> source: >= 0 a dump page, < 0 an injected fill word index
        self._words: list[int] = [0] * n_zero + [
            _FILL_WORDS[rng.randrange(len(_FILL_WORDS))] for _ in range(n_same)
        ]
        # 4 bytes a page (a list would hold a pointer and an int object each: 36 bytes);
        # built and shuffled in place, so no second copy of a million-page order exists
        order = array("i")
        if scale_pages is None:
            order.extend(range(n))
        else:  # a large corpus from a small dump: every page once, then seeded samples
            srng = random.Random(f"scale:{seed}")
            order.extend(range(min(n, dump.n_pages)))
            k, below = dump.n_pages, srng.randrange
            order.extend(below(k) for _ in range(n - len(order)))
            srng.shuffle(order)
        order.extend(range(-1, -len(self._words) - 1, -1))
        if self._words:
            rng.shuffle(order)
        #: corpus page -> source: a dump page (>= 0) or ~(injected fill word index)
        self.order = order
        self._page = self._pages_of(dump)
        self.zero_pages = n_zero
        self.same_pages = n_same

    def _pages_of(self, dump: DumpLike) -> Callable[[int], bytes]:
        """How :meth:`data` reads a dump page, once a store: a small dump's pages are
        sliced once, up front (a list index then, no call into the dump and no copy of
        the page), a large dump's on each read (no second copy of it in memory)."""
        if dump.n_pages * self.page_size > _SLICED_DUMP_BYTES:
            return dump.page
        return [dump.page(i) for i in range(dump.n_pages)].__getitem__

    @property
    def n_pages(self) -> int:
        return len(self.order)

    def source(self, i: int) -> int:
        """The dump page index behind corpus page ``i``, or -1 for an injected page."""
        src = self.order[i]
        return src if src >= 0 else -1

    def data(self, i: int) -> bytes:
        src = self.order[i]
        if src >= 0:
            return self._page(src)
        return self._words[-src - 1].to_bytes(8, "little") * (self.page_size // 8)

    def injected_words(self) -> list[int]:
        """The fill word of each injected page, by source: ``order[i] == ~j`` is word j."""
        return list(self._words)

    def fill_word(self, i: int) -> int | None:
        """The fill word of an injected page, ``None`` for a dump page."""
        src = self.order[i]
        return None if src >= 0 else self._words[-src - 1]
