"""The front-end interface: the kernel layer between pages and the allocator.

zram (a block device) and zswap (a swap cache) both take a page, check for
same-filled contents, compress it, decide whether to keep it, and hand the
compressed bytes to an allocator.  Their rules differ by kernel version; each
front end is a plugin.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Protocol

from zbench.api.allocator import Allocator, Finished, Metrics
from zbench.api.compressor import Compressor
from zbench.api.frames import PAGE_SIZE
from zbench.api.movable import MigrateResult, ReclaimResult
from zbench.api.options import PluginOptions
from zbench.api.sized import PhaseHook, ProgressHook, SizedBatch


class Page(Protocol):
    """A page offered to the front end."""

    @property
    def data(self) -> bytes:
        """The original page contents (PAGE_SIZE bytes)."""
        ...

    @property
    def compressed(self) -> bytes:
        """The page compressed with the case's compressor (cached per dump)."""
        ...

    @property
    def clean(self) -> bool:
        """True when the page is unchanged since it was last loaded from this offset
        (a swap-cache page being reclaimed again): a front end that still holds a
        valid copy need not store it again."""
        ...


class FrontEnd(abc.ABC):
    """Base class of front-end plugins."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[PluginOptions]] = PluginOptions
    #: The page sizes this front end's rules are written for (its PAGE_SIZE uses: the
    #: huge-page cut-off, same-filled words per page, the uncompressed size a load
    #: decompresses to); a case of another page size is skipped with the reason.
    #: Default: 4096 only.
    page_sizes: ClassVar[tuple[int, ...]] = (PAGE_SIZE,)

    def __init__(
        self, options: PluginOptions, allocator: Allocator, compressor: Compressor
    ) -> None:
        self.options = options
        self.allocator = allocator
        self.compressor = compressor

    @property
    def page_size(self) -> int:
        """The case's page size (the kernel's PAGE_SIZE): the size of every page stored
        and loaded, and of the allocator's frames (``allocator.frames.page_size``)."""
        return self.allocator.frames.page_size

    @classmethod
    def supports(cls, allocator: Allocator) -> str | None:
        """``None`` if this front end can drive ``allocator``, else the reason it cannot."""
        return None

    @property
    @abc.abstractmethod
    def kernel(self) -> str:
        """Kernel version and file whose rules this instance follows."""

    @property
    def simplifications(self) -> str:
        """What the front-end model leaves out (shown in reports)."""
        return ""

    @abc.abstractmethod
    def store(self, offset: int, page: Page) -> None:
        """Store ``page`` at ``offset`` (replacing what was there)."""

    @abc.abstractmethod
    def load(self, offset: int) -> bytes | None:
        """Return the page stored at ``offset``, decompressed; ``None`` if none is."""

    def peek(self, offset: int) -> bytes | None:
        """The page at ``offset`` like :meth:`load`, but changing nothing (no exclusive
        load, no LRU update): what ``--verify`` reads, so checking never alters a run."""
        return self.load(offset)

    @abc.abstractmethod
    def invalidate(self, offset: int) -> None:
        """Drop what is stored at ``offset`` (discard / swap slot free)."""

    @abc.abstractmethod
    def offsets(self) -> list[int]:
        """Offsets that hold a page now."""

    def compact(self) -> int:
        """Compact the allocator; return the pages freed."""
        return self.allocator.compact()

    # -- page migration and LRU reclaim (optional) ---------------------------
    @property
    def migration(self) -> str:
        """Page-migration rules of a front end that migrates its pool pages itself (an
        address_space owner), one line; ``""``: the allocator's rules apply."""
        return ""

    def isolate_page(self, pfn: int) -> str | None:
        """Isolate pool page ``pfn`` for migration (see ``Allocator.isolate_page``).  A
        front end whose pages are in its own address_space (their ``mapping``) overrides
        the three migration steps; the default hands them to the allocator."""
        return self.allocator.isolate_page(pfn)

    def migrate_page(self, pfn: int, newpfn: int) -> MigrateResult:
        return self.allocator.migrate_page(pfn, newpfn)

    def putback_page(self, pfn: int) -> None:
        self.allocator.putback_page(pfn)

    def handle_of(self, offset: int) -> int | None:
        """The allocator handle holding ``offset``'s page, if one does."""
        return None

    def map_offset(self, offset: int) -> bool:
        """Start an in-flight load of ``offset``: its object stays mapped until
        :meth:`unmap_offset`.  ``False`` when no object holds the offset."""
        handle = self.handle_of(offset)
        if handle is None:
            return False
        self.allocator.map_object(handle)
        return True

    def unmap_offset(self, offset: int) -> None:
        handle = self.handle_of(offset)
        if handle is not None:
            self.allocator.unmap_object(handle)

    def reclaim_lru(self, nr_pages: int) -> ReclaimResult | None:
        """Reclaim up to ``nr_pages`` pool pages through an LRU of pool pages and their
        ``writepage``; ``None`` when the front end's pages are on no such LRU."""
        return None

    def bind(self, dump: Any) -> None:
        """The run's dump, before the first operation (the case's compressor has been
        bound to it already, ``Compressor.bind``).  A front end that builds compressors of
        its own (zram's secondary algorithms) binds them here.  Default: nothing."""
        return None

    def sizes_engine(self) -> str | None:
        """The name of the native engine :meth:`run_sizes` would run this case's
        operations on as one batch (:mod:`zbench.api.sized`), or ``None``: this front
        end, with these options, over this allocator and compressor, takes no batch.
        Asked once, before the first operation; a front end says a name only over an
        allocator that offers an engine (:meth:`zbench.Allocator.sized_engine`) and, when
        that engine keeps bytes, with a compressor that has a C face
        (:meth:`zbench.Compressor.native_codec`).  Default: ``None`` (the case runs
        operation by operation)."""
        return None

    def run_sizes(self, batch: SizedBatch, on_phase: PhaseHook,
                  progress: ProgressHook | None) -> None:
        """Run a case's whole operation stream over the allocator's native engine, after
        :meth:`sizes_engine` named one: at each phase op :meth:`phase`, then ``on_phase``
        with the engine's figures synced.  A batch of payload (``batch.payload``) stores
        and loads the pages' real bytes and, with ``verify``, checks every load and every
        live slot at the end (a mismatch raises :class:`zbench.VerifyError`; the count
        goes to ``batch.payload.verified``).  Afterwards :meth:`metrics` and the
        allocator's reporting methods give the batch's figures, which equal the
        operation-by-operation run's; the front end takes no further operations."""
        raise NotImplementedError(f"{type(self).__name__} takes no sizes-only batch")

    def phase(self, label: str) -> None:
        """The workload ended the phase ``label``; the default tells the allocator."""
        self.allocator.phase(label)

    def workload_ended(self) -> None:
        """The workload's last operation is done; the run verifies every live page next,
        then calls :meth:`finish`.  A front end that acts on its own at the end (zram's
        recompression pass, as ``echo type=huge > recompress`` after the workload) does it
        here, so verification covers it.  Default: nothing."""
        return None

    def finish(self) -> Finished | None:
        """After the workload: figures measured outside the models (see
        ``Allocator.finish``); the default asks the allocator."""
        return self.allocator.finish()

    def close(self) -> None:
        """Release what the front end holds outside Python (devices); called once, always."""
        return None

    @abc.abstractmethod
    def metrics(self) -> Metrics:
        """Front-end counters under the kernel's names.

        Must include ``stored_pages``, ``same_filled_pages``, ``huge_pages``,
        ``compressed_bytes`` (bytes handed to the allocator) and
        ``object_bytes`` (Σ sizes passed to ``malloc`` for live objects).
        A front end that measures the pool itself (the real kernel) may also
        return ``pool_pages``; it then wins over the allocator's."""

    # -- what the run layer asks of the class (zbench/run) ------------------------------
    #: True for the front end a suite without ``frontends:`` (and an ad-hoc run) uses for
    #: the allocators it supports; one installed front end says so (zram's).
    default_frontend: ClassVar[bool] = False

    @classmethod
    def uses(cls, options: PluginOptions) -> list[tuple[str, str]]:
        """``(kind, name)`` of every plugin this front end builds through the registry
        with ``options``, listed transitively: the case cache keys a case on those
        plugins' sources too, so editing one of them recomputes the case.  Default: none."""
        return []
