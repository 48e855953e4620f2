"""Handles and obj values (indirect handles, since 4.1).

``zs_malloc`` returns a *handle*: the address of an 8-byte slot from the
``zs_handle`` kmem_cache.  The slot holds the *obj* value, the object's location
``(pfn << OBJ_INDEX_BITS) | obj_idx`` (``record_obj`` / ``handle_to_obj``), so
compaction can move the object and rewrite only the slot.  Every non-huge object
starts with ``handle | OBJ_ALLOCATED_TAG`` in its first 8 bytes.

Here a handle is ``slot_id * ZS_HANDLE_SIZE`` (8-aligned like a slab object, so
bit 0 is free for the tag) and the slot table is two flat arrays of machine words,
the slots' obj values and the objects' sizes (8 and 4 bytes a handle, no Python object
per value, as the kernel's slab objects are); freed slots are reused last-freed-first,
as a slab per-CPU freelist does.
"""

from __future__ import annotations

from array import array

from .size_class import OBJ_INDEX_BITS, ZS_HANDLE_SIZE

OBJ_ALLOCATED_TAG = 1
OBJ_TAG_BITS = 1
OBJ_INDEX_MASK = (1 << OBJ_INDEX_BITS) - 1
HANDLE_SHIFT = 3  # log2(ZS_HANDLE_SIZE)
assert 1 << HANDLE_SHIFT == ZS_HANDLE_SIZE


def location_to_obj(pfn: int, obj_idx: int) -> int:
    """``location_to_obj``: ``obj_idx`` is the zspage-wide index (4.8+ layout)."""
    return (pfn << OBJ_INDEX_BITS) | (obj_idx & OBJ_INDEX_MASK)


def obj_to_location(obj: int) -> tuple[int, int]:
    """``obj_to_location`` -> (pfn of the page the object starts in, obj_idx)."""
    return obj >> OBJ_INDEX_BITS, obj & OBJ_INDEX_MASK


class HandleTable:
    """The ``zs_handle`` cache: one slot (obj value) and the object's size per handle."""

    __slots__ = ("objs", "sizes", "_free", "live")

    def __init__(self) -> None:
        self.objs = array("Q", [0])  # slot 0 unused: handle 0 means "no handle"
        self.sizes = array("I", [0])  # 0 = slot free
        self._free = array("I")
        self.live = 0

    def alloc(self, size: int) -> int:
        """``cache_alloc_handle``; remembers the object's size for read()."""
        if self._free:
            slot = self._free.pop()
            self.sizes[slot] = size
        else:
            slot = len(self.objs)
            self.objs.append(0)
            self.sizes.append(size)
        self.live += 1
        return slot << HANDLE_SHIFT

    def free(self, handle: int) -> None:
        """``cache_free_handle``."""
        slot = handle >> HANDLE_SHIFT
        self.sizes[slot] = 0
        self.objs[slot] = 0
        self._free.append(slot)
        self.live -= 1

    def slot(self, handle: int) -> int:
        """The slot id of a live handle; ValueError for anything else."""
        slot = handle >> HANDLE_SHIFT
        if (
            handle <= 0
            or handle & (ZS_HANDLE_SIZE - 1)
            or slot >= len(self.sizes)
            or not self.sizes[slot]
        ):
            raise ValueError(f"not a live zsmalloc handle: {handle!r}")
        return slot

    def record_obj(self, handle: int, obj: int) -> None:
        self.objs[handle >> HANDLE_SHIFT] = obj

    def handle_to_obj(self, handle: int) -> int:
        return self.objs[handle >> HANDLE_SHIFT]

    def handles(self) -> list[int]:
        """Live handles, ascending."""
        return [s << HANDLE_SHIFT for s, n in enumerate(self.sizes) if n]
