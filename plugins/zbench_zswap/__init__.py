"""The zswap front end (mm/zswap.c) for any allocator, per kernel version.

* :mod:`.rules` - which rules a kernel version follows;
* :mod:`.frontend` - the front end ``zswap``;
* :mod:`.report` - its debugfs counters: metric definitions and the report table.
"""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl

from .frontend import Zswap, ZswapOptions
from .report import METRICS, ZswapCounters
from .rules import ZswapRules, rules_for

__all__ = ["Zswap", "ZswapOptions", "ZswapRules", "rules_for"]


@hookimpl
def register_frontends(register: Callable[[type], None]) -> None:
    register(Zswap)


@hookimpl
def register_metrics(register: Callable[[object], None]) -> None:
    for d in METRICS:
        register(d)


@hookimpl
def register_tables(register: Callable[[type], None]) -> None:
    register(ZswapCounters)
