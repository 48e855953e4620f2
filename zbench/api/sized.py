"""Runs in one batch: the API between the core, a front end, an allocator's native engine
and a compressor's C face (docs/scale.md, "Native engines").

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

A case that keeps the pages' bytes (``payload: bytes``, or ``verify``) can run as one
batch too, when the front end's loop, the allocator's engine and the compressor all have a
C face: the batch then carries the pages (:class:`PayloadPages`), every store compresses
or copies real bytes into the engine's frames and every load decompresses them, checked
byte for byte with ``verify``.  A compressor offers its C face as a :class:`NativeCodec`
(:meth:`zbench.Compressor.native_codec`).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from zbench.api.workload import OP_CODE, OpKind

#: ``ZBENCH_NATIVE=0`` turns every native engine off (the Python models run everything)
NATIVE_ENV = "ZBENCH_NATIVE"

#: :attr:`SizedBatch.kinds` codes: the operations' :data:`~zbench.api.workload.OP_CODE`,
#: and a clean store (the page unchanged since it was loaded: ``Op.label == "clean"``)
STORE, LOAD, INVALIDATE, COMPACT, PHASE = (
    OP_CODE[OpKind.STORE], OP_CODE[OpKind.LOAD], OP_CODE[OpKind.INVALIDATE],
    OP_CODE[OpKind.COMPACT], OP_CODE[OpKind.PHASE])
STORE_CLEAN = len(OP_CODE)
#: :attr:`SizedBatch.fill` codes: the page is not same-filled, filled with zeros, or
#: filled with another repeated 8-byte word
NOT_FILLED, ZERO_FILLED, WORD_FILLED = 0, 1, 2


def load_extension(package: str, name: str = "_native") -> tuple[Any, str]:
    """A plugin's optional C extension module ``package.name``, or ``None`` and why: not
    built (no C compiler at install, an optional ``setuptools.Extension``), or not
    loadable (built for another Python, say)."""
    full = f"{package}.{name}"
    if importlib.util.find_spec(full) is None:
        return None, "not built (no C compiler when zbench was installed)"
    try:
        return importlib.import_module(full), ""
    except ImportError as exc:
        return None, f"not loadable ({exc})"


def engine_status(module: Any, why: str, engine: str, scope: str = "") -> str:
    """The ``engine_status`` line of an allocator whose engine is the C extension
    ``module`` (``None``: the Python model runs, for ``why``): ``engine`` runs the batches
    (``scope`` says which ones, when not all), the Python model the other cases."""
    if module is None:
        return f"batches: the Python model; the C engine is {why}"
    if not native_allowed():
        return "batches: the Python model; the C engine is turned off (ZBENCH_NATIVE=0)"
    return f"batches: {engine}{f' ({scope})' if scope else ''}; other cases: the Python model"


def seal(obj: object, names: Sequence[str], message: str) -> None:
    """After a batch: each of ``obj``'s methods ``names`` raises ``RuntimeError(message)``
    from now on (the state they would change stays in the engine)."""
    def sealed(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(message)

    for name in names:
        setattr(obj, name, sealed)


def native_allowed() -> bool:
    """False when ``$ZBENCH_NATIVE`` is ``0`` (or ``no``, ``off``, ``false``)."""
    return os.environ.get(NATIVE_ENV, "1").strip().lower() not in ("0", "no", "off", "false")


@dataclass(frozen=True)
class NativeCodec:
    """A compressor's C face: ``capsule`` is a PyCapsule named ``zbench.codec_ops``
    holding a ``struct zbench_codec_ops`` (zbench/include/zbench_sized.h), whose
    ``compress`` must give exactly the bytes the compressor's ``compress`` gives and whose
    ``decompress`` takes them back; ``name`` says what it runs, for the record."""

    capsule: object
    name: str


@dataclass
class PayloadPages:
    """The bytes a batch of payload carries: ``pages`` then ``extra`` hold every source
    page, one after another (two buffers, so a dump's own pages go in uncopied, the
    injected fill pages after them), ``sources[i]`` is the source page of store ``i``
    (unused for other kinds),
    and ``blobs[blob_offs[s]:blob_offs[s + 1]]`` is source ``s`` compressed (the case's
    cached compressed pages; ``None``: the front end compresses each store itself).
    With ``verify`` every load, and every live slot at the end, must equal the page
    stored there; the front end sets ``verified`` to how many were checked.  With
    ``clocks`` and ``codec_clocks`` (``array("q")`` of one entry per operation) the loop
    writes each operation's nanoseconds, and the compressor's share of them, there (a
    timing case's per-operation passes)."""

    pages: bytes
    sources: Sequence[int]
    extra: bytes = b""
    blobs: bytes | None = None
    blob_offs: Sequence[int] | None = None
    verify: bool = False
    verified: int = 0
    clocks: array[int] | None = None
    codec_clocks: array[int] | None = None


@dataclass
class SizedBatch:
    """A workload's operations, one entry each, in arrays: ``kinds[i]`` (STORE,
    STORE_CLEAN, LOAD, INVALIDATE, COMPACT or PHASE), ``offsets[i]`` (the slot; 0 for a phase)
    and, for a store, ``sizes[i]`` (the page's compressed size: what the compressor
    returned for it) and ``fill[i]`` (whether the page is same-filled, by
    :func:`zbench.same_filled_word`); a phase's label is ``labels[i]``.  ``payload`` is
    ``None`` on the sizes-only path, else the pages' bytes.  The front end sets
    ``compacted`` to the pages its compact ops freed, in all."""

    kinds: Sequence[int] = field(default_factory=lambda: array("b"))
    offsets: Sequence[int] = field(default_factory=lambda: array("q"))
    sizes: Sequence[int] = field(default_factory=lambda: array("i"))
    fill: Sequence[int] = field(default_factory=lambda: array("b"))
    labels: dict[int, str] = field(default_factory=dict)
    payload: PayloadPages | None = None
    compacted: int = 0

    def __len__(self) -> int:
        return len(self.kinds)


#: ``on_phase(label, operations)``: the front end reached a phase op after ``operations``
#: stores and invalidations; the engine's figures are synced (the core records the phase)
PhaseHook = Callable[[str, int], None]
#: ``progress(operations)`` every 4096 operations
ProgressHook = Callable[[int], None]


class SizedEngine(Protocol):
    """An allocator's placement with its state in native code, for a batch run.

    ``malloc``, ``free`` and ``pool_pages`` are the allocator's own; ``write(handle)`` and
    ``read(handle)`` count the copies of the object's bytes the allocator would make
    (``zs_obj_write``, ``zs_obj_read_begin``) without making them; ``compact()`` is the
    allocator's compaction (the pages freed), ``None`` for an engine without one (a batch
    with a compact op then fails).  ``sync()`` makes the
    allocator's reporting methods (``stats``, ``pool_pages``, ``slot_bytes``,
    ``size_classes``, ...) and its frames' counters
    report the engine's state as of now.  After a batch run the allocator's state stays
    in the engine: the allocator takes no further operations.  An engine made for a pool
    whose frames keep bytes has ``payload`` true and keeps the objects' bytes itself
    (its C face's ``write_bytes`` / ``read_bytes``)."""

    #: what the case record and the run's progress line call it (``C (module)``)
    name: str
    #: the engine keeps the objects' bytes (a pool whose frames have ``payload``)
    payload: bool

    def malloc(self, size: int, /) -> int: ...

    def free(self, handle: int, /) -> None: ...

    def write(self, handle: int, /) -> None: ...

    def read(self, handle: int, /) -> None: ...

    def pool_pages(self) -> int: ...

    compact: Callable[[], int] | None

    def sync(self) -> None: ...
