"""Giving a finished case's memory back before the next case runs in the same process.

A case's models hold their state in structures with reference cycles (list heads and
nodes: zspages, LRUs), which only the cyclic collector frees, and the case runs with
that collector's thresholds raised (:mod:`zbench.run.case`).  Left alone, the next
in-process case starts on top of the last one's garbage and the run's peak RSS is the
sum of its cases, not the largest.  After each case the collector runs once and, with
glibc, ``malloc_trim(0)`` returns the freed heap to the system.  So that collection costs
only what the case left, the objects alive before the cases (modules, plugin classes,
pydantic's schemas) are frozen out of it while the cases run (:func:`frozen_heap`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def frozen_heap() -> Iterator[None]:
    """While the block runs, the objects alive at its start are left out of every
    collection (``gc.freeze``), and given back to the collector after it."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
