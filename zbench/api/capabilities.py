"""The allocator's small core and its optional capabilities, and how to tell them apart.

:class:`~zbench.api.allocator.Allocator` carries every method any front end or experiment
may call, with defaults, so an existing plugin keeps working unchanged.  What a plugin
author must write is the core, :class:`AllocatorCore`: the object API zpool and zsmalloc
share (``zpool_malloc`` / ``zs_malloc``, ``zpool_free``, the object copy in and out) and the
pool's accounting.  Everything else is an optional capability, one protocol each:

``Evictable`` (``evictable``)
    an LRU of pool pages reclaimed through the front end's evict callback
    (``zpool_evictable`` / ``zbud_reclaim_page`` / ``z3fold_reclaim_page``, kernels <= 6.4);
``Movable`` (``movable``)
    the non-LRU movable page operations (``isolate_page`` / ``migratepage`` /
    ``putback_page``, 4.8+) and the rules they follow;
``Keyed`` (``keyed``)
    a ``malloc`` that takes the caller's key (zswap's swap offset; the 2013 zbud series
    kept a radix tree indexed by it);
``Inspectable`` (``inspectable``)
    the reverse map from pool pages to objects and the placement of each object (what
    writeback through a page, the 2013 address_space zswap, needs).

The base class defines every capability's methods, so ``isinstance(obj, Movable)`` holds
for any ``Allocator``: :func:`capabilities` is the test that means something.  A
capability is present when the object provides its methods itself (not the base class's
default) and, for the two whose presence depends on the options (a kernel version), when
its own answer says so: ``evictable()`` is true, ``migration`` is not empty.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from zbench.api.allocator import Allocator, Metrics
from zbench.api.movable import MigrateResult


class Capability(StrEnum):
    """Names of the optional capabilities :func:`capabilities` reports (plain strings)."""

    EVICTABLE = "evictable"
    MOVABLE = "movable"
    KEYED = "keyed"
    INSPECTABLE = "inspectable"


@runtime_checkable
class AllocatorCore(Protocol):
    """What every allocator provides: the object API and the pool's accounting."""

    name: str

    @property
    def kernel(self) -> str: ...
    def malloc(self, size: int) -> int: ...
    def free(self, handle: int) -> None: ...
    def write(self, handle: int, data: bytes) -> None: ...
    def read(self, handle: int) -> bytes: ...
    def max_size(self) -> int: ...
    def pool_pages(self) -> int: ...
    def slot_bytes(self) -> int | None: ...
    def stats(self) -> Metrics: ...


@runtime_checkable
class Evictable(Protocol):
    """LRU reclaim driven by the front end (``zpool_shrink``, kernels <= 6.4)."""

    def evictable(self) -> bool: ...
    def reclaim_page(self, evict: Callable[[int], bool], retries: int) -> bool: ...


@runtime_checkable
class Movable(Protocol):
    """Pool pages that migrate (``struct movable_operations``, 4.8+)."""

    @property
    def migration(self) -> str: ...
    def isolate_page(self, pfn: int) -> str | None: ...
    def migrate_page(self, pfn: int, newpfn: int) -> MigrateResult: ...
    def putback_page(self, pfn: int) -> None: ...


@runtime_checkable
class Keyed(Protocol):
    """A ``malloc`` indexed by the caller's key (zswap: the swap offset)."""

    def malloc_keyed(self, size: int, key: int) -> int: ...


@runtime_checkable
class Inspectable(Protocol):
    """Which objects a pool page holds, and which pages an object's bytes are in."""

    def page_objects(self, pfn: int) -> list[int]: ...
    def object_pfns(self, handle: int) -> tuple[int, ...]: ...


#: capability -> (its protocol, the methods the object must provide itself)
_PROVIDES: dict[Capability, tuple[type, tuple[str, ...]]] = {
    Capability.EVICTABLE: (Evictable, ("reclaim_page",)),
    Capability.MOVABLE: (Movable, ("migrate_page",)),
    Capability.KEYED: (Keyed, ("malloc_keyed",)),
    Capability.INSPECTABLE: (Inspectable, ("page_objects", "object_pfns")),
}


def provides(obj: object, method: str) -> bool:
    """``obj`` has ``method`` and it is not the :class:`Allocator` base class's default
    (which raises ``NotImplementedError`` or stands for "not supported")."""
    own = getattr(type(obj), method, None)
    if own is None:
        return callable(getattr(obj, method, None))  # set on the instance
    return callable(own) and own is not getattr(Allocator, method, None)


def _answers_yes(obj: Any, cap: Capability) -> bool:
    """The options-dependent half: what the allocator says of itself."""
    try:
        if cap is Capability.EVICTABLE:
            return bool(obj.evictable())
        if cap is Capability.MOVABLE:
            return bool(getattr(obj, "migration", ""))
    except NotImplementedError:
        return False
    return True


def capabilities(allocator: object) -> frozenset[Capability]:
    """The optional capabilities ``allocator`` has with its options (see the module
    docstring); works on any object with the core methods, ``Allocator`` subclass or not."""
    out = set()
    for cap, (proto, methods) in _PROVIDES.items():
        if (isinstance(allocator, proto) and all(provides(allocator, m) for m in methods)
                and _answers_yes(allocator, cap)):
            out.add(cap)
    return frozenset(out)


def page_size_refusal(kind: str, cls: type, page_size: int) -> str | None:
    """Why the plugin class ``cls`` (an allocator or a front end, ``kind``) cannot run a
    case of ``page_size``-byte pages: it does not list the size in ``page_sizes`` (the
    class-level declaration; absent: 4096 only).  None when it can."""
    sizes: tuple[int, ...] = getattr(cls, "page_sizes", (4096,))
    if page_size in sizes:
        return None
    name = getattr(cls, "name", cls.__name__)
    have = ", ".join(str(s) for s in sizes)
    return f"{kind} {name} does not model {page_size}-byte pages (page_sizes: {have})"


__all__ = ["AllocatorCore", "Capability", "Evictable", "Inspectable", "Keyed", "Movable",
           "capabilities", "page_size_refusal", "provides"]
