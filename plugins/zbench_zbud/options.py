"""The zbud plugin's options: which kernel's mm/zbud.c rules apply.

zbud was merged with zswap in 3.11 ("zbud: add to mm/") and removed in 6.15
("mm: zbud: remove zbud"), so only kernels 3.11 to 6.14 have one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from zbench import KernelVersion, PluginOptions

MIN_KERNEL = KernelVersion("3.11")  # zbud merged with zswap
MAX_KERNEL = KernelVersion("6.14")  # last release with mm/zbud.c (removed in 6.15)
SERIES_MAX_KERNEL = KernelVersion("3.12")  # v2 was on 3.11, v3 on 3.12-rc4


class ZbudOptions(PluginOptions):
    """Options of the ``zbud`` allocator model."""

    kernel: KernelVersion = Field(
        KernelVersion("6.14"),
        description=f"kernel whose mm/zbud.c rules apply ({MIN_KERNEL} .. {MAX_KERNEL})",
    )

    migration: Literal["none", "kozlowski-2013"] = Field(
        "none",
        description="'kozlowski-2013': Krzysztof Kozlowski's 'mm: migrate zbud pages' series "
        "(2013, not merged): radix-tree handles, map counts, movable pages; kernel 3.11-3.12",
    )

    @model_validator(mode="after")
    def _series_kernel(self) -> ZbudOptions:
        if self.migration == "kozlowski-2013" and self.kernel > SERIES_MAX_KERNEL:
            raise ValueError(f"the 2013 zbud migration series applies to 3.11 - "
                             f"{SERIES_MAX_KERNEL} (got kernel {self.kernel})")
        return self

    @field_validator("kernel")
    @classmethod
    def _supported_kernel(cls, value: KernelVersion) -> KernelVersion:
        if value < MIN_KERNEL:
            raise ValueError(
                f"zbud model supports kernel {MIN_KERNEL} .. {MAX_KERNEL} (got {value}): "
                f"zbud was added in {MIN_KERNEL}"
            )
        if value > MAX_KERNEL:
            raise ValueError(
                f"zbud model supports kernel {MIN_KERNEL} .. {MAX_KERNEL} (got {value}): "
                "zbud was removed in 6.15"
            )
        return value
