"""``zram_write_page`` / ``zram_free_page`` / ``zram_read_page`` over a batch
(:mod:`zbench.api.sized`).

The same write path as :meth:`Zram._write_page <.frontend.Zram._write_page>` and
:meth:`Zram._free_slot <.frontend.Zram._free_slot>`, for a device with none of the
post-processing features (no writeback device, recompression, idle marking or
``mem_limit``): a same-filled page takes a slot and no object; any other is
``zs_malloc``'d at its compressed size (the whole page at or above the huge cut-off),
``update_used_max`` reads ``zs_get_total_pages``, the object is written, and only then is
the old slot of the offset freed.  A load reads the slot's object, if it has one; a
compact op runs the engine's compaction.  The allocator's side runs in its native engine.

A batch of payload (the pages' bytes: ``batch.payload``) runs in C only (``_native.c``),
over an engine that keeps bytes and the compressor's C face: each store's page is checked
for same-filling, compressed (or taken from the case's cache) and copied into the
engine's frames, each load copied out and decompressed, and with ``verify`` checked
against the page stored.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

from zbench import VerifyError, sized

if TYPE_CHECKING:
    from .frontend import Zram

_native, _WHY = sized.load_extension(__package__)

_COUNTERS = ("pages_stored", "same_pages", "huge_pages", "huge_pages_since",
             "compr_data_size", "object_bytes", "mem_used_max")


_SEALED = ("zram: this device ran a batch; it takes no further "
           "operations (zbench.api.sized)")


def _native_loop() -> Any:
    """``zbench_zram._native`` (``_native.c``), or None: not built, or turned off."""
    if _native is None or not sized.native_allowed():
        return None
    return _native


def can_run_payload(engine: sized.SizedEngine) -> bool:
    """A batch of payload runs only in C, over an engine with a C face."""
    return _native_loop() is not None and getattr(engine, "capsule", None) is not None


def loop_name(engine: sized.SizedEngine) -> str:
    """The engine's name and which zram loop runs over it."""
    c = can_run_payload(engine)
    what = ", bytes and lz4 in C" if engine.payload else ""
    return f"{engine.name}, zram loop in {'C' if c else 'Python'}{what}"


def run_sizes(fe: Zram, engine: sized.SizedEngine, batch: sized.SizedBatch,
              on_phase: sized.PhaseHook, progress: sized.ProgressHook | None,
              codec: sized.NativeCodec | None = None) -> None:
    """Every operation of ``batch`` on ``fe`` (empty, no post-processing configured): in C
    over an engine with a C face (``engine.capsule``, zbench_sized.h), else in Python;
    a batch of payload in C with ``codec``, the compressor's C face."""
    capsule = getattr(engine, "capsule", None)
    loop = _native_loop()
    if batch.payload is not None:
        if loop is None or capsule is None or codec is None or not engine.payload:
            raise RuntimeError("zram: a batch of payload needs the C loop, an engine that "
                               "keeps bytes and the compressor's C face")
        _run_c(loop, fe, engine, capsule, batch, on_phase, progress, codec)
    elif loop is not None and capsule is not None:
        _run_c(loop, fe, engine, capsule, batch, on_phase, progress)
    else:
        _run_python(fe, engine, batch, on_phase, progress)
    engine.sync()
    sized.seal(fe, ("store", "load", "peek", "invalidate", "compact"), _SEALED)


def _set_counters(fe: Zram, counters: tuple[int, ...]) -> None:
    for name, value in zip(_COUNTERS, counters, strict=True):
        setattr(fe, name, value)


def _array(seq: Any, code: str) -> array[int]:
    return seq if isinstance(seq, array) and seq.typecode == code else array(code, seq)


def _run_c(loop: Any, fe: Zram, engine: sized.SizedEngine, capsule: Any,
           batch: sized.SizedBatch, on_phase: sized.PhaseHook,
           progress: sized.ProgressHook | None,
           codec: sized.NativeCodec | None = None) -> None:
    labels = batch.labels
    kw: dict[str, Any] = {}
    pl = batch.payload
    if pl is not None and codec is not None:
        kw = {"pages": pl.pages, "extra": pl.extra, "sources": _array(pl.sources, "q"),
              "blobs": pl.blobs,
              "blob_offs": None if pl.blob_offs is None else _array(pl.blob_offs, "q"),
              "codec": codec.capsule, "verify": pl.verify, "clocks": pl.clocks,
              "codec_clocks": pl.codec_clocks}

    def phase(i: int, ops: int, counters: tuple[int, ...]) -> None:
        _set_counters(fe, counters)
        engine.sync()
        fe.phase(labels[i])
        on_phase(labels[i], ops)

    try:
        counters, verified, compacted = loop.run(
            _array(batch.kinds, "b"), _array(batch.offsets, "q"), _array(batch.sizes, "i"),
            _array(batch.fill, "b"), capsule, fe._same_any, fe._huge_min, fe.page_size,
            phase, progress, **kw)
    except loop.Mismatch as exc:
        raise VerifyError(str(exc)) from None
    _set_counters(fe, counters)
    batch.compacted = compacted
    if pl is not None:
        pl.verified = verified


def _run_python(fe: Zram, engine: sized.SizedEngine, batch: sized.SizedBatch,
                on_phase: sized.PhaseHook, progress: sized.ProgressHook | None) -> None:
    """The loop of ``_native.c`` in Python, for an engine with no C face."""
    malloc, free, write, read = engine.malloc, engine.free, engine.write, engine.read
    pool_pages, compact = engine.pool_pages, engine.compact
    same_any, huge_min, page_size = fe._same_any, fe._huge_min, fe.page_size
    # offset -> (handle, size, huge), or None for a same-filled slot
    table: dict[int, tuple[int, int, bool] | None] = {}
    stored = same = huge_n = huge_since = compr = obj = used_max = 0
    kinds, offsets, sizes, fill, labels = (batch.kinds, batch.offsets, batch.sizes,
                                           batch.fill, batch.labels)
    PHASE, LOAD, INVALIDATE, COMPACT = sized.PHASE, sized.LOAD, sized.INVALIDATE, sized.COMPACT
    STORE_CLEAN = sized.STORE_CLEAN
    ZERO_FILLED, WORD_FILLED = sized.ZERO_FILLED, sized.WORD_FILLED
    ops = 0
    for i in range(len(kinds)):
        kind = kinds[i]
        if kind == PHASE:
            _set_counters(fe, (stored, same, huge_n, huge_since, compr, obj, used_max))
            engine.sync()
            fe.phase(labels[i])
            on_phase(labels[i], ops)
            continue
        if kind == COMPACT:  # not an operation the run counts
            if compact is None:
                raise ValueError("zram batch: the engine has no compaction")
            batch.compacted += compact()
            continue
        offset = offsets[i]
        if kind == LOAD:  # zram_read_page: a same-filled slot reads no object
            slot = table.get(offset)
            if slot is not None:
                read(slot[0])
        elif kind == INVALIDATE or not (kind == STORE_CLEAN and offset in table):
            new: tuple[int, int, bool] | None = None
            if kind != INVALIDATE:
                code = fill[i]
                if not (code == ZERO_FILLED or (code == WORD_FILLED and same_any)):
                    size = sizes[i]
                    huge = size >= huge_min
                    if huge:
                        size = page_size
                    handle = malloc(size)
                    used = pool_pages()
                    if used > used_max:  # update_used_max
                        used_max = used
                    write(handle)
                    new = (handle, size, huge)
            if offset in table:  # zram_free_page of the old slot
                old = table.pop(offset)
                stored -= 1
                if old is None:
                    same -= 1
                else:
                    free(old[0])
                    compr -= old[1]
                    obj -= old[1]
                    if old[2]:
                        huge_n -= 1
            if kind != INVALIDATE:
                table[offset] = new
                stored += 1
                if new is None:
                    same += 1
                else:
                    compr += new[1]
                    obj += new[1]
                    if new[2]:
                        huge_n += 1
                        huge_since += 1
        ops += 1
        if not ops & 4095 and progress is not None:  # every 4096 operations
            progress(ops)
    _set_counters(fe, (stored, same, huge_n, huge_since, compr, obj, used_max))
