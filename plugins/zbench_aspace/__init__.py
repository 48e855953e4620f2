"""The address_space zswap of 2013 (a proposal, never merged) as a zbench plugin.

* :mod:`.pool` - allocator ``aspace``: the pool pages, one object per page or packed
  by a backend allocator (zbud 3.11 by default), variant by option;
* :mod:`.frontend` - front end ``zswap-aspace``: a radix tree per swap type keyed by
  offset, pool pages on an inactive LRU, ``writepage`` reclaim and ``migratepage``,
  and the counters of what breaks the one-index-per-page invariant;
* :mod:`.report` - those counters' metric definitions and migratability columns.

Sources: the "mm: migrate zbud pages" thread on linux-mm (Sep-Oct 2013; Seth Jennings'
idea of Sep 23, lore 20130923220757.GC16191@variantweb.net; Tomasz Stanislawski's
objection of Sep 25, lore 524318DE.7070106@samsung.com, and his two-index suggestion of
Sep 27, lore 52455B05.1010603@samsung.com); docs/migration.md tells the story.
``aspace`` runs under its own front end only (``Allocator.frontend``).
"""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl

from .frontend import AspaceZswap
from .pool import AspaceOptions, AspacePool
from .report import METRICS, AspaceColumns

__all__ = ["AspaceOptions", "AspacePool", "AspaceZswap"]


@hookimpl
def register_allocators(register: Callable[[type], None]) -> None:
    register(AspacePool)


@hookimpl
def register_frontends(register: Callable[[type], None]) -> None:
    register(AspaceZswap)


@hookimpl
def register_metrics(register: Callable[[object], None]) -> None:
    for d in METRICS:
        register(d)


@hookimpl
def register_tables(register: Callable[[type], None]) -> None:
    register(AspaceColumns)
