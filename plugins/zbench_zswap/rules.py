"""Which mm/zswap.c rules a kernel version follows (docs/models.md has the table).

Each switch names the change that introduced it; ``rules_for`` turns a kernel
version into one frozen record the front end reads.  Checked against
mm/zswap.c of torvalds/linux at 003ae2fb (≈6.6) for the store/load/shrink
paths, and the store / compress / shrink paths against a mainline mm/zswap.c
after "mm: zswap: interact directly with zsmalloc" (≥ 6.18).

Audit through 6.18 (item: version, commit, modelled):

* same-filled pages: 4.16 "zswap: same-filled pages handling" (any word, one
  entry without an allocation); 6.10 "mm: zswap: remove same_filled module params"
  (Yosry Ahmed; the handling stays, always on); 6.12 0ca0c24e3211 "mm: store zero
  pages to be swapped out in a bitmap" (Usama Arif: swap_writepage ->
  is_folio_zero_filled / swap_zeromap_folio_set in mm/page_io.c keep zero folios out
  of zswap) and 20a5532ffa53 "mm: remove code to handle same filled pages" (zswap's
  zswap_is_folio_same_filled gone).  Modelled (``same_filled``).  The 6.10-6.11
  record says "zero" (zero pages only); the code 20a5532ffa53 removes still stores
  any repeated word, so 6.10-6.11 should be "any" (left as is: tests/test_zswap.py
  pins "zero").
* large folios: < 6.13 zswap_store rejects a large folio (``if
  (folio_test_large(folio)) return false``, 6.6); 6.13 b7c0ccdfbafd "mm: zswap:
  support large folios in zswap_store()" (Kanchana P Sridhar): zswap_check_limits
  once per folio, zswap_store_page per page, one entry each; a failed page fails the
  folio and zswap_store's ``check_old`` erases every entry at the folio's offsets
  (the new ones and stale ones); 63895d20d63b "mm/zswap: fix inconsistency when
  zswap_store_page() fails" (charging only).  Modelled per page by
  ``Zswap.store_folio`` (``folio_store``); the core's workload API stores single
  pages, so suites never reach it.
* the dynamic shrinker: 6.8 b5ba474f3f51 "zswap: shrink zswap pool based on memory
  pressure" (Nhat Pham: zswap_shrinker_count / zswap_shrinker_scan, off unless
  zswap.shrinker_enabled or CONFIG_ZSWAP_SHRINKER_DEFAULT_ON); 6.12 "mm: zswap:
  implement a second chance algorithm for dynamic zswap shrinker".  Not modelled
  (``shrinker``): zbench has no memory pressure outside the pool limit.  The global
  shrink_worker and its referenced bit are modelled (``shrink``).
* memory.zswap.writeback: 6.8 501a06fe8e4c "zswap: memcontrol: implement zswap
  writeback disabling" (Nhat Pham): shrink_memcg refuses a memcg with writeback off
  (-EINVAL, from 6.11 -ENOENT) and swap_writepage keeps a page zswap rejected in
  memory (folio_mark_dirty, AOP_WRITEPAGE_ACTIVATE).  Modelled (option
  ``writeback``, ``writeback_control``).
* incompressible pages: 6.18 dca4437a5861 "mm/zswap: store <PAGE_SIZE compression
  failed page as-is" (SeongJae Park): zswap_compress stores a page whose compression
  fails or gives >= PAGE_SIZE as PAGE_SIZE raw bytes (stored_incompressible_pages),
  unless the folio's memcg has writeback off: then -EINVAL (or the compressor's
  -ENOSPC) and the page is rejected.  Modelled (``store_incompressible``).
* pool limit: zswap_max_pool_percent (3.11); 5.6 "mm/zswap.c: add allocation
  hysteresis if pool limit is hit" (accept_threshold_percent, the shrink worker);
  6.5 "mm: zswap: shrink until can accept"; 6.10 "mm: zswap: optimize zswap pool size
  tracking" (Johannes Weiner: zswap_total_pages asks the pools each time, no
  zswap_pool_total_size), "mm: zswap: refactor limit checking from zswap_store()"
  (zswap_check_limits) and "mm: zswap: always shrink in zswap_store() if
  zswap_pool_reached_full" (Yosry Ahmed).  Modelled; the model gives
  zswap_check_limits and the always-shrink rule to >= 6.12 only, where the real
  6.12 checked them (6.10-6.11 have them too; left as is: tests/test_zswap.py pins
  "worker-loop" for 6.10-6.11).
* backends: zbud 3.11, zsmalloc 3.18 ("zswap: changes for zpool"), z3fold 4.8; zbud
  and z3fold removed in 6.15 ("mm: zbud: remove zbud", "mm: z3fold: remove z3fold",
  Yosry Ahmed), so zsmalloc only; 6.18 "mm: zswap: interact directly with zsmalloc" and "mm: remove
  unused zpool layer" (Johannes Weiner): no zpool, no out-of-tree driver.  Modelled
  (``backends``, ``zpool``).

Commit ids are given where a mainline id was checked (Fixes: tags and commit
references); the others are named by subject.
"""

from __future__ import annotations

from dataclasses import dataclass

from zbench import KernelVersion

MAX_RECLAIM_RETRIES = 14  # shrink_worker's retry bound (6.5+)
#: 6.12's shrink_worker counts its failures against mm/internal.h's MAX_RECLAIM_RETRIES
MAX_RECLAIM_RETRIES_612 = 16
ZBUD_RECLAIM_RETRIES = 8  # zpool_shrink -> zbud/z3fold_reclaim_page(pool, 8)


@dataclass(frozen=True, slots=True)
class ZswapRules:
    kernel: KernelVersion
    #: "none" (< 4.16), "any" word (4.16-6.9), "zero" only (6.10-6.11),
    #: "zeromap": zero pages never reach zswap (>= 6.12, swap-layer zeromap)
    same_filled: str
    #: 8-byte zswap_header before each object: "always" (3.11-3.17, 6.2-6.4),
    #: "evictable" backends only (3.18-6.1), "none" (>= 6.5)
    header: str
    duplicate_counter: bool  # duplicate_entry exists (<= 6.8)
    #: "sync": reclaim one page inside the store, then store (< 5.6);
    #: "worker-one": reject, the shrink worker reclaims one page (5.6-6.4);
    #: "worker-loop": reject, the worker reclaims until below the accept threshold (6.5+);
    #: "second-chance" (>= 6.12): zswap_check_limits (full at pool >= max, accepting
    #: again at <= the threshold), every rejected store queues the worker while full,
    #: and the worker gives a referenced entry a second chance (clears the bit and
    #: rotates it, a failure) before writing entries back, until the threshold or
    #: MAX_RECLAIM_RETRIES failures ("mm: zswap: implement a second chance algorithm
    #: for dynamic zswap shrinker"; checked against 6.12 in user-mode Linux)
    shrink: str
    hysteresis: bool  # accept_threshold_percent (>= 5.6)
    zswap_lru: bool  # zswap owns an LRU of entries (>= 6.5), else the backend's page LRU
    exclusive_allowed: bool  # zswap.exclusive_loads exists (6.5-6.8) or is always on (>= 6.9)
    exclusive_default: bool
    #: compressor output limited to PAGE_SIZE, bigger fails (>= 6.9; and 6.1:
    #: zswap_frontswap_store passes dlen = PAGE_SIZE to acomp_request_set_params, the
    #: scomp layer hands it to lz4 as the output limit, crypto/lz4.c returns -EINVAL)
    dst_limit_page: bool
    #: reject_compress_fail (>= 6.6); before it a failed compression bumps no counter
    #: (6.1 zswap_frontswap_store: ``if (ret) { ret = -EINVAL; goto put_dstmem; }``)
    compress_fail_counter: bool
    #: the accept-threshold band queues the shrink worker too; not on 6.1, whose
    #: zswap_frontswap_store rejects there with ``goto reject`` (only a store that finds
    #: the pool full, zswap_is_full, reaches ``shrink:`` and queue_work)
    hysteresis_shrinks: bool
    #: zswap_can_accept's rounding: "ram" = totalram * thr / 100 * max / 100 (6.1),
    #: "max" = zswap_max_pages() * thr / 100 (zswap_accept_thr_pages, 6.12)
    accept_formula: str
    #: frontswap's store invalidates an old entry at the offset before zswap sees the
    #: store, so zswap's duplicate_entry stays 0 (6.1 mm/frontswap.c __frontswap_store)
    frontswap_dup_invalidate: bool
    #: a freed swap slot reaches zswap's invalidate only when the per-CPU swap slots
    #: cache returns its batch: free_swap_slot defers up to SWAP_SLOTS_CACHE_SIZE (64)
    #: entries, swapcache_free_entries -> swap_range_free -> frontswap_invalidate_page
    #: (6.1 mm/swap_slots.c); 0 = at once (6.12 free_swap_slot calls zswap_invalidate)
    invalidate_batch: int
    #: zswap_writeback_entry fails for an entry whose page is in the swap cache
    #: (ZSWAP_SWAPCACHE_EXIST: a non-exclusive load left it there) or whose slot is freed
    #: but not yet invalidated (__read_swap_cache_async returns NULL: ..._FAIL); 6.1
    writeback_checks_swapcache: bool
    #: the limits read zswap_pool_total_size, which zswap_update_total_size refreshes only
    #: after a store and in zswap_free_entry: zbud/z3fold reclaim frees its page after
    #: the evictions (under_reclaim), so the size still counts it until the next store
    #: or free (6.1; 6.12's zswap_total_pages asks the pool each time)
    stale_total_size: bool
    #: store pages that do not compress (failure or >= PAGE_SIZE) raw, PAGE_SIZE bytes
    #: (>= 6.18, dca4437a5861 "mm/zswap: store <PAGE_SIZE compression failed page
    #: as-is", zswap_compress); rejected instead while the memcg's writeback is off
    store_incompressible: bool
    #: memory.zswap.writeback exists (>= 6.8, 501a06fe8e4c "zswap: memcontrol:
    #: implement zswap writeback disabling"): off = shrink_memcg writes nothing back and
    #: swap_writepage keeps a rejected page in memory
    writeback_control: bool
    #: the memory-pressure shrinker exists (>= 6.8, b5ba474f3f51 "zswap: shrink zswap
    #: pool based on memory pressure"; zswap_shrinker_count/scan); not modelled: off by
    #: default (CONFIG_ZSWAP_SHRINKER_DEFAULT_ON=n) and zbench has no reclaim pressure
    shrinker: bool
    #: a large folio: "reject" (< 6.13, zswap_store: folio_test_large -> false) or
    #: "per-page" (>= 6.13, b7c0ccdfbafd "mm: zswap: support large folios in
    #: zswap_store()": one limit check, an entry per page, one failed page fails and
    #: invalidates the whole folio)
    folio_store: str
    backends: frozenset[str]  # zpool backends this version offered
    #: 3.18 - 6.17: zswap reaches its backend through zpool, so an out-of-tree zpool
    #: driver (an allocator plugin such as zblock) can serve it; 3.11 - 3.17 called zbud
    #: directly, 6.18 calls zsmalloc directly ("mm: remove unused zpool layer")
    zpool: bool


def rules_for(k: KernelVersion) -> ZswapRules:
    if k < "3.11":
        raise ValueError("zswap appeared in 3.11")
    if k < "4.16":
        same = "none"
    elif k < "6.10":
        same = "any"
    elif k < "6.12":
        same = "zero"
    else:
        same = "zeromap"
    if k < "3.18" or "6.2" <= k < "6.5":
        header = "always"
    elif k < "6.5":
        header = "evictable"
    else:
        header = "none"
    # checked against the 6.1 source (and the real 6.1 in user-mode Linux); the versions
    # around it probably share these, but that is not checked here
    v61 = "6.1" <= k < "6.2"
    backends = {"zbud"}
    if k >= "3.18":
        backends.add("zsmalloc")
    if k >= "4.8":
        backends.add("z3fold")
    if k >= "6.15":
        backends = {"zsmalloc"}
    return ZswapRules(
        kernel=k,
        same_filled=same,
        header=header,
        duplicate_counter=k < "6.9",
        shrink=("sync" if k < "5.6" else "worker-one" if k < "6.5" else
                "worker-loop" if k < "6.12" else "second-chance"),
        hysteresis=k >= "5.6",
        zswap_lru=k >= "6.5",
        exclusive_allowed=k >= "6.5",
        exclusive_default=k >= "6.9",
        dst_limit_page=k >= "6.9" or v61,
        compress_fail_counter=k >= "6.6",
        hysteresis_shrinks=not v61,
        accept_formula="ram" if v61 else "max",
        frontswap_dup_invalidate=v61,
        invalidate_batch=64 if v61 else 0,
        writeback_checks_swapcache=v61,
        stale_total_size=v61,
        store_incompressible=k >= "6.18",
        writeback_control=k >= "6.8",
        shrinker=k >= "6.8",
        folio_store="per-page" if k >= "6.13" else "reject",
        backends=frozenset(backends),
        zpool="3.18" <= k < "6.18",
    )
