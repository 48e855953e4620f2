"""The kernel options of a zbench UML build.

On top of ``make ARCH=um defconfig``: swap and zswap, the zpool layer with all
three allocators, zram with the compressors zswap and zram use, the ubd block
device (a swap device backed by a host file) and hostfs (the guest's root);
without debug information and IP networking, which only cost build time.
What a source tree does not declare is not asked for: z3fold sits behind
``Z3FOLD_DEPRECATED`` where the tree has the deprecation ("mm: z3fold:
deprecate CONFIG_Z3FOLD", 6.12, backported to Debian's 6.1), zram's
recompression (``ZRAM_MULTI_COMP``) came in 6.2, its own compression backends
(``ZRAM_BACKEND_*``) in 6.12, ``ZSMALLOC_CHAIN_SIZE`` in 6.3.
"""

from __future__ import annotations

import re
from pathlib import Path

REQUIRED = (
    "SWAP=y", "ZSWAP=y", "ZPOOL=y", "ZBUD=y", "ZSMALLOC=y", "ZRAM=y",
    "CRYPTO_LZ4=y", "CRYPTO_ZSTD=y", "CRYPTO_LZO=y", "ZRAM_WRITEBACK=y",
    "HOSTFS=y", "BLK_DEV_UBD=y", "DEBUG_FS=y", "ZSMALLOC_STAT=y",
    # what the experiments do not need, left out to build faster: debug info, IP
    "DEBUG_INFO_NONE=y", "DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT=n", "INET=n",
)
#: the first name the tree declares is used
ANY_OF = (("Z3FOLD_DEPRECATED=y", "Z3FOLD=y"),)
OPTIONAL = (
    "ZRAM_MULTI_COMP=y", "ZRAM_BACKEND_LZ4=y", "ZRAM_BACKEND_ZSTD=y", "ZRAM_BACKEND_LZO=y",
    "ZRAM_BACKEND_DEFLATE=y", "ZSMALLOC_CHAIN_SIZE=8",
    # debugfs block_state: each slot's flags (same, written back, huge, idle, recompressed,
    # incompressible), what the zram guest counts
    "ZRAM_MEMORY_TRACKING=y",
)


def declared(src: Path) -> set[str]:
    """Every option a source tree's Kconfig files declare."""
    names: set[str] = set()
    pat = re.compile(r"^\s*(?:menu)?config\s+([A-Z0-9_]+)", re.M)
    for kconfig in src.rglob("Kconfig*"):
        try:
            names.update(pat.findall(kconfig.read_text(errors="replace")))
        except OSError:
            continue
    return names


def _name(opt: str) -> str:
    return opt.partition("=")[0]


def options_for(have: set[str]) -> list[str]:
    """``NAME=value`` lines (without ``CONFIG_``) for a tree that declares ``have``."""
    out = list(REQUIRED)
    for choice in ANY_OF:
        out.append(next((o for o in choice if _name(o) in have), choice[-1]))
    out += [o for o in OPTIONAL if _name(o) in have]
    return out


def recipe() -> str:
    """What the options depend on, for the build key."""
    return repr((REQUIRED, ANY_OF, OPTIONAL))
