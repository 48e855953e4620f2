"""``struct zswap_entry`` and zswap's own LRU of entries (mm/zswap.c: 6.5+, "mm: zswap:
add pool shrinking mechanism"; a memcg-aware ``list_lru`` from 6.8, "zswap: make
shrinking memcg-aware", walked here as the root's alone).

An entry carries its LRU links itself, as the kernel's ``entry->lru`` ``list_head``
does: the LRU costs two fields an entry, not a node in a second map.
"""

from __future__ import annotations


class Entry:
    """``struct zswap_entry``: the object's handle and length (or the same-filled
    value), the header's length, stored raw (6.18+), and, on zswap's own LRU (6.5+),
    ``entry->lru`` (``prev`` / ``next``: the list runs through the entries, as the
    kernel's ``list_head`` does, no per-entry node elsewhere) with ``referenced``
    (6.12+) and the swap offset the LRU walk writes back."""

    __slots__ = ("handle", "length", "hlen", "value", "raw", "offset", "referenced",
                 "prev", "next")

    def __init__(self, handle: int, length: int, hlen: int, value: int | None, raw: bool) -> None:
        self.handle, self.length, self.hlen, self.value, self.raw = handle, length, hlen, value, raw
        self.offset = 0
        self.referenced = False
        self.prev: Entry | None = None  # None: not on the LRU
        self.next: Entry | None = None


class Lru:
    """zswap's LRU (6.5+): a circular list through the entries, the head a sentinel,
    kept newest at the tail and walked from the head's next, oldest first (the kernel's
    own ends: 6.5-6.7 ``list_add`` and ``list_last_entry``, 6.8+ ``list_lru_add`` at the
    tail and ``list_lru_walk`` from the head)."""

    __slots__ = ("head", "count")

    def __init__(self) -> None:
        self.head = Entry(0, 0, 0, None, False)
        self.head.prev = self.head.next = self.head
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def oldest(self) -> Entry:
        """The first entry of the walk (the list must not be empty)."""
        e = self.head.next
        assert e is not None and e is not self.head
        return e

    def add_tail(self, e: Entry) -> None:
        """The entry becomes the newest."""
        head = self.head
        prv = head.prev
        assert prv is not None
        e.prev, e.next = prv, head
        prv.next = e
        head.prev = e
        self.count += 1

    def delete(self, e: Entry) -> None:
        """``list_lru_del``; an entry not on the list is left alone."""
        prv, nxt = e.prev, e.next
        if prv is None or nxt is None:
            return
        prv.next = nxt
        nxt.prev = prv
        e.prev = e.next = None
        self.count -= 1

    def move_tail(self, e: Entry) -> None:
        """The entry becomes the newest again (a load's ``list_move``)."""
        self.delete(e)
        self.add_tail(e)
