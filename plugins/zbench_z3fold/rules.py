"""Which mm/z3fold.c rules a kernel version follows.

Each switch names the upstream change that introduced it (sources read: the 4.8
file as merged, a 4.11-era copy (per-page lock, kref), a 4.14-era copy (per-CPU
lists, compaction work), ``torvalds/linux mm/z3fold.c@014284a0`` (≈5.12 - 5.19),
a 6.5+ copy, and the patch series cited in the package docstring).
"""

from __future__ import annotations

from dataclasses import dataclass

from zbench import PAGE_SIZE, KernelVersion, Mobility

from .layout import Geometry
from .options import Z3Options


@dataclass(frozen=True, slots=True)
class Z3Rules:
    kernel: KernelVersion
    geometry: Geometry
    #: 4.8 - 4.10: num_free_chunks() measures the gap after a middle buddy from NCHUNKS,
    #: not TOTAL_CHUNKS (one chunk short); fixed by "z3fold: fix header size related issues"
    legacy_nfree: bool
    #: 4.11+ "z3fold: extend compaction function": slide the middle buddy by >= BIG_CHUNK_GAP
    big_gap_compaction: bool
    #: 4.14+ "z3fold: use per-cpu unbuddied lists": free queues compaction work, and
    #: z3fold_reclaim_page no longer re-files a page it could not free
    deferred_compaction: bool
    #: 5.2+ "z3fold: add structure for buddy handles" + "z3fold: support page migration"
    indirect_handles: bool
    #: 5.5+ "mm/z3fold.c: add inter-page compaction" (compact_single_buddy, foreign handles)
    inter_page: bool
    #: 5.11+ "z3fold: stricter locking and more careful reclaim": get_free_buddy()
    get_free_buddy: bool
    #: <= 6.4: pool LRU + z3fold_reclaim_page (removed in 6.5 with zswap's own LRU)
    lru: bool

    @classmethod
    def for_options(cls, options: Z3Options, page_size: int = PAGE_SIZE) -> Z3Rules:
        """The rules of ``options.kernel`` on pages of ``page_size`` bytes."""
        k = options.kernel
        return cls(
            kernel=k,
            geometry=Geometry(options.zhdr_chunks, page_size),
            legacy_nfree=k < "4.11",
            big_gap_compaction=k >= "4.11",
            deferred_compaction=k >= "4.14",
            indirect_handles=k >= "5.2",
            inter_page=k >= "5.5",
            get_free_buddy=k >= "5.11",
            lru=k <= "6.4",
        )

    @property
    def mobility(self) -> Mobility:
        """Pages are __SetPageMovable from 5.2 (migration support), unmovable before."""
        return Mobility.MOVABLE if self.indirect_handles else Mobility.UNMOVABLE
