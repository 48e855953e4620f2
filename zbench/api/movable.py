"""Records of page migration and LRU reclaim (the non-LRU movable page framework).

Since 4.8 a driver whose pages can move registers ``isolate_page``,
``migratepage`` and ``putback_page`` (``address_space_operations``; from 6.0
``struct movable_operations``) and allocates with ``__GFP_MOVABLE``.  The
migration core (mm/migrate.c) isolates a page, allocates the new page, calls
``migratepage`` and, on success, frees the old page; on failure it frees the
new one and puts the old one back.  :class:`zbench.Allocator` and
:class:`zbench.FrontEnd` expose the same three steps; :mod:`zbench.sim.migrate` is
the core that drives them.  The records below are what one step reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: isolate_page refusals and migratepage failures use the kernel's errno names first.
NOT_MOVABLE = "not movable: no movable_operations for this page"


@dataclass
class MigrateResult:
    """What one ``migratepage`` did (or why it did not).

    ``reason`` starts with the errno the kernel returns (``EAGAIN``, ``EBUSY``,
    ``EINVAL``) or ``not movable``, then says what blocked the page.
    """

    ok: bool
    reason: str = ""
    #: objects with bytes in the page (their data moved with it)
    objects: int = 0
    bytes_copied: int = 0
    #: allocator-owned references rewritten (handle slots, obj values, radix slots)
    handle_updates: int = 0
    #: front-end index entries rewritten (zswap tree, address_space slots)
    index_updates: int = 0
    #: look-ups from the page to the references naming its objects (reading an object's
    #: handle header, a page's slot pointer, a tree lookup by key)
    reverse_lookups: int = 0
    #: the migration first waited for a mapping of one of the objects to end (a lock the
    #: mapping holds; the kernel spins or sleeps), then went ahead
    waited: bool = False
    #: handle values that changed (direct handles: old -> new); the caller re-points them
    remapped: dict[int, int] = field(default_factory=dict)


def failed(reason: str) -> MigrateResult:
    return MigrateResult(False, reason)


@dataclass
class ReclaimResult:
    """What reclaim through the LRU of pool pages did (``shrink_inactive_list`` +
    ``writepage`` of the pages it isolated)."""

    scanned: int = 0  # pages taken off the inactive list
    reclaimed: int = 0  # pages freed
    written_back: int = 0  # swap pages written to the swap device
    decompressed: int = 0  # objects decompressed by writepage
    failed: int = 0  # pages writepage could not free (put back on the LRU)
