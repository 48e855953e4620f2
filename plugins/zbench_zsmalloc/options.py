"""The zsmalloc plugin's options: which kernel's rules, which zspage chain size.

``chain_size`` is ``ZS_MAX_PAGES_PER_ZSPAGE``: fixed at ``1 << ZS_MAX_ZSPAGE_ORDER``
= 4 before 6.3; ``CONFIG_ZSMALLOC_CHAIN_SIZE`` (Kconfig default 8, range 4..16)
from 6.3 ("zsmalloc: make zspage chain size configurable").
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from zbench import KernelVersion, PluginOptions

MIN_KERNEL = KernelVersion("4.1")  # indirect handles + 8-byte object header
CHAIN_SIZE_KERNEL = KernelVersion("6.3")  # CONFIG_ZSMALLOC_CHAIN_SIZE
LEGACY_CHAIN_SIZE = 4  # 1 << ZS_MAX_ZSPAGE_ORDER (order 2)
DEFAULT_CHAIN_SIZE = 8  # Kconfig default of CONFIG_ZSMALLOC_CHAIN_SIZE
CHAIN_SIZE_MIN = 4
CHAIN_SIZE_MAX = 16


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

    @property
    def chain(self) -> int:
        """The resolved chain size (never ``None`` after validation)."""
        assert self.chain_size is not None
        return self.chain_size
