"""The zsmalloc plugin's options: which kernel's rules, which zspage chain size, which
``PAGE_SIZE``.

``chain_size`` is ``ZS_MAX_PAGES_PER_ZSPAGE``: fixed at ``1 << ZS_MAX_ZSPAGE_ORDER``
= 4 before 6.3; ``CONFIG_ZSMALLOC_CHAIN_SIZE`` (Kconfig default 8, range 4..16)
from 6.3 ("zsmalloc: make zspage chain size configurable").  The chain is counted in
pages whatever their size, so the range does not depend on ``page_size``.

``page_size`` is the kernel's build-time ``PAGE_SIZE`` (4 KiB on x86-64; 16 KiB or
64 KiB on arm64, 64 KiB on ppc64): mm/zsmalloc.c derives its whole class geometry
from it (:mod:`.size_class`).  Only the class table follows it so far: the pool stores
objects in 4 KiB frames only and refuses other page sizes (:mod:`.pool`).  The default
is left out of the serialised options, so a 4 KiB run's records (results, baselines)
are the same as before the option existed.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from zbench import KernelVersion, PluginOptions

MIN_KERNEL = KernelVersion("4.1")  # indirect handles + 8-byte object header
CHAIN_SIZE_KERNEL = KernelVersion("6.3")  # CONFIG_ZSMALLOC_CHAIN_SIZE
LEGACY_CHAIN_SIZE = 4  # 1 << ZS_MAX_ZSPAGE_ORDER (order 2)
DEFAULT_CHAIN_SIZE = 8  # Kconfig default of CONFIG_ZSMALLOC_CHAIN_SIZE
CHAIN_SIZE_MIN = 4
CHAIN_SIZE_MAX = 16
DEFAULT_PAGE_SIZE = 4096  # PAGE_SIZE of x86-64 (and of the core's page frames)
PAGE_SIZE_MIN = 4096  # CONFIG_PAGE_SIZE_4KB
PAGE_SIZE_MAX = 65536  # CONFIG_ARM64_64K_PAGES, CONFIG_PPC_64K_PAGES


class ZsOptions(PluginOptions):
    """Options of the ``zsmalloc`` allocator model."""

    kernel: KernelVersion = Field(
        KernelVersion("6.18"), description="kernel whose mm/zsmalloc.c rules apply (>= 4.1)"
    )
    chain_size: int | None = Field(
        None,
        validate_default=True,
        description="pages per zspage at most (ZS_MAX_PAGES_PER_ZSPAGE); "
        "default 4 before 6.3, else 8; 4..16 from 6.3",
    )
    page_size: int = Field(
        DEFAULT_PAGE_SIZE,
        description="the kernel's PAGE_SIZE in bytes: a power of two in 4096..65536 "
        "(16384, 65536: arm64, ppc64); only 4096 runs cases so far",
    )

    @field_validator("kernel")
    @classmethod
    def _supported_kernel(cls, value: KernelVersion) -> KernelVersion:
        if value < MIN_KERNEL:
            raise ValueError(f"zsmalloc model supports kernel >= {MIN_KERNEL} (got {value})")
        return value

    @field_validator("chain_size")
    @classmethod
    def _resolve_chain_size(cls, value: int | None, info: ValidationInfo) -> int | None:
        kernel = info.data.get("kernel")
        if kernel is None:  # the kernel field already failed
            return value
        if kernel < CHAIN_SIZE_KERNEL:
            if value is not None and value != LEGACY_CHAIN_SIZE:
                raise ValueError(
                    f"kernel {kernel} has a fixed chain size of {LEGACY_CHAIN_SIZE} "
                    f"(CONFIG_ZSMALLOC_CHAIN_SIZE exists from {CHAIN_SIZE_KERNEL})"
                )
            return LEGACY_CHAIN_SIZE
        if value is None:
            return DEFAULT_CHAIN_SIZE
        if not CHAIN_SIZE_MIN <= value <= CHAIN_SIZE_MAX:
            raise ValueError(
                f"chain_size must be in {CHAIN_SIZE_MIN}..{CHAIN_SIZE_MAX} "
                f"(CONFIG_ZSMALLOC_CHAIN_SIZE range), got {value}"
            )
        return value

    @field_validator("page_size")
    @classmethod
    def _supported_page_size(cls, value: int) -> int:
        if value & (value - 1) or not PAGE_SIZE_MIN <= value <= PAGE_SIZE_MAX:
            raise ValueError(
                f"page_size must be a power of two in {PAGE_SIZE_MIN}..{PAGE_SIZE_MAX} "
                f"(a kernel PAGE_SIZE), got {value}"
            )
        return value

    @model_serializer(mode="wrap")
    def _omit_default_page_size(self, handler: SerializerFunctionWrapHandler) -> Any:
        """The serialised options without ``page_size`` when it is the default."""
        data = handler(self)
        if isinstance(data, dict) and data.get("page_size") == DEFAULT_PAGE_SIZE:
            del data["page_size"]
        return data

    @property
    def chain(self) -> int:
        """The resolved chain size (never ``None`` after validation)."""
        assert self.chain_size is not None
        return self.chain_size
