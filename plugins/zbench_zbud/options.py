"""The zbud plugin's options: which kernel's mm/zbud.c rules apply.

zbud was merged with zswap in 3.11 ("zbud: add to mm/") and removed in 6.15
("mm: zbud: remove zbud"), so only kernels 3.11 to 6.14 have one.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from zbench import KernelVersion, PluginOptions

MIN_KERNEL = KernelVersion("3.11")  # zbud merged with zswap
MAX_KERNEL = KernelVersion("6.14")  # last release with mm/zbud.c (removed in 6.15)


class ZbudOptions(PluginOptions):
    """Options of the ``zbud`` allocator model."""

    kernel: KernelVersion = Field(
        KernelVersion("6.14"),
        description=f"kernel whose mm/zbud.c rules apply ({MIN_KERNEL} .. {MAX_KERNEL})",
    )

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
