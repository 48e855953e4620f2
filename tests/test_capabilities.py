"""zbench.capabilities: which optional capabilities an allocator has, from the methods its
class provides itself and, where the options decide (a kernel version), its own answer."""

from __future__ import annotations

from typing import Any

import pytest
from zbench_tiny import PagePerObject

import zbench
from zbench import Capability, PageFrames, capabilities

E, M, K, INS = (Capability.EVICTABLE, Capability.MOVABLE, Capability.KEYED,
                Capability.INSPECTABLE)


def make(name: str, **options: Any) -> zbench.Allocator:
    cls = zbench.get_plugin_class("allocator", name)
    return cls(cls.Options(**options), PageFrames())


@pytest.mark.parametrize(("name", "options", "want"), [
    ("zbud", {}, {K, INS}),  # 6.14: no LRU (removed in 6.5), pages never move
    ("zbud", {"kernel": "6.1"}, {E, K, INS}),
    ("zbud", {"kernel": "3.11", "migration": "kozlowski-2013"}, {E, K, INS, M}),
    ("z3fold", {}, {M}),
    ("z3fold", {"kernel": "6.1"}, {E, M}),
    ("zsmalloc", {}, {M, INS}),
    ("zsmalloc", {"kernel": "4.4"}, {INS}),  # zs_page_migrate came in 4.8
])
def test_built_in_allocators(name: str, options: dict[str, Any], want: set[str]) -> None:
    assert capabilities(make(name, **options)) == want


def test_the_core_protocol_and_none_for_a_minimal_allocator() -> None:
    tiny = PagePerObject(PagePerObject.Options(), PageFrames())
    assert isinstance(tiny, zbench.AllocatorCore)
    assert capabilities(tiny) == frozenset()
    # the base class defines every capability's methods: isinstance alone means nothing
    assert isinstance(tiny, zbench.Movable) and isinstance(tiny, zbench.Evictable)


def test_names_are_plain_strings() -> None:
    assert capabilities(make("zsmalloc")) == {"movable", "inspectable"}
    assert sorted(Capability) == ["evictable", "inspectable", "keyed", "movable"]


class _Duck:
    """Not an Allocator subclass: the methods are all it has."""

    def malloc_keyed(self, size: int, key: int) -> int:
        return key

    def evictable(self) -> bool:
        return True  # but no reclaim_page: not evictable


def test_an_object_outside_the_class_hierarchy() -> None:
    assert capabilities(_Duck()) == {Capability.KEYED}
    assert capabilities(object()) == frozenset()
