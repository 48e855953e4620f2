"""Sizes-only runs in one batch: the API between the core, a front end and an allocator's
native engine (docs/scale.md, "Native engines").

A case on the sizes-only path (``payload: sizes``, no verify) keeps no object bytes, so
what a model decides depends only on the sizes.  When its workload declares the kinds of
operations it yields (:attr:`zbench.Workload.op_kinds`) and they are stores, loads,
invalidations and phases only, the core hands the whole operation stream to the front end
as one :class:`SizedBatch` (:meth:`zbench.FrontEnd.run_sizes`).  A front end that
takes it runs its write path over the allocator's :class:`SizedEngine`
(:meth:`zbench.Allocator.sized_engine`): the same placement, with the state in native
code.  The Python models stay the reference and the fallback: every figure a batch run
reports equals the operation-by-operation run's (tests/test_zs_native.py), and
``ZBENCH_NATIVE=0`` runs every case the Python way.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from zbench.api.workload import OP_CODE, OpKind

#: ``ZBENCH_NATIVE=0`` turns every native engine off (the Python models run everything)
NATIVE_ENV = "ZBENCH_NATIVE"

#: :attr:`SizedBatch.kinds` codes: the operations' :data:`~zbench.api.workload.OP_CODE`,
#: and a clean store (the page unchanged since it was loaded: ``Op.label == "clean"``)
STORE, LOAD, INVALIDATE, PHASE = (OP_CODE[OpKind.STORE], OP_CODE[OpKind.LOAD],
                                  OP_CODE[OpKind.INVALIDATE], OP_CODE[OpKind.PHASE])
STORE_CLEAN = len(OP_CODE)
#: :attr:`SizedBatch.fill` codes: the page is not same-filled, filled with zeros, or
#: filled with another repeated 8-byte word
NOT_FILLED, ZERO_FILLED, WORD_FILLED = 0, 1, 2


def native_allowed() -> bool:
    """False when ``$ZBENCH_NATIVE`` is ``0`` (or ``no``, ``off``, ``false``)."""
    return os.environ.get(NATIVE_ENV, "1").strip().lower() not in ("0", "no", "off", "false")


@dataclass
class SizedBatch:
    """A workload's operations, one entry each, in arrays: ``kinds[i]`` (STORE,
    STORE_CLEAN, LOAD, INVALIDATE or PHASE), ``offsets[i]`` (the slot; 0 for a phase)
    and, for a store, ``sizes[i]`` (the page's compressed size: what the compressor
    returned for it) and ``fill[i]`` (whether the page is same-filled, by
    :func:`zbench.same_filled_word`); a phase's label is ``labels[i]``."""

    kinds: Sequence[int] = field(default_factory=lambda: array("b"))
    offsets: Sequence[int] = field(default_factory=lambda: array("q"))
    sizes: Sequence[int] = field(default_factory=lambda: array("i"))
    fill: Sequence[int] = field(default_factory=lambda: array("b"))
    labels: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.kinds)


#: ``on_phase(label, operations)``: the front end reached a phase op after ``operations``
#: stores and invalidations; the engine's figures are synced (the core records the phase)
PhaseHook = Callable[[str, int], None]
#: ``progress(operations)`` every 4096 operations
ProgressHook = Callable[[int], None]


class SizedEngine(Protocol):
    """An allocator's placement with its state in native code, for a sizes-only run.

    ``malloc``, ``free`` and ``pool_pages`` are the allocator's own; ``write(handle)`` and
    ``read(handle)`` count the copies of the object's bytes the allocator would make
    (``zs_obj_write``, ``zs_obj_read_begin``) without making them.  ``sync()`` makes the
    allocator's reporting methods (``stats``, ``pool_pages``, ``slot_bytes``,
    ``size_classes``, ...) and its frames' counters
    report the engine's state as of now.  After a batch run the allocator's state stays
    in the engine: the allocator takes no further operations."""

    #: what the case record and the run's progress line call it (``C (module)``)
    name: str

    def malloc(self, size: int, /) -> int: ...

    def free(self, handle: int, /) -> None: ...

    def write(self, handle: int, /) -> None: ...

    def read(self, handle: int, /) -> None: ...

    def pool_pages(self) -> int: ...

    def sync(self) -> None: ...
