"""Page geometry and ``sizeof(struct z3fold_header)`` per kernel era (x86-64).

``NCHUNKS_ORDER`` is 6 in every version, so a 4 KiB page is ``TOTAL_CHUNKS`` = 64
chunks of ``CHUNK_SIZE`` = 64 bytes.  The header sits in the first chunk(s):

* 4.8 - 4.10: ``#define ZHDR_SIZE_ALIGNED CHUNK_SIZE`` (a build-time check that the
  header fits) - always 1 chunk;
* 4.11+ ("z3fold: fix header size related issues"):
  ``ZHDR_SIZE_ALIGNED = round_up(sizeof(struct z3fold_header), CHUNK_SIZE)``,
  ``ZHDR_CHUNKS = ZHDR_SIZE_ALIGNED >> CHUNK_SHIFT``, ``NCHUNKS = TOTAL_CHUNKS - ZHDR_CHUNKS``.

The header's size is computed below from the field lists read in each era's
source, with x86-64 sizes and alignments and no lock debugging
(``spinlock_t`` = ``refcount_t``/``kref`` = 4, ``struct list_head`` = 16,
``struct work_struct`` = 32: ``atomic_long_t`` + ``list_head`` + ``func``).
The results - 32, 40, 80 and 88 bytes - give 1 chunk up to 4.13 and 2 chunks from
4.14, when "z3fold: use per-cpu unbuddied lists" added the per-page
``work_struct``; the in-source comment "NCHUNKS will be calculated to 63" dates
from the 40-byte 4.11 header and was never updated.
"""

from __future__ import annotations

from dataclasses import dataclass

from zbench import PAGE_SIZE, KernelVersion

NCHUNKS_ORDER = 6
CHUNK_SHIFT = 12 - NCHUNKS_ORDER
CHUNK_SIZE = 1 << CHUNK_SHIFT  # 64
TOTAL_CHUNKS = PAGE_SIZE >> CHUNK_SHIFT  # 64
BUDDY_MASK = 0x3
BUDDY_SHIFT = 2
BIG_CHUNK_GAP = 3
SLOTS_ALIGN = 0x40

# (field, size, alignment) - x86-64, no CONFIG_DEBUG_SPINLOCK / lockdep
_LIST_HEAD = ("struct list_head buddy", 16, 8)
_CHUNK_FIELDS = [("unsigned short first_chunks", 2, 2), ("unsigned short middle_chunks", 2, 2),
                 ("unsigned short last_chunks", 2, 2), ("unsigned short start_middle", 2, 2)]
_LOCKS = [("spinlock_t page_lock", 4, 4), ("struct kref refcount", 4, 4)]
_WORK = ("struct work_struct work", 32, 8)

HEADER_FIELDS: dict[str, list[tuple[str, int, int]]] = {
    "4.8": [_LIST_HEAD, *_CHUNK_FIELDS, ("unsigned short first_num:2", 2, 2)],
    "4.11": [_LIST_HEAD, *_LOCKS, *_CHUNK_FIELDS, ("unsigned short first_num:2", 2, 2)],
    "4.14": [_LIST_HEAD, *_LOCKS, _WORK, ("struct z3fold_pool *pool", 8, 8),
             ("short cpu", 2, 2), *_CHUNK_FIELDS, ("unsigned short first_num:2", 2, 2)],
    "5.2": [_LIST_HEAD, *_LOCKS, _WORK, ("struct z3fold_buddy_slots *slots", 8, 8),
            ("short cpu", 2, 2), *_CHUNK_FIELDS,
            ("unsigned short first_num:2, mapped_count:2", 2, 2)],
    # ≈5.5 - 6.14 (read at 014284a0, ≈5.12 - 5.19, and in a 6.5+ copy): slots *and* pool pointers,
    # plus foreign_handles:2 in the same bit-field unit
    "5.5": [_LIST_HEAD, *_LOCKS, _WORK, ("struct z3fold_buddy_slots *slots", 8, 8),
            ("struct z3fold_pool *pool", 8, 8), ("short cpu", 2, 2), *_CHUNK_FIELDS,
            ("unsigned short first_num:2, mapped_count:2, foreign_handles:2", 2, 2)],
}


def struct_size(fields: list[tuple[str, int, int]]) -> int:
    """C struct layout: each field at its alignment, the total padded to the largest one."""
    off = 0
    for _name, size, align in fields:
        off = (off + align - 1) // align * align + size
    biggest = max(align for _n, _s, align in fields)
    return (off + biggest - 1) // biggest * biggest


def header_era(kernel: KernelVersion) -> str:
    """The key of :data:`HEADER_FIELDS` whose struct a kernel has."""
    for era in ("5.5", "5.2", "4.14", "4.11"):
        if kernel >= era:
            return era
    return "4.8"


def header_bytes(kernel: KernelVersion) -> int:
    """``sizeof(struct z3fold_header)`` on x86-64 without lock debugging."""
    return struct_size(HEADER_FIELDS[header_era(kernel)])


def default_header_chunks(kernel: KernelVersion) -> int:
    if kernel < "4.11":
        return 1  # ZHDR_SIZE_ALIGNED hard-coded to CHUNK_SIZE
    return -(-header_bytes(kernel) // CHUNK_SIZE)


def size_to_chunks(size: int) -> int:
    return (size + CHUNK_SIZE - 1) >> CHUNK_SHIFT


@dataclass(frozen=True, slots=True)
class Geometry:
    """The build constants that depend on the header size."""

    zhdr_chunks: int  # ZHDR_CHUNKS

    @property
    def zhdr_size_aligned(self) -> int:
        return self.zhdr_chunks * CHUNK_SIZE

    @property
    def nchunks(self) -> int:
        """NCHUNKS: free chunks of an empty page, and the number of unbuddied lists."""
        return TOTAL_CHUNKS - self.zhdr_chunks

    @property
    def headless_above(self) -> int:
        """Sizes above this go HEADLESS: ``PAGE_SIZE - ZHDR_SIZE_ALIGNED - CHUNK_SIZE``."""
        return PAGE_SIZE - self.zhdr_size_aligned - CHUNK_SIZE
