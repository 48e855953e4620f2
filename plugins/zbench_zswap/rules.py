"""Which mm/zswap.c rules a kernel version follows (docs/models.md has the table).

Each switch names the change that introduced it; ``rules_for`` turns a kernel
version into one frozen record the front end reads.  Checked against
mm/zswap.c of torvalds/linux at 003ae2fb (≈6.6) for the store/load/shrink
paths.
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
    dst_limit_page: bool  # compressor output limited to PAGE_SIZE: bigger fails (>= 6.9)
    compress_fail_counter: bool  # reject_compress_fail (>= 6.6)
    store_incompressible: bool  # store pages that do not compress raw (>= 6.18)
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
        dst_limit_page=k >= "6.9",
        compress_fail_counter=k >= "6.6",
        store_incompressible=k >= "6.18",
        backends=frozenset(backends),
        zpool="3.18" <= k < "6.18",
    )
