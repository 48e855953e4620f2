"""A zbud page: ``struct zbud_header`` state and the direct handles into it.

A handle is the object's address: ``page_address + ZHDR_SIZE_ALIGNED`` for the
first buddy (left-justified after the header chunk), ``page_address + PAGE_SIZE -
last_chunks * CHUNK_SIZE`` for the last buddy (right-justified at the page end);
``encode_handle``.  Here the page address is ``pfn << PAGE_SHIFT``, so
``handle >> PAGE_SHIFT`` is the PFN and ``handle & (PAGE_SIZE - 1)`` the byte
offset in the frame.  PAGE_SIZE, PAGE_SHIFT and the chunk constants are the pool's
(:class:`~.rules.ZbudGeometry`, from the case's page size), held by each header.
``zbud_free`` tells the buddies apart as the kernel does: the
first buddy's handle minus ``ZHDR_SIZE_ALIGNED`` is page aligned (``pool.py`` compares
the handle's offset with the buddies' current offsets, which is the same test).
"""

from __future__ import annotations

from .rules import ZbudGeometry

# which list the page is on (``buddy`` link): an unbuddied index 0..NCHUNKS-1, or
BUDDIED = -1
OFF_LIST = -2  # taken off by zbud_reclaim_page, or not yet filed


class ZbudHeader:
    """One zbud page: chunk counts of both buddies, the object lengths (kept by the
    caller in the kernel; here so ``read`` knows how much to copy) and list state."""

    __slots__ = ("geo", "pfn", "first_chunks", "last_chunks", "first_size", "last_size",
                 "under_reclaim", "on")

    def __init__(self, pfn: int, geo: ZbudGeometry) -> None:
        self.geo = geo  # the pool's PAGE_SIZE constants
        self.pfn = pfn  # the frame: header and buddies are in frames.page(pfn)
        self.first_chunks = 0
        self.last_chunks = 0
        self.first_size = 0
        self.last_size = 0
        self.under_reclaim = False
        self.on = OFF_LIST

    def __repr__(self) -> str:
        return (f"ZbudHeader(pfn={self.pfn}, first={self.first_chunks}, "
                f"last={self.last_chunks}, on={self.on})")

    def free_chunks(self) -> int:
        """``num_free_chunks``: free buddies count as 0 chunks."""
        return self.geo.nchunks - self.first_chunks - self.last_chunks

    def first_handle(self) -> int:
        """``encode_handle(zhdr, FIRST)``."""
        geo = self.geo
        return (self.pfn << geo.page_shift) + geo.zhdr_size_aligned

    def last_handle(self) -> int:
        """``encode_handle(zhdr, LAST)`` (uses the current ``last_chunks``)."""
        geo = self.geo
        return ((self.pfn << geo.page_shift) + geo.page_size
                - (self.last_chunks << geo.chunk_shift))

    def live_handles(self) -> list[int]:
        out = []
        if self.first_chunks:
            out.append(self.first_handle())
        if self.last_chunks:
            out.append(self.last_handle())
        return out

