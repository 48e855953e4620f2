"""zsmalloc (mm/zsmalloc.c) as a zbench allocator model.

Modules, one kernel concept each:

* :mod:`.options` / :mod:`.rules` - plugin options and which rules a kernel follows;
* :mod:`.size_class` - ``get_pages_per_zspage`` (<= 6.2) / ``calculate_zspage_chain_size``
  (>= 6.3), class merging, ``huge_class_size``, all derived from ``PAGE_SIZE`` (the
  ``page_size`` option: 4096, the default, follows the case's page size; another value
  must equal it, docs/page-size.md);
* :mod:`.rfc` - the ``classes: rfc-2026-chain`` table of the unmerged 2026 RFC
  "zsmalloc: size-classes chain-length tunings" (16-byte class step, chain length
  against page-spanning objects; kernel >= 6.3, docs/zsmalloc-rfc.md);
* :mod:`.fullness` - fullness groups and the fullness lists (``insert_zspage``);
* :mod:`.handle` - handle slots and obj encoding;
* :mod:`.zspage` - zspage layout, free list, object placement and copying in frames;
* :mod:`.pool` - ``zs_malloc`` / ``zs_free`` / read / write as a :class:`zbench.Allocator`;
* :mod:`.compaction` - ``zs_compact`` (4.1, 4.3 and 6.4 algorithms);
* :mod:`.stats` - the class table and debugfs ``classes`` rows;
* :mod:`.native` - the C engine of batch runs (``zspool.c``, ``_native.c``: ``zs_malloc`` /
  ``zs_free`` placement and the objects' bytes with the state in C, built when a compiler
  is there).

Rules were checked against ``torvalds/linux mm/zsmalloc.c`` at cd10add0 (≈4.3)
and 00cfab35 (≈3.14), a ≈4.14 and a ≈6.7/6.8 copy of the file, and the 6.3
(chain size) and 6.4 (fullness / compaction rework) patch series.
"""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl

from .options import ZsOptions
from .pool import ZsPool

__all__ = ["ZsOptions", "ZsPool", "register_allocators"]


@hookimpl
def register_allocators(register: Callable[[type], None]) -> None:
    register(ZsPool)
