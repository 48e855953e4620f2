"""zram's write/read/discard path as ``zram_write_page`` / ``zram_read_page`` do it.

Rules (drivers/block/zram/zram_drv.c; Documentation/admin-guide/blockdev/zram.rst):

* same-filled pages (every ``unsigned long`` equal) take no allocation; before
  4.11 only zero-filled pages did (``page_zero_filled``);
* a page compressing to ``huge_class_size`` or more (4.17+,
  ``zs_huge_class_size()``), or to more than ``max_zpage_size`` = 3072 bytes
  before, is stored uncompressed, ``PAGE_SIZE`` bytes, counted in ``huge_pages``;
* a write over a slot that holds a page frees the old object first;
* ``compr_data_size`` counts the stored length (huge = 4096);
* 6.2+: secondary algorithms (``recomp_algorithms``) and one ``recompress`` pass of
  the huge slots when the workload has ended (:mod:`.recompress`); a slot records the
  priority of the algorithm that compressed it, which its loads decompress with.

Simplified: no writeback device, no idle tracking (so no ``type=idle`` recompression),
no ``mem_limit``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from zbench import (
    PAGE_SIZE,
    Allocator,
    Compressor,
    Finished,
    FrontEnd,
    KernelVersion,
    Metrics,
    Page,
    PluginOptions,
    same_filled_word,
)

from .recompress import (
    ZRAM_MAX_COMPS,
    ClassLookup,
    RecompAlgorithm,
    RecompressOptions,
    Recompressor,
    check_recompression,
)

MAX_ZPAGE_SIZE_OLD = PAGE_SIZE // 4 * 3  # 3072, the cut-off before 4.17


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

    @model_validator(mode="after")
    def _check_recompression(self) -> ZramOptions:
        check_recompression(self.kernel, self.recomp_algorithms, self.recompress)
        return self

    @model_serializer(mode="wrap")
    def _without_no_recompression(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Recompression left unset is left out of the options' record, so the results
        and cache keys of a device without it are those from before the options."""
        out = handler(self)
        if isinstance(out, dict):
            if not out.get("recomp_algorithms"):
                out.pop("recomp_algorithms", None)
            if out.get("recompress") is None:
                out.pop("recompress", None)
        return out


class _Slot:
    """One ``zram->table[]`` entry: handle, object size, the same-filled element, the
    ``ZRAM_HUGE`` and ``ZRAM_INCOMPRESSIBLE`` flags and the compression priority."""

    __slots__ = ("handle", "size", "same", "huge", "prio", "incompressible")

    def __init__(self, handle: int, size: int, same: int | None, huge: bool) -> None:
        self.handle = handle
        self.size = size
        self.same = same
        self.huge = huge
        self.prio = 0  # ZRAM_PRIMARY_COMP
        self.incompressible = False


class Zram(FrontEnd):
    name = "zram"
    description = "zram block-device rules (same-filled, huge pages) over zsmalloc"
    Options = ZramOptions
    #: the front end of a suite without ``frontends:`` (zram drives zsmalloc's own API)
    default_frontend = True

    def __init__(self, options: ZramOptions, allocator: Allocator, compressor: Compressor) -> None:
        super().__init__(options, allocator, compressor)
        k = options.kernel
        self._same_any = k >= "4.11"  # "zram: extend zero pages to same element pages"
        huge = allocator.huge_class_size()
        self._huge_min = (
            huge if k >= "4.17" and huge is not None else MAX_ZPAGE_SIZE_OLD + 1
        )
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
        if self._recomp is None:  # the words of the releases before recompression
            return ("no writeback device, recompression, idle tracking or mem_limit; "
                    "one slot table, no locking")
        return ("no writeback device, idle tracking or mem_limit; recompression: "
                "type=huge passes only, no max_pages; one slot table, no locking")

    def store(self, offset: int, page: Page) -> None:
        if page.clean and offset in self._table:
            return  # a clean swap-cache page whose slot is still valid is not written again
        if offset in self._table:
            self._free_slot(offset)
        data = page.data
        word = same_filled_word(data)
        if word is not None and (word == 0 or self._same_any):
            self._table[offset] = _Slot(0, 0, word, False)
            self.same_pages += 1
            self.pages_stored += 1
            return
        comp = page.compressed
        huge = len(comp) >= self._huge_min
        if huge:
            comp = data
        size = len(comp)
        handle = self.allocator.malloc(size)
        self.allocator.write(handle, comp)
        self._table[offset] = _Slot(handle, size, None, huge)
        self.compr_data_size += size
        self.object_bytes += size
        self.pages_stored += 1
        if huge:
            self.huge_pages += 1
            self.huge_pages_since += 1
        used = self.allocator.pool_pages()
        if used > self.mem_used_max:
            self.mem_used_max = used

    def load(self, offset: int) -> bytes | None:
        slot = self._table.get(offset)
        if slot is None:
            return None
        if slot.same is not None:
            return slot.same.to_bytes(8, "little") * (PAGE_SIZE // 8)
        return self._read_slot(slot)

    def _read_slot(self, slot: _Slot) -> bytes:
        """``zram_read_from_zspool``: a huge slot is a raw copy, any other is
        decompressed with the algorithm of the slot's priority."""
        raw = self.allocator.read(slot.handle)
        if slot.huge:
            return raw
        if slot.prio and self._recomp is not None:
            return self._recomp.decompressor(slot.prio).decompress(raw, PAGE_SIZE)
        return self.compressor.decompress(raw, PAGE_SIZE)

    def invalidate(self, offset: int) -> None:
        if offset in self._table:
            self._free_slot(offset)

    def _free_slot(self, offset: int) -> None:
        slot = self._table.pop(offset)
        self.pages_stored -= 1
        if slot.same is not None:
            self.same_pages -= 1
            return
        self.allocator.free(slot.handle)
        self.compr_data_size -= slot.size
        self.object_bytes -= slot.size
        if slot.huge:
            self.huge_pages -= 1

    def offsets(self) -> list[int]:
        return list(self._table)

    def handle_of(self, offset: int) -> int | None:
        slot = self._table.get(offset)
        return None if slot is None or slot.same is not None else slot.handle

    # -- recompression (6.2+) --------------------------------------------------
    def phase(self, label: str) -> None:
        """The workload ended the phase ``label``: the ``recompress`` pass runs first when
        it is set for that phase (``when: phase:LABEL``)."""
        opts = self._recomp.options if self._recomp is not None else None
        if opts is not None and opts.at_phase(label):
            self.recompress()
        super().phase(label)

    def finish(self) -> Finished | None:
        """The allocator's figures as by default; the ``when: end`` pass has run already
        (:meth:`workload_ended`, before the final verification; here again only for a
        caller that never said the workload ended)."""
        self.workload_ended()
        return super().finish()

    def workload_ended(self) -> None:
        """The ``when: end`` pass, once: the run calls this after the workload's last
        operation and before it verifies every live page."""
        rc = self._recomp
        if rc is not None and rc.options is not None and rc.options.when == "end" \
                and not self._ended:
            self._ended = True
            self.recompress()

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
        rc.attempts += 1
        reached, new = rc.new_object(page, slot.size, slot.prio, prio, prio_max, lookup)
        if new is None:
            if reached >= rc.num_active_comps:  # the last algorithm failed too
                slot.incompressible = True
            return 0
        handle = self.allocator.malloc(len(new))
        self.allocator.write(handle, new)
        self._free_slot(offset)  # zram_free_page: huge_pages, compr_data_size, pages_stored
        fresh = _Slot(handle, len(new), None, False)
        fresh.prio = reached
        self._table[offset] = fresh
        self.pages_stored += 1
        self.compr_data_size += len(new)
        self.object_bytes += len(new)
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
