"""The zswap front end (mm/zswap.c) for any allocator, per kernel version."""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl

from .frontend import Zswap, ZswapOptions
from .rules import ZswapRules, rules_for

__all__ = ["Zswap", "ZswapOptions", "ZswapRules", "rules_for"]


@hookimpl
def register_frontends(register: Callable[[type], None]) -> None:
    register(Zswap)
