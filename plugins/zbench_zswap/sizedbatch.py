"""zswap's store, load, invalidate and shrink paths over a sizes-only batch
(:mod:`zbench.api.sized`), in C (``_native.c``) over an allocator's engine with a C face.

Only for the rules ``_native.c`` follows: kernels 6.5 to 6.11 (zswap's own LRU, the
shrink worker writing back until the pool can accept, no zswap header), writeback on, no
swap slots cache; any other configuration runs operation by operation.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

from zbench import KernelVersion, sized

if TYPE_CHECKING:
    from .frontend import Zswap

_native, _WHY = sized.load_extension(__package__)

#: the counters of ``_native.c``, in its order: where each goes on the front end
_COUNTERS = ("stored", "same_filled_pages", "compressed_bytes", "object_bytes", "pool_max",
             "swapped", "pool_limit_hit", "reject_reclaim_fail", "reject_alloc_fail",
             "reject_compress_poor", "reject_compress_fail", "written_back_pages",
             "duplicate_entry", "reached_full")
_ATTRS = frozenset({"same_filled_pages", "compressed_bytes", "object_bytes", "pool_max"})


_SEALED = ("zswap: this front end ran a batch; it takes no further operations "
           "(zbench.api.sized)")


def declines(fe: Zswap) -> str | None:
    """Why ``fe`` takes no batch, or None: it does."""
    r = fe.rules
    if _native is None or not sized.native_allowed():
        return "the zswap loop is not built or turned off"
    if not (KernelVersion("6.5") <= r.kernel < KernelVersion("6.12")):
        return f"rules of {r.kernel} (the loop follows 6.5-6.11)"
    if not fe.writeback or fe.slots_cache or fe.tree or fe.swap_device:
        return "writeback off, the swap slots cache, or a used device"
    if r.same_filled not in ("any", "zero") or r.stale_total_size or r.invalidate_batch:
        return "other same-filled or size rules"
    return None


def run_sizes(fe: Zswap, engine: sized.SizedEngine, batch: sized.SizedBatch,
              on_phase: sized.PhaseHook, progress: sized.ProgressHook | None) -> None:
    """Every operation of ``batch`` on ``fe`` (empty), in C over ``engine``'s C face."""
    capsule = getattr(engine, "capsule", None)
    if _native is None or capsule is None or batch.payload is not None:
        raise RuntimeError("zswap: a batch needs the C loop, an engine with a C face and "
                           "sizes only")
    labels = batch.labels
    r = fe.rules

    def phase(i: int, ops: int, counters: tuple[int, ...]) -> None:
        _set_counters(fe, counters)
        engine.sync()
        fe.phase(labels[i])
        on_phase(labels[i], ops)

    rules = (fe.hlen, fe.psize, fe.max_pages, fe.accept_pages, r.same_filled == "any",
             r.duplicate_counter and not r.frontswap_dup_invalidate, fe.exclusive,
             r.dst_limit_page, r.compress_fail_counter, fe._algorithm() == "842")
    counters, compacted = _native.run(_array(batch.kinds, "b"), _array(batch.offsets, "q"),
                                      _array(batch.sizes, "i"), _array(batch.fill, "b"),
                                      capsule, rules, phase, progress)
    _set_counters(fe, counters)
    batch.compacted = compacted
    engine.sync()
    sized.seal(fe, ("store", "store_folio", "load", "peek", "invalidate", "compact"), _SEALED)


def _set_counters(fe: Zswap, counters: tuple[int, ...]) -> None:
    values = dict(zip(_COUNTERS, counters, strict=True))
    for name in _ATTRS:
        setattr(fe, name, values[name])
    for name in fe.c:
        if name in values:
            fe.c[name] = values[name]
    fe.reached_full = bool(values["reached_full"])
    fe.batch_counts = (values["stored"], values["swapped"])


def _array(seq: Any, code: str) -> array[int]:
    return seq if isinstance(seq, array) and seq.typecode == code else array(code, seq)
