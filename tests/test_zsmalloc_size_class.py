"""zsmalloc size-class tables against an independent computation and published facts.

The reference here is written from mm/zsmalloc.c (get_size_class_index(),
get_pages_per_zspage() / calculate_zspage_chain_size(), can_merge() and
zs_create_pool()), not from the plugin: class i has size min(32 + 16 i, 4096);
ppz by the used-percent (<= 6.2) or min-waste (>= 6.3) rule; top-down merge with
the last created class on equal (ppz, objs); huge_class_size = (largest class
with ppz != 1 and objs != 1) - 7.
"""

from __future__ import annotations

import pytest
from zbench_zsmalloc import ZsOptions, ZsPool
from zbench_zsmalloc.rules import ChainRule
from zbench_zsmalloc.size_class import (
    build_class_table,
    calculate_zspage_chain_size,
    get_pages_per_zspage,
)

from zbench import PageFrames


def ref_ppz(size: int, chain: int, rule: str) -> int:
    cands = range(1, chain + 1)
    if rule == "min-waste":
        return min(cands, key=lambda n: ((n * 4096) % size, n))
    return min(cands, key=lambda n: (-((n * 4096 - (n * 4096) % size) * 100 // (n * 4096)), n))


def ref_table(chain: int, rule: str) -> tuple[list[tuple[int, int, int, int]], int]:
    """[(index, size, ppz, objs)] ascending, and huge_class_size."""
    created: list[tuple[int, int, int, int]] = []
    huge = 0
    for i in range(254, -1, -1):
        size = min(32 + 16 * i, 4096)
        ppz = ref_ppz(size, chain, rule)
        objs = ppz * 4096 // size
        if ppz != 1 and objs != 1 and not huge:
            huge = size - 7
        if created and created[-1][2:] == (ppz, objs):
            continue
        created.append((i, size, ppz, objs))
    return sorted(created), huge


CASES = [("6.18", c) for c in range(4, 17)] + [
    ("6.3", 8), ("6.3", 4), ("6.4", 12), ("6.10", 8),
    ("6.2", None), ("6.1", None), ("5.10", None), ("4.17", None), ("4.3", None), ("4.1", None),
]


@pytest.mark.parametrize(("kernel", "chain"), CASES)
def test_class_table_matches_reference(kernel: str, chain: int | None) -> None:
    opts = ZsOptions(kernel=kernel, chain_size=chain)
    rule = "min-waste" if opts.kernel >= "6.3" else "used-percent"
    expected, huge = ref_table(opts.chain, rule)
    rows = ZsPool.describe(opts)
    got = [(r["class"], r["size"], r["pages_per_zspage"], r["objs_per_zspage"]) for r in rows]
    assert got == expected
    for r in rows:
        assert r["waste"] == r["pages_per_zspage"] * 4096 - r["objs_per_zspage"] * r["size"]
        assert r["huge"] == (r["pages_per_zspage"] == 1 and r["objs_per_zspage"] == 1)
    summary = ZsPool.describe_summary(opts)
    assert summary == {
        "kernel": str(opts.kernel), "chain_size": opts.chain, "size_classes": len(expected),
        "huge_class_size": huge, "rule": rule,
    }


@pytest.mark.parametrize(("kernel", "chain", "classes", "huge"), [
    ("6.18", 8, 119, 3625),  # >= 6.4 default
    ("6.18", 4, 69, 3257),
    ("6.3", 8, 119, 3625),
    ("6.1", None, 69, 3257),  # <= 6.2: chain 4, used-percent rule
    ("4.1", None, 69, 3257),
])
def test_published_class_counts(kernel: str, chain: int | None, classes: int, huge: int) -> None:
    opts = ZsOptions(kernel=kernel, chain_size=chain)
    s = ZsPool.describe_summary(opts)
    assert (s["size_classes"], s["huge_class_size"]) == (classes, huge)
    pool = ZsPool(opts, PageFrames())
    assert pool.huge_class_size() == huge
    assert pool.stats()["size_classes"] == classes
    assert pool.stats()["huge_class_size"] == huge


def _row(kernel: str, chain: int | None, size: int) -> dict:
    rows = [r for r in ZsPool.describe(ZsOptions(kernel=kernel, chain_size=chain))
            if r["size"] == size]
    assert len(rows) == 1, f"no distinct class of size {size}"
    return rows[0]


def test_class_208_rule_change() -> None:
    """A5: class 208 wastes 144/80/16/160 B with 1..4 pages; the old rule (used%
    96/99/99/99) picks 2 pages, the min-waste rule 3."""
    assert [(n * 4096) % 208 for n in range(1, 5)] == [144, 80, 16, 160]
    old = _row("6.1", None, 208)
    assert (old["pages_per_zspage"], old["objs_per_zspage"]) == (2, 39)
    new = _row("6.3", 4, 208)
    assert (new["pages_per_zspage"], new["objs_per_zspage"]) == (3, 59)
    assert get_pages_per_zspage(208, 4) == 2
    assert calculate_zspage_chain_size(208, 4) == 3


def test_class_1568_chain_8() -> None:
    """A2: class #96 (1568 B) wastes 960, 352, 1312, 704, 96 B for 1..5 pages."""
    assert [(n * 4096) % 1568 for n in range(1, 6)] == [960, 352, 1312, 704, 96]
    row = _row("6.18", 8, 1568)
    assert (row["class"], row["pages_per_zspage"], row["objs_per_zspage"]) == (96, 5, 13)
    assert row["waste"] == 96


def test_documented_merges_chain_4() -> None:
    """Chain 4: class 94 (1536, ppz 3) serves raw 92-94; class 100 (1632, 2 pages,
    5 objs) serves 95-100 ("#95-99 merged into #100")."""
    pool = ZsPool(ZsOptions(kernel="6.18", chain_size=4), PageFrames())
    for raw, want in [(91, 91), (92, 94), (94, 94), (95, 100), (100, 100), (101, 107)]:
        request = 32 + 16 * raw - 8  # + 8-byte header -> exactly raw index `raw`
        assert pool.class_of(request).index == want, raw
    c100 = pool.class_of(32 + 16 * 100 - 8)
    assert (c100.size, c100.pages_per_zspage, c100.objs_per_zspage) == (1632, 2, 5)


def test_debugfs_sample_class_528() -> None:
    """A3 (chain-8 era doc): class 31, size 528, 4 pages per zspage -> 31 objects."""
    row = _row("6.18", 8, 528)
    assert (row["class"], row["pages_per_zspage"], row["objs_per_zspage"]) == (31, 4, 31)


def test_documentation_table_is_the_old_rule() -> None:
    """A1/A2: the Documentation chain table (123 classes at chain 8, 191 at 16, the
    chain-16 top classes) is the used-percent rule; the min-waste rule gives 119
    and 192, with 3440/16 instead of 3424/16."""
    old8 = build_class_table(8, ChainRule.USED_PERCENT, 12)
    assert len(old8.distinct) == 123
    old16 = build_class_table(16, ChainRule.USED_PERCENT, 12)
    new16 = build_class_table(16, ChainRule.MIN_WASTE, 12)
    assert len(old16.distinct) == 191 and len(new16.distinct) == 192
    top = [(c.size, c.pages_per_zspage) for c in old16.distinct if 3328 <= c.size < 4096]
    assert top == [(3328, 13), (3344, 9), (3360, 14), (3408, 5), (3424, 16), (3456, 11),
                   (3504, 6), (3536, 13), (3584, 7), (3600, 15), (3632, 8), (3680, 9),
                   (3712, 10), (3744, 11), (3776, 12), (3792, 13), (3808, 14), (3840, 15)]
    new_top = {(c.size, c.pages_per_zspage) for c in new16.distinct}
    assert (3440, 16) in new_top and (3424, 16) not in new_top
    # watermarks (largest non-huge class) per chain, both rules (A1)
    for chain, mark in [(4, 3264), (5, 3408), (6, 3504), (7, 3584), (8, 3632), (16, 3840)]:
        for rule in ChainRule:
            t = build_class_table(chain, rule, 12)
            assert t.huge_class_size == mark - 7, (chain, rule)


@pytest.mark.parametrize(("chain", "hcs", "largest"), [(8, 3625, 3632), (4, 3257, 3264)])
def test_huge_class_boundary(chain: int, hcs: int, largest: int) -> None:
    """Requests >= huge_class_size land in the 4096-byte huge class; one byte less
    fits the largest non-huge class once the 8-byte header is added."""
    frames = PageFrames()
    pool = ZsPool(ZsOptions(kernel="6.18", chain_size=chain), frames)
    below = pool.class_of(hcs - 1)
    assert not below.huge and below.size == largest
    for n in (hcs, hcs + 1, 4088, 4089, 4096):
        c = pool.class_of(n)
        assert c.huge and c.size == 4096 and c.index == 254
    h = pool.malloc(hcs)
    assert pool.pool_pages() == 1 and pool.slot_bytes() == 4096
    pool.free(h)
    assert pool.pool_pages() == 0


def test_class_lookup_small_sizes() -> None:
    """size + 8 <= 32 -> class 0 (32 B); 25 -> 33 -> raw index 1 (48 B)."""
    pool = ZsPool(ZsOptions(), PageFrames())
    assert pool.class_of(1).size == 32 and pool.class_of(24).size == 32
    assert pool.class_of(25).size == 48
    assert pool.class_of(40).size == 48 and pool.class_of(41).size == 64
