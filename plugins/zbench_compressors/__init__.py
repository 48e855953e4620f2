"""Built-in compressors: lz4 (block mode), zstd, deflate.

Each is set up as the kernel's crypto / zcomp backend sets up its algorithm,
so sizes are close to what zram and zswap see (the kernel's lz4 is the same
algorithm as liblz4's LZ4_compress_fast but not byte-identical; see
``zbench validate``).  lz4 and zstd take a ``dictionary`` file as zram's
``algorithm_params`` does since Linux 6.12 (:mod:`.dictionary`), and the plugin adds
``zbench dict train`` (:mod:`.cli`) to train a zstd dictionary from a dump.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import lz4.block
import zstandard
from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from zbench import PAGE_SIZE, Compressor, PluginOptions, UserError, hookimpl, sized, suite_path

from .dictionary import Dictionary, load_dictionary
from .lz4_native import lz4_codec
from .lz4_native import status as lz4_status

#: LZ4_loadDict (lib/lz4/lz4_compress.c) loads at most the last 64 KiB of a dictionary and
#: nothing of one shorter than HASH_UNIT (sizeof(size_t)); backend_lz4.c's
#: lz4_setup_params refuses (-EINVAL) a dictionary it did not load whole.
LZ4_DICT_MIN, LZ4_DICT_MAX = 8, 64 * 1024

_DICT_HELP = ("dictionary file (raw content, or for zstd a trained dictionary) as zram's "
              "algorithm_params dict= (Linux 6.12); a relative path: against the suite's "
              "folder when the file is there, else the working directory")


class DictionaryOptions(PluginOptions):
    """Options with a ``dictionary`` path: the file is checked when the options are (so
    a bad one stops the run before it starts, named with the option), and a ``None``
    dictionary is left out of the options' record, so the results and cache keys of a
    compressor without one are those of the releases before the option."""

    dictionary: Path | None = Field(None, description=_DICT_HELP)

    @field_validator("dictionary")
    @classmethod
    def _check_dictionary(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None:
            value = suite_path(value, info)
            try:
                cls.check_dictionary(load_dictionary(value), value)
            except UserError as exc:
                raise ValueError(str(exc)) from None
        return value

    @classmethod
    def check_dictionary(cls, d: Dictionary, path: Path) -> None:
        """Raise a UserError if the compressor cannot use ``d``; default: it can."""

    @model_serializer(mode="wrap")
    def _without_no_dictionary(self, handler: SerializerFunctionWrapHandler) -> Any:
        out = handler(self)
        if isinstance(out, dict) and out.get("dictionary") is None:
            out.pop("dictionary", None)
        return out


def _load(options: DictionaryOptions) -> Dictionary | None:
    return None if options.dictionary is None else load_dictionary(options.dictionary)


def _params(options: DictionaryOptions, d: Dictionary | None) -> dict[str, Any]:
    """The options less the dictionary's path, plus its content's sha256: the same
    dictionary under another name compresses the same, a changed one does not."""
    out = options.model_dump()
    out.pop("dictionary", None)
    if d is not None:
        out["dictionary_sha256"] = d.sha256
    return out


class Lz4Options(DictionaryOptions):
    acceleration: int = Field(1, ge=1, le=65537, description="LZ4_compress_fast acceleration")

    @classmethod
    def check_dictionary(cls, d: Dictionary, path: Path) -> None:
        if not LZ4_DICT_MIN <= len(d.data) <= LZ4_DICT_MAX:
            raise UserError(f"{path}: an lz4 dictionary must be {LZ4_DICT_MIN} to "
                            f"{LZ4_DICT_MAX} bytes (LZ4_loadDict loads no more, and zram "
                            f"refuses one it did not load whole), not {len(d.data)}")


class Lz4(Compressor):
    """lz4 block format, no size prefix: ``lz4_compress`` / ``LZ4_compress_fast``; with a
    dictionary, as backend_lz4.c: the stream primed by ``LZ4_loadDict`` for every page
    (``LZ4_compress_fast_continue``), decompressed with the same dictionary."""

    name = "lz4"
    adhoc_default = True
    description = "LZ4 block mode (as zram/zswap lz4), python-lz4"
    library = "lz4"
    Options = Lz4Options

    def __init__(self, options: Lz4Options) -> None:
        super().__init__(options)
        self._accel = options.acceleration
        self._dict = _load(options)
        self._kw: dict[str, Any] = {} if self._dict is None else {"dict": self._dict.data}

    def library_version(self) -> str:
        return f"{version('lz4')} (liblz4 {lz4.library_version_string()})"

    def params(self) -> dict[str, Any]:
        return _params(self.options, self._dict)  # type: ignore[arg-type]

    def compress(self, page: bytes) -> bytes:
        return lz4.block.compress(
            page, mode="fast", acceleration=self._accel, store_size=False, **self._kw
        )

    def decompress(self, data: bytes, size: int) -> bytes:
        return lz4.block.decompress(data, uncompressed_size=size, **self._kw)

    def native_codec(self) -> sized.NativeCodec | None:
        """python-lz4's own ``LZ4_compress_fast`` / ``LZ4_decompress_safe``
        (:mod:`.lz4_native`); none with a dictionary (the stream is primed each page)."""
        return None if self._dict is not None else lz4_codec(self._accel)

    @classmethod
    def engine_status(cls) -> str | None:
        return lz4_status()


class ZstdOptions(DictionaryOptions):
    level: int = Field(3, ge=-7, le=22, description="zstd level (kernel ZSTD_DEF_LEVEL is 3)")

    @classmethod
    def check_dictionary(cls, d: Dictionary, path: Path) -> None:
        try:  # what zstd_create_cdict_byreference would refuse (at any level), refused now
            _zstd_compressor(3, d).compress(bytes(PAGE_SIZE))
        except zstandard.ZstdError as exc:
            raise UserError(f"{path}: zstd refuses it as a dictionary (libzstd: {exc})") from None


def _zstd_compressor(level: int, d: Dictionary | None) -> zstandard.ZstdCompressor:
    """A compressor as backend_zstd.c sets one up: content size in the frame, no checksum;
    with a dictionary (raw content or trained: ``ZSTD_dct_auto``), its ID in the frame, as
    ``zstd_compress_using_cdict`` writes it."""
    if d is None:
        return zstandard.ZstdCompressor(
            level=level, write_checksum=False, write_content_size=True, write_dict_id=False
        )
    return zstandard.ZstdCompressor(
        level=level, dict_data=zstandard.ZstdCompressionDict(d.data), write_checksum=False,
        write_content_size=True, write_dict_id=True
    )


class Zstd(Compressor):
    """zstd frames, one per page, level 3 by default (the kernel's ``ZSTD_DEF_LEVEL``);
    with a dictionary, compressed and decompressed with it (backend_zstd.c's CDict and
    DDict over the same bytes)."""

    name = "zstd"
    description = "zstd, one frame per page (kernel default level 3), python-zstandard"
    library = "zstandard"
    Options = ZstdOptions

    def __init__(self, options: ZstdOptions) -> None:
        super().__init__(options)
        self._dict = _load(options)
        # Reused contexts: a new ZstdCompressor per page costs ~10 µs (measured with
        # python-zstandard: ~24 µs per 4 KiB page with a new one, ~14 µs reused).
        self._c = _zstd_compressor(options.level, self._dict)
        self._d = (zstandard.ZstdDecompressor() if self._dict is None else
                   zstandard.ZstdDecompressor(
                       dict_data=zstandard.ZstdCompressionDict(self._dict.data)))

    def library_version(self) -> str:
        libzstd = ".".join(map(str, zstandard.ZSTD_VERSION))
        return f"{zstandard.__version__} (libzstd {libzstd})"

    def params(self) -> dict[str, Any]:
        return _params(self.options, self._dict)  # type: ignore[arg-type]

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


@hookimpl
def register_commands(cli: Any) -> None:
    from .cli import dict_group

    cli.add_command(dict_group)
