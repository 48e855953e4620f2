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

Page size (every version): the constants are build-time functions of ``PAGE_SIZE`` /
``PAGE_SHIFT`` (mm/z3fold.c, the ``#define`` block at the top), and the model computes
them per pool from the case's page size (:class:`Geometry`, ``frames.page_size``):

* ``CHUNK_SHIFT = PAGE_SHIFT - NCHUNKS_ORDER`` (6 / 8 / 10 at 4 K / 16 K / 64 K),
  ``CHUNK_SIZE = 1 << CHUNK_SHIFT`` (64 / 256 / 1024 bytes);
* ``TOTAL_CHUNKS = PAGE_SIZE >> CHUNK_SHIFT`` = 64 at every page size;
* ``ZHDR_SIZE_ALIGNED = round_up(sizeof(struct z3fold_header), CHUNK_SIZE)`` (4.11+),
  ``ZHDR_CHUNKS = ZHDR_SIZE_ALIGNED >> CHUNK_SHIFT``: the header (at most 128 bytes in
  every build ``header_chunks`` describes, which counts 64-byte chunks) is one chunk on
  8 K pages and larger; 4.8 - 4.10's ``ZHDR_SIZE_ALIGNED = CHUNK_SIZE`` is one chunk too;
* ``NCHUNKS = TOTAL_CHUNKS - ZHDR_CHUNKS``: 62 or 63 lists at 4 K, 63 at 16 K and 64 K;
* the headless cut-off ``PAGE_SIZE - ZHDR_SIZE_ALIGNED - CHUNK_SIZE`` (z3fold_alloc) and
  the ``PAGE_SIZE`` maximum scale with the page; ``BUDDY_MASK`` 0x3, ``BUDDY_SHIFT`` 2,
  ``BIG_CHUNK_GAP`` 3 (chunks) and ``SLOTS_ALIGN`` 0x40 do not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zbench import PAGE_SHIFT, PAGE_SIZE, KernelVersion

NCHUNKS_ORDER = 6  # mm/z3fold.c: TOTAL_CHUNKS = 1 << NCHUNKS_ORDER at every PAGE_SIZE
#: the 4 KiB values, in which header_chunks (and HEADER_FIELDS' sizes) are counted
CHUNK_SHIFT = PAGE_SHIFT - NCHUNKS_ORDER  # 6
CHUNK_SIZE = 1 << CHUNK_SHIFT  # 64
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


@dataclass(frozen=True, slots=True)
class Geometry:
    """mm/z3fold.c's build-time constants for one ``PAGE_SIZE`` and header size (the
    module docstring).  ``header_chunks`` is the header in 64-byte chunks, the 4 K
    ``ZHDR_CHUNKS`` (the plugin option); the rest is computed from it and ``page_size``."""

    header_chunks: int  # ZHDR_CHUNKS of a 4 KiB build: the header is <= 64 * this bytes
    page_size: int = PAGE_SIZE
    page_shift: int = field(init=False)  # PAGE_SHIFT
    chunk_shift: int = field(init=False)  # PAGE_SHIFT - NCHUNKS_ORDER
    chunk_size: int = field(init=False)  # 1 << CHUNK_SHIFT
    total_chunks: int = field(init=False)  # PAGE_SIZE >> CHUNK_SHIFT
    zhdr_chunks: int = field(init=False)  # ZHDR_CHUNKS at this page size
    zhdr_size_aligned: int = field(init=False)  # ZHDR_CHUNKS * CHUNK_SIZE
    nchunks: int = field(init=False)  # TOTAL_CHUNKS - ZHDR_CHUNKS: the unbuddied lists
    headless_above: int = field(init=False)  # PAGE_SIZE - ZHDR_SIZE_ALIGNED - CHUNK_SIZE

    def __post_init__(self) -> None:
        page_shift = self.page_size.bit_length() - 1
        if self.page_size != 1 << page_shift or page_shift <= NCHUNKS_ORDER:
            raise ValueError(f"z3fold: PAGE_SIZE {self.page_size} is not a power of two > 64")
        chunk_shift = page_shift - NCHUNKS_ORDER
        chunk_size = 1 << chunk_shift
        total = self.page_size >> chunk_shift
        # round_up(sizeof(struct z3fold_header), CHUNK_SIZE) >> CHUNK_SHIFT, from the
        # header's bound in 64-byte chunks (exact: 1 chunk from 8 K pages on)
        zhdr_chunks = -(-(self.header_chunks << CHUNK_SHIFT) // chunk_size)
        zhdr = zhdr_chunks * chunk_size
        for name, value in (("page_shift", page_shift), ("chunk_shift", chunk_shift),
                            ("chunk_size", chunk_size), ("total_chunks", total),
                            ("zhdr_chunks", zhdr_chunks), ("zhdr_size_aligned", zhdr),
                            ("nchunks", total - zhdr_chunks),
                            ("headless_above", self.page_size - zhdr - chunk_size)):
            object.__setattr__(self, name, value)

    def size_to_chunks(self, size: int) -> int:
        """``size_to_chunks``: bytes rounded up to whole chunks."""
        return (size + self.chunk_size - 1) >> self.chunk_shift
