"""zsmalloc plugin options, version rules and registration."""

from __future__ import annotations

import pytest
import zbench_zsmalloc
from pydantic import ValidationError
from zbench_zsmalloc import ZsOptions, ZsPool
from zbench_zsmalloc.rules import ChainRule, CompactAlgo, FullnessScheme, InsertPolicy, ZsRules

from zbench import (
    Allocator,
    KernelVersion,
    Mobility,
    OptionsError,
    PageFrames,
    PluginOptions,
)
from zbench.api.options import parse_options


def test_defaults() -> None:
    o = ZsOptions()
    assert o.kernel == KernelVersion("6.18")
    assert o.chain_size == 8
    pool = ZsPool(o, PageFrames())
    assert pool.kernel == "6.18 mm/zsmalloc.c (chain 8)"
    assert pool.max_size() == 4096
    assert "lock" in pool.simplifications and "shrinker" in pool.simplifications


@pytest.mark.parametrize(("kernel", "chain"), [("6.2", 4), ("6.1", 4), ("4.1", 4), ("6.3", 8),
                                               ("6.4", 8), ("6.10", 8)])
def test_default_chain_by_version(kernel: str, chain: int) -> None:
    assert ZsOptions(kernel=kernel).chain_size == chain


@pytest.mark.parametrize("kernel", ["4.0", "3.14", "2.6"])
def test_old_kernel_refused(kernel: str) -> None:
    with pytest.raises(ValidationError, match=r"zsmalloc model supports kernel >= 4\.1"):
        ZsOptions(kernel=kernel)
    with pytest.raises(OptionsError, match=r"^s\.yaml: o\.kernel: .*kernel >= 4\.1"):
        parse_options(ZsOptions, {"kernel": kernel}, "s.yaml: o")


@pytest.mark.parametrize(("kernel", "chain"), [("6.1", 8), ("6.2", 5), ("4.8", 16),
                                               ("6.3", 3), ("6.18", 17), ("6.18", 0)])
def test_bad_chain_size(kernel: str, chain: int) -> None:
    with pytest.raises(OptionsError, match=r"allocators\[0\]\.options\.chain_size: "):
        parse_options(ZsOptions, {"kernel": kernel, "chain_size": chain},
                      "allocators[0].options")


def test_chain_size_accepted() -> None:
    assert ZsOptions(kernel="6.1", chain_size=4).chain_size == 4
    assert ZsOptions(kernel="6.3", chain_size=16).chain_size == 16
    # --set values arrive as strings
    o = parse_options(ZsOptions, {"kernel": "6.10", "chain_size": "12"}, "--set")
    assert o.chain_size == 12 and o.kernel == KernelVersion("6.10")


def test_unknown_option_refused() -> None:
    with pytest.raises(OptionsError, match="order"):
        parse_options(ZsOptions, {"order": 2}, "x")


@pytest.mark.parametrize(("kernel", "rule", "fullness", "insert", "algo", "movable"), [
    ("4.1", ChainRule.USED_PERCENT, FullnessScheme.QUARTER, InsertPolicy.HEAD,
     CompactAlgo.V4_1, False),
    ("4.2", ChainRule.USED_PERCENT, FullnessScheme.QUARTER, InsertPolicy.HEAD,
     CompactAlgo.V4_1, False),
    ("4.3", ChainRule.USED_PERCENT, FullnessScheme.QUARTER, InsertPolicy.INUSE_TAIL,
     CompactAlgo.V4_3, False),
    ("4.8", ChainRule.USED_PERCENT, FullnessScheme.QUARTER, InsertPolicy.INUSE_SECOND,
     CompactAlgo.V4_3, True),
    ("6.2", ChainRule.USED_PERCENT, FullnessScheme.QUARTER, InsertPolicy.INUSE_SECOND,
     CompactAlgo.V4_3, True),
    ("6.3", ChainRule.MIN_WASTE, FullnessScheme.QUARTER, InsertPolicy.INUSE_SECOND,
     CompactAlgo.V4_3, True),
    ("6.4", ChainRule.MIN_WASTE, FullnessScheme.INUSE_RATIO, InsertPolicy.HEAD,
     CompactAlgo.V6_4, True),
    ("6.18", ChainRule.MIN_WASTE, FullnessScheme.INUSE_RATIO, InsertPolicy.HEAD,
     CompactAlgo.V6_4, True),
])
def test_rules_by_version(kernel: str, rule: ChainRule, fullness: FullnessScheme,
                          insert: InsertPolicy, algo: CompactAlgo, movable: bool) -> None:
    r = ZsRules.for_options(ZsOptions(kernel=kernel))
    assert (r.chain_rule, r.fullness, r.insert, r.compaction, r.movable) == (
        rule, fullness, insert, algo, movable)


@pytest.mark.parametrize(("kernel", "mobility"), [("4.7", Mobility.UNMOVABLE),
                                                  ("4.8", Mobility.MOVABLE),
                                                  ("6.18", Mobility.MOVABLE)])
def test_frame_mobility(kernel: str, mobility: Mobility) -> None:
    frames = PageFrames()
    pool = ZsPool(ZsOptions(kernel=kernel), frames)
    pool.malloc(100)
    (pfn,) = frames.pfns()[:1]
    info = frames.info(pfn)
    assert info.owner == "zsmalloc" and info.mobility is mobility


def test_register_hook() -> None:
    got: list[type] = []
    zbench_zsmalloc.register_allocators(register=got.append)
    assert got == [ZsPool]
    assert issubclass(ZsPool, Allocator) and ZsPool.name == "zsmalloc"
    assert ZsPool.Options is ZsOptions


def test_generic_options_are_converted() -> None:
    """Options of another PluginOptions model are validated as ZsOptions."""

    class Loose(PluginOptions):
        kernel: str = "6.1"

    pool = ZsPool(Loose(), PageFrames())
    assert pool.kernel == "6.1 mm/zsmalloc.c (chain 4)"
    assert isinstance(pool.options, ZsOptions)
