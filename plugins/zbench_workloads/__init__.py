"""Built-in workloads: ``fill``, ``churn``, ``zipf``, ``pressure``, ``replay``, ``migrate``
and ``zsmalloc-test``."""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl
from zbench_workloads.churn import Churn
from zbench_workloads.fill import Fill
from zbench_workloads.migrate import Migrate
from zbench_workloads.pressure import Pressure
from zbench_workloads.replay import Replay
from zbench_workloads.zipf import Zipf
from zbench_workloads.zstest import ZsmallocTest


@hookimpl
def register_workloads(register: Callable[[type], None]) -> None:
    for cls in (Fill, Churn, Zipf, Pressure, Replay, Migrate, ZsmallocTest):
        register(cls)
