"""Which mm/zsmalloc.c rules a kernel version follows.

Each switch names the upstream change that introduced it (sources read: the
≈4.3 file ``torvalds/linux mm/zsmalloc.c@cd10add0``, a ≈4.14 and a ≈6.7/6.8
copy of the file, and the patch series cited below; see the package docstring).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from zbench import KernelVersion

from .options import ZsOptions
from .rfc import CLASSES_RFC_2026


class ChainRule(enum.Enum):
    USED_PERCENT = "used-percent"  # get_pages_per_zspage(), <= 6.2
    MIN_WASTE = "min-waste"  # calculate_zspage_chain_size(), >= 6.3


class ProposedChainRule(enum.Enum):
    """Class-table rules posted but not merged (``classes`` option), kept apart from
    :class:`ChainRule` so that enumerating the merged rules never meets them."""

    # "zsmalloc: size-classes chain-length tunings" (RFC, Jan 2026): 16-byte class step,
    # chain grown only for a substantial saving (:mod:`.rfc`); over kernels >= 6.3
    RFC_2026_CHAIN = CLASSES_RFC_2026


TableRule = ChainRule | ProposedChainRule  # what build_class_table() takes


class FullnessScheme(enum.Enum):
    QUARTER = "quarter"  # ZS_EMPTY/ALMOST_EMPTY/ALMOST_FULL/FULL, 3/4 threshold (4.1-6.3)
    INUSE_RATIO = "inuse-ratio"  # 12 ZS_INUSE_RATIO_* groups (>= 6.4)


class InsertPolicy(enum.Enum):
    HEAD = "head"  # list_add at the head: 4.1-4.2 (head pointer := page) and >= 6.4
    INUSE_TAIL = "inuse-tail"  # 4.3-4.7: head if inuse >= head's, else list tail
    INUSE_SECOND = "inuse-second"  # 4.8-6.3: after the head if inuse < head's, else head


class CompactAlgo(enum.Enum):
    V4_1 = "4.1"  # sources ALMOST_EMPTY only, no zs_can_compact() stop test (4.1-4.2)
    V4_3 = "4.3"  # sources ALMOST_EMPTY then ALMOST_FULL, zs_can_compact() (4.3-6.3)
    V6_4 = "6.4"  # "zsmalloc: rework compaction algorithm" (>= 6.4)


@dataclass(frozen=True, slots=True)
class ZsRules:
    kernel: KernelVersion
    chain_size: int
    chain_rule: TableRule  # a ProposedChainRule only with the ``classes`` option set
    fullness: FullnessScheme
    insert: InsertPolicy
    compaction: CompactAlgo
    movable: bool  # zspage pages allocated __GFP_MOVABLE (non-LRU migration, 4.8)

    @classmethod
    def for_options(cls, options: ZsOptions) -> ZsRules:
        k = options.kernel
        if k >= "6.4":
            insert = InsertPolicy.HEAD  # "zsmalloc: remove insert_zspage() ->inuse optimization"
        elif k >= "4.8":
            insert = InsertPolicy.INUSE_SECOND  # struct zspage rewrite, list_head lists
        elif k >= "4.3":
            insert = InsertPolicy.INUSE_TAIL  # "zsmalloc: partial page ordering ..."
        else:
            insert = InsertPolicy.HEAD
        if k >= "6.4":
            algo = CompactAlgo.V6_4
        elif k >= "4.3":
            algo = CompactAlgo.V4_3  # "introduce zs_can_compact()", "consider ALMOST_FULL ..."
        else:
            algo = CompactAlgo.V4_1
        return cls(
            kernel=k,
            chain_size=options.chain,
            chain_rule=_chain_rule(options),
            fullness=FullnessScheme.INUSE_RATIO if k >= "6.4" else FullnessScheme.QUARTER,
            insert=insert,
            compaction=algo,
            movable=k >= "4.8",
        )


def _chain_rule(options: ZsOptions) -> TableRule:
    """The rule that builds the class table: the kernel's own, unless ``classes`` names a
    proposal (which ZsOptions allows from 6.3 only)."""
    if options.classes == CLASSES_RFC_2026:
        return ProposedChainRule.RFC_2026_CHAIN
    return ChainRule.MIN_WASTE if options.kernel >= "6.3" else ChainRule.USED_PERCENT
