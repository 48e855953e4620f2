"""Simulated physical page frames.

Every allocator model gets its memory from a :class:`PageFrames`: one
``bytearray`` of ``PAGE_SIZE`` per allocated frame, named by a page frame
number (PFN).  Models store the real compressed bytes in these frames, so a
load really reads back what the model's layout rules put there.

Freed PFNs are reused lowest-first (a min-heap), like a buddy allocator that
prefers low addresses; the sequence is deterministic for a given workload.
"""

from __future__ import annotations

import enum
import heapq
from dataclasses import dataclass

PAGE_SIZE = 4096
PAGE_SHIFT = 12


class Mobility(enum.Enum):
    """GFP mobility of a page (``MIGRATE_*`` in the kernel)."""

    UNMOVABLE = "unmovable"
    MOVABLE = "movable"
    RECLAIMABLE = "reclaimable"


@dataclass
class FrameInfo:
    owner: str
    mobility: Mobility


class PageFrames:
    """A pool of simulated page frames, counted exactly."""

    def __init__(self, page_size: int = PAGE_SIZE) -> None:
        self.page_size = page_size
        self._data: dict[int, bytearray] = {}
        self._info: dict[int, FrameInfo] = {}
        self._free_pfns: list[int] = []
        self._next_pfn = 0
        self.allocs = 0
        self.frees = 0
        self.peak = 0

    def alloc(self, owner: str = "", mobility: Mobility = Mobility.MOVABLE) -> int:
        """Allocate one zero-filled frame and return its PFN (``alloc_page``)."""
        if self._free_pfns:
            pfn = heapq.heappop(self._free_pfns)
        else:
            pfn = self._next_pfn
            self._next_pfn += 1
        self._data[pfn] = bytearray(self.page_size)
        self._info[pfn] = FrameInfo(owner, mobility)
        self.allocs += 1
        if len(self._data) > self.peak:
            self.peak = len(self._data)
        return pfn

    def free(self, pfn: int) -> None:
        """Return a frame (``__free_page``); freeing a frame twice is a model bug."""
        if pfn not in self._data:
            raise ValueError(f"PFN {pfn} is not allocated")
        del self._data[pfn]
        del self._info[pfn]
        heapq.heappush(self._free_pfns, pfn)
        self.frees += 1

    def page(self, pfn: int) -> bytearray:
        """The frame's bytes, writable in place (``kmap_local_page``)."""
        return self._data[pfn]

    def info(self, pfn: int) -> FrameInfo:
        return self._info[pfn]

    def is_allocated(self, pfn: int) -> bool:
        return pfn in self._data

    @property
    def allocated(self) -> int:
        """Frames in use now."""
        return len(self._data)

    def pfns(self) -> list[int]:
        """PFNs in use, ascending."""
        return sorted(self._data)
