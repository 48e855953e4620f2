"""zbud plugin options, version rules, registration and the inspect tables."""

from __future__ import annotations

import pytest
import zbench_zbud
from pydantic import ValidationError
from zbench_zbud import ZbudOptions, ZbudPool

from zbench import Allocator, KernelVersion, Mobility, OptionsError, PageFrames, PluginOptions
from zbench.api.options import parse_options


def test_defaults() -> None:
    o = ZbudOptions()
    assert o.kernel == KernelVersion("6.14")
    pool = ZbudPool(o, PageFrames())
    assert pool.kernel == "6.14 mm/zbud.c"
    assert pool.max_size() == 3968
    assert pool.huge_class_size() is None
    assert "lock" in pool.simplifications and "ENOMEM" in pool.simplifications


@pytest.mark.parametrize("kernel", ["3.10", "2.6", "3.4"])
def test_kernel_before_zbud_refused(kernel: str) -> None:
    with pytest.raises(ValidationError, match=r"3\.11 \.\. 6\.14 .*added in 3\.11"):
        ZbudOptions(kernel=kernel)


@pytest.mark.parametrize("kernel", ["6.15", "6.18", "7.0"])
def test_kernel_after_removal_refused(kernel: str) -> None:
    with pytest.raises(ValidationError, match=r"removed in 6\.15"):
        ZbudOptions(kernel=kernel)
    with pytest.raises(OptionsError, match=r"^s\.yaml: o\.kernel: .*zbud was removed in 6\.15"):
        parse_options(ZbudOptions, {"kernel": kernel}, "s.yaml: o")


@pytest.mark.parametrize("kernel", ["3.11", "3.12", "4.19", "6.4", "6.5", "6.10", "6.14"])
def test_supported_kernels(kernel: str) -> None:
    assert parse_options(ZbudOptions, {"kernel": kernel}, "--set").kernel == KernelVersion(kernel)


def test_bad_option_values() -> None:
    with pytest.raises(OptionsError, match="read as a number"):
        parse_options(ZbudOptions, {"kernel": 6.1}, "x")
    with pytest.raises(OptionsError, match="chunk"):
        parse_options(ZbudOptions, {"chunk_size": 32}, "x")


# kernel -> (max size, LRU/evictable): 3.11 checked size > PAGE_SIZE - 64 (4032),
# 3.12 on size > PAGE_SIZE - 64 - 64 (3968); the LRU went away in 6.5
@pytest.mark.parametrize(("kernel", "max_size", "lru"), [
    ("3.11", 4032, True), ("3.12", 3968, True), ("5.10", 3968, True), ("6.4", 3968, True),
    ("6.5", 3968, False), ("6.14", 3968, False),
])
def test_rules_by_version(kernel: str, max_size: int, lru: bool) -> None:
    pool = ZbudPool(ZbudOptions(kernel=kernel), PageFrames())
    assert pool.max_size() == max_size
    assert pool.evictable() is lru
    assert pool.kernel == f"{kernel} mm/zbud.c"


def test_frames_are_unmovable_zbud_pages() -> None:
    frames = PageFrames()
    pool = ZbudPool(ZbudOptions(kernel="6.1"), frames)
    pool.malloc(100)
    info = frames.info(frames.pfns()[0])
    assert info.owner == "zbud" and info.mobility is Mobility.UNMOVABLE


def test_register_hook() -> None:
    got: list[type] = []
    zbench_zbud.register_allocators(register=got.append)
    assert got == [ZbudPool]
    assert issubclass(ZbudPool, Allocator) and ZbudPool.name == "zbud"
    assert ZbudPool.Options is ZbudOptions


def test_generic_options_are_converted() -> None:
    class Loose(PluginOptions):
        kernel: str = "6.1"

    pool = ZbudPool(Loose(), PageFrames())
    assert isinstance(pool.options, ZbudOptions)
    assert pool.kernel == "6.1 mm/zbud.c"


def test_describe_summary() -> None:
    s = ZbudPool.describe_summary(ZbudOptions(kernel="6.4"))
    assert (s["kernel"], s["chunk_size"], s["header_bytes"], s["nchunks"], s["max_size"],
            s["max_chunks"], s["buddies_per_page"]) == ("6.4", 64, 64, 63, 3968, 62, 2)
    assert s["lru"].startswith("yes")
    s = ZbudPool.describe_summary(ZbudOptions(kernel="6.5"))
    assert s["lru"].startswith("no")
    s = ZbudPool.describe_summary(ZbudOptions(kernel="3.11"))
    assert (s["max_size"], s["max_chunks"]) == (4032, 63)


def test_describe_rows_by_hand() -> None:
    rows = ZbudPool.describe(ZbudOptions())
    assert len(rows) == 62
    # 32 chunks: sizes 31*64+1 .. 32*64, leaves 63-32 = 31 chunks = 1984 B for a buddy
    r = rows[31]
    assert r == {"chunks": 32, "sizes": "1985-2048", "slot_bytes": 2048,
                 "free_chunks_alone": 31, "max_buddy_size": 1984}
    assert rows[0] == {"chunks": 1, "sizes": "1-64", "slot_bytes": 64,
                       "free_chunks_alone": 62, "max_buddy_size": 3968}
    assert rows[-1] == {"chunks": 62, "sizes": "3905-3968", "slot_bytes": 3968,
                        "free_chunks_alone": 1, "max_buddy_size": 64}
    old = ZbudPool.describe(ZbudOptions(kernel="3.11"))
    assert len(old) == 63 and old[-1]["sizes"] == "3969-4032" and old[-1]["max_buddy_size"] == 0
