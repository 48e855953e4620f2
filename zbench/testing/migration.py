"""Find an allocator's page-migration methods, if it moves pages at all, and drive them
as the kernel's migration core (mm/migrate.c) does.

The optional part of :class:`zbench.Allocator`: ``isolate_page(pfn)`` (``None`` or why
not), ``migrate_page(pfn, newpfn)`` (a result with ``ok``, ``reason`` and ``remapped``:
direct handles that changed), ``putback_page(pfn)`` and the ``migration`` property (the
rules followed; ``""`` when pages never move).  An allocator without them, or whose
``migration`` is empty, skips the contract's migration rule.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from zbench import Allocator, Capability, capabilities
from zbench.testing.checker import PoolChecker
from zbench.testing.rules import ContractViolation

WHAT_IS_LOOKED_FOR = "its migration property is empty or it lacks migrate_page()"


@dataclass
class MigrationApi:
    rules: str
    isolate: Any
    migrate: Any
    putback: Any


def find(alloc: Allocator) -> MigrationApi | None:
    """The allocator's migration methods, or ``None`` when its pages never move (it lacks
    the ``movable`` capability: ``zbench.capabilities``)."""
    if Capability.MOVABLE not in capabilities(alloc):
        return None
    isolate = getattr(alloc, "isolate_page", None)
    putback = getattr(alloc, "putback_page", None)
    return MigrationApi(str(alloc.migration), isolate if callable(isolate) else None,
                        alloc.migrate_page, putback if callable(putback) else None)


def migrate_every_page(c: PoolChecker, api: MigrationApi) -> int:
    """Isolate, migrate and put back (on failure) every frame the pool holds, checking
    every object after each page; return how many pages moved."""
    moved = 0
    refused: Counter[str] = Counter()
    pfns = c.frames.pfns()
    for pfn in pfns:
        if not c.frames.is_allocated(pfn):
            continue  # went away with an earlier migration
        why = api.isolate(pfn) if api.isolate is not None else None
        if why is not None:
            refused[str(why).split(":")[0]] += 1
            continue
        info = c.frames.info(pfn)
        newpfn = c.frames.alloc(owner=info.owner, mobility=info.mobility)
        pages = c.alloc.pool_pages()
        result = api.migrate(pfn, newpfn)
        ok = bool(getattr(result, "ok", result))
        if ok:
            c.frames.free(pfn)
            for old, new in (getattr(result, "remapped", None) or {}).items():
                if old in c.live:
                    c.live[new] = c.live.pop(old)
            moved += 1
        else:
            c.frames.free(newpfn)
            if api.putback is not None:
                api.putback(pfn)
            refused[str(getattr(result, "reason", "failed")).split(":")[0]] += 1
        context = f"after migrating PFN {pfn} to {newpfn}" if ok else \
            f"after a failed migration of PFN {pfn}"
        try:
            c.verify_all(context)
        except ContractViolation as exc:
            raise c.fail("migration-keeps-contents", exc.detail) from None
        if c.alloc.pool_pages() > pages:  # fewer is fine: z3fold compacts after moving
            raise c.fail("migration-keeps-contents",
                         f"pool_pages() grew from {pages} to {c.alloc.pool_pages()} {context}")
        c.check_stats(context)
    if pfns and not moved:
        raise c.fail("migration-keeps-contents",
                     f"it follows migration rules ({api.rules}) but none of its {len(pfns)} "
                     f"unmapped pages moved: {dict(refused)}")
    return moved
