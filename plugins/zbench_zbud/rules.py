"""mm/zbud.c geometry and which rules a kernel version follows.

Geometry (every version): ``NCHUNKS_ORDER`` 6, so a page is 64 chunks of
``CHUNK_SIZE`` = 64 B; the first chunk holds ``struct zbud_header``
(``ZHDR_SIZE_ALIGNED`` = ``CHUNK_SIZE``), leaving 63 usable chunks.  3.11-≈3.18
define ``NCHUNKS`` = 64 and subtract the header in ``num_free_chunks``; later files
define ``NCHUNKS`` = 63.  Same numbers either way, so the model uses 63.

Version switches:

* max size: ``size > PAGE_SIZE - ZHDR_SIZE_ALIGNED`` is ``-ENOSPC`` in 3.11 (4032 B,
  an object could fill the page alone); "mm: zbud: fix condition check on
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

from zbench import PAGE_SHIFT, PAGE_SIZE, KernelVersion

from .options import ZbudOptions

NCHUNKS_ORDER = 6
CHUNK_SHIFT = PAGE_SHIFT - NCHUNKS_ORDER  # 6
CHUNK_SIZE = 1 << CHUNK_SHIFT  # 64
ZHDR_SIZE_ALIGNED = CHUNK_SIZE  # the header takes the first chunk
NCHUNKS = (PAGE_SIZE - ZHDR_SIZE_ALIGNED) >> CHUNK_SHIFT  # 63 usable chunks / unbuddied lists
MAX_SIZE = PAGE_SIZE - ZHDR_SIZE_ALIGNED - CHUNK_SIZE  # 3968 (>= 3.12)
MAX_SIZE_3_11 = PAGE_SIZE - ZHDR_SIZE_ALIGNED  # 4032 (3.11)

SIZE_CHECK_FIX_KERNEL = KernelVersion("3.12")  # "mm: zbud: fix condition check on ..."
LRU_REMOVED_KERNEL = KernelVersion("6.5")  # "mm: zswap: remove page reclaim logic from zbud"

# struct zbud_header field offsets on 64-bit (a list_head is 16 bytes)
HDR_CHUNKS_OFFSET_LRU = 32  # after buddy + lru
HDR_UNDER_RECLAIM_OFFSET = 40  # bool after first_chunks, last_chunks (u32 each)
HDR_CHUNKS_OFFSET = 16  # after buddy (>= 6.5)


def size_to_chunks(size: int) -> int:
    """``size_to_chunks``: bytes rounded up to whole 64-byte chunks."""
    return (size + CHUNK_SIZE - 1) >> CHUNK_SHIFT


@dataclass(frozen=True, slots=True)
class ZbudRules:
    kernel: KernelVersion
    max_size: int  # largest size zbud_alloc accepts
    lru: bool  # pool LRU, zbud_reclaim_page, under_reclaim (<= 6.4)
    chunks_offset: int  # offset of first_chunks / last_chunks in the header

    @classmethod
    def for_options(cls, options: ZbudOptions) -> ZbudRules:
        k = options.kernel
        lru = k < LRU_REMOVED_KERNEL
        return cls(
            kernel=k,
            max_size=MAX_SIZE if k >= SIZE_CHECK_FIX_KERNEL else MAX_SIZE_3_11,
            lru=lru,
            chunks_offset=HDR_CHUNKS_OFFSET_LRU if lru else HDR_CHUNKS_OFFSET,
        )
