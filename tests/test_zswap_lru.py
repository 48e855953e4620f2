"""zswap's LRU (entries linked through their own ``prev`` / ``next``, as ``entry->lru``):
under any sequence of adds, deletes, moves and walks it keeps the order an
``OrderedDict`` of the same offsets keeps (oldest first), and its count."""

from __future__ import annotations

from collections import OrderedDict

from hypothesis import given
from hypothesis import strategies as st
from zbench_zswap.entry import Entry, Lru

OPS = st.lists(st.tuples(st.sampled_from(["add", "delete", "move", "walk"]),
                         st.integers(0, 15)), max_size=200)


def _order(lru: Lru) -> list[int]:
    out, e = [], lru.head.next
    while e is not lru.head:
        assert e is not None and e.next is not None and e.next.prev is e
        out.append(e.offset)
        e = e.next
    return out


@given(OPS)
def test_lru_keeps_ordereddict_order(ops: list[tuple[str, int]]) -> None:
    lru, ref = Lru(), OrderedDict[int, None]()
    entries: dict[int, Entry] = {}
    for op, off in ops:
        e = entries.get(off)
        if op == "add" and e is None:
            e = entries[off] = Entry(off << 3, 100, 0, None, False)
            e.offset = off
            lru.add_tail(e)
            ref[off] = None
        elif op == "delete" and e is not None:
            lru.delete(e)
            lru.delete(e)  # a second delete leaves the list alone
            del entries[off]
            ref.pop(off)
        elif op == "move" and e is not None:
            lru.move_tail(e)
            ref.move_to_end(off)
        elif op == "walk" and ref:
            assert lru.oldest().offset == next(iter(ref))
        assert _order(lru) == list(ref)
        assert len(lru) == len(ref)
        assert bool(lru) == bool(ref)


def test_entry_off_the_lru_has_no_links() -> None:
    lru = Lru()
    e = Entry(8, 10, 0, None, False)
    lru.add_tail(e)
    assert e.prev is lru.head and e.next is lru.head
    lru.delete(e)
    assert e.prev is None and e.next is None and not lru
