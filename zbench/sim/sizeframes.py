"""Page frames of the sizes-only path (``payload: sizes``): metadata, no payload.

:class:`SizeFrames` is a :class:`~zbench.api.frames.PageFrames` that allocates,
frees and places frames exactly as its base class does, but keeps no 4 KiB
``bytearray`` per frame.  A frame holds only the words a model writes with
``put_u64`` and reads back with ``get_u64`` (zsmalloc's free-list links and handle
headers), in a dict keyed by offset; ``write``s (objects, and headers no rule
reads back, such as zbud's) are dropped, ``read``s return zeros, ``copy`` moves
the words.  A model that
asks for the raw frame (``page``) gets a real ``bytearray`` holding those words,
and that frame stays a byte frame from then on, so the results are the byte
path's whatever a model does; only memory and time differ.
"""

from __future__ import annotations

from zbench.api.frames import _U64, PageFrames
from zbench.sim.sized import zeros

_Frame = bytearray | dict[int, int]


class SizeFrames(PageFrames):
    """Frames that keep what a model's rules read back (words), not the objects' bytes.

    Every access is one lookup of the frame and one type test, no further call: these
    run several times a store."""

    payload = False
    _data: dict[int, _Frame]  # type: ignore[assignment]  # words until materialised

    def _new_frame(self) -> _Frame:  # type: ignore[override]  # a dict of words, not bytes
        return {}

    def page(self, pfn: int) -> bytearray:
        d = self._data[pfn]
        if isinstance(d, dict):  # materialise: the model works on the raw frame from now
            raw = bytearray(self.page_size)
            for off, value in d.items():
                _U64.pack_into(raw, off, value)
            self._data[pfn] = raw
            return raw
        return d

    def get_u64(self, pfn: int, off: int) -> int:
        d = self._data[pfn]
        if isinstance(d, dict):
            return d.get(off, 0)
        return _U64.unpack_from(d, off)[0]

    def put_u64(self, pfn: int, off: int, value: int) -> None:
        d = self._data[pfn]
        if isinstance(d, dict):
            d[off] = value
        else:
            _U64.pack_into(d, off, value)

    def write(self, pfn: int, off: int, data: bytes) -> None:
        d = self._data[pfn]
        if not isinstance(d, dict):  # a payload is not kept (no word a model reads back
            d[off:off + len(data)] = data  # lies inside a live object)

    def read(self, pfn: int, off: int, n: int) -> bytes:
        d = self._data[pfn]
        if isinstance(d, dict):
            return zeros(n)
        return bytes(d[off:off + n])

    def copy(self, src: int, s_off: int, dst: int, d_off: int, n: int) -> None:
        s, d = self._data[src], self._data[dst]
        if isinstance(s, dict) and isinstance(d, dict):
            moved = {k - s_off + d_off: v for k, v in s.items() if s_off <= k < s_off + n}
            for k in [k for k in d if d_off <= k < d_off + n]:
                del d[k]
            d.update(moved)
        else:
            self.page(dst)[d_off:d_off + n] = self.page(src)[s_off:s_off + n]
