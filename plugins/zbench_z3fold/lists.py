"""The pool's page lists: ``unbuddied[NCHUNKS]`` and the LRU.

Each kernel list is ``list_add`` (push at the head) + ``list_first_entry`` (take the
head), i.e. last-in-first-out; here a dict in insertion order whose *last* key is the
head.  From 4.14 the unbuddied lists are per CPU; the model has one CPU's set, so
``__z3fold_alloc``'s second pass (an exact fit on the other CPUs' lists) never finds
anything the first pass missed.  A bit mask of the non-empty lists makes the
first-fit scan (``for_each_unbuddied_list(i, chunks)``) one operation.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .zpage import Z3Page


class Unbuddied:
    __slots__ = ("lists", "mask", "count", "ops")

    def __init__(self, nchunks: int) -> None:
        self.lists: list[dict[Z3Page, None]] = [{} for _ in range(nchunks)]
        self.mask = 0
        self.count = 0
        self.ops = 0  # list_add / list_del_init that changed a list (cost counter)

    def add(self, page: Z3Page, freechunks: int) -> None:
        """``list_add(&zhdr->buddy, &unbuddied[freechunks])``."""
        self.lists[freechunks][page] = None
        self.mask |= 1 << freechunks
        page.list_idx = freechunks
        self.count += 1
        self.ops += 1

    def remove(self, page: Z3Page) -> None:
        """``list_del_init(&zhdr->buddy)`` (a no-op for a page on no list)."""
        i = page.list_idx
        if i < 0:
            return
        lst = self.lists[i]
        del lst[page]
        if not lst:
            self.mask &= ~(1 << i)
        page.list_idx = -1
        self.count -= 1
        self.ops += 1

    def first_fit(self, chunks: int) -> Z3Page | None:
        """The head of the first non-empty list ``i >= chunks``."""
        m = self.mask >> chunks
        if not m:
            return None
        i = chunks + (m & -m).bit_length() - 1
        return next(reversed(self.lists[i]))


class Lru:
    """``pool->lru``: most recently allocated-into page at the head (the dict's end)."""

    __slots__ = ("pages", "ops")

    def __init__(self) -> None:
        self.pages: OrderedDict[Z3Page, None] = OrderedDict()
        self.ops = 0  # list operations (cost counter)

    def add_head(self, page: Z3Page) -> None:
        """``list_del`` + ``list_add(&page->lru, &pool->lru)``."""
        self.pages[page] = None
        self.pages.move_to_end(page)
        self.ops += 1

    def remove(self, page: Z3Page) -> None:
        if self.pages.pop(page, 0) is None:
            self.ops += 1

    def from_tail(self) -> Iterator[Z3Page]:
        """``list_for_each_prev``: oldest first (do not change the LRU while iterating)."""
        return iter(self.pages)

    def __len__(self) -> int:
        return len(self.pages)

    def __contains__(self, page: object) -> bool:
        return page in self.pages
