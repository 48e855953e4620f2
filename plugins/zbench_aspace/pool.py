"""The pool of the address_space zswap: allocator ``aspace``, variant by option.

* ``one-per-page``: every compressed object gets a page of its own, the page the
  swap offset's ``page_tree`` slot names and whose ``page->index`` is that offset -
  the address_space invariant holds, and there is no packing;
* ``buddy-tag`` and ``two-index``: objects are packed by a backend allocator (zbud
  as of 3.11 by default, built through ``zbench.get_plugin_class`` and declared by
  ``AspacePool.uses``, so the case cache covers its source), asked for movable pages;
  the front end keeps the invariant-breaking index.

The pool's pages belong to the front end's address_space: they are migrated through
its ``migratepage`` (``relocate_page`` here), never offered by the pool itself.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from zbench import (
    PAGE_SHIFT,
    PAGE_SIZE,
    AllocationError,
    Allocator,
    KernelVersion,
    Metrics,
    MigrateResult,
    Mobility,
    PageFrames,
    PluginOptions,
    get_plugin_class,
)

OWNER = "zswap-aspace"
PAGE_OFFSET = 0xFFFF_8800_0000_0000  # x86-64 direct map of 3.11: page_address(pfn)

Variant = Literal["one-per-page", "buddy-tag", "two-index"]


class AspaceOptions(PluginOptions):
    variant: Variant = Field("one-per-page", description="one-per-page, buddy-tag or two-index")
    kernel: KernelVersion = Field(KernelVersion("3.11"),
                                  description="the zswap the proposal was made against")
    backend: str = Field("zbud", description="allocator packing the objects (packed variants)")
    backend_options: dict[str, Any] = Field(default_factory=lambda: {"kernel": "3.11"},
                                            description="the backend allocator's options")


class AspacePool(Allocator):
    """Pool pages of the address_space zswap (Seth Jennings' proposal, Sep 2013)."""

    name = "aspace"
    #: 4 KiB only: one object per 4096-byte page
    page_sizes = (PAGE_SIZE,)
    description = "pool of the 2013 address_space zswap proposal (variants by option)"
    Options = AspaceOptions
    frontend: ClassVar[str | None] = "zswap-aspace"

    def __init__(self, options: PluginOptions, frames: PageFrames) -> None:
        super().__init__(options, frames)  # coerces to this class's Options
        opts = self.options
        self.variant = opts.variant
        self.backend: Allocator | None = None
        self.sizes: dict[int, int] = {}  # one-per-page: pfn -> object size
        if opts.variant != "one-per-page":
            cls = get_plugin_class("allocator", opts.backend)
            self.backend = cls(cls.Options.model_validate(opts.backend_options), frames)
            self.backend_movable = self.backend.set_gfp(Mobility.MOVABLE)

    @classmethod
    def uses(cls, options: PluginOptions) -> list[tuple[str, str]]:
        """The backend allocator the packed variants build (``backend``): the case cache
        covers its source too."""
        opts: AspaceOptions = cls.coerce_options(options)
        return [] if opts.variant == "one-per-page" else [("allocator", opts.backend)]

    @property
    def kernel(self) -> str:
        base = f"{self.options.kernel} address_space zswap proposal ({self.variant})"  # type: ignore[attr-defined]
        return base if self.backend is None else f"{base} over {self.backend.kernel}"

    @property
    def simplifications(self) -> str:
        return ("a proposal, never merged: no swap cache interplay; one page per object or the "
                "backend's packing; pages come from movable memory")

    # -- one-per-page -----------------------------------------------------------
    @staticmethod
    def page_handle(pfn: int) -> int:
        return PAGE_OFFSET + (pfn << PAGE_SHIFT)

    @staticmethod
    def handle_pfn(handle: int) -> int:
        return (handle - PAGE_OFFSET) >> PAGE_SHIFT

    def _pfn(self, handle: int) -> int:
        pfn = self.handle_pfn(handle)
        if handle < PAGE_OFFSET or pfn not in self.sizes:
            raise ValueError(f"not a live aspace handle: {handle:#x}")
        return pfn

    # -- the object API ------------------------------------------------------------
    def malloc(self, size: int) -> int:
        if self.backend is not None:
            return self.backend.malloc(size)
        if not 1 <= size <= PAGE_SIZE:
            raise AllocationError(f"aspace: size {size} out of range 1..{PAGE_SIZE}",
                                  code="ENOSPC" if size > PAGE_SIZE else "EINVAL")
        pfn = self.frames.alloc(owner=OWNER, mobility=Mobility.MOVABLE)
        self.sizes[pfn] = size
        return self.page_handle(pfn)

    def free(self, handle: int) -> None:
        if self.backend is not None:
            self.backend.free(handle)
            return
        pfn = self._pfn(handle)
        del self.sizes[pfn]
        self.frames.free(pfn)

    def write(self, handle: int, data: bytes) -> None:
        if self.backend is not None:
            self.backend.write(handle, data)
            return
        pfn = self._pfn(handle)
        if len(data) != self.sizes[pfn]:
            raise ValueError(f"aspace: write of {len(data)} bytes to a {self.sizes[pfn]}-byte "
                             "object")
        self.frames.page(pfn)[:len(data)] = data

    def read(self, handle: int) -> bytes:
        if self.backend is not None:
            return self.backend.read(handle)
        pfn = self._pfn(handle)
        return bytes(self.frames.page(pfn)[:self.sizes[pfn]])

    # -- pages -----------------------------------------------------------------------
    def page_objects(self, pfn: int) -> list[int]:
        if self.backend is not None:
            return self.backend.page_objects(pfn)
        return [self.page_handle(pfn)] if pfn in self.sizes else []

    def object_pfns(self, handle: int) -> tuple[int, ...]:
        if self.backend is not None:
            return self.backend.object_pfns(handle)
        return (self._pfn(handle),)

    def pool_pfns(self) -> list[int]:
        """The pool's pages: frames owned by this pool, or by the backend (models name
        their frames' owner after themselves)."""
        owner = OWNER if self.backend is None else self.backend.name
        frames = self.frames
        return [p for p in frames.pfns() if frames.info(p).owner == owner]

    def relocate_page(self, pfn: int, newpfn: int) -> MigrateResult:
        if self.backend is not None:
            return self.backend.relocate_page(pfn, newpfn)
        size = self.sizes.pop(pfn)
        self.frames.page(newpfn)[:] = self.frames.page(pfn)
        self.sizes[newpfn] = size
        return MigrateResult(True, objects=1, bytes_copied=PAGE_SIZE,
                             remapped={self.page_handle(pfn): self.page_handle(newpfn)})

    # -- accounting ------------------------------------------------------------------
    def max_size(self) -> int:
        return PAGE_SIZE if self.backend is None else self.backend.max_size()

    def pool_pages(self) -> int:
        return len(self.sizes) if self.backend is None else self.backend.pool_pages()

    def slot_bytes(self) -> int | None:
        return len(self.sizes) * PAGE_SIZE if self.backend is None else self.backend.slot_bytes()

    def stats(self) -> Metrics:
        return {} if self.backend is None else self.backend.stats()
