"""Compressed pages, computed once per (dump, compressor, parameters, library).

The first case that needs a dump compressed with a compressor compresses all
of it and stores the result in the cache directory (``$ZBENCH_CACHE`` or
``~/.cache/zbench``); later cases and later runs read it back, so sweeps do
not recompress.  The file is written atomically and owner-only, and carries an
HMAC-SHA256 of its key, sizes and blobs under the cache's secret
(:func:`cache_secret`): a damaged, truncated or edited file fails the check and
is recompressed and rewritten, never read as different pages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import struct
import tempfile
from array import array
from collections.abc import Callable
from pathlib import Path

from zbench.api import safeio
from zbench.api.compressor import Compressor
from zbench.api.errors import UserError
from zbench.api.frames import PAGE_SIZE
from zbench.input.corpus import Corpus, DumpLike

_MAGIC = b"ZBCC2\n"
_DIGEST = 32  # bytes of HMAC-SHA256
#: name of the per-cache secret in the cache directory
SECRET = "secret"
_SECRETS: dict[Path, bytes] = {}


def cache_dir() -> Path:
    env = os.environ.get("ZBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "zbench"


def read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes (opened
    without blocking and without following a symlink), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _own_secret(path: Path) -> bytes | None:
    """The secret in ``path`` when it is a regular owner-only file of ours, else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid()
            or st.st_mode & 0o077):
        return None
    raw = read_regular(path, 256)
    try:
        key = bytes.fromhex(raw.decode("ascii").strip()) if raw is not None else b""
    except ValueError:
        return None
    return key if len(key) == 32 else None


def cache_secret() -> bytes | None:
    """The cache directory's random 32-byte secret, which the digests of every cache
    entry are keyed with; created on first use, atomically and owner-only (``0600``); one
    that is not ours, not owner-only or damaged is replaced (and so every entry made with
    it is recomputed).  None when the cache directory is unusable: nothing is cached."""
    d = cache_dir()
    path = d / SECRET
    known = _SECRETS.get(path)
    if known is not None and _own_secret(path) == known:
        return known
    for _ in range(3):
        key = _own_secret(path)
        if key is not None:
            _SECRETS[path] = key
            return key
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-secret-")  # mode 0600
        except OSError:
            return None
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32) + "\n")
            if os.path.lexists(path):
                os.replace(tmp, path)  # a damaged or foreign one
            else:
                os.link(tmp, path)  # first use: only one process's secret wins
        except FileExistsError:
            pass
        except OSError:
            return None
        finally:
            Path(tmp).unlink(missing_ok=True)
    return None


def digest(secret: bytes, *parts: bytes) -> bytes:
    """HMAC-SHA256 of ``parts`` (each length-prefixed, so boundaries count)."""
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(struct.pack("<Q", len(part)))
        mac.update(part)
    return mac.digest()


def cache_key(dump_sha256: str, compressor: Compressor, page_size: int = PAGE_SIZE) -> str:
    """The cache file's name: the dump, the compressor and its parameters and library,
    and the page size the dump is read as (only when it is not 4096, so the keys of
    4 K pages stay as they were)."""
    ident: dict[str, object] = {
        "dump": dump_sha256,
        "compressor": compressor.name,
        "params": compressor.params(),
        "library": compressor.library,
        "library_version": compressor.library_version(),
    }
    if page_size != PAGE_SIZE:
        ident["page_size"] = page_size
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()


def compress_dump(dump: DumpLike, compressor: Compressor, use_cache: bool = True) -> list[bytes]:
    """Every page of ``dump`` compressed, from the on-disk cache when it has them."""
    key = cache_key(dump.sha256, compressor, getattr(dump, "page_size", PAGE_SIZE))
    path = cache_dir() / "compressed" / f"{key}.bin"
    secret = cache_secret() if use_cache else None
    if secret is not None:
        blobs = _read(path, dump.n_pages, key, secret)
        if blobs is not None:
            return blobs
    blobs = [compressor.compress(dump.page(i)) for i in range(dump.n_pages)]
    if secret is not None:
        _write(path, blobs, key, secret)
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
        self._order = corpus.order  # corpus page -> dump page (>= 0) or injected (< 0)
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
        taken once (4 bytes a dump page).  Called on every sizes-only store, so it reads
        the corpus order itself rather than through ``Corpus.source``."""
        src = self._order[i]
        if src < 0:
            return len(self.get(i))
        return (self._sizes if self._sizes is not None else self._dump_sizes())[src]

    def _dump_sizes(self) -> array[int]:
        """The dump pages' compressed lengths, taken once."""
        if self._sizes is None:
            self._sizes = array("I", map(len, self._dump_blobs()))
        return self._sizes

    def source_sizes(self) -> list[int]:
        """``size`` by source, not by corpus page: entry ``src`` for a dump page
        (``corpus.order[i] == src >= 0``), entry ``src`` from the end for an injected page
        (``src < 0``, so ``table[corpus.order[i]] == size(i)`` with Python's negative
        indexing)."""
        tail = [len(self._fill_blob(w)) for w in reversed(self.corpus.injected_words())]
        return list(self._dump_sizes()) + tail

    def source_blobs(self) -> list[bytes]:
        """``get`` by source, in :meth:`source_sizes`'s order (the dump's pages, then the
        injected pages from the last to the first)."""
        tail = [self._fill_blob(w) for w in reversed(self.corpus.injected_words())]
        return [*self._dump_blobs(), *tail]

    def _fill_blob(self, word: int) -> bytes:
        blob = self._fills.get(word)
        if blob is None:
            page = word.to_bytes(8, "little") * (self.corpus.page_size // 8)
            blob = self._fills[word] = self.compressor.compress(page)
        return blob

    def get(self, i: int) -> bytes:
        src = self._order[i]
        if src >= 0:
            blobs = self._blobs
            return (blobs if blobs is not None else self._dump_blobs())[src]
        word = self.corpus.fill_word(i)
        assert word is not None
        return self._fill_blob(word)


#: a cache file is never larger than this (a page compresses to at most ~2 pages)
_MAX_FILE = 1 << 34


def _read(path: Path, n: int, key: str, secret: bytes) -> list[bytes] | None:
    """The blobs of a cache file whose digest checks out, else None (recompute)."""
    raw = read_regular(path, _MAX_FILE)
    head = len(_MAGIC) + _DIGEST + 4
    if raw is None or not raw.startswith(_MAGIC) or len(raw) < head:
        return None
    mac = raw[len(_MAGIC) : len(_MAGIC) + _DIGEST]
    (count,) = struct.unpack_from("<I", raw, head - 4)
    if count != n or len(raw) < head + 4 * n:
        return None
    sizes_raw = raw[head : head + 4 * n]
    body = raw[head + 4 * n :]
    if not hmac.compare_digest(mac, digest(secret, key.encode(), raw[head - 4 : head],
                                           sizes_raw, body)):
        return None
    sizes = array("I")
    sizes.frombytes(sizes_raw)
    if sum(sizes) != len(body):
        return None
    out, pos = [], 0
    for s in sizes:
        out.append(body[pos : pos + s])
        pos += s
    return out


def _write(path: Path, blobs: list[bytes], key: str, secret: bytes) -> None:
    count = struct.pack("<I", len(blobs))
    sizes = array("I", (len(b) for b in blobs)).tobytes()
    body = b"".join(blobs)
    mac = digest(secret, key.encode(), count, sizes, body)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        safeio.write_atomic(path, [_MAGIC + mac + count + sizes, body], safeio.PRIVATE)
    except (OSError, UserError):
        pass  # an unwritable cache only costs time
