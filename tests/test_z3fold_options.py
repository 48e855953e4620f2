"""z3fold plugin options, header-size decision, version rules and registration."""

from __future__ import annotations

import pytest
import zbench_z3fold
from pydantic import ValidationError
from zbench_z3fold import Z3foldPool, Z3Options
from zbench_z3fold.layout import HEADER_FIELDS, header_bytes, header_era, struct_size
from zbench_z3fold.rules import Z3Rules

from zbench import Allocator, KernelVersion, Mobility, OptionsError, PageFrames
from zbench.api.options import parse_options


def test_defaults() -> None:
    o = Z3Options()
    assert o.kernel == KernelVersion("6.14")
    assert o.header_chunks == 2
    pool = Z3foldPool(o, PageFrames())
    assert pool.kernel == "6.14 mm/z3fold.c (header 2 chunks)"
    assert pool.max_size() == 4096
    assert pool.compact() == 0
    assert "CPU" in pool.simplifications and "synchronous" in pool.simplifications
    assert isinstance(pool, Allocator) and Z3foldPool.name == "z3fold"


def test_kernel_string_one_chunk() -> None:
    pool = Z3foldPool(Z3Options(kernel="4.8"), PageFrames())
    assert pool.kernel == "4.8 mm/z3fold.c (header 1 chunk)"


@pytest.mark.parametrize("kernel", ["4.7", "3.14", "4.0"])
def test_too_old_refused(kernel: str) -> None:
    with pytest.raises(ValidationError, match=r"z3fold exists from kernel 4\.8"):
        Z3Options(kernel=kernel)


@pytest.mark.parametrize("kernel", ["6.15", "6.18", "7.0"])
def test_removed_refused(kernel: str) -> None:
    msg = r"^s\.yaml: o\.kernel: .*removed in 6\.15.*4\.8 - 6\.14"
    with pytest.raises(OptionsError, match=msg):
        parse_options(Z3Options, {"kernel": kernel}, "s.yaml: o")


def test_kernel_float_refused() -> None:
    with pytest.raises(OptionsError, match="quote it"):
        parse_options(Z3Options, {"kernel": 6.1}, "o")


@pytest.mark.parametrize(("kernel", "chunks"), [
    ("4.8", 1), ("4.10", 1), ("4.11", 1), ("4.13", 1), ("4.14", 2), ("5.1", 2),
    ("5.2", 2), ("5.4", 2), ("5.5", 2), ("6.1", 2), ("6.14", 2),
])
def test_default_header_by_version(kernel: str, chunks: int) -> None:
    assert Z3Options(kernel=kernel).header_chunks == chunks


def test_header_struct_sizes() -> None:
    # hand-computed x86-64 layouts (see layout.py): 16 + 5 shorts = 26 -> 32;
    # + lock + kref = 34 -> 40; + work(32 @24) + ptr + short = 76 -> 80; 5.5: 84 -> 88
    assert struct_size(HEADER_FIELDS["4.8"]) == 32
    assert struct_size(HEADER_FIELDS["4.11"]) == 40
    assert struct_size(HEADER_FIELDS["4.14"]) == 80
    assert struct_size(HEADER_FIELDS["5.2"]) == 80
    assert struct_size(HEADER_FIELDS["5.5"]) == 88
    assert header_era(KernelVersion("6.1")) == "5.5"
    assert header_era(KernelVersion("5.4")) == "5.2"
    assert header_bytes(KernelVersion("4.13")) == 40
    assert header_bytes(KernelVersion("4.14")) == 80


def test_struct_size_padding() -> None:
    assert struct_size([("char", 1, 1), ("long", 8, 8), ("short", 2, 2)]) == 24


@pytest.mark.parametrize(("kernel", "value"), [("6.14", 1), ("4.11", 2), ("4.13", 2),
                                               ("4.8", 1), ("6.1", 2)])
def test_header_override_accepted(kernel: str, value: int) -> None:
    o = parse_options(Z3Options, {"kernel": kernel, "header_chunks": str(value)}, "--set")
    assert o.header_chunks == value


@pytest.mark.parametrize(("kernel", "value", "msg"), [
    ("6.14", 3, "1 or 2"), ("6.14", 0, "1 or 2"), ("4.8", 2, "hard-codes"),
    ("4.10", 2, "hard-codes"),
])
def test_header_override_refused(kernel: str, value: int, msg: str) -> None:
    with pytest.raises(OptionsError, match=rf"allocators\[0\]\.options\.header_chunks: .*{msg}"):
        parse_options(Z3Options, {"kernel": kernel, "header_chunks": value},
                      "allocators[0].options")


def test_unknown_option_refused() -> None:
    with pytest.raises(OptionsError, match="chain_size"):
        parse_options(Z3Options, {"chain_size": 4}, "x")


@pytest.mark.parametrize(
    ("kernel", "legacy", "big_gap", "deferred", "indirect", "inter", "gfb", "lru"), [
        ("4.8", True, False, False, False, False, False, True),
        ("4.10", True, False, False, False, False, False, True),
        ("4.11", False, True, False, False, False, False, True),
        ("4.14", False, True, True, False, False, False, True),
        ("5.1", False, True, True, False, False, False, True),
        ("5.2", False, True, True, True, False, False, True),
        ("5.5", False, True, True, True, True, False, True),
        ("5.11", False, True, True, True, True, True, True),
        ("6.4", False, True, True, True, True, True, True),
        ("6.5", False, True, True, True, True, True, False),
        ("6.14", False, True, True, True, True, True, False),
    ])
def test_rules_by_version(kernel: str, legacy: bool, big_gap: bool, deferred: bool,
                          indirect: bool, inter: bool, gfb: bool, lru: bool) -> None:
    r = Z3Rules.for_options(Z3Options(kernel=kernel))
    assert (r.legacy_nfree, r.big_gap_compaction, r.deferred_compaction, r.indirect_handles,
            r.inter_page, r.get_free_buddy, r.lru) == (
        legacy, big_gap, deferred, indirect, inter, gfb, lru)


@pytest.mark.parametrize(("kernel", "mobility"), [("4.8", Mobility.UNMOVABLE),
                                                  ("5.1", Mobility.UNMOVABLE),
                                                  ("5.2", Mobility.MOVABLE),
                                                  ("6.14", Mobility.MOVABLE)])
def test_frame_mobility(kernel: str, mobility: Mobility) -> None:
    frames = PageFrames()
    pool = Z3foldPool(Z3Options(kernel=kernel), frames)
    pool.malloc(100)
    pool.malloc(4000)  # headless
    for pfn in frames.pfns():
        assert frames.info(pfn).owner == "z3fold"
        assert frames.info(pfn).mobility is mobility


@pytest.mark.parametrize(("kernel", "evictable"), [("4.8", True), ("6.4", True),
                                                   ("6.5", False), ("6.14", False)])
def test_evictable(kernel: str, evictable: bool) -> None:
    assert Z3foldPool(Z3Options(kernel=kernel), PageFrames()).evictable() is evictable


def test_registration_hook() -> None:
    got: list[type] = []
    zbench_z3fold.register_allocators(got.append)
    assert got == [Z3foldPool]


def test_plain_options_converted() -> None:
    from zbench import PluginOptions

    pool = Z3foldPool(PluginOptions(), PageFrames())
    assert pool.options == Z3Options()


def test_describe_tables() -> None:
    rows = Z3foldPool.describe(Z3Options(kernel="6.14"))
    # 2-chunk header: sizes up to 4096 - 128 - 64 = 3904 = 61 chunks, then headless
    assert len(rows) == 62
    assert rows[0] == {"chunks": 1, "min_size": 1, "max_size": 64, "slot_bytes": 64,
                       "per_page": 3}
    assert rows[20]["chunks"] == 21 and rows[20]["per_page"] == 2  # 63 > 62 chunks
    assert rows[30]["per_page"] == 2 and rows[31]["per_page"] == 1  # 31*2 = 62, 32*2 > 62
    assert rows[-1] == {"chunks": "headless", "min_size": 3905, "max_size": 4096,
                        "slot_bytes": 4096, "per_page": 1}
    s = Z3foldPool.describe_summary(Z3Options(kernel="6.14"))
    assert s["header_chunks"] == 2 and s["nchunks"] == 62 and s["headless_above"] == 3904
    assert s["sizeof_z3fold_header"].startswith("88 B")
    assert s["handles"].startswith("indirect") and s["lru_reclaim"].startswith("no")
    s48 = Z3foldPool.describe_summary(Z3Options(kernel="4.8"))
    assert s48["nchunks"] == 63 and s48["headless_above"] == 3968
    assert s48["handles"] == "direct" and s48["pages"] == "unmovable"
    assert s48["sizeof_z3fold_header"].startswith("64 B fixed")
    assert len(Z3foldPool.describe(Z3Options(kernel="4.8"))) == 63  # 62 chunk rows + headless
