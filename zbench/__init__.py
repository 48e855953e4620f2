"""zbench: compare Linux compressed-memory allocators on real page dumps.

This module is the public API: a plugin imports from ``zbench`` and nothing
deeper.
"""

from __future__ import annotations

from typing import Any

from zbench.api import sized
from zbench.api.allocator import Allocator, Finished, Metrics
from zbench.api.capabilities import (
    AllocatorCore,
    Capability,
    Evictable,
    Inspectable,
    Keyed,
    Movable,
    capabilities,
)
from zbench.api.compressor import Compressor
from zbench.api.errors import (
    AllocationError,
    CaseSkipped,
    DumpError,
    OptionsError,
    PluginError,
    UserError,
    VerifyError,
    ZbenchError,
)
from zbench.api.frames import (
    PAGE_SHIFT,
    PAGE_SIZE,
    PAGE_SIZES,
    PAGEBLOCK_NR_PAGES,
    FrameInfo,
    Mobility,
    PageFrames,
)
from zbench.api.frontend import FrontEnd, Page
from zbench.api.hookspecs import hookimpl
from zbench.api.kernel import KernelVersion
from zbench.api.metrics import MetricDef
from zbench.api.movable import NOT_MOVABLE, MigrateResult, ReclaimResult
from zbench.api.options import PluginOptions, suite_path
from zbench.api.pagefill import same_filled_word
from zbench.api.radix import RadixTree
from zbench.api.reporter import Reporter, ReportTable, SideRow, Timings
from zbench.api.safeio import read_bytes, read_text, write_atomic
from zbench.api.significance import welch_p
from zbench.api.version import __version__
from zbench.api.workload import OP_CODE, Op, OpArrays, OpKind, Workload, WorkloadOptions
from zbench.input.compcache import cache_dir
from zbench.input.dump import Dump, default_dump_path, load_dump


def run_suite(data: dict[str, Any], where: str = "suite", *, quiet: bool = False
              ) -> dict[str, Any]:
    """Run a suite given as a mapping (the YAML's structure) with the installed plugins;
    return the results mapping (the ``results.json`` structure)."""
    from zbench.run.runner import run_suite_data

    if quiet:
        return run_suite_data(data, where, report=lambda _m: None)
    return run_suite_data(data, where)


def get_plugin_class(kind: str, name: str) -> type:
    """The class registered as ``name`` for ``kind`` (allocator, frontend, compressor,
    workload); a PluginError naming the cause otherwise."""
    from zbench.api.registry import get_registry

    return get_registry().get(kind, name)


__all__ = [
    "NOT_MOVABLE",
    "PAGEBLOCK_NR_PAGES",
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "PAGE_SIZES",
    "AllocationError",
    "Allocator",
    "AllocatorCore",
    "Capability",
    "CaseSkipped",
    "Compressor",
    "Dump",
    "DumpError",
    "Evictable",
    "FrameInfo",
    "Finished",
    "FrontEnd",
    "Inspectable",
    "Keyed",
    "KernelVersion",
    "Metrics",
    "MigrateResult",
    "Mobility",
    "Movable",
    "OP_CODE",
    "Op",
    "OpArrays",
    "OpKind",
    "OptionsError",
    "Page",
    "PageFrames",
    "PluginError",
    "PluginOptions",
    "RadixTree",
    "Reporter",
    "ReportTable",
    "SideRow",
    "Timings",
    "MetricDef",
    "ReclaimResult",
    "UserError",
    "VerifyError",
    "Workload",
    "WorkloadOptions",
    "ZbenchError",
    "cache_dir",
    "capabilities",
    "default_dump_path",
    "get_plugin_class",
    "hookimpl",
    "load_dump",
    "run_suite",
    "same_filled_word",
    "sized",
    "welch_p",
    "read_bytes",
    "suite_path",
    "read_text",
    "write_atomic",
    "__version__",
]
