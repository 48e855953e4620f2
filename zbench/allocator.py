"""The allocator interface every allocator plugin implements.

It is the zpool-style API the kernel's front ends (zram, zswap) use:
``malloc`` returns an opaque handle, ``write``/``read`` copy an object in and
out (``zs_obj_write`` / ``zs_obj_read_begin``, or map + memcpy + unmap in older
kernels), ``free`` releases it, ``compact`` runs the allocator's compaction.

A model must store the bytes it is given in the frames of the
:class:`~zbench.frames.PageFrames` it was built with, laid out as the kernel
lays them out, and ``read`` must return them from there.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar

from zbench.frames import PageFrames
from zbench.options import PluginOptions

Metrics = dict[str, int | float]


class Allocator(abc.ABC):
    """Base class of allocator models (``zs_pool``, ``zbud_pool``, ...)."""

    #: Registry name used in suites (``allocators: [{name: ...}]``).
    name: ClassVar[str]
    #: One line for ``zbench plugins``.
    description: ClassVar[str] = ""
    #: The plugin's options model.
    Options: ClassVar[type[PluginOptions]] = PluginOptions
    #: The only front end this allocator runs under, if it has its own (e.g. the real
    #: kernel's zram); ``None`` = any front end the suite names that supports it.
    frontend: ClassVar[str | None] = None

    def __init__(self, options: PluginOptions, frames: PageFrames) -> None:
        self.options = options
        self.frames = frames

    # -- identity ---------------------------------------------------------
    @property
    @abc.abstractmethod
    def kernel(self) -> str:
        """The kernel version and source file whose rules this instance follows,
        e.g. ``"6.8 mm/zsmalloc.c"``."""

    @property
    def simplifications(self) -> str:
        """What the model leaves out, in one or two sentences (shown in reports)."""
        return ""

    # -- the object API ---------------------------------------------------
    @abc.abstractmethod
    def malloc(self, size: int) -> int:
        """Allocate room for an object of ``size`` bytes and return its handle.

        Raises :class:`~zbench.errors.AllocationError` when ``size`` is out of
        the allocator's range (``size < 1`` or ``> max_size()``)."""

    @abc.abstractmethod
    def free(self, handle: int) -> None:
        """Free the object (``zs_free``)."""

    @abc.abstractmethod
    def write(self, handle: int, data: bytes) -> None:
        """Copy ``data`` (exactly the size given to malloc) into the object's frames."""

    @abc.abstractmethod
    def read(self, handle: int) -> bytes:
        """Return the object's bytes, read from its frames."""

    def compact(self) -> int:
        """Run compaction (``zs_compact``); return the pages it freed.

        Allocators without compaction return 0."""
        return 0

    # -- backend-driven writeback (zbud/z3fold LRU, kernels <= 6.4) -------
    def evictable(self) -> bool:
        """``zpool_evictable()``: the allocator keeps an LRU of its pages and can
        reclaim them through an evict callback (zbud, z3fold up to 6.4)."""
        return False

    def reclaim_page(self, evict: Callable[[int], bool], retries: int) -> bool:
        """``zbud_reclaim_page`` / ``z3fold_reclaim_page``: take the LRU tail page and
        call ``evict(handle)`` for each live object in it; the front end writes the
        object back and calls :meth:`free` on it (``True``) or refuses (``False``).
        Return ``True`` when a page was freed, ``False`` (``-EAGAIN``) when
        ``retries`` pages were tried and none could be freed."""
        raise NotImplementedError(f"{self.name} has no LRU reclaim")

    # -- accounting -------------------------------------------------------
    @abc.abstractmethod
    def max_size(self) -> int:
        """The largest object ``malloc`` accepts."""

    def huge_class_size(self) -> int | None:
        """Objects of at least this size occupy a whole page of their own
        (``zs_huge_class_size``); ``None`` when the allocator has no such class.
        zram stores a page raw when it compresses to this size or more."""
        return None

    @abc.abstractmethod
    def pool_pages(self) -> int:
        """Pages the pool holds now (``zs_get_total_pages``)."""

    @abc.abstractmethod
    def slot_bytes(self) -> int | None:
        """Bytes of the slots that live objects occupy, headers and padding
        included.  ``pool_pages·PAGE_SIZE − slot_bytes`` is external
        fragmentation; ``slot_bytes − Σ object sizes`` is internal.  ``None``
        when it cannot be known (the real kernel does not expose it)."""

    def stats(self) -> Metrics:
        """Allocator-specific metrics, under the kernel's names where it has them."""
        return {}

    @classmethod
    def describe(cls, options: PluginOptions) -> list[dict[str, Any]]:
        """Rows for ``zbench inspect NAME`` (e.g. the size-class table)."""
        return []

    @classmethod
    def describe_summary(cls, options: PluginOptions) -> dict[str, Any]:
        """Summary values for ``zbench inspect NAME`` (e.g. class count)."""
        return {}
