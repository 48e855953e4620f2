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
from typing import Protocol

from zbench.api.frames import PAGE_SIZE

# Non-zero fill words seen in real memory: V8's tagged hole value, which fills
# pre-allocated arrays (1.9 % of a captured node process's pages),
# all-ones, a 0x01 byte pattern and a pointer-like value.
_FILL_WORDS = (0x5BC29D404E9, 0xFFFFFFFFFFFFFFFF, 0x0101010101010101, 0x00007F0000001000)


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
        if scale_pages is None:
            base = list(range(n))
        else:  # a large corpus from a small dump: every page once, then seeded samples
            srng = random.Random(f"scale:{seed}")
            base = list(range(min(n, dump.n_pages)))
            base += [srng.randrange(dump.n_pages) for _ in range(n - len(base))]
            srng.shuffle(base)
        order = base + [-(k + 1) for k in range(len(self._words))]
        if self._words:
            rng.shuffle(order)
        self._order = order
        self.zero_pages = n_zero
        self.same_pages = n_same

    @property
    def n_pages(self) -> int:
        return len(self._order)

    def source(self, i: int) -> int:
        """The dump page index behind corpus page ``i``, or -1 for an injected page."""
        src = self._order[i]
        return src if src >= 0 else -1

    def data(self, i: int) -> bytes:
        src = self._order[i]
        if src >= 0:
            return self.dump.page(src)
        return self._words[-src - 1].to_bytes(8, "little") * (self.page_size // 8)

    def fill_word(self, i: int) -> int | None:
        """The fill word of an injected page, ``None`` for a dump page."""
        src = self._order[i]
        return None if src >= 0 else self._words[-src - 1]
