"""``z3fold_reclaim_page`` (4.8 - 6.4): write back the buddies of an LRU tail page.

Per try: take a page from the LRU tail (4.8 - 4.13: ``list_last_entry``; 4.14+:
``list_for_each_prev``, which from 5.5 passes over pages holding foreign handles),
take it off the LRU and its unbuddied list, claim it (``UNDER_RECLAIM`` /
``PAGE_CLAIMED``: a free of one of its buddies then only clears the buddy), encode
the live handles, call ``evict`` on MIDDLE, then FIRST, then LAST, stopping at the
first refusal (``goto next``).  If no buddy is left the page is freed and 0 is
returned; otherwise the page goes back to the LRU head - after compaction and
re-filing on an unbuddied list up to 4.13, on no unbuddied list from 4.14 (it is
found again only when one of its buddies is freed).  A headless page is freed when
its one eviction succeeds.  ``-EINVAL`` (empty LRU, ``retries == 0``) and ``-EAGAIN``
(``retries`` pages tried) are both ``False``.

``evict(handle)`` must free the handle (``pool.free``) before returning True; a
success that leaves the object in place raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .compaction import CASE_COUNTERS
from .zpage import FIRST, HEADLESS, LAST, MIDDLE, Z3Page, compact_page

if TYPE_CHECKING:
    from .pool import Z3foldPool

EVICT_ORDER = (MIDDLE, FIRST, LAST)


def _pick(pool: Z3foldPool) -> Z3Page | None:
    for page in pool.lru.from_tail():
        if pool.rules.inter_page and not page.headless and page.foreign_handles:
            continue  # "can't evict such page"
        return page
    return None


def _evict_all(pool: Z3foldPool, page: Z3Page, evict: Callable[[int], bool]) -> None:
    buds = [HEADLESS] if page.headless else [b for b in EVICT_ORDER if page.chunks(b)]
    handles = [(b, pool.encode_handle(page, b)) for b in buds]  # encoded before the calls
    c = pool.counters
    for bud, handle in handles:
        c["evict_calls"] += 1
        if not evict(handle):
            c["evict_failures"] += 1
            return
        if page.sizes[bud]:
            raise ValueError(f"z3fold: evict({handle:#x}) returned success without freeing it")


def z3fold_reclaim_page(pool: Z3foldPool, evict: Callable[[int], bool], retries: int) -> bool:
    """Returns True when a page was freed."""
    rules = pool.rules
    if not rules.lru:
        raise NotImplementedError(
            f"z3fold on kernel {rules.kernel} has no LRU reclaim: z3fold_reclaim_page was "
            "removed in 6.5 (zswap owns the LRU)")
    c = pool.counters
    for _ in range(max(retries, 0)):
        if not len(pool.lru):
            return False  # -EINVAL
        page = _pick(pool)
        if page is None:
            break
        pool.lru.remove(page)
        pool.unbuddied.remove(page)
        page.claimed = True
        c["reclaim_attempts"] += 1
        _evict_all(pool, page, evict)
        page.claimed = False
        if not page.sizes[HEADLESS] and page.is_empty():
            pool.release_page(page)
            c["reclaimed_pages"] += 1
            return True
        if not page.headless and not rules.deferred_compaction:
            moved = page.middle_chunks << pool.geo.chunk_shift
            case = compact_page(page, pool.frames, pool.geo,
                                rules.big_gap_compaction)
            if case:
                c["in_page_compactions"] += 1
                c[CASE_COUNTERS[case]] += 1
                c["bytes_moved"] += moved
            pool.add_to_unbuddied(page)
        pool.lru.add_head(page)
    return False  # -EAGAIN
