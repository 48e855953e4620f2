"""mm/zbud.c geometry and which rules a kernel version follows.

Geometry (every version), derived at build time from ``PAGE_SIZE`` / ``PAGE_SHIFT``
(mm/zbud.c, the ``#define`` block at the top, unchanged from "zbud: add to mm/" in 3.11
to the last file in 6.14); the model computes it per pool from the case's page size
(:class:`ZbudGeometry`, ``frames.page_size``), so 16 K and 64 K pages follow the same
formulas:

* ``NCHUNKS_ORDER`` 6: a page is always ``1 << 6`` = 64 chunks;
* ``CHUNK_SHIFT = PAGE_SHIFT - NCHUNKS_ORDER`` (6 / 8 / 10 at 4 K / 16 K / 64 K), so
  ``CHUNK_SIZE = 1 << CHUNK_SHIFT`` is 64 / 256 / 1024 bytes;
* ``ZHDR_SIZE_ALIGNED = CHUNK_SIZE``: ``struct zbud_header`` takes the first chunk;
* ``NCHUNKS = (PAGE_SIZE - ZHDR_SIZE_ALIGNED) >> CHUNK_SHIFT`` = 63 usable chunks and
  63 unbuddied lists at every page size.  3.11-≈3.18 define ``NCHUNKS`` as
  ``PAGE_SIZE >> CHUNK_SHIFT`` = 64 and subtract the header in ``num_free_chunks``;
  later files define 63.  Same numbers either way, so the model uses 63;
* the largest allocation (``zbud_alloc``'s ``-ENOSPC`` check) scales with the page:
  ``PAGE_SIZE - ZHDR_SIZE_ALIGNED - CHUNK_SIZE`` (3968 / 15872 / 63488) from 3.12,
  ``PAGE_SIZE - ZHDR_SIZE_ALIGNED`` (4032 / 16128 / 64512) in 3.11;
* handles (``encode_handle``) are ``page address + ZHDR_SIZE_ALIGNED`` and ``page
  address + PAGE_SIZE - (last_chunks << CHUNK_SHIFT)``; the header's field offsets do
  not depend on the page size.

Version switches:

* max size: ``size > PAGE_SIZE - ZHDR_SIZE_ALIGNED`` is ``-ENOSPC`` in 3.11 (4032 B
  at 4 K, an object could fill the page alone); "mm: zbud: fix condition check on
  allocation size" (Heesub Shin, posted 17 Jul 2013, after 3.11-rc1; dated 3.12
  here) made it ``size > PAGE_SIZE - ZHDR_SIZE_ALIGNED - CHUNK_SIZE`` (3968 B);
* LRU + ``zbud_reclaim_page`` + ``under_reclaim``: 3.11 - 6.4; removed in 6.5
  ("mm: zswap: remove page reclaim logic from zbud", zswap owns the LRU);
* header layout (64-bit): ``buddy``, ``lru`` list heads then ``first_chunks``,
  ``last_chunks``, ``under_reclaim`` (<= 6.4); ``buddy``, ``first_chunks``,
  ``last_chunks`` (>= 6.5).
"""

from __future__ import annotations

from dataclasses import dataclass

from zbench import PAGE_SIZE, KernelVersion

from .options import ZbudOptions

NCHUNKS_ORDER = 6  # mm/zbud.c: a page is 1 << NCHUNKS_ORDER chunks at every PAGE_SIZE

SIZE_CHECK_FIX_KERNEL = KernelVersion("3.12")  # "mm: zbud: fix condition check on ..."
LRU_REMOVED_KERNEL = KernelVersion("6.5")  # "mm: zswap: remove page reclaim logic from zbud"

# struct zbud_header field offsets on 64-bit (a list_head is 16 bytes)
HDR_CHUNKS_OFFSET_LRU = 32  # after buddy + lru
HDR_UNDER_RECLAIM_OFFSET = 40  # bool after first_chunks, last_chunks (u32 each)
HDR_CHUNKS_OFFSET = 16  # after buddy (>= 6.5)


@dataclass(frozen=True, slots=True)
class ZbudGeometry:
    """mm/zbud.c's build-time constants for one ``PAGE_SIZE`` (the module docstring)."""

    page_size: int  # PAGE_SIZE
    page_shift: int  # PAGE_SHIFT
    chunk_shift: int  # PAGE_SHIFT - NCHUNKS_ORDER
    chunk_size: int  # 1 << CHUNK_SHIFT
    zhdr_size_aligned: int  # CHUNK_SIZE: the header's chunk
    nchunks: int  # (PAGE_SIZE - ZHDR_SIZE_ALIGNED) >> CHUNK_SHIFT: the unbuddied lists
    offset_mask: int  # PAGE_SIZE - 1: a direct handle's byte offset in its page

    @classmethod
    def for_page_size(cls, page_size: int) -> ZbudGeometry:
        """The ``#define`` block of mm/zbud.c evaluated for ``PAGE_SIZE = page_size``."""
        page_shift = page_size.bit_length() - 1
        if page_size != 1 << page_shift or page_shift <= NCHUNKS_ORDER:
            raise ValueError(f"zbud: PAGE_SIZE {page_size} is not a power of two > 64")
        chunk_shift = page_shift - NCHUNKS_ORDER
        chunk_size = 1 << chunk_shift
        return cls(page_size=page_size, page_shift=page_shift, chunk_shift=chunk_shift,
                   chunk_size=chunk_size, zhdr_size_aligned=chunk_size,
                   nchunks=(page_size - chunk_size) >> chunk_shift,
                   offset_mask=page_size - 1)

    def max_size(self, kernel: KernelVersion) -> int:
        """``zbud_alloc``'s largest size: ``-ENOSPC`` above it."""
        if kernel >= SIZE_CHECK_FIX_KERNEL:
            return self.page_size - self.zhdr_size_aligned - self.chunk_size
        return self.page_size - self.zhdr_size_aligned

    def size_to_chunks(self, size: int) -> int:
        """``size_to_chunks``: bytes rounded up to whole chunks."""
        return (size + self.chunk_size - 1) >> self.chunk_shift


GEOMETRY_4K = ZbudGeometry.for_page_size(PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class ZbudRules:
    kernel: KernelVersion
    geometry: ZbudGeometry  # the PAGE_SIZE constants
    max_size: int  # largest size zbud_alloc accepts
    lru: bool  # pool LRU, zbud_reclaim_page, under_reclaim (<= 6.4)
    chunks_offset: int  # offset of first_chunks / last_chunks in the header

    @classmethod
    def for_options(cls, options: ZbudOptions, page_size: int = PAGE_SIZE) -> ZbudRules:
        """The rules of ``options.kernel`` on pages of ``page_size`` bytes."""
        k = options.kernel
        lru = k < LRU_REMOVED_KERNEL
        geometry = ZbudGeometry.for_page_size(page_size)
        return cls(
            kernel=k,
            geometry=geometry,
            max_size=geometry.max_size(k),
            lru=lru,
            chunks_offset=HDR_CHUNKS_OFFSET_LRU if lru else HDR_CHUNKS_OFFSET,
        )
