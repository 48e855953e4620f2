"""zswap's store / load / invalidate / shrink paths (mm/zswap.c), per kernel version.

One swap type, one tree keyed by swap offset.  Pages zswap rejects, and
entries it writes back, go to a simulated swap device, so every page stays
loadable and ``--verify`` checks them all.  The asynchronous shrink worker
runs synchronously right after the store that queued it.

PAGE_SIZE is the case's page size (``self.page_size``, the allocator's frames): every
rule below that the kernel writes with ``PAGE_SIZE`` uses it, as mm/zswap.c's build-time
constant does at 16 K or 64 K (the same-filled check over ``PAGE_SIZE / 8`` words, the
``>= PAGE_SIZE`` / ``> PAGE_SIZE`` compressed-length rules, the raw incompressible page,
loads and writeback of ``PAGE_SIZE`` bytes, ``pool_total_size``), and the pool limit is in
pages of that size: ``totalram_pages`` is ``ram_mb`` MiB over ``PAGE_SIZE``
(``zswap_max_pages``: ``totalram_pages() * zswap_max_pool_percent / 100``, 6.6+;
``zswap_is_full`` before), or ``ram_pages`` as given, counted in the case's pages.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from pydantic import Field, model_validator

from zbench import (
    PAGE_SIZES,
    AllocationError,
    Allocator,
    CaseSkipped,
    Compressor,
    FrontEnd,
    KernelVersion,
    Metrics,
    Page,
    PluginOptions,
    same_filled_word,
    sized,
)

from . import sizedbatch
from .entry import Entry, Lru
from .rules import MAX_RECLAIM_RETRIES, MAX_RECLAIM_RETRIES_612, ZBUD_RECLAIM_RETRIES, rules_for

HEADER = 8  # struct zswap_header { swp_entry_t swpentry; }
#: zpool drivers that were in the kernel tree: each only where rules.backends has it; any
#: other allocator is an out-of-tree zpool driver, loadable while zpool exists
IN_TREE = frozenset({"zbud", "z3fold", "zsmalloc"})


class ZswapOptions(PluginOptions):
    kernel: KernelVersion = Field(KernelVersion("6.14"),
                                  description="kernel whose zswap rules apply")
    ram_mb: int = Field(128, ge=1, description="simulated RAM in MiB: totalram_pages is "
                        "ram_mb MiB / PAGE_SIZE (the case's page size)")
    ram_pages: int | None = Field(None, ge=1, description="totalram_pages exactly (wins "
                                  "over ram_mb), in pages of the case's page size: a real "
                                  "machine's MemTotal / its PAGE_SIZE")
    max_pool_percent: int = Field(20, ge=0, le=100)
    accept_threshold_percent: int = Field(90, ge=0, le=100, description="hysteresis (5.6+)")
    exclusive_loads: bool | None = Field(None, description="default: on from 6.9, off before")
    swap_slots_cache: bool = Field(False, description="6.1: freed slots reach zswap's "
                                   "invalidate in the swap slots cache's batches of 64 "
                                   "(mm/swap_slots.c free_swap_slot; one CPU), not at once")

    writeback: bool = Field(True, description="memory.zswap.writeback of the case's cgroup "
                            "(6.8+): off = nothing is written back and a page zswap rejects "
                            "stays in memory; 6.18 then rejects incompressible pages")

    @model_validator(mode="after")
    def _check(self) -> ZswapOptions:
        rules = rules_for(self.kernel)
        if self.exclusive_loads and not rules.exclusive_allowed:
            raise ValueError(f"exclusive loads appeared in 6.5 (kernel {self.kernel})")
        if not self.writeback and not rules.writeback_control:
            raise ValueError(f"memory.zswap.writeback appeared in 6.8 (kernel {self.kernel})")
        return self


def totalram_pages(options: ZswapOptions, page_size: int) -> int:
    """``totalram_pages()`` of the simulated machine: ``ram_pages`` as given (pages of
    the case's size), else ``ram_mb`` MiB in pages of ``page_size`` bytes (256 a MiB
    at 4 K, 64 at 16 K, 16 at 64 K)."""
    return options.ram_pages or (options.ram_mb << 20) // page_size


COUNTERS = ("pool_limit_hit", "reject_reclaim_fail", "reject_alloc_fail",
            "reject_kmemcache_fail", "reject_compress_poor", "reject_compress_fail",
            "written_back_pages", "duplicate_entry", "stored_incompressible_pages")


class Zswap(FrontEnd):
    name = "zswap"
    #: every page size: each PAGE_SIZE rule uses ``self.page_size`` (module docstring)
    page_sizes = PAGE_SIZES
    description = "zswap swap-cache rules per kernel version over zbud, z3fold or zsmalloc"
    Options = ZswapOptions

    def __init__(self, options: ZswapOptions, allocator: Allocator, compressor: Compressor) -> None:
        super().__init__(options, allocator, compressor)
        r = self.rules = rules_for(options.kernel)
        if allocator.name not in r.backends and (allocator.name in IN_TREE or not r.zpool):
            raise CaseSkipped(f"zswap {options.kernel} offers {', '.join(sorted(r.backends))}"
                              + (", or an out-of-tree zpool driver" if r.zpool else "")
                              + f", not {allocator.name}")
        self.exclusive = r.exclusive_default if options.exclusive_loads is None \
            else options.exclusive_loads
        self.writeback = options.writeback  # memory.zswap.writeback (>= 6.8)
        self.slots_cache = options.swap_slots_cache
        evictable = allocator.evictable()
        self.hlen = HEADER if r.header == "always" or (r.header == "evictable" and evictable) \
            else 0
        #: PAGE_SIZE of the case (the allocator's frames)
        self.psize = self.page_size
        ram = totalram_pages(options, self.psize)
        self.max_pages = ram * options.max_pool_percent // 100  # zswap_max_pages()
        if r.accept_formula == "ram":  # 6.1 zswap_can_accept
            self.accept_pages = (ram * options.accept_threshold_percent // 100
                                 * options.max_pool_percent // 100)
        else:  # zswap_accept_thr_pages
            self.accept_pages = self.max_pages * options.accept_threshold_percent // 100
        self.tree: dict[int, Entry] = {}
        self.lru = Lru()  # zswap's own LRU (6.5+): oldest first
        #: handle -> offset, for the backend's eviction (<= 6.4: zpool's evict callback,
        #: which reads the offset from the object's zswap_header); 6.5+ has no such path
        self._rmap = not r.zswap_lru
        self.by_handle: dict[int, int] = {}
        self.swap_device: dict[int, bytes] = {}  # rejected and written-back pages
        self.ram: dict[int, bytes] = {}  # exclusively loaded pages, dirty in the swap cache
        self.zeromap: set[int] = set()  # >= 6.12: zero pages the swap layer kept
        #: 6.1: freed slots whose entries zswap still holds (the swap slots cache's batch),
        #: oldest first, each under its own key (the offset itself may be stored again)
        self.pending: OrderedDict[int, Entry] = OrderedDict()
        self._ghost = 0
        self.swapcache: set[int] = set()  # 6.1: entries whose page a load left in swap cache
        self.reached_full = False
        self.total_pages = 0
        self.c = dict.fromkeys(COUNTERS, 0)
        self.same_filled_pages = 0
        self.compressed_bytes = 0
        self.object_bytes = 0
        self.pool_max = 0
        #: (stored entries, swapped pages) once a batch ran in C (sizedbatch.py)
        self.batch_counts: tuple[int, int] | None = None
        self._engine: sized.SizedEngine | None = None  # the allocator's, for a batch

    @property
    def kernel(self) -> str:
        return f"{self.rules.kernel} mm/zswap.c"

    @property
    def simplifications(self) -> str:
        return ("one swap type and one pool; the shrink worker runs synchronously after the "
                "store that queued it; no memcg limits, no shrinker (6.8+; its memcg "
                "walk is the root's alone, as with memcg disabled); zsmalloc's 6.2-6.4 LRU "
                "is not modelled (not evictable)")

    # -- batches on native engines (sizedbatch.py) ---------------------------------
    def sizes_engine(self) -> str | None:
        """zswap's loop in C over the allocator's engine, for the rules it follows."""
        if sizedbatch.declines(self) is not None:
            return None
        engine = self.allocator.sized_engine()
        if engine is None or engine.payload or getattr(engine, "capsule", None) is None:
            return None
        self._engine = engine
        return f"{engine.name}, zswap loop in C"

    def run_sizes(self, batch: sized.SizedBatch, on_phase: sized.PhaseHook,
                  progress: sized.ProgressHook | None) -> None:
        if self._engine is None:
            raise RuntimeError("zswap: run_sizes before sizes_engine")
        sizedbatch.run_sizes(self, self._engine, batch, on_phase, progress)

    # -- limits -----------------------------------------------------------
    def _pool_pages(self) -> int:
        if self.rules.stale_total_size:
            return self.total_pages  # zswap_pool_total_size, as last refreshed
        return self.allocator.pool_pages()

    def _update_total_size(self) -> None:
        self.total_pages = self.allocator.pool_pages()  # zswap_update_total_size

    def _is_full(self) -> bool:
        return self.max_pages < self._pool_pages()

    def _can_accept(self) -> bool:
        return self.accept_pages > self._pool_pages()

    # -- store ------------------------------------------------------------
    def store(self, offset: int, page: Page) -> None:
        if getattr(page, "clean", False) and (
                offset in self.tree or offset in self.swap_device or offset in self.zeromap):
            return  # a clean swap-cache page whose copy is still valid: reclaim just drops it
        self._forget(offset, page)
        if self.rules.same_filled == "zeromap" and same_filled_word(page.data) == 0:
            # swap_writepage (>= 6.12): is_folio_zero_filled -> swap_zeromap_folio_set,
            # before and instead of zswap_store: no limit check, no pool_limit_hit
            self.zeromap.add(offset)
            return
        if not self._admit():
            self._reject(offset, page.data)
            return
        if not self._store_page(offset, page):
            self._reject(offset, page.data)

    def _forget(self, offset: int, page: Page) -> None:
        """Before a store: the page is no longer in memory, and the old entry at the
        offset goes (zswap_store's duplicate invalidation)."""
        self.ram.pop(offset, None)
        if not getattr(page, "clean", False):
            self.swapcache.discard(offset)  # a new page: the old swap-cache copy is gone
        if offset in self.tree and self.rules.duplicate_counter \
                and not self.rules.frontswap_dup_invalidate:
            self.c["duplicate_entry"] += 1
        self._drop(offset)

    def _store_page(self, offset: int, page: Page) -> bool:
        """One page past the pool-limit check (zswap_store_page from 6.13): False = the
        store failed (counted), the caller rejects.  From 6.12 zswap has no same-filled
        handling: a zero page that reaches it (one of a large folio that is not zero
        throughout) is compressed like any other."""
        data = page.data
        word = same_filled_word(data)
        mode = self.rules.same_filled
        if word is not None and (mode == "any" or (mode == "zero" and word == 0)):
            self.tree[offset] = Entry(0, 0, 0, word, False)
            self.same_filled_pages += 1
            self._update_total_size()
            return True
        comp = page.compressed
        raw = False
        psize = self.psize
        if len(comp) >= psize and self.rules.store_incompressible:
            if not self.writeback:
                # zswap_compress (6.18): the memcg cannot write back, so storing the page
                # as-is only adds metadata: -EINVAL, or the compressor's -ENOSPC
                self._count_compress_fail(len(comp) > psize)
                return False
            comp, raw = data, True
        elif len(comp) > psize and self.rules.dst_limit_page:
            # the output does not fit the PAGE_SIZE destination: lz4, zstd, lzo and
            # deflate return -EINVAL (crypto/lz4.c __lz4_compress_crypto and the
            # like), counted as reject_compress_fail; only 842 returns -ENOSPC
            # (lib/842/842_compress.c), counted as reject_compress_poor (zswap_compress;
            # checked against 6.12 in user-mode Linux, docs/kernel.md)
            # before 6.6 (6.1) zswap_frontswap_store counts no failed compression
            if self.rules.compress_fail_counter:
                self._count_compress_fail(True)
            return False
        size = len(comp) + self.hlen
        try:
            handle = self.allocator.malloc_keyed(size, offset)  # keyed: the 2013 zbud series
        except AllocationError as exc:
            self.c["reject_compress_poor" if exc.code == "ENOSPC" else "reject_alloc_fail"] += 1
            return False
        header = offset.to_bytes(HEADER, "little") if self.hlen else b""
        self.allocator.write(handle, header + comp)
        e = self.tree[offset] = Entry(handle, len(comp), self.hlen, None, raw)
        if self._rmap:
            self.by_handle[handle] = offset
        if self.rules.zswap_lru:
            e.offset = offset
            e.referenced = True  # entry->referenced = true (6.12+)
            self.lru.add_tail(e)  # the newest
        self.compressed_bytes += len(comp)
        self.object_bytes += size
        if raw:
            self.c["stored_incompressible_pages"] += 1
        self._update_total_size()
        # the high-water mark reads the figure just refreshed (nothing allocates in
        # between, so it is what _pool_pages would give)
        if self.total_pages > self.pool_max:
            self.pool_max = self.total_pages
        return True

    def _count_compress_fail(self, overflow: bool) -> None:
        """A failed compression: 842's -ENOSPC (output past the limit) is
        reject_compress_poor, every other error reject_compress_fail."""
        poor = overflow and self._algorithm() == "842"
        self.c["reject_compress_poor" if poor else "reject_compress_fail"] += 1

    # -- large folios -------------------------------------------------------
    def store_folio(self, offset: int, pages: Sequence[Page]) -> None:
        """swap_writepage of a large folio at ``offset`` .. ``offset + len(pages) - 1``.

        The swap layer first: a folio zero throughout goes to the zeromap (>= 6.12,
        is_folio_zero_filled), any other clears its bits.  Then zswap_store: before
        6.13 a large folio is rejected whole (folio_test_large); from 6.13
        (b7c0ccdfbafd) the limits are checked once for the folio, each page is stored
        as its own entry, and one failed page fails the folio: every entry at its
        offsets is erased (``check_old``) and all its pages go to swap."""
        if len(pages) == 1:
            self.store(offset, pages[0])
            return
        offsets = range(offset, offset + len(pages))
        for o, page in zip(offsets, pages, strict=True):
            self._forget(o, page)
        if self.rules.same_filled == "zeromap" and all(
                same_filled_word(p.data) == 0 for p in pages):
            self.zeromap.update(offsets)  # swap_zeromap_folio_set
            return
        if self.rules.folio_store == "per-page" and not self._check_limits() and all(
                self._store_page(o, p) for o, p in zip(offsets, pages, strict=True)):
            return
        for o in offsets:
            self._drop(o)  # zswap_store's check_old: xa_erase + zswap_entry_free
        self._reject_folio(offsets, pages)

    def _reject_folio(self, offsets: range, pages: Sequence[Page]) -> None:
        """The folio goes to swap (or stays in memory); the shrink worker is queued once."""
        for o, page in zip(offsets, pages, strict=True):
            self._swap_out(o, page.data)
        if self.rules.folio_store == "per-page" and self.reached_full:
            self._second_chance_worker()

    def _algorithm(self) -> str:
        """The kernel crypto algorithm the case's compressor stands for."""
        return str(getattr(self.compressor.options, "algorithm", None) or self.compressor.name)

    def _reject(self, offset: int, data: bytes) -> None:
        """The store failed: the page goes to the swap device; from 6.12 every rejection
        queues the shrink worker while the pool is full (zswap_store's ``reject:``)."""
        self._swap_out(offset, data)
        if self.rules.shrink == "second-chance" and self.reached_full:
            self._second_chance_worker()

    def _swap_out(self, offset: int, data: bytes) -> None:
        """swap_writepage after zswap_store failed: written to the swap device, unless the
        memcg's zswap writeback is off (>= 6.8): then the folio is redirtied and kept in
        memory (folio_mark_dirty, AOP_WRITEPAGE_ACTIVATE)."""
        if self.writeback:
            self.swap_device[offset] = data
        else:
            self.ram[offset] = data

    def _check_limits(self) -> bool:
        """zswap_check_limits (6.12): True while the pool is full (reject)."""
        cur = self._pool_pages()
        if cur >= self.max_pages:
            self.c["pool_limit_hit"] += 1
            self.reached_full = True
        elif self.reached_full and cur <= self.accept_pages:
            self.reached_full = False
        return self.reached_full

    def _second_chance_worker(self) -> None:
        """shrink_worker (6.12) with memcg disabled: shrink_memcg(NULL) walks one entry of
        the LRU a time, oldest first; a referenced one is rotated (the bit cleared, a
        failure), an unreferenced one written back; until the pool is at most the accept
        threshold or MAX_RECLAIM_RETRIES failures."""
        if not self.writeback:
            return  # shrink_memcg: -ENOENT for every walk, MAX_RECLAIM_RETRIES, no writeback
        failures = 0
        while self.lru:  # do { ... } while (zswap_total_pages() > thr): one try at least
            e = self.lru.oldest()
            if e.referenced:  # shrink_memcg_cb: LRU_ROTATE, -EAGAIN
                e.referenced = False
                self.lru.move_tail(e)
                failures += 1
                if failures == MAX_RECLAIM_RETRIES_612:
                    break
            else:
                self._writeback(e.offset)
            if self._pool_pages() <= self.accept_pages:
                break

    def _admit(self) -> bool:
        """The pool-limit part of zswap_store: False = rejected (page goes to swap)."""
        r = self.rules
        if r.shrink == "second-chance":
            return not self._check_limits()
        if self._is_full():
            self.c["pool_limit_hit"] += 1
            if r.shrink == "sync":
                if not self._shrink_one():
                    self.c["reject_reclaim_fail"] += 1
                    return False
                return True
            self.reached_full = True
            self._shrink_worker()
            return False
        if self.reached_full and r.hysteresis:
            if not self._can_accept():
                if r.hysteresis_shrinks:
                    self._shrink_worker()
                return False
            self.reached_full = False
        return True

    def _shrink_worker(self) -> None:
        if not self.writeback:
            return  # 6.8-6.11 shrink_memcg: -EINVAL, the worker stops, nothing counted
        if self.rules.shrink == "worker-one":
            if not self._shrink_one():
                self.c["reject_reclaim_fail"] += 1
            return
        failures = 0
        while True:  # 6.5+: until below the accept threshold
            if not self._shrink_one():
                self.c["reject_reclaim_fail"] += 1
                failures += 1
                if not self.lru or failures == MAX_RECLAIM_RETRIES:
                    break
            if self._can_accept():
                break

    def _shrink_one(self) -> bool:
        """Write back one page's worth: the backend's LRU tail page (<= 6.4) or zswap's
        oldest entry (>= 6.5)."""
        if self.rules.zswap_lru:
            if not self.lru:
                return False
            self._writeback(self.lru.oldest().offset)
            return True
        if not self.allocator.evictable():
            return False  # zpool_shrink: -EINVAL
        return self.allocator.reclaim_page(self._evict, ZBUD_RECLAIM_RETRIES)

    def _evict(self, handle: int) -> bool:
        offset = self.by_handle.get(handle)
        if offset is None:
            return False
        if self.rules.writeback_checks_swapcache and (offset < 0 or offset in self.swapcache):
            return False  # zswap_writeback_entry: ZSWAP_SWAPCACHE_FAIL / _EXIST
        self._writeback(offset)
        return True

    def _writeback(self, offset: int) -> None:
        """zswap_writeback_entry: decompress into a swap-cache page, write it to swap."""
        self.swap_device[offset] = self._decompress(self.tree[offset])
        self._drop(offset)
        self.c["written_back_pages"] += 1

    # -- load / invalidate ------------------------------------------------
    def _decompress(self, e: Entry) -> bytes:
        if e.value is not None:
            return e.value.to_bytes(8, "little") * (self.psize // 8)
        obj = self.allocator.read(e.handle)[e.hlen:]
        return obj if e.raw else self.compressor.decompress(obj, self.psize)

    def peek(self, offset: int) -> bytes | None:
        e = self.tree.get(offset)
        if e is not None:
            return self._decompress(e)
        return self._elsewhere(offset)

    def _elsewhere(self, offset: int) -> bytes | None:
        if offset in self.ram:
            return self.ram[offset]
        if offset in self.zeromap:
            return bytes(self.psize)
        return self.swap_device.get(offset)

    def load(self, offset: int) -> bytes | None:
        e = self.tree.get(offset)
        if e is not None:
            data = self._decompress(e)
            if self.exclusive:
                self._drop(offset)
                self.ram[offset] = data  # folio_mark_dirty: back in memory
            elif e.prev is not None:  # on the LRU
                self.lru.move_tail(e)  # list_move: the newest
            elif self.rules.writeback_checks_swapcache:
                self.swapcache.add(offset)
            return data
        return self._elsewhere(offset)

    def invalidate(self, offset: int) -> None:
        self.swapcache.discard(offset)
        batch = self.rules.invalidate_batch if self.slots_cache else 0
        e = self.tree.get(offset) if batch else None
        if e is not None:
            # 6.1 free_swap_slot: a full batch goes to swapcache_free_entries (zswap
            # invalidates those), then this slot joins the next batch
            if len(self.pending) >= batch:
                self._flush_pending()
            del self.tree[offset]
            self._ghost -= 1
            self.tree[self._ghost] = e  # still stored: stored_pages counts it
            self.pending[self._ghost] = e
            if e.value is None and self._rmap:
                self.by_handle[e.handle] = self._ghost
            self.lru.delete(e)
            e.referenced = False
        elif batch and (offset in self.swap_device or offset in self.zeromap
                        or offset in self.ram):  # a swapped slot without an entry
            if len(self.pending) >= batch:
                self._flush_pending()
            self._ghost -= 1
            self.pending[self._ghost] = Entry(0, 0, 0, None, False)  # a slot, no entry
        else:
            self._drop(offset)
        self.ram.pop(offset, None)
        self.zeromap.discard(offset)
        self.swap_device.pop(offset, None)

    def _flush_pending(self) -> None:
        for ghost in list(self.pending):
            if ghost in self.tree:
                self._drop(ghost)
        self.pending.clear()

    def _drop(self, offset: int) -> None:
        """zswap_invalidate_entry: out of the tree and the LRU, object freed."""
        e = self.tree.pop(offset, None)
        if e is None:
            if offset in self.swap_device:
                del self.swap_device[offset]
            self.zeromap.discard(offset)
            return
        self.lru.delete(e)
        if e.value is not None:
            self.same_filled_pages -= 1
            self._update_total_size()
            return
        if self._rmap:
            del self.by_handle[e.handle]
        self.allocator.free(e.handle)
        self.compressed_bytes -= e.length
        self.object_bytes -= e.length + e.hlen
        self.c["stored_incompressible_pages"] -= e.raw
        self._update_total_size()

    def offsets(self) -> list[int]:
        return list({o for o in self.tree if o >= 0} | set(self.ram) | self.zeromap
                    | set(self.swap_device))

    def handle_of(self, offset: int) -> int | None:
        e = self.tree.get(offset)
        return None if e is None or e.value is not None else e.handle

    def metrics(self) -> Metrics:
        stored, swapped = self.batch_counts or (len(self.tree), len(self.swap_device))
        m: Metrics = {
            "stored_pages": stored,
            "same_filled_pages": self.same_filled_pages,
            "huge_pages": self.c["stored_incompressible_pages"],
            "compressed_bytes": self.compressed_bytes,
            "object_bytes": self.object_bytes,
            "pool_total_size": self._pool_pages() * self.psize,
            "mem_used_max_pages": self.pool_max,
            "swap_device_pages": swapped,
            "zeromap_pages": len(self.zeromap),
        }
        m.update(self.c)
        if not self.rules.duplicate_counter:
            del m["duplicate_entry"]
        if not self.rules.compress_fail_counter:
            del m["reject_compress_fail"]
        if not self.rules.store_incompressible:
            del m["stored_incompressible_pages"]
        return m
