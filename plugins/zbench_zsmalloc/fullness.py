"""Fullness groups and the per-class fullness lists (``struct list_head``).

A zspage sits on exactly one list of its class, chosen by how many of its
objects are in use (``get_fullness_group``), except while compaction has it
isolated.  ``insert_zspage`` placement changed three times, so it is a policy:

* 4.1-4.2 and >= 6.4: at the head (``list_add``; the pre-4.8 head-pointer list
  made the new page the head);
* 4.3-4.7 ("zsmalloc: partial page ordering within a fullness_list"):
  ``list_add_tail`` before the head, and the page becomes the head when its
  ``inuse`` >= the head's, i.e. head if fuller-or-equal, else tail;
* 4.8-6.3 (``struct zspage`` lists): right after the head when ``inuse`` < the
  head's, else at the head; removed in 6.4 ("remove insert_zspage() ->inuse
  optimization").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .rules import FullnessScheme, InsertPolicy

if TYPE_CHECKING:
    from .size_class import SizeClass
    from .zspage import ZsPage


class ListNode:
    """A doubly linked ``list_head`` entry."""

    __slots__ = ("prev", "next")

    def __init__(self) -> None:
        self.prev: ListNode = self
        self.next: ListNode = self


class ListHead(ListNode):
    """The sentinel of a circular list; ``next`` is the first entry."""

    __slots__ = ()

    def first(self) -> ZsPage | None:
        """``list_first_entry_or_null``."""
        node = self.next
        return None if node is self else node  # type: ignore[return-value]

    def entries(self) -> list[ZsPage]:
        out = []
        node = self.next
        while node is not self:
            out.append(node)
            node = node.next
        return out  # type: ignore[return-value]


def list_add(new: ListNode, head: ListNode) -> None:
    """Insert ``new`` right after ``head``."""
    nxt = head.next
    new.prev = head
    new.next = nxt
    nxt.prev = new
    head.next = new


def list_add_tail(new: ListNode, head: ListNode) -> None:
    """Insert ``new`` right before ``head`` (at the list's tail)."""
    prv = head.prev
    new.prev = prv
    new.next = head
    prv.next = new
    head.prev = new


def list_del_init(node: ListNode) -> None:
    node.prev.next = node.next
    node.next.prev = node.prev
    node.prev = node
    node.next = node


# -- groups -----------------------------------------------------------------

# 4.8+ enum order for the quarter scheme (<= 4.7 put ALMOST_FULL first; only the
# scan orders below matter, and they use the names).
ZS_EMPTY, ZS_ALMOST_EMPTY, ZS_ALMOST_FULL, ZS_FULL = 0, 1, 2, 3
FULLNESS_THRESHOLD_FRAC = 4

# >= 6.4: ZS_INUSE_RATIO_0 = 0, _10 = 1, ..., _99 = 10, _100 = 11
ZS_INUSE_RATIO_0 = 0
ZS_INUSE_RATIO_10 = 1
ZS_INUSE_RATIO_99 = 10
ZS_INUSE_RATIO_100 = 11


class Fullness:
    """A fullness-group scheme: group function, list count, scan orders."""

    nr_groups: int
    empty: int
    full: int
    #: ``find_get_zspage`` scan order (groups taken list head first).
    alloc_order: tuple[int, ...]
    #: compaction source / destination scan orders.
    src_order: tuple[int, ...]
    dst_order: tuple[int, ...]
    #: debugfs ``classes`` columns: (name, group).
    columns: tuple[tuple[str, int], ...]

    def group(self, inuse: int, objs: int) -> int:
        raise NotImplementedError


class QuarterFullness(Fullness):
    """4.1-6.3: ALMOST_EMPTY iff 0 < n <= 3N/4 ("zsmalloc: adjust ZS_ALMOST_FULL")."""

    nr_groups = 4
    empty = ZS_EMPTY
    full = ZS_FULL
    alloc_order = (ZS_ALMOST_FULL, ZS_ALMOST_EMPTY)
    src_order = (ZS_ALMOST_EMPTY, ZS_ALMOST_FULL)
    dst_order = (ZS_ALMOST_FULL, ZS_ALMOST_EMPTY)
    columns = (("almost_full", ZS_ALMOST_FULL), ("almost_empty", ZS_ALMOST_EMPTY))

    def group(self, inuse: int, objs: int) -> int:
        if inuse == 0:
            return ZS_EMPTY
        if inuse == objs:
            return ZS_FULL
        if inuse <= 3 * objs // FULLNESS_THRESHOLD_FRAC:
            return ZS_ALMOST_EMPTY
        return ZS_ALMOST_FULL


class InuseRatioFullness(Fullness):
    """>= 6.4: "zsmalloc: fine-grained inuse ratio based fullness grouping"."""

    nr_groups = 12
    empty = ZS_INUSE_RATIO_0
    full = ZS_INUSE_RATIO_100
    alloc_order = tuple(range(ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_0 - 1, -1))
    src_order = tuple(range(ZS_INUSE_RATIO_10, ZS_INUSE_RATIO_99 + 1))
    dst_order = tuple(range(ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_10 - 1, -1))
    columns = tuple(
        [(f"{10 * g}%", g) for g in range(1, 10)] + [("99%", 10), ("100%", 11)]
    )

    def group(self, inuse: int, objs: int) -> int:
        if inuse == 0:
            return ZS_INUSE_RATIO_0
        if inuse == objs:
            return ZS_INUSE_RATIO_100
        return 100 * inuse // objs // 10 + 1


def make_fullness(scheme: FullnessScheme) -> Fullness:
    if scheme is FullnessScheme.INUSE_RATIO:
        return InuseRatioFullness()
    return QuarterFullness()


# -- insert_zspage / remove_zspage ------------------------------------------

InsertFn = Callable[["SizeClass", "ZsPage", int], None]


def _insert_head(cls: SizeClass, zspage: ZsPage, fullness: int) -> None:
    cls.group_count[fullness] += 1
    cls.list_ops += 1
    list_add(zspage, cls.fullness_list[fullness])
    zspage.fullness = fullness


def _insert_inuse_tail(cls: SizeClass, zspage: ZsPage, fullness: int) -> None:
    cls.group_count[fullness] += 1
    cls.list_ops += 1
    head = cls.fullness_list[fullness]
    first = head.first()
    if first is None or zspage.inuse >= first.inuse:
        list_add(zspage, head)
    else:
        list_add_tail(zspage, head)
    zspage.fullness = fullness


def _insert_inuse_second(cls: SizeClass, zspage: ZsPage, fullness: int) -> None:
    cls.group_count[fullness] += 1
    cls.list_ops += 1
    head = cls.fullness_list[fullness]
    first = head.first()
    if first is not None and zspage.inuse < first.inuse:
        list_add(zspage, first)
    else:
        list_add(zspage, head)
    zspage.fullness = fullness


INSERT_POLICIES: dict[InsertPolicy, InsertFn] = {
    InsertPolicy.HEAD: _insert_head,
    InsertPolicy.INUSE_TAIL: _insert_inuse_tail,
    InsertPolicy.INUSE_SECOND: _insert_inuse_second,
}


def remove_zspage(cls: SizeClass, zspage: ZsPage) -> None:
    list_del_init(zspage)
    cls.group_count[zspage.fullness] -= 1
    cls.list_ops += 1
