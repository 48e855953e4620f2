"""Giving a finished case's memory back before the next case runs in the same process.

A case's models hold their state in structures with reference cycles (list heads and
nodes: zspages, LRUs), which only the cyclic collector frees, and the case runs with
that collector's thresholds raised (:mod:`zbench.run.case`).  Left alone, the next
in-process case starts on top of the last one's garbage and the run's peak RSS is the
sum of its cases, not the largest.  After each case the collector runs once and, with
glibc, ``malloc_trim(0)`` returns the freed heap to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None (another C library, or none found)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_case_memory() -> None:
    """Collect the finished case's cyclic garbage and trim the C heap."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
