"""zbench: compare Linux compressed-memory allocators on real page dumps.

This module is the public API: a plugin imports from ``zbench`` and nothing
deeper.
"""

from __future__ import annotations

from zbench.allocator import Allocator, Metrics
from zbench.compressor import Compressor
from zbench.errors import (
    AllocationError,
    DumpError,
    OptionsError,
    PluginError,
    UserError,
    VerifyError,
    ZbenchError,
)
from zbench.frames import PAGE_SHIFT, PAGE_SIZE, FrameInfo, Mobility, PageFrames
from zbench.frontend import FrontEnd, Page
from zbench.hookspecs import hookimpl
from zbench.kernel import KernelVersion
from zbench.options import PluginOptions
from zbench.pagefill import same_filled_word
from zbench.workload import Op, OpKind, Workload, WorkloadOptions

__version__ = "0.1.0"

__all__ = [
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "AllocationError",
    "Allocator",
    "Compressor",
    "DumpError",
    "FrameInfo",
    "FrontEnd",
    "KernelVersion",
    "Metrics",
    "Mobility",
    "Op",
    "OpKind",
    "OptionsError",
    "Page",
    "PageFrames",
    "PluginError",
    "PluginOptions",
    "UserError",
    "VerifyError",
    "Workload",
    "WorkloadOptions",
    "ZbenchError",
    "hookimpl",
    "same_filled_word",
    "__version__",
]
