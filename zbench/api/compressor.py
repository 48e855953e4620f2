"""The compressor interface (the kernel's crypto_comp / zcomp backends)."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar

from zbench.api.options import PluginOptions

if TYPE_CHECKING:
    from zbench.api.sized import NativeCodec


class Compressor(abc.ABC):
    """Compresses one page at a time, as zram and zswap do."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[PluginOptions]] = PluginOptions
    #: True for the one plugin of this kind an ad-hoc ``zbench run`` (no SUITE) uses when
    #: the flags name none (the built-ins: zsmalloc, lz4, fill).
    adhoc_default: ClassVar[bool] = False
    #: The Python distribution that does the work (recorded in results).
    library: ClassVar[str] = ""

    def __init__(self, options: PluginOptions) -> None:
        self.options = options

    def check(self, dump: Any) -> None:
        """Called for every dump before the first case runs: raise
        :class:`~zbench.api.errors.UserError` if this compressor cannot work on it (sizes
        recorded for another dump, say), so bad input stops the run before it starts.
        The default accepts any dump."""
        return None

    def bind(self, dump: Any) -> None:
        """Called with the dump (``.path``, ``.sha256``, ``.n_pages``, ``.page(i)``)
        before any of its pages is compressed; most compressors need nothing."""
        return None

    @abc.abstractmethod
    def library_version(self) -> str:
        """Version of the library (and of the C library under it where known)."""

    def params(self) -> dict[str, Any]:
        """Parameters that change the output (level, mode); part of the cache key."""
        return self.options.model_dump()

    @abc.abstractmethod
    def compress(self, page: bytes) -> bytes:
        """Compress one page; the result may be larger than the page."""

    @abc.abstractmethod
    def decompress(self, data: bytes, size: int) -> bytes:
        """Decompress ``data`` back to ``size`` bytes."""

    def native_codec(self) -> NativeCodec | None:
        """This compressor's C face, for a front end's native loop over a batch of
        payload (:class:`zbench.sized.NativeCodec`: two C functions that give exactly
        what ``compress`` and ``decompress`` give), or ``None`` (the default): a case
        with this compressor keeps its bytes in the Python models.  A proxy (a clock,
        size stand-ins) has none: it changes what ``compress`` does."""
        return None

    @classmethod
    def engine_status(cls) -> str | None:
        """One line for ``zbench plugins`` on the compressor's C face: whether it is
        there for batches of bytes, or why not (not built, turned off).  ``None`` (the
        default): the compressor has none."""
        return None


class CompressorProxy(Compressor):
    """A compressor that wraps another: it answers as the inner one (name, library,
    version, parameters, and any other attribute) and passes ``compress`` /
    ``decompress`` through; a subclass overrides what it adds (a clock, size stand-ins)."""

    def __init__(self, inner: Compressor) -> None:
        super().__init__(inner.options)
        self.inner = inner
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
        return self.inner.decompress(data, size)
