"""The size-class table ``zs_create_pool`` builds, for any ``PAGE_SIZE``.

Class ``i`` has size ``ZS_MIN_ALLOC_SIZE + i * ZS_SIZE_CLASS_DELTA`` (clamped to
``PAGE_SIZE``).  Walking ``i`` from the top down, a class is created only when
its (pages_per_zspage, objs_per_zspage) differ from the last created one
(``can_merge``); otherwise index ``i`` points at that larger class.  The first
class of the walk with ``ppz != 1 && objs != 1`` fixes ``huge_class_size``.

Every constant follows the build's ``PAGE_SIZE`` as mm/zsmalloc.c defines it:
``ZS_MAX_ALLOC_SIZE = PAGE_SIZE``, ``ZS_SIZE_CLASS_DELTA = PAGE_SIZE >> CLASS_BITS``,
``OBJ_INDEX_BITS = BITS_PER_LONG - (MAX_POSSIBLE_PHYSMEM_BITS - PAGE_SHIFT)``, and from
them ``ZS_MIN_ALLOC_SIZE`` and ``ZS_SIZE_CLASSES``; the chain functions measure waste
in ``PAGE_SIZE`` pages.  The module constants are those of 4 KiB pages, the only size
the pool runs on; the functions take ``page_size`` for the other tables.

The rule handed to :func:`build_class_table` may also be a proposal
(:class:`~.rules.ProposedChainRule`, the ``classes`` option): the 2026 RFC replaces the
class step and the chain function (:mod:`.rfc`) and keeps the walk and merging here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from zbench import PAGE_SHIFT, PAGE_SIZE

from .fullness import ListHead
from .rfc import RFC_SIZE_CLASS_DELTA, calculate_zspage_chain_size_rfc, rfc_size_classes
from .rules import ChainRule, ProposedChainRule, TableRule

ZS_ALIGN = 8
ZS_HANDLE_SIZE = 8  # sizeof(unsigned long): the per-object handle header
CLASS_BITS = 8
BITS_PER_LONG = 64
# x86-64; arm64 falls back to MAX_PHYSMEM_BITS (48 or 52): ZS_MIN_ALLOC_SIZE is 32 either way
MAX_POSSIBLE_PHYSMEM_BITS = 52


def size_class_delta(page_size: int) -> int:
    """``ZS_SIZE_CLASS_DELTA`` = PAGE_SIZE >> CLASS_BITS (16 B for 4 KiB pages)."""
    return page_size >> CLASS_BITS


def obj_index_bits(page_size: int) -> int:
    """``OBJ_INDEX_BITS``: the bits of an obj value left over by the PFN."""
    page_shift = page_size.bit_length() - 1
    return BITS_PER_LONG - (MAX_POSSIBLE_PHYSMEM_BITS - page_shift)


ZS_SIZE_CLASS_DELTA = size_class_delta(PAGE_SIZE)  # 16
ZS_MAX_ALLOC_SIZE = PAGE_SIZE
OBJ_INDEX_BITS = obj_index_bits(PAGE_SIZE)  # 24
assert PAGE_SIZE == 1 << PAGE_SHIFT


def zs_min_alloc_size(max_pages: int, page_size: int = PAGE_SIZE) -> int:
    """``ZS_MIN_ALLOC_SIZE``: 32 unless a zspage could hold more objects than
    ``OBJ_INDEX_BITS`` can number (never, for 4..64 KiB pages and chains <= 16)."""
    page_shift = page_size.bit_length() - 1
    return max(32, (max_pages << page_shift) >> obj_index_bits(page_size))


def zs_size_classes(min_alloc: int, page_size: int = PAGE_SIZE) -> int:
    """``ZS_SIZE_CLASSES`` = DIV_ROUND_UP(MAX - MIN, DELTA) + 1 (255 for 4 KiB pages,
    257 for 16 and 64 KiB: the top index is clamped to PAGE_SIZE)."""
    return -(-(page_size - min_alloc) // size_class_delta(page_size)) + 1


def get_size_class_index(size: int, min_alloc: int = 32, nr_classes: int = 255,
                         delta: int = ZS_SIZE_CLASS_DELTA) -> int:
    """Raw class index serving a request of ``size`` bytes (header included)."""
    idx = 0
    if size > min_alloc:
        idx = -(-(size - min_alloc) // delta)
    return min(nr_classes - 1, idx)


def get_pages_per_zspage(class_size: int, max_pages: int, page_size: int = PAGE_SIZE) -> int:
    """<= 6.2: the first chain length with the highest integer used-percent."""
    max_usedpc = 0
    max_usedpc_order = 1
    for i in range(1, max_pages + 1):
        zspage_size = i * page_size
        waste = zspage_size % class_size
        usedpc = (zspage_size - waste) * 100 // zspage_size
        if usedpc > max_usedpc:
            max_usedpc = usedpc
            max_usedpc_order = i
    return max_usedpc_order


def calculate_zspage_chain_size(class_size: int, max_pages: int,
                                page_size: int = PAGE_SIZE) -> int:
    """>= 6.3: the first chain length with the smallest tail waste."""
    chain_size = 1
    if class_size & (class_size - 1) == 0:  # is_power_of_2: no waste with one page
        return chain_size
    min_waste = None
    for i in range(1, max_pages + 1):
        waste = (i * page_size) % class_size
        if min_waste is None or waste < min_waste:
            min_waste = waste
            chain_size = i
    return chain_size


class SizeClass:
    """``struct size_class``: geometry plus the runtime lists and stats."""

    __slots__ = (
        "size", "index", "pages_per_zspage", "objs_per_zspage", "huge",
        "first_obj_offset", "fullness_list", "group_count",
        "obj_allocated", "obj_used", "list_ops", "page_size",
    )

    def __init__(self, size: int, index: int, ppz: int, objs: int, nr_groups: int,
                 page_size: int = PAGE_SIZE) -> None:
        self.size = size
        self.page_size = page_size
        self.index = index
        self.pages_per_zspage = ppz
        self.objs_per_zspage = objs
        # huge object: pages_per_zspage == 1 && objs_per_zspage == 1 (ZsHugePage)
        self.huge = ppz == 1 and objs == 1
        # set_first_obj_offset(): offset of the first object starting in page k
        self.first_obj_offset = tuple(
            (-(k * page_size) % size) for k in range(ppz)
        )
        self.fullness_list = [ListHead() for _ in range(nr_groups)]
        self.group_count = [0] * nr_groups  # class_stat per fullness group
        self.obj_allocated = 0  # ZS_OBJS_ALLOCATED / OBJ_ALLOCATED
        self.obj_used = 0  # ZS_OBJS_INUSE / OBJ_USED
        self.list_ops = 0  # fullness-list insertions and removals (cost counter)

    @property
    def waste(self) -> int:
        """Unused tail bytes per zspage."""
        return self.pages_per_zspage * self.page_size - self.objs_per_zspage * self.size

    def __repr__(self) -> str:
        return (f"SizeClass(index={self.index}, size={self.size}, "
                f"ppz={self.pages_per_zspage}, objs={self.objs_per_zspage})")


@dataclass(frozen=True)
class ClassTable:
    """``pool->size_class[]``: ``by_index[i]`` is the class serving raw index i."""

    by_index: tuple[SizeClass, ...]
    distinct: tuple[SizeClass, ...]  # ascending index, one per created class
    huge_class_size: int
    min_alloc_size: int
    page_size: int = PAGE_SIZE
    class_delta: int = ZS_SIZE_CLASS_DELTA  # ZS_SIZE_CLASS_DELTA of this page size

    def class_for(self, size: int) -> SizeClass:
        """The class ``zs_malloc(size)`` uses (``size + ZS_HANDLE_SIZE`` looked up)."""
        idx = get_size_class_index(size + ZS_HANDLE_SIZE, self.min_alloc_size,
                                   len(self.by_index), self.class_delta)
        return self.by_index[idx]


ChainFn = Callable[[int, int, int], int]  # (class_size, max_pages, page_size) -> pages


@dataclass(frozen=True)
class Geometry:
    """What a rule fixes before the class walk: the chain function, the class step and
    the number of raw class indices (``ZS_SIZE_CLASS_DELTA``, ``ZS_SIZE_CLASSES``)."""

    chain: ChainFn
    delta: int
    nr_classes: int


def class_geometry(rule: TableRule, min_alloc: int, page_size: int) -> Geometry:
    """The merged rules step by ``PAGE_SIZE >> CLASS_BITS``; the 2026 RFC by 16 bytes."""
    if rule is ProposedChainRule.RFC_2026_CHAIN:
        return Geometry(calculate_zspage_chain_size_rfc, RFC_SIZE_CLASS_DELTA,
                        rfc_size_classes(min_alloc, page_size))
    chain = calculate_zspage_chain_size if rule is ChainRule.MIN_WASTE else get_pages_per_zspage
    return Geometry(chain, size_class_delta(page_size), zs_size_classes(min_alloc, page_size))


def build_class_table(max_pages: int, rule: TableRule, nr_groups: int,
                      page_size: int = PAGE_SIZE) -> ClassTable:
    """The class loop of ``zs_create_pool`` for ``ZS_MAX_PAGES_PER_ZSPAGE = max_pages``
    and ``PAGE_SIZE = page_size``."""
    min_alloc = zs_min_alloc_size(max_pages, page_size)
    geometry = class_geometry(rule, min_alloc, page_size)
    chain, nr, delta = geometry.chain, geometry.nr_classes, geometry.delta
    by_index: list[SizeClass | None] = [None] * nr
    huge_class_size = 0
    prev: SizeClass | None = None
    for i in range(nr - 1, -1, -1):
        size = min(min_alloc + i * delta, page_size)  # ZS_MAX_ALLOC_SIZE = PAGE_SIZE
        ppz = chain(size, max_pages, page_size)
        objs = ppz * page_size // size
        if ppz != 1 and objs != 1 and not huge_class_size:
            # zs_malloc() adds the header before the lookup
            huge_class_size = size - (ZS_HANDLE_SIZE - 1)
        if prev is not None and prev.pages_per_zspage == ppz and prev.objs_per_zspage == objs:
            by_index[i] = prev  # can_merge()
            continue
        prev = SizeClass(size, i, ppz, objs, nr_groups, page_size)
        by_index[i] = prev
    table = tuple(c for c in by_index if c is not None)
    assert len(table) == nr
    distinct = tuple(c for i, c in enumerate(table) if c.index == i)
    return ClassTable(table, distinct, huge_class_size, min_alloc, page_size, delta)
