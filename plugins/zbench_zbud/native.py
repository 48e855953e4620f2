"""The pool's C engine for batch runs (``_native.c``, :mod:`zbench.api.sized`).

``_native.ZbudPool`` is ``zbud_alloc`` / ``zbud_free`` placement with the state in C, for
the rules from 6.5 (no pool LRU, no reclaim), sizes only: the geometry (chunk size,
NCHUNKS, the largest size) comes from this pool's rules, so it places every object where
:meth:`ZbudPool._zbud_alloc <.pool.ZbudPool._zbud_alloc>` would and counts what the
model counts.  :class:`ZbudSizedEngine` hands its counters back to the pool (``sync``).
Built at install when a C compiler is there (``setup.py``); without it the Python model
runs every case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zbench import sized

if TYPE_CHECKING:
    from .pool import ZbudPool

_native, _WHY = sized.load_extension(__package__)

ENGINE = "C engine zbench_zbud._native"


def status() -> str:
    """What runs a batch: the C engine, or the Python model and why."""
    return sized.engine_status(_native, _WHY, ENGINE, "sizes only, rules from 6.5")


_SEALED = ("zbud: this pool ran a batch on its C engine; its state stays there "
           "(zbench.api.sized)")


class ZbudSizedEngine:
    """The C pool's calls, and ``sync`` back into the Python pool's counters."""

    __slots__ = ("_pool", "_c", "malloc", "free", "write", "read", "pool_pages", "compact")
    name = ENGINE
    payload = False

    def __init__(self, pool: ZbudPool, c: Any) -> None:
        self._pool, self._c = pool, c
        self.malloc, self.free, self.write, self.read = c.malloc, c.free, c.write, c.read
        self.pool_pages = c.pool_pages
        self.compact = _no_compaction

    @property
    def capsule(self) -> Any:
        """The engine's C face (``struct zbench_sized_ops``, zbench/include/zbench_sized.h)."""
        return self._c.capsule

    def sync(self) -> None:
        """The pool's counters, its lists' lengths and the frames' counts from the C
        state; the pool's object calls raise from now on."""
        pool, n = self._pool, self._c.counters()
        pool.pages_nr = n["pages_nr"]
        pool.nr_objects = n["nr_objects"]
        pool.live_chunks = n["live_chunks"]
        pool.list_ops = n["list_ops"]
        pool.bytes_written = n["bytes_written"]
        pool.bytes_read = n["bytes_read"]
        pool.engine_lists = (n["buddied_pages"], n["unbuddied_pages"])
        pool.frames.held_outside(n["frames_allocated"], n["frames_freed"], n["frames_peak"])
        sized.seal(pool, ("malloc", "malloc_keyed", "free", "write", "read", "reclaim_page"),
                   _SEALED)


def _no_compaction() -> int:
    return 0  # zbud has no compaction (Allocator.compact's default)


def sized_engine(pool: ZbudPool) -> ZbudSizedEngine | None:
    """The C engine for ``pool``, or ``None``: not built, turned off, the pool not empty,
    its frames keeping bytes, the 2013 migration series, or rules before 6.5 (the LRU)."""
    if (_native is None or not sized.native_allowed() or pool.frames.payload
            or pool.pages_nr or pool.kozlowski is not None or pool.rules.lru):
        return None
    g = pool.geo
    return ZbudSizedEngine(pool, _native.ZbudPool(g.chunk_shift, g.nchunks, pool.rules.max_size))
