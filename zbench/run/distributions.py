"""Distributions recorded in ``results.json`` for the plots of ``zbench report``.

* ``results["distributions"]``: per (dump, compressor), a histogram of the dump's
  compressed page sizes in ``BUCKET_BYTES`` buckets (the last bucket holds
  everything from the page size up; a dump read as 16 K pages is its own entry, its
  name the case id's ``default@16K`` and its ``page_size`` given);
* ``case["classes"]``: per case, the allocator's size classes at the end of the
  workload (:meth:`zbench.api.allocator.Allocator.size_classes`: size, objects
  allocated and in use, and any figures of its own the allocator records beside
  them), for allocators that have size classes; their sizes are the class
  boundaries drawn over the size histogram.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zbench.api.allocator import Allocator
from zbench.api.frames import PAGE_SIZE
from zbench.input.compcache import cache_key, compress_dump

if TYPE_CHECKING:
    from zbench.run.spec import Plan

BUCKET_BYTES = 16
#: The fields every size-class row has (what the plots read).
CLASS_FIELDS = ("size", "obj_allocated", "obj_used")


def class_rows(allocator: Allocator) -> list[dict[str, int]]:
    """The allocator's size-class rows (``size_classes()``) as integers, in its own field
    order; empty when it has no size classes or a row lacks one of
    :data:`CLASS_FIELDS`."""
    rows = allocator.size_classes()
    if not rows or not all(f in r for r in rows for f in CLASS_FIELDS):
        return []
    return [{k: int(v) for k, v in r.items()} for r in rows]


def size_histogram(sizes: list[int], page_size: int = PAGE_SIZE) -> list[int]:
    """Counts per ``BUCKET_BYTES`` bucket, ``[k*B, (k+1)*B)``; sizes >= ``page_size``
    share the last bucket."""
    n = page_size // BUCKET_BYTES
    counts = [0] * (n + 1)
    for s in sizes:
        counts[min(s // BUCKET_BYTES, n)] += 1
    return counts


def size_distributions(plan: Plan, memo: dict[tuple[str, str], list[bytes]]
                       ) -> list[dict[str, Any]]:
    """One compressed-size histogram per (dump, compressor) that a case that ran used.
    Blobs come from ``memo`` (the run's own) or the compressed-page cache."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str, int]] = set()
    for case in plan.cases:
        if case.skip_reason:
            continue
        dump = plan.dumps[case.dump_path].paged(case.page_size)
        key = (dump.sha256, case.compressor.label, case.page_size)
        if key in seen:
            continue
        seen.add(key)
        try:
            comp = case.compressor.cls(case.compressor.options)
            comp.bind(dump)
            blobs = memo.get((dump.sha256, cache_key(dump.sha256, comp, dump.page_size)))
            if blobs is None:
                blobs = compress_dump(dump, comp)
        except Exception:  # noqa: BLE001 - a plot input, never worth failing a run for
            continue
        sizes = [len(b) for b in blobs]
        rec: dict[str, Any] = {"dump": case.dump_name, "sha256": dump.sha256,
                               "compressor": case.compressor.label, "pages": len(sizes),
                               "bucket_bytes": BUCKET_BYTES,
                               "counts": size_histogram(sizes, dump.page_size)}
        if dump.page_size != PAGE_SIZE:
            rec["page_size"] = dump.page_size
        out.append(rec)
    return out
