"""The January 2026 RFC "zsmalloc: size-classes chain-length tunings" as a what-if class table.

Sergey Senozhatsky posted it to linux-mm on 1 Jan 2026 (cover letter
``20260101013814.2312147-1-senozhatsky@chromium.org``), two patches against mm/zsmalloc.c,
not merged (see docs/zsmalloc-rfc.md):

1. "zsmalloc: drop hard limit on the number of size classes": ``ZS_SIZE_CLASS_DELTA``
   becomes a constant 16 bytes instead of ``PAGE_SIZE >> CLASS_BITS``, so a 16 KiB page
   gets 1023 raw class indices (64 KiB: 4095) instead of 257; 4 KiB pages keep 255;
2. "zsmalloc: chain-length configuration should consider other metrics": a longer zspage
   chain also means more objects spanning two pages (two kmaps and a split memcpy on
   read), so ``calculate_zspage_chain_size`` takes a longer chain only for a substantial
   saving in tail waste.

The posted diff of patch 2 was not reachable; its message names thresholds it does not
quote.  :func:`calculate_zspage_chain_size_rfc` is therefore the clearest reading of the
same rule in the author's user-space tool (``sergey-senozhatsky/simulate-zsmalloc``,
``simulate_zsmalloc.c`` at e07db98a, ``calculate_zspage_chain_size_new``), which the
cover letter cites for its tables.  Everything else in ``zs_create_pool`` (class walk,
``can_merge``, ``huge_class_size``, ``ZS_MIN_ALLOC_SIZE``) is unchanged by the RFC and
stays in :mod:`.size_class`.

The RFC was written against the mm tree after 6.18; the option models it over any kernel
from 6.3, the first with ``calculate_zspage_chain_size`` and ``CONFIG_ZSMALLOC_CHAIN_SIZE``.
"""

from __future__ import annotations

CLASSES_MERGED = "merged"  # the kernel's own class table (mm/zsmalloc.c as merged)
CLASSES_RFC_2026 = "rfc-2026-chain"  # the RFC's 16-byte step + thresholded chain rule

RFC_SIZE_CLASS_DELTA = 16  # patch 1: ZS_SIZE_CLASS_DELTA, independent of PAGE_SIZE
# patch 2 (simulate_zsmalloc.c thresholds): a chain wasting more than 1/10 of itself is
# "wasteful" and any smaller waste replaces it; otherwise a longer chain must cut the
# waste by a quarter; a chain wasting at most 1/64 of itself (~1.5 %) ends the search.
WASTEFUL_DIVISOR = 10
IMPROVEMENT_NUM, IMPROVEMENT_DEN = 3, 4
GOOD_ENOUGH_DIVISOR = 64


def rfc_size_classes(min_alloc: int, page_size: int) -> int:
    """``ZS_SIZE_CLASSES`` with the RFC's delta: DIV_ROUND_UP(PAGE_SIZE - MIN, 16) + 1
    (255 for 4 KiB pages, 1023 for 16 KiB, 4095 for 64 KiB)."""
    return -(-(page_size - min_alloc) // RFC_SIZE_CLASS_DELTA) + 1


def _accepts(waste: int, min_waste: int | None, best_chain: int, page_size: int) -> bool:
    """Whether a chain wasting ``waste`` bytes replaces the best so far (``best_chain``
    pages wasting ``min_waste``; None: no chain tried yet, the first is always taken)."""
    if min_waste is None:
        return True
    if min_waste * WASTEFUL_DIVISOR > best_chain * page_size:
        return waste < min_waste
    return waste * IMPROVEMENT_DEN < min_waste * IMPROVEMENT_NUM


def calculate_zspage_chain_size_rfc(class_size: int, max_pages: int, page_size: int) -> int:
    """Patch 2's ``calculate_zspage_chain_size``: grow the chain only for a real saving.

    Walking 1..max_pages: a zero-waste length is taken at once; a length replaces the
    best when the best wastes more than 1/10 of its chain and this one wastes less, or
    when this one wastes under 3/4 of the best's waste; the walk stops as soon as the
    best wastes at most 1/64 of its chain.  Power-of-two sizes keep one page, as in the
    merged rule.  (The C starts ``min_waste`` at INT_MAX; the first length is taken
    either way.)"""
    best_chain = 1
    if class_size & (class_size - 1) == 0:  # is_power_of_2: no waste with one page
        return best_chain
    min_waste: int | None = None
    for i in range(1, max_pages + 1):
        waste = (i * page_size) % class_size
        if waste == 0:
            return i
        if _accepts(waste, min_waste, best_chain, page_size):
            min_waste, best_chain = waste, i
        assert min_waste is not None
        if min_waste * GOOD_ENOUGH_DIVISOR <= best_chain * page_size:
            break
    return best_chain


def spanning_objects(class_size: int, pages: int, page_size: int) -> int:
    """Objects of a zspage of ``pages`` pages that span two pages (``calculate_spanning``
    in simulate_zsmalloc.c): the reads patch 2 wants fewer of."""
    objs = pages * page_size // class_size
    return sum(1 for k in range(objs)
               if (k * class_size) // page_size != ((k + 1) * class_size - 1) // page_size)
