"""The contract suites' rules: one id and one sentence each.

Every failure of the contract suite is a :class:`ContractViolation` whose message starts
with the rule's id, says what was observed, and ends with the rule itself, e.g.::

    zbench allocator contract: rule 'round-trip' broken by myalloc (default options):
    a 812-byte object (handle 0x3008, stored 17th) read back different bytes, first at
    byte 0 (got 0000000000000000, expected 6a1f0e...), after all 300 objects were stored
      rule: every stored object loads back byte-identical, ...
"""

from __future__ import annotations

RULES: dict[str, str] = {
    "round-trip": (
        "every stored object loads back byte-identical, while other objects are stored, "
        "freed and compacted"),
    "distinct-handles": "malloc() returns an int handle that no other live object has",
    "legal-sizes-accepted": (
        "malloc() accepts every size from 1 to max_size() and the object round-trips"),
    "bad-sizes-refused": (
        "malloc() with a size < 1 or > max_size() raises zbench.AllocationError (code ENOSPC, "
        "EINVAL or ENOMEM) and changes nothing"),
    "free-releases-pages": (
        "free() gives pages back as the allocator's rules say: it never grows the pool, a "
        "pool with no live objects holds no pages (unless the allocator declares otherwise), "
        "every page dropped goes back to PageFrames, and the pool stays within the page "
        "bounds the allocator's rules give for its live objects"),
    "stats-add-up": (
        "pool_pages() equals the page frames the pool holds in its PageFrames; "
        "sum of live object sizes <= slot_bytes() <= pool_pages() * PAGE_SIZE (slot_bytes() "
        "is 0 or None when nothing is live); compact() returns the pages it freed; stats() "
        "maps names to numbers"),
    "migration-keeps-contents": (
        "migrating a pool page (isolate_page, migrate_page into a new frame, the old frame "
        "freed) moves its objects without changing a byte of any object or growing the pool, "
        "and an allocator that follows migration rules moves its unmapped pages"),
    "reclaim-frees-a-page": (
        "on an evictable allocator, reclaim_page() calls evict() on live objects only, frees "
        "a page when the callback frees them, and leaves the other objects intact"),
    # front ends (zbench.testing.FrontEndContract)
    "frontend-round-trip": (
        "every page stored at an offset loads back byte-identical (load() and peek()) until "
        "it is invalidated or stored over, while other pages are stored, invalidated and "
        "compacted; an offset holding no page loads as None"),
    "frontend-offsets": "offsets() lists exactly the offsets that hold a page",
    "frontend-peek-changes-nothing": (
        "peek() returns what load() would and changes neither offsets(), metrics() nor the "
        "pool"),
    "frontend-metrics": (
        "metrics() maps names to finite numbers and always has stored_pages, "
        "same_filled_pages, huge_pages, compressed_bytes and object_bytes (none negative); "
        "with every page invalidated stored_pages, compressed_bytes, object_bytes and the "
        "allocator's pool_pages() are 0"),
    "frontend-runs": (
        "the front end drives the contract's allocator (supports() is None) and runs in a "
        "suite, every load verified"),
    # compressors (zbench.testing.CompressorContract)
    "compressor-round-trip": "decompress(compress(page), PAGE_SIZE) returns the page",
    "compressor-deterministic": (
        "compressing the same page twice gives the same bytes (results are cached by "
        "params())"),
    "compressor-identity": (
        "library_version() is a non-empty string; params() is a JSON-serialisable mapping"),
    # workloads (zbench.testing.WorkloadContract)
    "workload-deterministic": "the same seed and corpus give the same operations",
    "workload-valid-ops": (
        "operations() yields zbench.Op records: STORE of a corpus page (or of an explicit size "
        "when sized_stores), LOAD / INVALIDATE of an offset, COMPACT, MIGRATE and "
        "PHASE (named by a label); and it ends"),
    "workload-runs": "the workload runs through a front end and an allocator, every load verified",
}


def kind_of(rule: str) -> str:
    head = rule.split("-", 1)[0]
    return head if head in ("compressor", "workload", "frontend") else "allocator"


class ContractViolation(AssertionError):
    """A broken contract rule; ``rule`` is its id in :data:`RULES`."""

    def __init__(self, rule: str, who: str, detail: str) -> None:
        self.rule = rule
        self.detail = detail
        super().__init__(
            f"zbench {kind_of(rule)} contract: rule '{rule}' broken by {who}: {detail}\n"
            f"  rule: {RULES[rule]}")
