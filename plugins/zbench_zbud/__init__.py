"""zbud (mm/zbud.c, 3.11 - 6.14) as a zbench allocator model.

Modules, one kernel concept each:

* :mod:`.options` / :mod:`.rules` - plugin options, geometry constants and which rules
  a kernel follows (max size, LRU, header layout);
* :mod:`.page` - ``struct zbud_header`` and direct handles (``encode_handle``);
* :mod:`.pool` - ``zbud_alloc`` / ``zbud_free`` / map + copy, the unbuddied, buddied
  and LRU lists, as a :class:`zbench.Allocator`;
* :mod:`.reclaim` - ``zbud_reclaim_page`` (<= 6.4);
* :mod:`.stats` - counters and the ``zbench inspect zbud`` tables.

Rules were read from ``torvalds/linux mm/zbud.c`` at 1be537c6 (≥ 6.5: no LRU,
``buddied`` aliasing ``unbuddied[0]``) and b10778a0 (≈3.18: LRU, ``zbud_reclaim_page``,
``NCHUNKS`` 64), the 3.11 file as posted ("zbud: add to mm/", v13, June 2013), the
size-check fix "mm: zbud: fix condition check on allocation size" (July 2013), the
6.2 "zpool: clean out dead code" and the 6.5 "mm: zswap: remove page reclaim logic
from zbud" patches.
"""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl

from .options import ZbudOptions
from .pool import ZbudPool

__all__ = ["ZbudOptions", "ZbudPool", "register_allocators"]


@hookimpl
def register_allocators(register: Callable[[type], None]) -> None:
    register(ZbudPool)
