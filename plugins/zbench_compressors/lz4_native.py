"""lz4's C face for a front end's native loop (:class:`zbench.sized.NativeCodec`).

The functions are python-lz4's own, as linked into its ``lz4.block._block`` extension:
``_lz4face.c`` compresses a page the way :meth:`Lz4.compress
<zbench_compressors.Lz4.compress>` does (``mode="fast"``, no size prefix: a fresh stream,
``LZ4_compress_fast_continue``) and decompresses it with ``LZ4_decompress_safe``, so the C
loop makes the same bytes by construction, not through a second copy of liblz4 that could
be another version.  ``None`` when ``_lz4face`` is not built (no C compiler at install),
when turned off (``ZBENCH_NATIVE=0``) or when python-lz4's module does not export them.
"""

from __future__ import annotations

import ctypes
import functools

import lz4.block

from zbench import sized

_face, _WHY = sized.load_extension(__package__, "_lz4face")

_FUNCS = ("LZ4_resetStream", "LZ4_compress_fast_continue", "LZ4_decompress_safe")


@functools.cache
def _functions() -> tuple[tuple[int, ...], int] | None:
    """The addresses of python-lz4's ``_FUNCS`` and its ``LZ4_sizeofState()``."""
    try:
        lib = ctypes.CDLL(lz4.block._block.__file__)
        fns = [getattr(lib, name) for name in _FUNCS]
        state = int(lib.LZ4_sizeofState())
    except (OSError, AttributeError):
        return None
    _functions.lib = lib  # type: ignore[attr-defined]  # kept loaded with the addresses
    return tuple(ctypes.cast(f, ctypes.c_void_p).value or 0 for f in fns), state


def status() -> str:
    """Whether the C face is there for batches of bytes, or why not."""
    if _face is None:
        return "batches of bytes: none (the C face is not built: no C compiler at install)"
    if not sized.native_allowed():
        return "batches of bytes: none (turned off: ZBENCH_NATIVE=0)"
    if _functions() is None:
        return "batches of bytes: none (python-lz4's module exports no LZ4 functions)"
    return "batches of bytes: the C face over python-lz4's own liblz4 (no dictionary)"


def lz4_codec(acceleration: int) -> sized.NativeCodec | None:
    """The C face of lz4 at ``acceleration``, or ``None`` (see the module's text)."""
    found = _functions() if _face is not None and sized.native_allowed() else None
    if found is None:
        return None
    (reset, cont, dec), state = found
    return sized.NativeCodec(capsule=_face.codec(reset, cont, dec, state, acceleration),
                             name="lz4 in C (python-lz4's LZ4_compress_fast_continue)")
