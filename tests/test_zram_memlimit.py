"""zram's ``mem_limit`` (drivers/block/zram/zram_drv.c ``mem_limit_store``,
``zram_write_page``): memparse text, ``PAGE_ALIGN`` to pages, the check after
``zs_malloc`` of the new object and before ``zram_free_page`` of the old one, the old slot
kept on -ENOMEM, ``failed_writes``, same-filled pages never refused, the shipped dump
under a limit with every load verified, and bad input (one line)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from zbench_compressors import Lz4
from zbench_zram.frontend import Zram, ZramOptions
from zbench_zram.writeback import limit_pages, memparse
from zbench_zsmalloc import ZsOptions, ZsPool

from zbench import PAGE_SIZE, OptionsError, PageFrames, default_dump_path, run_suite

LZ4 = Lz4(Lz4.Options())
RANDOM = [random.Random(s).randbytes(PAGE_SIZE) for s in range(4)]  # lz4: huge
TEXT = (b"zram mem_limit " * 300)[:PAGE_SIZE]
ZERO = bytes(PAGE_SIZE)


class P:
    def __init__(self, data: bytes) -> None:
        self.data, self.clean = data, False
        self.compressed = LZ4.compress(data)


def _zram(mem_limit: int | str, kernel: str = "6.12") -> Zram:
    opts = ZramOptions.model_validate({"kernel": kernel, "mem_limit": mem_limit})
    return Zram(opts, ZsPool(ZsOptions(kernel=kernel), PageFrames(PAGE_SIZE)), LZ4)


@pytest.mark.parametrize(("text", "size"), [
    ("4M", 4 << 20), ("256K", 256 << 10), ("1G", 1 << 30), ("1g", 1 << 30),
    ("0x1000", 4096), ("010", 8), ("0", 0), ("5000", 5000), (" 2k ", 2048),
])
def test_memparse(text: str, size: int) -> None:
    assert memparse(text) == size


@pytest.mark.parametrize(("limit", "pages"), [(0, 0), (1, 1), (4096, 1), (4097, 2),
                                              ("4M", 1024)])
def test_limit_is_page_aligned_up(limit: int | str, pages: int) -> None:
    assert limit_pages(limit) == pages


def test_a_write_over_the_limit_fails_and_the_caller_keeps_the_page() -> None:
    """One page allowed: the second huge page's zs_malloc takes the pool to 2 pages,
    update_used_max records 2, the object is freed, -ENOMEM; the page stays with the
    caller (its loads come from there) and nothing stored changes."""
    fe = _zram("4K")
    fe.store(0, P(RANDOM[0]))
    fe.store(1, P(RANDOM[1]))
    m = fe.metrics()
    assert (m["failed_writes"], m["mem_limit_pages"], m["stored_pages"]) == (1, 1, 1)
    assert m["mem_used_max_pages"] == 2 and fe.allocator.pool_pages() == 1
    assert m["huge_pages"] == 1 and m["compressed_bytes"] == PAGE_SIZE
    assert fe.load(1) == RANDOM[1] and fe.handle_of(1) is None
    assert sorted(fe.offsets()) == [0, 1]
    fe.invalidate(1)
    assert fe.load(1) is None and fe.offsets() == [0]


def test_the_new_object_is_allocated_before_the_old_one_is_freed() -> None:
    """An overwrite needs room for both objects (zs_malloc comes before zram_free_page):
    at the limit it fails, and the slot still holds the old page."""
    fe = _zram("4K")
    fe.store(0, P(RANDOM[0]))
    handle = fe.handle_of(0)
    fe.store(0, P(RANDOM[1]))
    assert fe.metrics()["failed_writes"] == 1
    assert fe.handle_of(0) == handle and fe._read_slot(fe._table[0]) == RANDOM[0]
    assert fe.load(0) == RANDOM[1]  # the caller's copy
    fe.invalidate(0)  # discard: the old slot is freed
    assert fe.allocator.pool_pages() == 0 and fe.metrics()["stored_pages"] == 0
    fe.store(0, P(RANDOM[1]))
    assert fe.load(0) == RANDOM[1] and fe.metrics()["failed_writes"] == 1


def test_same_filled_pages_take_no_allocation_and_are_never_refused() -> None:
    fe = _zram("4K")
    fe.store(0, P(RANDOM[0]))
    fe.store(1, P(TEXT))  # a new zspage for its class: over the limit
    fe.store(2, P(ZERO))
    m = fe.metrics()
    assert m["failed_writes"] == 1 and m["same_filled_pages"] == 1
    assert m["stored_pages"] == 2 and fe.load(2) == ZERO


def test_no_limit_and_a_limit_never_reached_fail_nothing() -> None:
    for limit in (0, "1G"):
        fe = _zram(limit)
        for off, page in enumerate(RANDOM + [TEXT]):
            fe.store(off, P(page))
        assert fe.metrics()["failed_writes"] == 0
        assert fe.metrics()["stored_pages"] == 5


# -- the shipped dump ------------------------------------------------------------------------
def _suite(fe: dict[str, Any], kernel: str = "6.12") -> dict[str, Any]:
    return {"name": "memlimit", "seed": 1, "verify": True,
            "dumps": [str(default_dump_path())], "compressors": ["lz4"],
            "frontends": [{"name": "zram", "options": {"kernel": kernel, **fe}}],
            "allocators": [{"name": "zsmalloc", "options": {"kernel": kernel}}],
            "workloads": ["fill"]}


def _metrics(fe: dict[str, Any]) -> Any:
    case = run_suite(_suite(fe), quiet=True)["cases"][0]
    assert "failed" not in case, case.get("failed")
    return case["metrics"]


def test_fill_under_2m_stays_under_the_limit_and_every_load_verifies() -> None:
    plain = _metrics({})
    m = _metrics({"mem_limit": "2M"})
    assert m["mem_limit_pages"] == 512 and plain["pool_pages"] > 512
    assert m["pool_pages"] <= 512 < m["mem_used_max_pages"]
    assert m["failed_writes"] > 0
    assert m["stored_pages"] + m["failed_writes"] == plain["stored_pages"]
    assert m["verified_loads"] == plain["verified_loads"]
    assert "failed_writes" not in plain and "mem_limit_pages" not in plain


def test_mem_limit_zero_changes_no_figure_of_a_fill() -> None:
    """fill writes each offset once: the allocation order of overwrites never comes in."""
    plain = _metrics({})
    m = _metrics({"mem_limit": 0})
    assert m.pop("failed_writes") == 0 and m.pop("mem_limit_pages") == 0
    drop = {"elapsed_s"}
    assert {k: v for k, v in m.items() if k not in drop} == {
        k: v for k, v in plain.items() if k not in drop}


@pytest.mark.parametrize(("options", "message"), [
    ({"mem_limit": "4Q"}, "mem_limit: '4Q' is not a size"),
    ({"mem_limit": "lots"}, "mem_limit: 'lots' is not a size"),
    ({"mem_limit": ""}, "mem_limit: '' is not a size"),
    ({"mem_limit": -1}, "mem_limit: -1 is negative"),
    ({"kernel": "3.16", "mem_limit": "4M"}, "zram mem_limit appeared in 3.18 (kernel 3.16)"),
])
def test_bad_mem_limit_is_a_one_line_options_error(options: dict[str, Any],
                                                   message: str) -> None:
    rest = dict(options)
    kernel = rest.pop("kernel", "6.12")
    with pytest.raises(OptionsError) as err:
        run_suite(_suite(rest, kernel), quiet=True)
    text = str(err.value)
    assert message in text and "\n" not in text, text
