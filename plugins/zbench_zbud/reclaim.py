"""``zbud_reclaim_page`` (3.11 - 6.4): write back the LRU tail page's buddies.

Read from ``torvalds/linux mm/zbud.c@b10778a0`` (≈3.18) and the 6.4 function as
removed by "mm: zswap: remove page reclaim logic from zbud" (6.5).  Per try: take the
LRU tail page off the LRU and its buddy list, set ``under_reclaim``, encode the
handles of the live buddies *before* calling back, call ``evict`` on the first
buddy then the last (a refusal skips the rest: ``goto next``), clear
``under_reclaim``; if both buddies are now free, free the page and return 0, else
re-file it (unbuddied/buddied) and put it at the LRU head.  ``-EAGAIN`` after
``retries`` tries; ``-EINVAL`` when the LRU is empty (also for ``retries == 0``
before 6.2; after, the empty loop gives ``-EAGAIN``).  Both errors are ``False``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .pool import ZbudPool


def zbud_reclaim_page(pool: ZbudPool, evict: Callable[[int], bool], retries: int) -> bool:
    """``evict(handle)`` returns True after it freed the handle (``pool.free``), False
    when it refused.  Returns True when a page was freed."""
    if not pool.rules.lru:
        raise NotImplementedError(
            f"zbud on kernel {pool.rules.kernel} has no LRU reclaim: zbud_reclaim_page was "
            "removed in 6.5 (zswap owns the LRU)"
        )
    lru = pool.lru
    if not lru:
        return False  # -EINVAL
    for _ in range(retries):
        if not lru:  # only if an evict callback emptied the pool by other means
            break
        zhdr = next(iter(lru))  # list_last_entry(&pool->lru): the tail
        del lru[zhdr]
        pool.list_ops += 1
        pool.unfile_page(zhdr)
        pool.set_under_reclaim(zhdr, True)
        pool.reclaim_attempts += 1
        handles = zhdr.live_handles()  # first, then last; encoded before the callbacks
        if pool.kozlowski is not None:  # the 2013 series evicts by key (swap offset)
            handles = [pool.kozlowski.user_handle(h) for h in handles]
        for handle in handles:
            pool.evict_calls += 1
            if not evict(handle):
                pool.evict_failures += 1
                break
        pool.set_under_reclaim(zhdr, False)
        if zhdr.first_chunks == 0 and zhdr.last_chunks == 0:
            pool.free_page(zhdr)
            pool.reclaimed_pages += 1
            return True
        pool.file_page(zhdr)
        lru[zhdr] = None  # list_add: the LRU head
        pool.list_ops += 1
    return False  # -EAGAIN
