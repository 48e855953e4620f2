"""A radix tree (lib/radix-tree.c) modelled for its shape and costs, not its bytes.

Keys are unsigned longs; every node has ``RADIX_TREE_MAP_SIZE`` = 64 slots
(``RADIX_TREE_MAP_SHIFT`` 6), so a tree of height *h* covers keys below 64^h.
The tree grows a level when a key does not fit (``radix_tree_extend``) and
shrinks when the root has one child in slot 0 (``radix_tree_shrink``).  A lookup
walks *height* nodes.  The 2013 proposals used one: Kozlowski's zbud series
keyed zbud's radix tree by swap offset, Seth Jennings' address_space idea the
``page_tree`` of a per-swap-type address_space.

Each node is a ``struct radix_tree_node`` of 576 bytes on 64-bit 3.11 (height,
count, rcu head, private list, 64 slots, tags); :attr:`node_bytes` reports them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Generic, TypeVar

RADIX_TREE_MAP_SHIFT = 6
RADIX_TREE_MAP_SIZE = 1 << RADIX_TREE_MAP_SHIFT
NODE_BYTES = 576

V = TypeVar("V")


class RadixTree(Generic[V]):
    """Key -> value, with the node count and the look-up cost of the kernel's tree."""

    def __init__(self) -> None:
        self._slots: dict[int, V] = {}
        # level l (0 = leaf nodes): prefix key >> (6 * (l + 1)) -> entries below it; levels
        # are tracked up to the highest a stored key needs (added when one needs more)
        self._levels: list[Counter[int]] = []
        self.lookups = 0  # nodes walked by lookups, inserts, replaces and deletes

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    @property
    def height(self) -> int:
        """Levels of nodes (0: empty, or only key 0, kept in the root pointer)."""
        for lv in range(len(self._levels) - 1, -1, -1):
            c = self._levels[lv]
            if len(c) > 1 or (c and 0 not in c):
                return lv + 2  # a key >= 64^(lv + 1) is stored
        return 1 if len(self._slots) > (0 in self._slots) else 0

    @property
    def nodes(self) -> int:
        """``radix_tree_node`` objects in use."""
        return sum(len(self._levels[lv]) for lv in range(self.height))

    @property
    def node_bytes(self) -> int:
        return self.nodes * NODE_BYTES

    def _walk(self) -> None:
        self.lookups += max(1, self.height)

    def _extend(self, key: int) -> None:
        """Track enough levels for ``key`` (radix_tree_extend)."""
        need = -(-key.bit_length() // RADIX_TREE_MAP_SHIFT)
        while len(self._levels) < need:
            shift = RADIX_TREE_MAP_SHIFT * (len(self._levels) + 1)
            self._levels.append(Counter(k >> shift for k in self._slots))

    def insert(self, key: int, value: V) -> None:
        """``radix_tree_insert``; ``KeyError`` if the key is taken (-EEXIST)."""
        if key < 0:
            raise ValueError("radix tree keys are unsigned")
        if key in self._slots:
            raise KeyError(key)
        self._extend(key)
        self._slots[key] = value
        for lv, counts in enumerate(self._levels):
            counts[key >> (RADIX_TREE_MAP_SHIFT * (lv + 1))] += 1
        self._walk()

    def lookup(self, key: int) -> V | None:
        """``radix_tree_lookup``."""
        self._walk()
        return self._slots.get(key)

    def get(self, key: int) -> V | None:
        """The value without counting a walk (for checks that change nothing)."""
        return self._slots.get(key)

    def replace(self, key: int, value: V) -> None:
        """``radix_tree_replace_slot`` after a lookup."""
        if key not in self._slots:
            raise KeyError(key)
        self._walk()
        self._slots[key] = value

    def delete(self, key: int) -> V:
        """``radix_tree_delete``: empty nodes are freed and the tree shrinks."""
        self._walk()
        value = self._slots.pop(key)
        for lv, counts in enumerate(self._levels):
            p = key >> (RADIX_TREE_MAP_SHIFT * (lv + 1))
            if counts[p] <= 1:
                del counts[p]
            else:
                counts[p] -= 1
        return value

    def items(self) -> Iterator[tuple[int, V]]:
        return iter(self._slots.items())
