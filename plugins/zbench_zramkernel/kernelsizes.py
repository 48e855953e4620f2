"""The running kernel's per-page compressed sizes, saved with a dump and used as a compressor.

``zbench validate`` records, for every page of a dump, what the kernel's zram
did with it: its compressed size (the change in ``compr_data_size``), whether
it was same-filled and whether it was stored huge.  The sizes are saved in
zbench's cache (``$ZBENCH_CACHE/ksizes/<dump sha256>.json``, so a checkout or an
installed dump is never rewritten) and, with ``zbench validate --save-sizes``, also
beside the dump as ``<dump>.ksizes.json`` (how the shipped dump carries them);
keyed by kernel release and algorithm.  The reader looks in the cache first, then
beside the dump.

The ``kernel`` compressor then gives a model exactly the kernel's object
sizes.  A model must still store real bytes, so each "compressed page" is a
*stand-in container* of exactly the kernel's size that really decodes to the
page: ``[payload][pad][len:u16][codec:u8]``, the payload being the page
compressed by python-lz4, zstd-19 or deflate-9, whichever fits first, and the
pad a fixed pattern checked on decode.  When none fits (the kernel compressed
better than all three), the payload is the page's sha256 prefix and decoding
looks the page up in the dump (codec 255); `reference_pages` counts those.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lz4.block
import zstandard
from pydantic import Field

from zbench import (
    PAGE_SIZE,
    Compressor,
    DumpError,
    PluginOptions,
    UserError,
    cache_dir,
    write_atomic,
)

SCHEMA = "zbench.kernel-sizes"
_TRAILER = 3
_REFERENCE = 255


def sidecar_path(dump_path: str | Path) -> Path:
    p = Path(dump_path)
    return p.with_name(p.name + ".ksizes.json")


def cache_path(dump_sha256: str) -> Path:
    """Where the kernel sizes of the dump with this sha256 are cached, wherever it lives."""
    return cache_dir() / "ksizes" / f"{dump_sha256}.json"


def entry_key(release: str, algorithm: str) -> str:
    return f"{release}/{algorithm}"


def save_sizes(dump_path: str | Path, dump_sha256: str, release: str, algorithm: str,
               sizes: list[int], same: list[int], huge: list[int],
               extra: dict[str, Any] | None = None, beside: bool = False) -> list[Path]:
    """Add (or replace) one release/algorithm entry in the cache (and, with ``beside``, in
    the dump's sidecar too), atomically; the files written."""
    entry = {
        "release": release, "algorithm": algorithm,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}), "sizes": sizes, "same": same, "huge": huge,
    }
    paths = [cache_path(dump_sha256)] + ([sidecar_path(dump_path)] if beside else [])
    for path in paths:
        data = _read(path)
        if data is None or data.get("dump_sha256") != dump_sha256:
            data = {"schema": SCHEMA, "version": 1, "dump_sha256": dump_sha256, "entries": {}}
        data["entries"][entry_key(release, algorithm)] = entry
        write_atomic(path, json.dumps(data, separators=(",", ":")) + "\n", mode=0o644)
    return paths


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DumpError(f"{path}: not a readable kernel-sizes file: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise DumpError(f"{path}: schema: not a zbench kernel-sizes file")
    return data


def _choose(path: Path, data: dict[str, Any], dump_sha256: str, algorithm: str,
            release: str | None, hint: str) -> dict[str, Any]:
    if data.get("dump_sha256") != dump_sha256:
        raise UserError(f"{path}: dump_sha256: recorded for another dump ({hint})")
    entries = [e for e in data["entries"].values() if e["algorithm"] == algorithm]
    want = release or os.uname().release
    chosen = [e for e in entries if e["release"] == want]
    if not chosen and release is None and len(entries) == 1:
        chosen = entries
    if not chosen:
        have = ", ".join(sorted(data["entries"])) or "none"
        raise UserError(f"{path}: no entry {entry_key(want, algorithm)} (have: {have}; {hint})")
    return {**chosen[0], "source": str(path)}


def load_sizes(dump_path: str | Path, dump_sha256: str, algorithm: str,
               release: str | None) -> dict[str, Any]:
    """The entry for ``algorithm`` (and ``release``, default: the running kernel's, else the
    only one recorded), from the cache, else from beside the dump; ``source`` names the
    file.  A one-line UserError naming the file otherwise."""
    hint = "record them with `zbench validate --dump DUMP --compressor ALGO` as root"
    failure: UserError | None = None
    for path in (cache_path(dump_sha256), sidecar_path(dump_path)):
        data = _read(path)
        if data is None:
            continue
        try:
            return _choose(path, data, dump_sha256, algorithm, release, hint)
        except UserError as exc:
            failure = failure or exc
    if failure is not None:
        raise failure
    raise UserError(f"{sidecar_path(dump_path)}: no kernel sizes recorded for this dump "
                    f"({hint})")


class KernelSizesOptions(PluginOptions):
    algorithm: str = Field("lz4", min_length=1, description="zram algorithm the sizes are for")
    release: str | None = Field(None, description="kernel release (default: running, or the "
                                                  "only one recorded)")


def _codecs() -> list[tuple[int, Any]]:
    zc = zstandard.ZstdCompressor(level=19, write_checksum=False, write_content_size=False)
    return [
        (0, lambda p: lz4.block.compress(p, store_size=False)),
        (1, zc.compress),
        (2, lambda p: _deflate(p)),
    ]


def _deflate(page: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(page) + c.flush()


def _pad(n: int) -> bytes:
    return bytes((0xA5 + i) & 0xFF for i in range(n))


class KernelSizes(Compressor):
    """Object sizes exactly as the running kernel's zram compressed each page."""

    name = "kernel"
    description = "the kernel's own per-page compressed sizes (recorded by zbench validate)"
    library = "kernel"
    Options = KernelSizesOptions

    def __init__(self, options: KernelSizesOptions) -> None:
        super().__init__(options)
        self._sizes: dict[bytes, int] = {}
        self._pages: dict[bytes, bytes] = {}
        self._release = options.release or ""
        self._zd = zstandard.ZstdDecompressor()
        self._codecs = _codecs()
        self.reference_pages = 0

    def _entry(self, dump: Any) -> dict[str, Any]:
        o: KernelSizesOptions = self.options  # type: ignore[assignment]
        entry = load_sizes(dump.path, dump.sha256, o.algorithm, o.release)
        if len(entry["sizes"]) != dump.n_pages:
            raise UserError(f"{entry['source']}: sizes: {len(entry['sizes'])} entries "
                            f"for a {dump.n_pages}-page dump")
        return entry

    def check(self, dump: Any) -> None:
        self._entry(dump)

    def bind(self, dump: Any) -> None:
        entry = self._entry(dump)
        self._release = entry["release"]
        sizes = entry["sizes"]
        for i, size in enumerate(sizes):
            page = dump.page(i)
            key = hashlib.sha256(page).digest()
            self._pages[key[:8]] = page
            if size > 0:  # 0: same-filled, the kernel never compressed it
                self._sizes[key] = size

    def params(self) -> dict[str, Any]:
        o: KernelSizesOptions = self.options  # type: ignore[assignment]
        return {"algorithm": o.algorithm, "release": self._release}

    def library_version(self) -> str:
        return f"kernel {self._release or '(unbound)'}"

    def compress(self, page: bytes) -> bytes:
        key = hashlib.sha256(page).digest()
        size = self._sizes.get(key)
        if size is None:  # a page the kernel never compressed (same-filled, injected)
            payload = lz4.block.compress(page, store_size=False)
            return self._container(payload, 0, len(payload) + _TRAILER)
        size = min(size, PAGE_SIZE)
        for codec, fn in self._codecs:
            payload = fn(page)
            if len(payload) + _TRAILER <= size:
                return self._container(payload, codec, size)
        self.reference_pages += 1
        return self._container(key[:8], _REFERENCE, size)

    @staticmethod
    def _container(payload: bytes, codec: int, size: int) -> bytes:
        pad = size - len(payload) - _TRAILER
        return payload + _pad(pad) + len(payload).to_bytes(2, "little") + bytes([codec])

    def decompress(self, data: bytes, size: int) -> bytes:
        if len(data) < _TRAILER:
            raise ValueError("kernel-size container too short")
        codec = data[-1]
        n = int.from_bytes(data[-3:-1], "little")
        payload, pad = data[:n], data[n:-_TRAILER]
        if len(payload) != n or pad != _pad(len(pad)):
            raise ValueError("kernel-size container damaged (length or pad)")
        if codec == 0:
            return lz4.block.decompress(payload, uncompressed_size=size)
        if codec == 1:
            return self._zd.decompress(payload, max_output_size=size)
        if codec == 2:
            return zlib.decompress(payload, -15, size)
        if codec == _REFERENCE and payload in self._pages:
            return self._pages[payload]
        raise ValueError(f"kernel-size container: bad codec {codec}")
