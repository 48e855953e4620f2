"""The z3fold plugin's options: which kernel's rules, how many chunks the header takes.

z3fold was merged in 4.8 ("z3fold: the 3-fold allocator for compressed pages"),
deprecated in 6.12 and removed in 6.15 ("mm: z3fold: remove z3fold"), so kernels
4.8 - 6.14 are accepted.

``header_chunks`` is ``ZHDR_CHUNKS``.  The default follows an x86-64 build without
lock debugging: 1 chunk up to 4.13 (a 32- or 40-byte header), 2 chunks from 4.14
(80-88 bytes once the header holds a ``work_struct``); see :mod:`.layout`.  An
explicit value models another build: 2 before 4.14 a header enlarged by lock
debugging (lockdep), 1 from 4.14 a 32-bit build (a 52-byte header).  4.8 - 4.10
hard-code a one-chunk header.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from zbench import KernelVersion, PluginOptions

from .layout import default_header_chunks

MIN_KERNEL = KernelVersion("4.8")
MAX_KERNEL = KernelVersion("6.14")
SIZEOF_HEADER_KERNEL = KernelVersion("4.11")  # ZHDR_SIZE_ALIGNED from sizeof()


class Z3Options(PluginOptions):
    """Options of the ``z3fold`` allocator model."""

    kernel: KernelVersion = Field(
        KernelVersion("6.14"), description="kernel whose mm/z3fold.c rules apply (4.8 - 6.14)"
    )
    header_chunks: int | None = Field(
        None,
        validate_default=True,
        description="ZHDR_CHUNKS, 1 or 2; default: the x86-64 build without lock debugging "
        "(1 up to 4.13, 2 from 4.14)",
    )

    @field_validator("kernel")
    @classmethod
    def _supported_kernel(cls, value: KernelVersion) -> KernelVersion:
        if value < MIN_KERNEL:
            raise ValueError(f"z3fold exists from kernel {MIN_KERNEL} (got {value})")
        if value > MAX_KERNEL:
            raise ValueError(
                f"z3fold was removed in 6.15; the model supports kernel {MIN_KERNEL} - "
                f"{MAX_KERNEL} (got {value})"
            )
        return value

    @field_validator("header_chunks")
    @classmethod
    def _resolve_header(cls, value: int | None, info: ValidationInfo) -> int | None:
        kernel = info.data.get("kernel")
        if kernel is None:  # the kernel field already failed
            return value
        if value is None:
            return default_header_chunks(kernel)
        if value not in (1, 2):
            raise ValueError(f"header_chunks must be 1 or 2, got {value}")
        if kernel < SIZEOF_HEADER_KERNEL and value != 1:
            raise ValueError(
                f"kernel {kernel} hard-codes a one-chunk header (ZHDR_SIZE_ALIGNED = "
                f"CHUNK_SIZE until {SIZEOF_HEADER_KERNEL})"
            )
        return value

    @property
    def zhdr_chunks(self) -> int:
        """The resolved header size in chunks (never ``None`` after validation)."""
        assert self.header_chunks is not None
        return self.header_chunks
