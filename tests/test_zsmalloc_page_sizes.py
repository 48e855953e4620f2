"""zsmalloc's class geometry for 16 KiB and 64 KiB pages (the ``page_size`` option).

The reference here is written from mm/zsmalloc.c, not from the plugin: for a build's
PAGE_SIZE (PAGE_SHIFT = log2 PAGE_SIZE),

* ``ZS_SIZE_CLASS_DELTA = PAGE_SIZE >> CLASS_BITS`` with ``CLASS_BITS = 8``;
* ``OBJ_INDEX_BITS = BITS_PER_LONG - (MAX_POSSIBLE_PHYSMEM_BITS - PAGE_SHIFT)`` (64, 52);
* ``ZS_MIN_ALLOC_SIZE = MAX(32, ZS_MAX_PAGES_PER_ZSPAGE << PAGE_SHIFT >> OBJ_INDEX_BITS)``;
* ``ZS_SIZE_CLASSES = DIV_ROUND_UP(PAGE_SIZE - ZS_MIN_ALLOC_SIZE, DELTA) + 1``;
* class i: ``min(ZS_MIN_ALLOC_SIZE + i * DELTA, PAGE_SIZE)``; pages per zspage by
  ``get_pages_per_zspage`` (<= 6.2, highest integer used-percent) or
  ``calculate_zspage_chain_size`` (>= 6.3, least waste); ``zs_create_pool`` walks i
  downwards, merges a class into the last created one on equal (pages, objects)
  (``can_merge``), and the first class with pages != 1 and objects != 1 gives
  ``huge_class_size = size - (ZS_HANDLE_SIZE - 1)``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from zbench_zsmalloc import ZsOptions, ZsPool
from zbench_zsmalloc.stats import class_table

from zbench import CaseSkipped, OptionsError, PageFrames
from zbench.api.options import parse_options
from zbench.api.registry import get_registry
from zbench.run.runner import expand
from zbench.run.suite import parse_suite

ROOT = Path(__file__).resolve().parent.parent

Row = tuple[int, int, int, int]  # (index, size, pages per zspage, objects per zspage)


def ref_pages(size: int, chain: int, page: int, rule: str) -> int:
    """Pages per zspage for a class of ``size`` bytes, first best length winning."""
    lengths = range(1, chain + 1)
    if rule == "min-waste":
        if size & (size - 1) == 0:  # is_power_of_2()
            return 1
        return min(lengths, key=lambda n: ((n * page) % size, n))
    return min(lengths, key=lambda n: (-(((n * page) - (n * page) % size) * 100 // (n * page)), n))


def ref_geometry(page: int, chain: int) -> tuple[int, int, int]:
    """(ZS_MIN_ALLOC_SIZE, ZS_SIZE_CLASS_DELTA, ZS_SIZE_CLASSES)."""
    shift = int(math.log2(page))
    index_bits = 64 - (52 - shift)
    min_alloc = max(32, (chain << shift) >> index_bits)
    delta = page >> 8
    return min_alloc, delta, math.ceil((page - min_alloc) / delta) + 1


def ref_table(page: int, chain: int, rule: str) -> tuple[list[Row], int, int]:
    """The created classes ascending, huge_class_size, and the number of raw indices
    merged into a larger class."""
    min_alloc, delta, nr = ref_geometry(page, chain)
    created: list[Row] = []
    huge = 0
    for i in reversed(range(nr)):
        size = min(min_alloc + i * delta, page)
        pages = ref_pages(size, chain, page, rule)
        objs = pages * page // size
        if pages != 1 and objs != 1 and huge == 0:
            huge = size - 7
        if created and created[-1][2:] == (pages, objs):
            continue
        created.append((i, size, pages, objs))
    return sorted(created), huge, nr - len(created)


# every chain size the rules allow: 4..16 from 6.3 (both 6.3 and the newest rules),
# the fixed 4 before (used-percent rule)
RULE_CASES = ([("6.18", c) for c in range(4, 17)] + [("6.3", 4), ("6.3", 16)]
              + [("6.2", None), ("5.10", None), ("4.1", None)])


@pytest.mark.parametrize("page", [16384, 65536])
@pytest.mark.parametrize(("kernel", "chain"), RULE_CASES)
def test_class_table_matches_reference(page: int, kernel: str, chain: int | None) -> None:
    opts = ZsOptions(kernel=kernel, chain_size=chain, page_size=page)
    rule = "min-waste" if opts.kernel >= "6.3" else "used-percent"
    expected, huge, merged = ref_table(page, opts.chain, rule)
    rows = ZsPool.describe(opts)
    got = [(r["class"], r["size"], r["pages_per_zspage"], r["objs_per_zspage"]) for r in rows]
    assert got == expected
    for r in rows:
        assert r["waste"] == r["pages_per_zspage"] * page - r["objs_per_zspage"] * r["size"]
        assert r["huge"] == (r["pages_per_zspage"] == 1 and r["objs_per_zspage"] == 1)
    assert ZsPool.describe_summary(opts) == {
        "kernel": str(opts.kernel), "chain_size": opts.chain, "size_classes": len(expected),
        "huge_class_size": huge, "rule": rule, "page_size": page, "class_step": page >> 8,
    }
    table = class_table(opts)
    assert len(table.by_index) - len(table.distinct) == merged
    assert table.min_alloc_size == ref_geometry(page, opts.chain)[0]


@pytest.mark.parametrize(("page", "chain", "raw", "classes", "huge"), [
    (16384, 4, 257, 70, 13081),
    (16384, 8, 257, 121, 14553),
    (16384, 16, 257, 192, 15385),
    (65536, 4, 257, 72, 52249),
    (65536, 8, 257, 123, 58137),
    (65536, 16, 257, 191, 61465),
])
def test_headline_figures(page: int, chain: int, raw: int, classes: int, huge: int) -> None:
    """The figures docs/models.md quotes (6.18 rules), held as numbers."""
    opts = ZsOptions(kernel="6.18", chain_size=chain, page_size=page)
    table = class_table(opts)
    assert (len(table.by_index), len(table.distinct), table.huge_class_size) == (
        raw, classes, huge)
    assert table.class_delta == page >> 8
    assert max(c.pages_per_zspage for c in table.distinct) == chain
    assert table.by_index[-1].size == page and table.by_index[-1].huge


def test_64k_table_of_expand_class_bit() -> None:
    """The patch "zsmalloc: expand class bit" (April 2017) lists 64 KiB classes: index 0 is
    32 B, 1 is 288 B, 204 is 52256 B and 256 is 65536 B, 257 indices in all (too many
    for an 8-bit class field); 204 is the largest class that is not huge."""
    opts = ZsOptions(kernel="4.11", page_size=65536)
    table = class_table(opts)
    sizes = {c.index: c.size for c in table.distinct}
    assert len(table.by_index) == 257
    assert [sizes[i] for i in (0, 1, 204, 256)] == [32, 288, 52256, 65536]
    assert table.huge_class_size == 52256 - 7
    assert [c.index for c in table.distinct if c.huge] == [256]


@pytest.mark.parametrize(("page", "chain"), [(16384, 8), (65536, 4)])
def test_huge_class_boundary(page: int, chain: int) -> None:
    """A request of huge_class_size bytes or more lands in the PAGE_SIZE class; one byte
    less fits the largest non-huge class once the 8-byte header is added."""
    table = class_table(ZsOptions(kernel="6.18", chain_size=chain, page_size=page))
    hcs = table.huge_class_size
    below = table.class_for(hcs - 1)
    assert not below.huge and below.size == hcs + 7
    for n in (hcs, hcs + 1, page - 8, page):
        c = table.class_for(n)
        assert c.huge and c.size == page and c.index == 256


def test_small_requests_16k() -> None:
    """The 64-byte step: up to 24 bytes (+ 8 header) -> 32 B; 25 -> 96 B; 89 -> 160 B."""
    table = class_table(ZsOptions(page_size=16384))
    assert [table.class_for(n).size for n in (1, 24, 25, 88, 89)] == [32, 32, 96, 96, 160]


@pytest.mark.parametrize("page", [8192, 32768])
def test_other_powers_of_two(page: int) -> None:
    """Every power of two in range is a PAGE_SIZE some architecture builds (8 KiB on
    sparc64, 32 KiB on MIPS); the same formulas give its table."""
    opts = ZsOptions(page_size=page)
    expected, huge, _ = ref_table(page, 8, "min-waste")
    got = [(r["class"], r["size"], r["pages_per_zspage"], r["objs_per_zspage"])
           for r in ZsPool.describe(opts)]
    assert got == expected and class_table(opts).huge_class_size == huge


def test_4k_unchanged_and_not_serialised() -> None:
    """page_size=4096 is the default: same table, and the serialised options (results,
    baselines) do not carry it; another page size is carried."""
    default, explicit = ZsOptions(), ZsOptions(page_size=4096)
    assert default == explicit
    assert ZsPool.describe(default) == ZsPool.describe(explicit)
    assert "page_size" not in ZsPool.describe_summary(explicit)
    assert explicit.model_dump(mode="json") == {"kernel": "6.18", "chain_size": 8}
    assert ZsOptions(page_size=65536).model_dump(mode="json")["page_size"] == 65536
    assert ZsOptions.model_validate(ZsOptions(page_size=16384).model_dump()).page_size == 16384


@pytest.mark.parametrize("value", [0, 1, 2048, 12288, 16385, 131072, -4096])
def test_bad_page_size_refused(value: int) -> None:
    with pytest.raises(OptionsError) as exc:
        parse_options(ZsOptions, {"page_size": value}, "s.yaml: allocators[0].options")
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("s.yaml: allocators[0].options.page_size: page_size must be a "
                          "power of two in 4096..65536")


def test_page_size_from_set_string() -> None:
    """``--set page_size=16384`` arrives as a string."""
    assert parse_options(ZsOptions, {"page_size": "16384"}, "--set").page_size == 16384


@pytest.mark.parametrize(("page", "frames_page", "reason"), [
    (16384, 4096, "page_size=16384 needs 16384-byte page frames, these are 4096-byte"),
    (65536, 4096, "page_size=65536 needs 65536-byte page frames, these are 4096-byte"),
])
def test_pool_refuses_other_page_sizes(page: int, frames_page: int, reason: str) -> None:
    """A ``page_size`` other than the default names the PAGE_SIZE the suite means: on
    frames of another size the case is skipped with a reason (the runner probes with the
    case's frames)."""
    with pytest.raises(CaseSkipped, match=reason) as exc:
        ZsPool(ZsOptions(page_size=page), PageFrames(page_size=frames_page))
    assert "\n" not in str(exc.value)
    assert "zbench inspect zsmalloc --set page_size=" in str(exc.value)


def test_pool_builds_on_4k_frames() -> None:
    pool = ZsPool(ZsOptions(page_size=4096), PageFrames())
    assert pool.max_size() == 4096 and pool.huge_class_size() == 3625


@pytest.mark.parametrize("page", [4096, 16384])
def test_pool_on_16k_frames_follows_them(page: int) -> None:
    """On 16 KiB frames a pool runs with ``page_size`` 16384 or the default 4096 (which
    follows the frames): ZS_MAX_ALLOC_SIZE and ``huge_class_size`` are the 16 KiB table's."""
    pool = ZsPool(ZsOptions(page_size=page), PageFrames(page_size=16384))
    assert pool.max_size() == 16384 and pool.huge_class_size() == 14553


def test_a_16k_case_is_planned_as_skipped() -> None:
    """In a suite, a 16 KiB zsmalloc case is skipped with the pool's reason while the
    4 KiB one beside it runs."""
    suite = parse_suite({
        "name": "pages", "seed": 1, "dumps": [str(ROOT / "dumps" / "default.zbdump")],
        "compressors": ["lz4"], "workloads": ["fill"],
        "allocators": ["zsmalloc", {"name": "zsmalloc", "label": "zs-16k",
                                    "options": {"page_size": 16384}}],
    }, "test")
    plan = expand(suite, ROOT, "test", get_registry())
    reasons = {c.allocator.label: c.skip_reason for c in plan.cases}
    assert reasons["zsmalloc"] == ""
    assert "page_size=16384 needs 16384-byte page frames" in reasons["zs-16k"]
