"""The zsmalloc plugin's options: which kernel's rules, which zspage chain size, which
``PAGE_SIZE``, which class-table rules.

``chain_size`` is ``ZS_MAX_PAGES_PER_ZSPAGE``: fixed at ``1 << ZS_MAX_ZSPAGE_ORDER``
= 4 before 6.3; ``CONFIG_ZSMALLOC_CHAIN_SIZE`` (Kconfig default 8, range 4..16)
from 6.3 ("zsmalloc: make zspage chain size configurable").  The chain is counted in
pages whatever their size, so the range does not depend on ``page_size``.

``page_size`` is the kernel's build-time ``PAGE_SIZE`` (4 KiB on x86-64; 16 KiB or
64 KiB on arm64, 64 KiB on ppc64): mm/zsmalloc.c derives its whole class geometry
from it (:mod:`.size_class`).  4096 (the default) follows the case's page size (the
pool's frames); another value must equal it, or the case is skipped (:mod:`.pool`,
docs/page-size.md).  The default is left out of the serialised options, so a 4 KiB
run's records (results, baselines) are the same as before the option existed.

``classes`` picks the class table: ``merged`` (default), the kernel's own mm/zsmalloc.c;
``rfc-2026-chain``, the January 2026 RFC "zsmalloc: size-classes chain-length tunings"
(16-byte class step for every page size, chain lengths chosen also against objects that
span two pages: :mod:`.rfc`, docs/zsmalloc-rfc.md), from kernel 6.3 (the first with
``calculate_zspage_chain_size``, which the RFC rewrites).  Like ``page_size`` the default
is left out of the serialised options.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from zbench import KernelVersion, PluginOptions

from .rfc import CLASSES_MERGED, CLASSES_RFC_2026

MIN_KERNEL = KernelVersion("4.1")  # indirect handles + 8-byte object header
CHAIN_SIZE_KERNEL = KernelVersion("6.3")  # CONFIG_ZSMALLOC_CHAIN_SIZE
LEGACY_CHAIN_SIZE = 4  # 1 << ZS_MAX_ZSPAGE_ORDER (order 2)
DEFAULT_CHAIN_SIZE = 8  # Kconfig default of CONFIG_ZSMALLOC_CHAIN_SIZE
CHAIN_SIZE_MIN = 4
CHAIN_SIZE_MAX = 16
DEFAULT_PAGE_SIZE = 4096  # PAGE_SIZE of x86-64 (and of the core's page frames)
PAGE_SIZE_MIN = 4096  # CONFIG_PAGE_SIZE_4KB
PAGE_SIZE_MAX = 65536  # CONFIG_ARM64_64K_PAGES, CONFIG_PPC_64K_PAGES
ClassesName = Literal["merged", "rfc-2026-chain"]  # rfc.CLASSES_MERGED, rfc.CLASSES_RFC_2026
DEFAULT_CLASSES: ClassesName = "merged"
assert DEFAULT_CLASSES == CLASSES_MERGED
RFC_MIN_KERNEL = CHAIN_SIZE_KERNEL  # calculate_zspage_chain_size(), which the RFC rewrites


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
        "(16384, 65536: arm64, ppc64); 4096 (the default) follows the case's page size, "
        "another value must equal it (docs/page-size.md)",
    )
    classes: ClassesName = Field(
        DEFAULT_CLASSES,
        description="class table: 'merged' (mm/zsmalloc.c as merged) or 'rfc-2026-chain' "
        "(the 2026 RFC 'zsmalloc: size-classes chain-length tunings', not merged: 16-byte "
        "class step, chain grown only for a substantial saving; kernel >= 6.3)",
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

    @field_validator("classes")
    @classmethod
    def _classes_need_chain_rule(cls, value: str, info: ValidationInfo) -> str:
        kernel = info.data.get("kernel")
        if value == CLASSES_RFC_2026 and kernel is not None and kernel < RFC_MIN_KERNEL:
            raise ValueError(
                f"classes={value} rewrites calculate_zspage_chain_size(), which exists from "
                f"kernel {RFC_MIN_KERNEL} (got {kernel})"
            )
        return value

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        """The serialised options without ``page_size`` and ``classes`` when they are the
        defaults, so records made before these options existed keep their keys."""
        data = handler(self)
        if isinstance(data, dict):
            for key, default in (("page_size", DEFAULT_PAGE_SIZE), ("classes", DEFAULT_CLASSES)):
                if data.get(key) == default:
                    del data[key]
        return data

    @property
    def chain(self) -> int:
        """The resolved chain size (never ``None`` after validation)."""
        assert self.chain_size is not None
        return self.chain_size
