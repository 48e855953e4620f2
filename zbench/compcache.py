"""Compressed pages, computed once per (dump, compressor, parameters, library).

The first case that needs a dump compressed with a compressor compresses all
of it and stores the result in the cache directory (``$ZBENCH_CACHE`` or
``~/.cache/zbench``); later cases and later runs read it back, so sweeps do
not recompress.  The file is written atomically; a damaged one is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from array import array
from collections.abc import Callable
from pathlib import Path

from zbench.compressor import Compressor
from zbench.corpus import Corpus, DumpLike

_MAGIC = b"ZBCC1\n"


def cache_dir() -> Path:
    env = os.environ.get("ZBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "zbench"


def cache_key(dump_sha256: str, compressor: Compressor) -> str:
    ident = {
        "dump": dump_sha256,
        "compressor": compressor.name,
        "params": compressor.params(),
        "library": compressor.library,
        "library_version": compressor.library_version(),
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()


def compress_dump(dump: DumpLike, compressor: Compressor, use_cache: bool = True) -> list[bytes]:
    """Every page of ``dump`` compressed, from the on-disk cache when it has them."""
    path = cache_dir() / "compressed" / f"{cache_key(dump.sha256, compressor)}.bin"
    if use_cache:
        blobs = _read(path, dump.n_pages)
        if blobs is not None:
            return blobs
    blobs = [compressor.compress(dump.page(i)) for i in range(dump.n_pages)]
    if use_cache:
        _write(path, blobs)
    return blobs


class CompressedPages:
    """``get(i)`` is corpus page ``i`` compressed with ``compressor``.

    The dump's pages are compressed (or read from the cache) on the first
    ``get``, through ``blobs()``: a front end that never asks (the real kernel
    compresses for itself) costs nothing.
    """

    def __init__(self, corpus: Corpus, compressor: Compressor,
                 blobs: Callable[[], list[bytes]]) -> None:
        self.corpus = corpus
        self.compressor = compressor
        self._make_blobs = blobs
        self._blobs: list[bytes] | None = None
        self._sizes: array[int] | None = None
        self._fills: dict[int, bytes] = {}

    def _dump_blobs(self) -> list[bytes]:
        if self._blobs is None:
            self._blobs = self._make_blobs()
            if len(self._blobs) != self.corpus.dump.n_pages:
                raise ValueError("compressed blobs do not match the dump")
        return self._blobs

    def size(self, i: int) -> int:
        """``len(get(i))``: the sizes-only path needs no blob, only the dump's lengths,
        taken once (4 bytes a dump page)."""
        src = self.corpus.source(i)
        if src < 0:
            return len(self.get(i))
        if self._sizes is None:
            self._sizes = array("I", map(len, self._dump_blobs()))
        return self._sizes[src]

    def get(self, i: int) -> bytes:
        src = self.corpus.source(i)
        if src >= 0:
            return self._dump_blobs()[src]
        word = self.corpus.fill_word(i)
        assert word is not None
        blob = self._fills.get(word)
        if blob is None:
            blob = self._fills[word] = self.compressor.compress(self.corpus.data(i))
        return blob


def _read(path: Path, n: int) -> list[bytes] | None:
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if not raw.startswith(_MAGIC) or len(raw) < len(_MAGIC) + 4:
        return None
    (count,) = struct.unpack_from("<I", raw, len(_MAGIC))
    if count != n:
        return None
    pos = len(_MAGIC) + 4
    sizes = array("I")
    sizes.frombytes(raw[pos : pos + 4 * n])
    pos += 4 * n
    if len(sizes) != n or pos + sum(sizes) != len(raw):
        return None
    out = []
    for s in sizes:
        out.append(raw[pos : pos + s])
        pos += s
    return out


def _write(path: Path, blobs: list[bytes]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    except OSError:
        return  # an unwritable cache only costs time
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC)
            f.write(struct.pack("<I", len(blobs)))
            f.write(array("I", (len(b) for b in blobs)).tobytes())
            for b in blobs:
                f.write(b)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
