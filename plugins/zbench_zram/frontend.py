"""zram's write/read/discard path as ``zram_write_page`` / ``zram_read_page`` do it.

Rules (drivers/block/zram/zram_drv.c; Documentation/admin-guide/blockdev/zram.rst):

* same-filled pages (every ``unsigned long`` equal) take no allocation; before
  4.11 only zero-filled pages did (``page_zero_filled``);
* a page compressing to ``huge_class_size`` or more (4.17+,
  ``zs_huge_class_size()``), or to more than ``max_zpage_size`` = 3072 bytes
  before, is stored uncompressed, ``PAGE_SIZE`` bytes (the case's page size: 16 K and
  64 K pages as 4 K ones), counted in ``huge_pages``;
* a write allocates its new object before it frees the one the slot held
  (``zram_write_page``: ``zs_malloc``, the ``mem_limit`` check, the copy, then
  ``zram_free_page`` under the slot lock; so since 3.14 at least), which decides where
  the new object lands when the slot held one;
* ``compr_data_size`` counts the stored length (huge = PAGE_SIZE);
* 6.2+: secondary algorithms (``recomp_algorithms``) and ``recompress`` passes
  (:mod:`.recompress`); a slot records the priority of the algorithm that compressed it,
  which its loads decompress with;
* ``mem_limit``, ``backing_dev``, ``echo all > idle`` and ``writeback`` (:mod:`.writeback`):
  over ``mem_limit`` a write fails and the slot keeps what it held.

Post-processing (``mark_idle``, ``recompress``, ``writeback``) runs when the workload has
ended (``when: end``, from ``FrontEnd.workload_ended``, before the final verification) or
each time it ends a named phase (``when: phase:LABEL``); steps due at one point run in the
order zram.rst describes them: mark idle, then recompress, then write back.

Simplified: one slot table, no locking, no ``ZRAM_UNDER_WB`` races.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from zbench import (
    PAGE_SIZES,
    Allocator,
    Compressor,
    Finished,
    FrontEnd,
    KernelVersion,
    Metrics,
    Page,
    PluginOptions,
    same_filled_word,
    sized,
)

from .recompress import (
    ZRAM_MAX_COMPS,
    ClassLookup,
    RecompAlgorithm,
    RecompressOptions,
    Recompressor,
    check_recompression,
    check_threshold,
)
from .sizedbatch import can_run_payload, loop_name, run_sizes
from .writeback import (
    RECOMPRESS_CLEARS_IDLE_SINCE,
    BackingDevice,
    BackingDevOptions,
    MarkIdleOptions,
    WritebackOptions,
    check_writeback,
    limit_pages,
    mark_idle,
    writeback_candidates,
)


class ZramOptions(PluginOptions):
    kernel: KernelVersion = Field(
        KernelVersion("6.18"), description="kernel whose zram rules apply"
    )
    recomp_algorithms: list[RecompAlgorithm] = Field(
        default_factory=list, max_length=ZRAM_MAX_COMPS - 1,
        description="recomp_algorithm (6.2+): up to 3 {name, options, priority 1..3}")
    recompress: RecompressOptions | None = Field(
        None, description="one recompress pass after the workload (6.2+): {type: huge, "
        "threshold, priority, when: end}")

    mem_limit: int | str | None = Field(
        None, description="mem_limit (3.18+): bytes, or memparse text as the knob takes "
        "(\"4M\", \"1G\"); 0 = no limit")
    backing_dev: BackingDevOptions | None = Field(
        None, description="backing_dev (4.20+ here): {pages: N}, a simulated device")
    mark_idle: MarkIdleOptions | None = Field(
        None, description="echo all > idle (4.20+): {when: end|phase:LABEL}")
    writeback: WritebackOptions | None = Field(
        None, description="echo TYPE > writeback (4.20+): {type: huge|idle|huge_idle|"
        "incompressible, when, limit: writeback_limit pages}")

    @model_validator(mode="after")
    def _check_recompression(self) -> ZramOptions:
        check_recompression(self.kernel, self.recomp_algorithms, self.recompress)
        check_writeback(self.kernel, self.mem_limit, self.backing_dev, self.mark_idle,
                        self.writeback)
        return self

    @model_serializer(mode="wrap")
    def _without_no_recompression(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Recompression, mem_limit, backing_dev, idle marking and writeback left unset
        are left out of the options' record, so the results and cache keys of a device
        without them are those from before the options."""
        out = handler(self)
        if isinstance(out, dict):
            if not out.get("recomp_algorithms"):
                out.pop("recomp_algorithms", None)
            for key in ("recompress", "mem_limit", "backing_dev", "mark_idle", "writeback"):
                if out.get(key) is None:
                    out.pop(key, None)
        return out


class _Due(Protocol):
    """Options of a post-processing step: when it runs."""

    @property
    def when(self) -> str: ...


class _Slot:
    """One ``zram->table[]`` entry: handle, object size, the same-filled element, the
    ``ZRAM_HUGE``, ``ZRAM_INCOMPRESSIBLE`` and ``ZRAM_IDLE`` flags, the compression
    priority and, for a ``ZRAM_WB`` slot, its block on the backing device (0: none)."""

    __slots__ = ("handle", "size", "same", "huge", "prio", "incompressible", "idle", "wb")

    def __init__(self, handle: int, size: int, same: int | None, huge: bool) -> None:
        self.handle = handle
        self.size = size
        self.same = same
        self.huge = huge
        self.prio = 0  # ZRAM_PRIMARY_COMP
        self.incompressible = False
        self.idle = False
        self.wb = 0


class Zram(FrontEnd):
    name = "zram"
    description = "zram block-device rules (same-filled, huge pages) over zsmalloc"
    Options = ZramOptions
    #: the front end of a suite without ``frontends:`` (zram drives zsmalloc's own API)
    default_frontend = True
    #: PAGE_SIZE follows the case: the huge cut-off (zs_huge_class_size), same-filled pages
    page_sizes = PAGE_SIZES

    def __init__(self, options: ZramOptions, allocator: Allocator, compressor: Compressor) -> None:
        super().__init__(options, allocator, compressor)
        k = options.kernel
        self._same_any = k >= "4.11"  # "zram: extend zero pages to same element pages"
        huge = allocator.huge_class_size()
        #: before 4.17 the cut-off was max_zpage_size = PAGE_SIZE / 4 * 3 (3072 at 4 K)
        max_zpage_size_old = self.page_size // 4 * 3
        self._huge_min = (
            huge if k >= "4.17" and huge is not None else max_zpage_size_old + 1
        )
        check_threshold(options.recompress, huge)
        self._table: dict[int, _Slot] = {}
        self.pages_stored = 0
        self.same_pages = 0
        self.huge_pages = 0
        self.huge_pages_since = 0
        self.compr_data_size = 0
        self.object_bytes = 0
        self.mem_used_max = 0
        opts: ZramOptions = options
        self._recomp: Recompressor | None = None
        if opts.recomp_algorithms or opts.recompress is not None:
            self._recomp = Recompressor(k, opts.recomp_algorithms, opts.recompress)
        self._before: dict[str, int] = {}  # the figures the recompress pass started from
        self._ended = False  # the when: end pass has run
        self._opts = opts
        self.limit_pages = (limit_pages(opts.mem_limit, self.page_size)
                            if opts.mem_limit is not None else 0)
        self.failed_writes = 0
        #: pages whose write failed: the caller (the swap cache) keeps them, and their
        #: loads come from there, not from the device
        self._kept: dict[int, bytes] = {}
        self._bdev = BackingDevice(opts.backing_dev.pages) if opts.backing_dev else None
        wb = opts.writeback
        self._wb_limit = wb.limit if wb is not None else None  # zram->bd_wb_limit
        self._engine: sized.SizedEngine | None = None  # the allocator's, for a batch
        self._codec: sized.NativeCodec | None = None  # the compressor's, for one of payload

    @classmethod
    def uses(cls, options: PluginOptions) -> list[tuple[str, str]]:
        """The secondary algorithms' compressor plugins (the case cache covers them)."""
        opts = options if isinstance(options, ZramOptions) else ZramOptions.model_validate(
            options.model_dump())
        return sorted({("compressor", a.name) for a in opts.recomp_algorithms})

    @classmethod
    def supports(cls, allocator: Allocator) -> str | None:
        if not allocator.zram_pool or allocator.huge_class_size() is None:
            return "zram drives zsmalloc (drivers/block/zram/zram_drv.c calls the zs_* API)"
        return None

    @property
    def kernel(self) -> str:
        return f"{self.options.kernel} drivers/block/zram/zram_drv.c"  # type: ignore[attr-defined]

    @property
    def simplifications(self) -> str:
        o = self._opts
        if o.mem_limit is not None or o.backing_dev is not None or o.mark_idle is not None:
            return ("idle marking: 'all' only (no access times); writeback: by type only "
                    "(no page_index=), no ZRAM_UNDER_WB races, no bio errors; a failed "
                    "write is not retried; recompression: no max_pages; one slot table, "
                    "no locking")
        if self._recomp is None:  # the words of the releases before recompression
            return ("no writeback device, recompression, idle tracking or mem_limit; "
                    "one slot table, no locking")
        return ("no writeback device or mem_limit; recompression: no max_pages; "
                "one slot table, no locking")

    # -- batches on native engines (sizedbatch.py) -----------------------------------
    def sizes_engine(self) -> str | None:
        """A device with no post-processing feature, empty, over an allocator with a
        native engine: that engine."""
        o = self._opts
        if (self._recomp is not None or o.mem_limit is not None or o.backing_dev is not None
                or o.mark_idle is not None or o.writeback is not None or self._table):
            return None
        self._engine = self.allocator.sized_engine()
        if self._engine is None:
            return None
        if self._engine.payload:  # the pages' bytes: C all the way, lz4 included
            self._codec = self.compressor.native_codec()
            if self._codec is None or not can_run_payload(self._engine):
                self._engine = None
                return None
        return loop_name(self._engine)

    def run_sizes(self, batch: sized.SizedBatch, on_phase: sized.PhaseHook,
                  progress: sized.ProgressHook | None) -> None:
        if self._engine is None:
            raise RuntimeError("zram: run_sizes before sizes_engine")
        run_sizes(self, self._engine, batch, on_phase, progress, self._codec)

    def store(self, offset: int, page: Page) -> None:
        if page.clean and offset in self._table:
            return  # a clean swap-cache page whose slot is still valid is not written again
        self._kept.pop(offset, None)
        self._write_page(offset, page)

    def _new_slot(self, page: Page) -> tuple[_Slot, bytes | None]:
        """The slot a write makes and the bytes its new object takes (``None``:
        same-filled, no allocation); the object is ``zs_malloc``'d, not yet written."""
        data = page.data
        word = same_filled_word(data)
        if word is not None and (word == 0 or self._same_any):
            return _Slot(0, 0, word, False), None
        comp = page.compressed
        size = len(comp)
        huge = size >= self._huge_min
        if huge:
            comp = data
            size = len(data)
        return _Slot(self.allocator.malloc(size), size, None, huge), comp

    def _install(self, offset: int, slot: _Slot) -> None:
        """The slot takes ``offset``: the counters ``zram_write_page`` updates (its
        ``update_used_max`` ran after the ``zs_malloc``, :meth:`_write_page`)."""
        self._table[offset] = slot
        self.pages_stored += 1
        if slot.same is not None:
            self.same_pages += 1
            return
        size = slot.size
        self.compr_data_size += size
        self.object_bytes += size
        if slot.huge:
            self.huge_pages += 1
            self.huge_pages_since += 1

    def _write_page(self, offset: int, page: Page) -> None:
        """``zram_write_page``: ``zs_malloc`` the new object, ``update_used_max`` with
        ``zs_get_total_pages`` (once a write, as zram_drv.c does), refuse it over the
        limit (``zs_free``, -ENOMEM: the old slot stays, ``failed_writes``), else write
        it, then ``zram_free_page`` the old slot.  The pool's page count is read once
        for both the high-water mark and the limit check: nothing between them
        allocates."""
        slot, payload = self._new_slot(page)
        if payload is not None:
            allocator = self.allocator
            used = allocator.pool_pages()
            if used > self.mem_used_max:  # update_used_max
                self.mem_used_max = used
            if self.limit_pages and used > self.limit_pages:
                allocator.free(slot.handle)
                self.failed_writes += 1
                self._kept[offset] = page.data
                return
            allocator.write(slot.handle, payload)
        if offset in self._table:
            self._free_slot(offset)
        self._install(offset, slot)

    def load(self, offset: int) -> bytes | None:
        """``zram_bio_read``: the page, then ``zram_accessed`` clears ``ZRAM_IDLE``."""
        return self._read(offset, touch=True)

    def peek(self, offset: int) -> bytes | None:
        """The page at ``offset`` with no flag or counter changed (no ``bd_reads``)."""
        return self._read(offset, touch=False)

    def _read(self, offset: int, touch: bool) -> bytes | None:
        kept = self._kept.get(offset)
        if kept is not None:
            return kept
        slot = self._table.get(offset)
        if slot is None:
            return None
        if touch:
            slot.idle = False
        if slot.wb and self._bdev is not None:
            return self._bdev.read(slot.wb) if touch else self._bdev.peek(slot.wb)
        return self._page_of(slot)

    def _page_of(self, slot: _Slot) -> bytes:
        if slot.same is not None:
            return slot.same.to_bytes(8, "little") * (self.page_size // 8)
        return self._read_slot(slot)

    def _read_slot(self, slot: _Slot) -> bytes:
        """``zram_read_from_zspool``: a huge slot is a raw copy, any other is
        decompressed with the algorithm of the slot's priority."""
        raw = self.allocator.read(slot.handle)
        if slot.huge:
            return raw
        if slot.prio and self._recomp is not None:
            return self._recomp.decompressor(slot.prio).decompress(raw, self.page_size)
        return self.compressor.decompress(raw, self.page_size)

    def invalidate(self, offset: int) -> None:
        self._kept.pop(offset, None)
        if offset in self._table:
            self._free_slot(offset)

    def _free_slot(self, offset: int) -> None:
        """``zram_free_page``: a ``ZRAM_WB`` slot gives its block back
        (``free_block_bdev``), a same-filled one only its count, any other its object."""
        slot = self._table.pop(offset)
        self.pages_stored -= 1
        if slot.wb and self._bdev is not None:
            self._bdev.free_block(slot.wb)
            return
        if slot.same is not None:
            self.same_pages -= 1
            return
        self.allocator.free(slot.handle)
        self.compr_data_size -= slot.size
        self.object_bytes -= slot.size
        if slot.huge:
            self.huge_pages -= 1

    def offsets(self) -> list[int]:
        return list(self._table) + [off for off in self._kept if off not in self._table]

    def handle_of(self, offset: int) -> int | None:
        slot = self._table.get(offset)
        return None if slot is None or slot.same is not None or slot.wb else slot.handle

    # -- post-processing: mark_idle, recompress (6.2+), writeback -------------------
    def _post_process(self, due: Callable[[_Due], bool]) -> None:
        """The steps due, in zram.rst's order: mark idle, recompress, write back."""
        rc_opts = self._recomp.options if self._recomp is not None else None
        steps: tuple[tuple[_Due | None, Callable[[], int]], ...] = (
            (self._opts.mark_idle, self.mark_idle),
            (rc_opts, self.recompress),
            (self._opts.writeback, self.writeback),
        )
        for opts, run in steps:
            if opts is not None and due(opts):
                run()

    def bind(self, dump: Any) -> None:
        """The secondary algorithms are bound to the run's dump as the primary is (the
        ``kernel`` compressor needs it to look the kernel's sizes up)."""
        if self._recomp is not None:
            self._recomp.bind(dump)

    def phase(self, label: str) -> None:
        """The workload ended the phase ``label``: the post-processing steps set for that
        phase (``when: phase:LABEL``) run first."""
        self._post_process(lambda o: o.when == f"phase:{label}")
        super().phase(label)

    def finish(self) -> Finished | None:
        """The allocator's figures as by default; the ``when: end`` steps have run already
        (:meth:`workload_ended`, before the final verification; here again only for a
        caller that never said the workload ended)."""
        self.workload_ended()
        return super().finish()

    def workload_ended(self) -> None:
        """The ``when: end`` steps, once: the run calls this after the workload's last
        operation and before it verifies every live page."""
        if not self._ended:
            self._ended = True
            self._post_process(lambda o: o.when == "end")

    def mark_idle(self) -> int:
        """``echo all > idle``: the slots marked ``ZRAM_IDLE``."""
        return mark_idle(self._opts.kernel, self._table)

    def writeback(self, kind: str | None = None) -> int:
        """``echo KIND > writeback`` (default: the configured type): the pages written."""
        opts, bdev = self._opts.writeback, self._bdev
        kind = kind or (opts.type if opts is not None else None)
        if kind is None or bdev is None:
            raise ValueError("writeback needs a type and backing_dev")
        done = 0
        for offset in writeback_candidates(self._opts.kernel, self._table, kind):
            if self._wb_limit == 0:
                break  # writeback_limit_enable with no budget left: -EIO
            blk = bdev.alloc_block()
            if not blk:
                break  # -ENOSPC
            self._write_back(offset, blk, bdev)
            if self._wb_limit:
                self._wb_limit -= 1
            done += 1
        return done

    def _write_back(self, offset: int, blk: int, bdev: BackingDevice) -> None:
        """One slot to block ``blk``: the page uncompressed on the device, the object
        freed (``zram_free_page``), the slot ``ZRAM_WB`` with the block as its handle and
        ``pages_stored`` given back."""
        bdev.write(blk, self._read_slot(self._table[offset]))
        self._free_slot(offset)
        slot = _Slot(0, 0, None, False)
        slot.wb = blk
        self._table[offset] = slot
        self.pages_stored += 1

    def recompress(self) -> int:
        """``recompress_store`` with the configured options: every candidate slot
        through :meth:`recompress_slot`; returns the objects replaced."""
        rc = self._recomp
        if rc is None:
            raise ValueError("recompress needs recomp_algorithms")
        self._before = {"huge_pages": self.huge_pages, "compressed_bytes": self.compr_data_size,
                        "pool_pages": self.allocator.pool_pages()}
        lookup = ClassLookup(self.allocator)
        prio, prio_max = rc.bounds()
        done = 0
        for offset in rc.candidates(self._table, prio_max):
            done += self.recompress_slot(offset, prio, prio_max, lookup)
        return done

    def recompress_slot(self, offset: int, prio: int, prio_max: int,
                        lookup: ClassLookup) -> int:
        """``recompress_slot``: 1 when the slot's object was replaced by a smaller one."""
        rc = self._recomp
        assert rc is not None
        slot = self._table[offset]
        threshold = (rc.options.threshold if rc.options else None) or 0
        if slot.size < threshold or max(prio, slot.prio + 1) >= prio_max:
            return 0
        page = self._read_slot(slot)
        if self._opts.kernel >= RECOMPRESS_CLEARS_IDLE_SINCE:
            slot.idle = False  # "we touched this entry so mark it as non-IDLE"
        rc.attempts += 1
        reached, new, incompressible = rc.new_object(page, slot.size, slot.prio, prio,
                                                     prio_max, lookup)
        if new is None:
            slot.incompressible = slot.incompressible or incompressible
            return 0
        handle = self.allocator.malloc(len(new))
        self.allocator.write(handle, new)
        self._free_slot(offset)  # zram_free_page: huge_pages, compr_data_size, pages_stored
        fresh = _Slot(handle, len(new), None, False)
        fresh.prio = reached
        self._install(offset, fresh)
        return 1

    def metrics(self) -> Metrics:
        m: Metrics = {
            "stored_pages": self.pages_stored,
            "same_filled_pages": self.same_pages,
            "huge_pages": self.huge_pages,
            "huge_pages_since": self.huge_pages_since,
            "compressed_bytes": self.compr_data_size,
            "object_bytes": self.object_bytes,
            "mem_used_max_pages": self.mem_used_max,
        }
        if self._recomp is not None:
            m.update(self._recompression_metrics())
        m.update(self._writeback_metrics())
        return m

    def _writeback_metrics(self) -> Metrics:
        """Only for the features configured: io_stat's ``failed_writes`` and mm_stat's
        ``mem_limit`` with ``mem_limit``; bd_stat (4 K pages) with ``backing_dev``;
        block_state's ``i`` slots with ``mark_idle``."""
        m: Metrics = {}
        if self._opts.mem_limit is not None:
            m["failed_writes"] = self.failed_writes
            m["mem_limit_pages"] = self.limit_pages
        if self._bdev is not None:
            m["bd_count_pages"] = self._bdev.bd_count
            m["bd_reads_pages"] = self._bdev.bd_reads
            m["bd_writes_pages"] = self._bdev.bd_writes
        if self._opts.mark_idle is not None:
            m["idle_pages"] = sum(1 for s in self._table.values() if s.idle)
        return m

    def _recompression_metrics(self) -> Metrics:
        """Only with recompression configured (so every other case's metrics stay as
        they were): block_state's ``r`` and ``n`` slots, the pass's attempts and the
        figures it started from."""
        slots = [s for s in self._table.values() if s.same is None]
        m: Metrics = {
            "recompressed_pages": sum(1 for s in slots if s.prio),
            "incompressible_pages": sum(1 for s in slots if s.incompressible),
            "recompress_attempts": self._recomp.attempts if self._recomp else 0,
        }
        for name, value in self._before.items():
            m[f"{name}_before_recompress"] = value
        return m
