"""Built-in compressors: lz4 (block mode), zstd, deflate.

Each is set up as the kernel's crypto / zcomp backend sets up its algorithm,
so sizes are close to what zram and zswap see (the kernel's lz4 is the same
algorithm as liblz4's LZ4_compress_fast but not byte-identical; see
``zbench validate``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from importlib.metadata import version

import lz4.block
import zstandard
from pydantic import Field

from zbench import Compressor, PluginOptions, hookimpl


class Lz4Options(PluginOptions):
    acceleration: int = Field(1, ge=1, le=65537, description="LZ4_compress_fast acceleration")


class Lz4(Compressor):
    """lz4 block format, no size prefix: ``lz4_compress`` / ``LZ4_compress_fast``."""

    name = "lz4"
    adhoc_default = True
    description = "LZ4 block mode (as zram/zswap lz4), python-lz4"
    library = "lz4"
    Options = Lz4Options

    def __init__(self, options: Lz4Options) -> None:
        super().__init__(options)
        self._accel = options.acceleration

    def library_version(self) -> str:
        return f"{version('lz4')} (liblz4 {lz4.library_version_string()})"

    def compress(self, page: bytes) -> bytes:
        return lz4.block.compress(
            page, mode="fast", acceleration=self._accel, store_size=False
        )

    def decompress(self, data: bytes, size: int) -> bytes:
        return lz4.block.decompress(data, uncompressed_size=size)


class ZstdOptions(PluginOptions):
    level: int = Field(3, ge=-7, le=22, description="zstd level (kernel ZSTD_DEF_LEVEL is 3)")


class Zstd(Compressor):
    """zstd frames, one per page, level 3 by default (the kernel's ``ZSTD_DEF_LEVEL``)."""

    name = "zstd"
    description = "zstd, one frame per page (kernel default level 3), python-zstandard"
    library = "zstandard"
    Options = ZstdOptions

    def __init__(self, options: ZstdOptions) -> None:
        super().__init__(options)
        # Reused contexts: a new ZstdCompressor per page costs ~10 µs (measured with
        # python-zstandard: ~24 µs per 4 KiB page with a new one, ~14 µs reused).
        self._c = zstandard.ZstdCompressor(
            level=options.level, write_checksum=False, write_content_size=True, write_dict_id=False
        )
        self._d = zstandard.ZstdDecompressor()

    def library_version(self) -> str:
        libzstd = ".".join(map(str, zstandard.ZSTD_VERSION))
        return f"{zstandard.__version__} (libzstd {libzstd})"

    def compress(self, page: bytes) -> bytes:
        return self._c.compress(page)

    def decompress(self, data: bytes, size: int) -> bytes:
        return self._d.decompress(data, max_output_size=size)


class DeflateOptions(PluginOptions):
    level: int = Field(6, ge=0, le=9, description="zlib level (crypto/deflate.c: default, 6)")
    window_bits: int = Field(11, ge=9, le=15, description="raw deflate window (kernel: 11)")
    mem_level: int = Field(8, ge=1, le=9, description="zlib memLevel (kernel: 8)")


class Deflate(Compressor):
    """Raw deflate as ``crypto/deflate.c`` sets it up (window 2^11, memLevel 8)."""

    name = "deflate"
    description = "raw deflate as crypto/deflate.c (window 11, memLevel 8), zlib"
    library = "zlib"
    Options = DeflateOptions

    def __init__(self, options: DeflateOptions) -> None:
        super().__init__(options)
        self._o = options

    def library_version(self) -> str:
        return zlib.ZLIB_RUNTIME_VERSION

    def compress(self, page: bytes) -> bytes:
        c = zlib.compressobj(self._o.level, zlib.DEFLATED, -self._o.window_bits, self._o.mem_level)
        return c.compress(page) + c.flush()

    def decompress(self, data: bytes, size: int) -> bytes:
        return zlib.decompress(data, -self._o.window_bits, size)


@hookimpl
def register_compressors(register: Callable[[type], None]) -> None:
    register(Lz4)
    register(Zstd)
    register(Deflate)
