"""The workload's own memory: one movable anonymous page per resident swap offset.

Compressed pools do not live alone: zswap stores a page while memory is short,
so its pool pages take frames in between the process's anonymous pages, and a
pageblock holding one unmovable pool page cannot be emptied for a huge page or
a CMA allocation.  With :class:`AnonPages` the case runner keeps a resident
page per offset the workload has not swapped out: a swap-out (store) frees the
offset's frame after the front end stored it, a swap-in (load) faults one in.

Anonymous pages are on the LRU, so they always migrate: copy the page, update
the one page-table entry that maps it (``try_to_migrate`` + ``remove_migration_ptes``
through the ``anon_vma``; modelled as one reverse look-up and one index update).
"""

from __future__ import annotations

from zbench.api.frames import Mobility, PageFrames
from zbench.api.movable import MigrateResult

OWNER = "anon"


class AnonPages:
    """Resident anonymous pages of the workload, by swap offset."""

    def __init__(self, frames: PageFrames) -> None:
        self.frames = frames
        self.pfn_of: dict[int, int] = {}  # offset -> pfn
        self.offset_of: dict[int, int] = {}  # pfn -> offset (page->index, via the anon_vma)
        self.faults = 0
        self.swapouts = 0

    def __len__(self) -> int:
        return len(self.pfn_of)

    def fault_in(self, offset: int) -> None:
        """A swap-in: the offset's page is resident again (no-op if it is)."""
        if offset in self.pfn_of:
            return
        pfn = self.frames.alloc(owner=OWNER, mobility=Mobility.MOVABLE)
        self.pfn_of[offset] = pfn
        self.offset_of[pfn] = offset
        self.faults += 1

    def swap_out(self, offset: int) -> None:
        """The page was written to swap (zswap / zram): its frame is freed."""
        pfn = self.pfn_of.pop(offset, None)
        if pfn is not None:
            del self.offset_of[pfn]
            self.frames.free(pfn)
            self.swapouts += 1

    def owns(self, pfn: int) -> bool:
        return pfn in self.offset_of

    def migrate(self, pfn: int, newpfn: int) -> MigrateResult:
        """``migrate_folio`` of an anonymous LRU page."""
        self.frames.page(newpfn)[:] = self.frames.page(pfn)
        offset = self.offset_of.pop(pfn)
        self.offset_of[newpfn] = offset
        self.pfn_of[offset] = newpfn
        return MigrateResult(True, objects=1, bytes_copied=self.frames.page_size, index_updates=1,
                             reverse_lookups=1)
