"""zblock as a zbench allocator plugin: an allocator that is not in the kernel tree.

zblock (Vitaly Wool, Konsulko; based on Ananda Badmaev's 2022 zblock) stores a whole
number of same-size objects per *block* of 1-8 pages.  The model follows ``mm/zblock.c``
and ``mm/zblock.h`` of "mm: add zblock allocator" v4 (lore:
20250412154207.2152667-1-vitaly.wool@konsulko.se) with the -fix patches it gathered in
mm.git's mm-new branch (debugfs, vmalloc'd blocks, an RCU active list), as Andrew Morton
posted the whole patch on 19 Jul 2025 (lore:
20250719195656.cd586785b04863b4bcfabb0c@linux-foundation.org).  v2 (lore:
20250404192813.925835-1-vitaly.wool@konsulko.se) used power-of-two blocks and a different
table; see README.md.

It imports only zbench's public API, as a third-party plugin must.
"""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl

from .pool import ZblockOptions, ZblockPool
from .table import TABLE, block_type_for

__version__ = "0.1.0"
__all__ = ["TABLE", "ZblockOptions", "ZblockPool", "block_type_for", "register_allocators"]


@hookimpl
def register_allocators(register: Callable[[type], None]) -> None:
    register(ZblockPool)
