"""z3fold (mm/z3fold.c, 4.8 - 6.14) as a zbench allocator model.

Modules, one kernel concept each:

* :mod:`.options` / :mod:`.rules` - plugin options and which rules a kernel follows;
* :mod:`.layout` - chunk geometry and ``sizeof(struct z3fold_header)`` per era;
* :mod:`.zpage` - the page header, ``num_free_chunks``, buddy choice, placement and
  ``z3fold_compact_page`` (bytes really move inside the frame);
* :mod:`.handles` - direct (<= 5.1) and slot-based (5.2+) handles;
* :mod:`.lists` - the unbuddied lists and the LRU;
* :mod:`.pool` - ``z3fold_alloc`` / ``z3fold_free`` / read / write as a :class:`zbench.Allocator`;
* :mod:`.compaction` - what free runs afterwards (``do_compact_page``, ``compact_single_buddy``);
* :mod:`.reclaim` - ``z3fold_reclaim_page`` (<= 6.4);
* :mod:`.stats` - metrics and the ``zbench inspect`` tables.

Sources read: ``torvalds/linux mm/z3fold.c@014284a0`` (≈5.12 - 5.19: slots, per-CPU
lists, inter-page compaction, LRU reclaim), the 4.8 file as merged ("z3fold: the 3-fold
allocator for compressed pages"), a 4.11-era copy (``artem/msm-4.9``: per-page lock,
kref, BIG_CHUNK_GAP compaction), a 4.14-era copy (``artem/msm-4.14``: per-CPU lists and
the compaction work item), a 6.5+ copy (LRU and reclaim removed), the patches "z3fold:
fix header size related issues" (4.11), "z3fold: use per-cpu unbuddied lists" (4.14),
the "z3fold: support page migration" series (5.2: "add structure for buddy handles",
"improve compression by extending search"), "mm/z3fold.c: add inter-page compaction"
(5.5), "z3fold: stricter locking and more careful reclaim" (5.11: ``get_free_buddy``),
and ``Documentation/mm/z3fold.rst``.
"""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl

from .options import Z3Options
from .pool import Z3foldPool

__all__ = ["Z3Options", "Z3foldPool", "register_allocators"]


@hookimpl
def register_allocators(register: Callable[[type], None]) -> None:
    register(Z3foldPool)
