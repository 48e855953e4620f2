"""Built-in workloads: ``fill`` and ``churn``."""

from __future__ import annotations

from collections.abc import Callable

from zbench import hookimpl
from zbench_workloads.churn import Churn
from zbench_workloads.fill import Fill


@hookimpl
def register_workloads(register: Callable[[type], None]) -> None:
    register(Fill)
    register(Churn)
