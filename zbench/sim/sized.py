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

from zbench.api.compressor import Compressor, CompressorProxy
from zbench.api.frames import PAGE_SIZE


class SizedPages:
    """The stand-ins of one case.  Each store of a size gets the next index *of that
    size* as the blob's head (up to 8 bytes), so blobs of one size are distinct as long
    as the size can tell them apart (256 of size 1, 65536 of size 2, ...); past that,
    a blob equal to an earlier one is that earlier stand-in again (same page, same
    compressed form), which still decodes correctly."""

    def __init__(self, seed: int, page_size: int = PAGE_SIZE) -> None:
        self.seed = seed
        self.page_size = page_size  # the case's: a stand-in page is that long
        self._by_blob: dict[bytes, int] = {}
        self._per_size: dict[int, int] = {}
        self._next = 0

    def data(self, key: int) -> bytes:
        return random.Random(f"sized:{self.seed}:{key}").randbytes(self.page_size)

    def make(self, size: int) -> tuple[int, bytes]:
        """A stand-in of ``size`` compressed bytes: (key, blob)."""
        if size < 1:
            raise ValueError(f"a stand-in needs at least one byte, not {size}")
        index = self._per_size.get(size, 0)
        self._per_size[size] = index + 1
        n = min(size, 8)
        head = (index % 256**n).to_bytes(n, "little")
        key = self._next
        blob = head + random.Random(f"pad:{self.seed}:{key}").randbytes(size - n)
        old = self._by_blob.get(blob)
        if old is not None:
            return old, blob
        self._next += 1
        self._by_blob[blob] = key
        return key, blob

    def lookup(self, blob: bytes) -> int | None:
        return self._by_blob.get(blob)


class SizedCompressor(CompressorProxy):
    """The case's compressor, plus decoding of size stand-ins."""

    def __init__(self, inner: Compressor, sized: SizedPages) -> None:
        super().__init__(inner)
        self.sized = sized

    def decompress(self, data: bytes, size: int) -> bytes:
        key = self.sized.lookup(bytes(data))
        if key is not None:
            return self.sized.data(key)
        return self.inner.decompress(data, size)


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
        return zeros(self.sized.page_size)
