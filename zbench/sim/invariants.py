"""Cheap checks every case's outcome must pass (called by :mod:`zbench.run.case`).

* the pool pages an allocator model reports equal the page frames it holds
  (:class:`zbench.api.frames.PageFrames` counts every ``alloc`` and ``free``; the
  workload's own anonymous pages, :mod:`zbench.sim.anon`, are not the pool's);
* every metric is a finite number, counts are never negative and ratios are
  positive;
* the front end's counters add up: same-filled and huge pages are stored pages,
  and no more pages are stored than the workload tried to store.

A violation raises :class:`InvariantError` naming the metric; the case is recorded
as failed (kind ``invariant``), the run goes on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from zbench.api.errors import ZbenchError
from zbench.api.frames import PageFrames
from zbench.sim.anon import OWNER as ANON_OWNER


class InvariantError(ZbenchError):
    """A case's outcome breaks an invariant: the message names the metric."""


def held_frames(frames: PageFrames) -> int:
    """Page frames allocated and not freed, less the workload's anonymous pages."""
    anon = sum(1 for pfn in frames.pfns() if frames.info(pfn).owner == ANON_OWNER)
    return frames.allocated - anon


def check_pool(pool_pages: Any, frames: PageFrames) -> None:
    """``pool_pages()`` of a model that allocates frames equals the frames it holds."""
    if frames.allocs == 0:  # real code, or a model that keeps no frames: nothing to hold
        return
    held = held_frames(frames)
    if pool_pages != held:
        raise InvariantError(
            f"pool_pages: the allocator reports {pool_pages!r} but holds {held} page frames "
            f"(frames allocated {frames.allocs} - freed {frames.frees})")


def check_numbers(m: Mapping[str, Any]) -> None:
    """Every value of ``m`` a finite, non-negative number (the metric named otherwise)."""
    for name, value in m.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvariantError(f"metric {name}: not a number ({type(value).__name__} "
                                 f"{str(value)[:40]!r})")
        if not math.isfinite(value):
            raise InvariantError(f"metric {name}: not finite ({value!r})")
        if value < 0:
            raise InvariantError(f"metric {name}: negative ({value!r})")


def check_metrics(m: Mapping[str, Any], store_ops: int) -> None:
    """Every metric finite, counts >= 0, ratios > 0; the stored-page counters add up."""
    check_numbers(m)
    for name, value in m.items():
        if name.endswith("ratio") and value <= 0 and m.get("stored_pages", 0) > 0:
            raise InvariantError(f"metric {name}: ratio must be positive ({value!r})")
    stored = m.get("stored_pages")
    if stored is None:
        return
    for part in ("same_filled_pages", "huge_pages"):
        if part in m and m[part] > stored:
            raise InvariantError(f"metric {part}: {m[part]} exceeds stored_pages {stored}")
    if stored > store_ops:
        raise InvariantError(f"metric stored_pages: {stored} exceeds the {store_ops} stores "
                             f"the workload attempted")
