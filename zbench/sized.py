"""Stand-in pages for stores known only by their compressed size (replayed size traces).

A size trace recorded from a live kernel (``zs_malloc`` sizes) has no page
contents.  Each such store gets a stand-in: a pseudo-random page (never
same-filled) and a "compressed" form of exactly the traced size, unique per
store, that decodes back to that page through :class:`SizedCompressor`.  So
the allocator still holds real bytes of the right size, and ``--verify`` still
proves every object comes back intact.
"""

from __future__ import annotations

import random
from typing import Any

from zbench.compressor import Compressor
from zbench.frames import PAGE_SIZE


class SizedPages:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._by_blob: dict[bytes, int] = {}
        self._next = 0

    def data(self, key: int) -> bytes:
        return random.Random(f"sized:{self.seed}:{key}").randbytes(PAGE_SIZE)

    def make(self, size: int) -> tuple[int, bytes]:
        """A new stand-in of ``size`` compressed bytes: (key, blob)."""
        key = self._next
        self._next += 1
        n = min(size, 8)
        head = key.to_bytes(8, "little")[:n]
        if n < 8 and key >= 256**n:
            raise ValueError(f"too many stand-ins of size {size} to keep them distinct")
        blob = head + random.Random(f"pad:{self.seed}:{key}").randbytes(size - n)
        self._by_blob[blob] = key
        return key, blob

    def lookup(self, blob: bytes) -> int | None:
        return self._by_blob.get(blob)


class SizedCompressor(Compressor):
    """The case's compressor, plus decoding of size stand-ins."""

    def __init__(self, inner: Compressor, sized: SizedPages) -> None:
        super().__init__(inner.options)
        self.inner = inner
        self.sized = sized
        self.name = inner.name  # type: ignore[misc]
        self.library = inner.library  # type: ignore[misc]

    def __getattr__(self, item: str) -> Any:
        return getattr(self.inner, item)

    def library_version(self) -> str:
        return self.inner.library_version()

    def params(self) -> dict[str, Any]:
        return self.inner.params()

    def compress(self, page: bytes) -> bytes:
        return self.inner.compress(page)

    def decompress(self, data: bytes, size: int) -> bytes:
        key = self.sized.lookup(bytes(data))
        if key is not None:
            return self.sized.data(key)
        return self.inner.decompress(data, size)


_ZERO_PAGE = bytes(PAGE_SIZE)
_ZEROS: dict[int, bytes] = {}


def zeros(n: int) -> bytes:
    """``n`` zero bytes, one shared object per length."""
    z = _ZEROS.get(n)
    if z is None:
        z = _ZEROS[n] = bytes(n)
    return z


class SizesOnlyCompressor(SizedCompressor):
    """The case's compressor on the sizes-only path (``payload: sizes``): objects hold
    zero-filled stand-ins of the cached compressed sizes, so a load has nothing to
    decompress and returns a zero page.  The models see the same sizes and the same
    calls as on the byte-storing path, so every deterministic metric is the same."""

    def decompress(self, data: bytes, size: int) -> bytes:
        return _ZERO_PAGE
