"""What ``z3fold_free`` does after freeing a buddy of a page that stays in use.

* 4.8 - 4.13: ``z3fold_compact_page`` then re-file the page, inside the free;
* 4.14+: set ``NEEDS_COMPACTING`` and queue the page's work item (or call
  ``do_compact_page`` directly when the page has no CPU); the work takes the page
  off its unbuddied list, compacts and re-files it.  Allocation skips a page while
  its work is pending.  The model runs ``do_compact_page`` synchronously inside
  ``free()``, which is what the kernel does when the work runs before the next
  allocation;
* 5.5+ ("mm/z3fold.c: add inter-page compaction"): ``do_compact_page`` first tries
  ``compact_single_buddy``: a page with a lone buddy and no foreign handles moves
  that buddy into another page found by ``__z3fold_alloc`` (never a new page) and is
  freed; the moved object's handle stays in the old slot block and now points to the
  new page, which counts it in ``foreign_handles``.

There is no pool-wide compaction: ``Allocator.compact`` returns 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .handles import slot_value
from .zpage import FIRST, HEADLESS, LAST, MIDDLE, Z3Page, compact_page, place

if TYPE_CHECKING:
    from .pool import Z3foldPool

CASE_COUNTERS = ("", "compact_middle_to_first", "compact_middle_down", "compact_middle_up")


def do_compact_page(pool: Z3foldPool, page: Z3Page) -> None:
    """Compact a page that still holds objects and put it back on an unbuddied list."""
    pool.unbuddied.remove(page)
    rules = pool.rules
    if rules.inter_page and not page.foreign_handles and page.nr_buddies() == 1:
        if compact_single_buddy(pool, page):
            return
    moved = page.middle_chunks << pool.geo.chunk_shift
    case = compact_page(page, pool.frames, pool.geo, rules.big_gap_compaction)
    if case:
        pool.counters["in_page_compactions"] += 1
        pool.counters[CASE_COUNTERS[case]] += 1
        pool.counters["bytes_moved"] += moved
    pool.add_to_unbuddied(page)


def compact_single_buddy(pool: Z3foldPool, page: Z3Page) -> bool:
    """Move the page's only buddy into another pool page; True if moved (the old page
    is then freed)."""
    bud = HEADLESS
    if page.slots >= 0:  # a page without its slot block moves nothing
        for b in (FIRST, MIDDLE, LAST):  # the kernel's order, each checked against its slot
            if page.chunks(b) and pool.slots.get(page.slots, page.idx(b)):
                bud = b
                break
    if bud == HEADLESS:
        return False
    chunks = page.chunks(bud)
    sz = chunks << pool.geo.chunk_shift
    target = pool.take_unbuddied(chunks)  # __z3fold_alloc(pool, sz, false)
    if target is None:
        return False
    new_bud = pool.choose_buddy(target, chunks)
    if new_bud == HEADLESS:  # out_fail
        pool.add_to_unbuddied(target)
        return False
    src = page.offset(bud, pool.geo)
    size = page.sizes[bud]
    place(target, new_bud, chunks, size, pool.geo)
    dst = target.offset(new_bud, pool.geo)
    pool.frames.copy(page.pfn, src, target.pfn, dst, sz)
    target.foreign_handles += 1
    new_idx = target.idx(new_bud)
    pool.slots.set(page.slots, page.idx(bud), slot_value(
        target.pfn, new_idx, target.last_chunks if new_bud == LAST else 0,
        pool.geo.page_shift))
    pool.add_to_unbuddied(target)
    page.set_chunks(bud, 0)  # *moved_chunks = 0
    page.sizes[bud] = 0
    page.slots = -1  # the block now only serves the moved handle; free_handle frees it
    pool.release_page(page)
    pool.counters["inter_page_moves"] += 1
    pool.counters["bytes_moved"] += sz
    return True
