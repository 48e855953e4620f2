"""zbench's test kit for plugin authors (also a pytest plugin, entry point ``pytest11``).

* :class:`AllocatorContract` - subclass it in your tests with ``allocator_class = MyAlloc``
  and pytest runs the allocator contract suite on it; every failure is a
  :class:`ContractViolation` naming the rule (:data:`RULES`).
* :class:`FrontEndContract`, :class:`CompressorContract`, :class:`WorkloadContract` - the
  same for front ends, compressors and workloads.
* Fixtures (from :mod:`zbench.testing.plugin`, active once zbench is installed):
  ``zbench_registry``, ``zbench_plugin``, ``zbench_cli``, ``zbench_pages``.
"""

from __future__ import annotations

from zbench.testing.checker import PoolChecker, payload
from zbench.testing.contract import AllocatorContract
from zbench.testing.frontend import FrontEndContract
from zbench.testing.others import CompressorContract, WorkloadContract, make_pages
from zbench.testing.rules import RULES, ContractViolation

__all__ = [
    "RULES",
    "AllocatorContract",
    "CompressorContract",
    "ContractViolation",
    "FrontEndContract",
    "PoolChecker",
    "WorkloadContract",
    "make_pages",
    "payload",
]
