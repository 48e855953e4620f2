"""The ``classes=rfc-2026-chain`` option: the 2026 RFC "zsmalloc: size-classes chain-length
tunings" (docs/zsmalloc-rfc.md).

The reference here is written from the RFC, not from the plugin:

* patch 1 ("drop hard limit on the number of size classes"): ``ZS_SIZE_CLASS_DELTA = 16``
  whatever ``PAGE_SIZE``, so ``ZS_SIZE_CLASSES = DIV_ROUND_UP(PAGE_SIZE - 32, 16) + 1``;
* patch 2 ("chain-length configuration should consider other metrics"), as its
  simulator ``simulate_zsmalloc.c`` (e07db98a) codes it: power-of-two sizes keep one
  page; lengths 1, 2, ... are tried, a zero-waste length wins at once, a length
  replaces the best if the best wastes over 10 % of its chain and this one less, or if
  this one wastes under 3/4 of the best; the search stops once the best wastes at most
  1/64 of its chain;
* unchanged: ``ZS_MIN_ALLOC_SIZE``, the downward walk with ``can_merge`` and the
  ``huge_class_size`` rule (as tests/test_zsmalloc_page_sizes.py states them).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from zbench_zsmalloc import ZsOptions, ZsPool
from zbench_zsmalloc.rfc import spanning_objects
from zbench_zsmalloc.stats import class_table

import zbench
from zbench import OptionsError, PageFrames
from zbench.api.options import parse_options

RFC = "rfc-2026-chain"
Row = tuple[int, int, int, int]  # (index, size, pages per zspage, objects per zspage)


def ref_chain(size: int, chain: int, page: int) -> int:
    """Patch 2's chain length, written as a scan over (waste, length) pairs."""
    if size & (size - 1) == 0:
        return 1
    wastes = [(n, (n * page) % size) for n in range(1, chain + 1)]
    best, best_waste = wastes[0]
    if best_waste == 0:
        return best
    for n, waste in wastes[1:]:
        if best_waste * 64 <= best * page:  # good enough: stop
            break
        if waste == 0:
            return n
        wasteful = 10 * best_waste > best * page
        if (wasteful and waste < best_waste) or (not wasteful and 4 * waste < 3 * best_waste):
            best, best_waste = n, waste
    return best


def ref_table(page: int, chain: int) -> tuple[list[Row], int, int]:
    """Created classes ascending, huge_class_size, raw indices."""
    shift = int(math.log2(page))
    min_alloc = max(32, (chain << shift) >> (64 - (52 - shift)))
    nr = math.ceil((page - min_alloc) / 16) + 1
    created: list[Row] = []
    huge = 0
    for i in reversed(range(nr)):
        size = min(min_alloc + 16 * i, page)
        pages = ref_chain(size, chain, page)
        objs = pages * page // size
        if pages != 1 and objs != 1 and huge == 0:
            huge = size - 7
        if created and created[-1][2:] == (pages, objs):
            continue
        created.append((i, size, pages, objs))
    return sorted(created), huge, nr


@pytest.mark.parametrize("page", [4096, 16384, 65536])
@pytest.mark.parametrize("chain", [4, 8, 10, 16])
def test_class_table_matches_reference(page: int, chain: int) -> None:
    opts = ZsOptions(kernel="6.18", chain_size=chain, page_size=page, classes=RFC)
    expected, huge, nr = ref_table(page, chain)
    rows = ZsPool.describe(opts)
    assert [(r["class"], r["size"], r["pages_per_zspage"], r["objs_per_zspage"])
            for r in rows] == expected
    table = class_table(opts)
    assert len(table.by_index) == nr and table.class_delta == 16
    assert table.huge_class_size == huge
    summary = ZsPool.describe_summary(opts)
    assert summary["rule"] == RFC and summary["size_classes"] == len(expected)
    assert summary.get("class_step", 16) == 16


def chain_0907fa9f(size: int, chain: int, page: int) -> int:
    """The simulator's earlier version (0907fa9f): the stop test comes first in each step
    and there is no zero-waste return; the first length is taken (INT_MAX start)."""
    if size & (size - 1) == 0:
        return 1
    best, best_waste = 1, (1 * page) % size
    for n in range(2, chain + 1):
        if best_waste <= best * page // 64:
            break
        waste = (n * page) % size
        if best_waste * 10 > best * page:
            if waste < best_waste:
                best, best_waste = n, waste
        elif waste < best_waste * 3 // 4:
            best, best_waste = n, waste
    return best


@pytest.mark.parametrize("page", [4096, 16384, 65536])
def test_both_simulator_versions_agree(page: int) -> None:
    """Which simulator version the posted patch carried does not change any table."""
    for chain in range(4, 17):
        table = class_table(ZsOptions(chain_size=chain, page_size=page, classes=RFC))
        for c in table.by_index:
            assert c.pages_per_zspage == chain_0907fa9f(c.size, chain, page), (chain, c)


@pytest.mark.parametrize(("page", "raw"), [(4096, 255), (16384, 1023), (65536, 4095)])
def test_raw_class_count(page: int, raw: int) -> None:
    """Patch 1: the 256-class limit goes; 4 KiB pages keep their 255 indices."""
    assert len(class_table(ZsOptions(page_size=page, classes=RFC)).by_index) == raw


def test_cover_letter_16k_cluster() -> None:
    """Patch 1's example (16 KiB, chain 8): the merged rules round 1072..1104 up to the
    1120-byte class (8 pages, 117 objects, 32 bytes tail); with the 16-byte step 1072
    (4 pages, 61 objects, 144 bytes tail) and 1088 (1 page, 15 objects, 64 bytes) are
    classes of their own, as the letter's table shows.  That table is patch 1 alone: with
    patch 2 too, 1120 takes 2 pages (288 bytes tail, under 3/4 of one page's 704)."""
    merged = class_table(ZsOptions(chain_size=8, page_size=16384))
    rfc = class_table(ZsOptions(chain_size=8, page_size=16384, classes=RFC))
    for size in (1072, 1088, 1104):
        c = merged.class_for(size - 8)
        assert (c.size, c.pages_per_zspage, c.objs_per_zspage) == (1120, 8, 117)
    got = [(c.size, c.pages_per_zspage, c.objs_per_zspage, c.waste)
           for c in (rfc.class_for(n - 8) for n in (1072, 1088, 1120))]
    assert got == [(1072, 4, 61, 144), (1088, 1, 15, 64), (1120, 2, 29, 288)]


def test_shorter_chains_fewer_spanning_objects() -> None:
    """Patch 2's aim at 4 KiB: no class gets a longer chain than under the merged rule,
    and the table as a whole holds fewer objects that span two pages."""
    merged = class_table(ZsOptions(chain_size=8))
    rfc = class_table(ZsOptions(chain_size=8, classes=RFC))
    assert all(r.pages_per_zspage <= m.pages_per_zspage
               for m, r in zip(merged.by_index, rfc.by_index, strict=True))

    def spans(t: Any) -> int:
        return sum(spanning_objects(c.size, c.pages_per_zspage, 4096) for c in t.by_index)

    assert spans(rfc) < spans(merged)
    assert spanning_objects(1568, 5, 4096) == 4 and spanning_objects(2048, 1, 4096) == 0


def test_merged_is_default_and_not_serialised() -> None:
    default, explicit = ZsOptions(), ZsOptions(classes="merged")
    assert default == explicit
    assert explicit.model_dump(mode="json") == {"kernel": "6.18", "chain_size": 8}
    assert ZsPool.describe(default) == ZsPool.describe(explicit)
    assert ZsPool.describe_summary(default)["rule"] == "min-waste"
    rfc = ZsOptions(classes=RFC)
    assert rfc.model_dump(mode="json")["classes"] == RFC
    assert ZsOptions.model_validate(rfc.model_dump()).classes == RFC


def test_pool_uses_the_rfc_table() -> None:
    opts = ZsOptions(classes=RFC)
    pool = ZsPool(opts, PageFrames())
    got = [(c.index, c.pages_per_zspage) for c in pool.table.distinct]
    assert got == [(c.index, c.pages_per_zspage) for c in class_table(opts).distinct]
    assert got != [(c.index, c.pages_per_zspage)
                   for c in ZsPool(ZsOptions(), PageFrames()).table.distinct]


@pytest.mark.parametrize(("values", "start"), [
    ({"classes": "rfc-2025"}, "s.yaml: allocators[0].options.classes: "),
    ({"classes": RFC, "kernel": "6.2"},
     "s.yaml: allocators[0].options.classes: classes=rfc-2026-chain rewrites "
     "calculate_zspage_chain_size(), which exists from kernel 6.3"),
])
def test_bad_classes_refused(values: dict[str, str], start: str) -> None:
    with pytest.raises(OptionsError) as exc:
        parse_options(ZsOptions, values, "s.yaml: allocators[0].options")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(start)
    if values["classes"] != RFC:
        assert "rfc-2026-chain" in msg


def _fill(options: dict[str, Any]) -> dict[str, Any]:
    res = zbench.run_suite({
        "dumps": [str(zbench.default_dump_path())], "compressors": ["lz4"],
        "frontends": ["zram"], "allocators": [{"name": "zsmalloc", "options": options}],
        "workloads": ["fill"], "verify": True,
    }, quiet=True)
    (case,) = res["cases"]
    return dict(case["metrics"])


def test_fill_of_shipped_dump_stores_and_verifies() -> None:
    """The RFC table runs a verified fill of dumps/default.zbdump (figures of
    docs/zsmalloc-rfc.md: 2023 pool pages merged, 1955 with the RFC, lz4)."""
    rfc = _fill({"kernel": "6.18", "classes": RFC})
    merged = _fill({"kernel": "6.18"})
    assert rfc["stored_pages"] == merged["stored_pages"] == 4096
    assert rfc["verified_loads"] == merged["verified_loads"] > 0
    assert (merged["pool_pages"], merged["size_classes"]) == (2023, 119)
    assert (rfc["pool_pages"], rfc["size_classes"]) == (1955, 128)
    assert rfc["page_crossing_copies"] < merged["page_crossing_copies"]
