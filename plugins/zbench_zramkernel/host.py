"""What the running host offers: zram availability, algorithms, and the kernel's build rules."""

from __future__ import annotations

import gzip
import mmap
import os
import re
import sys
from typing import Any

from .device import (
    CONTROL_DIR,
    DEFAULT_CHAIN_SIZE,
    PAGE_SIZE,
    ZSMALLOC_DEBUGFS,
    ZramDevice,
    ZramError,
    _read_text,
    parse_algorithms,
)

_offered_cache: list[str] | None = None


def offered_algorithms() -> list[str]:
    """Algorithms a fresh zram device offers (probed once with a short-lived device)."""
    global _offered_cache
    if _offered_cache is None:
        probe = ZramDevice("", PAGE_SIZE)
        probe._open(configure=False)
        try:
            offered = parse_algorithms(_read_text(probe.sysfs / "comp_algorithm"))[0]
        finally:
            probe.close()
        _offered_cache = offered
    return list(_offered_cache)


def zram_available(algorithm: str | None = None) -> str | None:
    """None if this process can create and drive zram devices, else a one-line reason.

    With ``algorithm``, also checks (by probing a short-lived device) that zram offers it.
    """
    if not sys.platform.startswith("linux"):
        return f"not Linux ({sys.platform})"
    if not hasattr(os, "O_DIRECT"):
        return "os.O_DIRECT unavailable"
    if os.geteuid() != 0:
        return "not root (zram hot_add/hot_remove and /dev/zramN need root)"
    if not CONTROL_DIR.is_dir():
        return f"no {CONTROL_DIR} (zram not built in or module not loaded)"
    for attr in ("hot_add", "hot_remove"):
        if not (CONTROL_DIR / attr).exists():
            return f"no {CONTROL_DIR / attr}"
    if mmap.PAGESIZE != PAGE_SIZE:
        return f"page size is {mmap.PAGESIZE}, this module assumes {PAGE_SIZE}"
    if algorithm is not None:
        try:
            offered = offered_algorithms()
        except (OSError, ZramError) as exc:
            return f"cannot create a zram device: {exc}"
        if algorithm not in offered:
            return f"zram does not offer {algorithm!r} (offers {' '.join(offered)})"
    return None


def _kernel_config() -> tuple[str | None, str | None]:
    """(config text, where it came from) from /proc/config.gz or /boot/config-<release>."""
    try:
        with gzip.open("/proc/config.gz", "rt", encoding="utf-8", errors="replace") as fh:
            return fh.read(), "/proc/config.gz"
    except OSError:
        pass
    boot = f"/boot/config-{os.uname().release}"
    try:
        with open(boot, encoding="utf-8", errors="replace") as fh:
            return fh.read(), boot
    except OSError:
        return None, None


def _config_value(config: str, key: str) -> str | None:
    """``CONFIG_X=value`` → value; ``# CONFIG_X is not set`` → "n"; absent → None."""
    match = re.search(rf"^{key}=(.*)$", config, re.MULTILINE)
    if match:
        return match.group(1).strip().strip('"')
    if re.search(rf"^# {key} is not set$", config, re.MULTILINE):
        return "n"
    return None


def kernel_rules() -> dict[str, Any]:
    """What the running kernel says about the rules the models have to follow.

    Keys: ``kernel_release``, ``machine``, ``page_size``, ``config_source`` (None if no
    config was readable), ``chain_size`` and ``chain_size_source`` (the config file, or
    ``"default"`` = the documented Kconfig default 8), ``zsmalloc_stat`` (True/False, None if
    unknown), ``zsmalloc_debugfs`` (path) and ``zsmalloc_debugfs_readable``, and
    ``zram_default_comp`` (CONFIG_ZRAM_DEF_COMP or None).
    """
    uname = os.uname()
    config, source = _kernel_config()
    chain: int | None = None
    stat_flag: bool | None = None
    default_comp: str | None = None
    if config is not None:
        raw = _config_value(config, "CONFIG_ZSMALLOC_CHAIN_SIZE")
        if raw is not None and raw.isdigit():
            chain = int(raw)
        flag = _config_value(config, "CONFIG_ZSMALLOC_STAT")
        stat_flag = None if flag is None else flag == "y"
        default_comp = _config_value(config, "CONFIG_ZRAM_DEF_COMP")
    try:
        os.listdir(ZSMALLOC_DEBUGFS)  # needs debugfs mounted and readable
        debugfs_ok = True
    except OSError:
        debugfs_ok = False
    return {
        "kernel_release": uname.release,
        "machine": uname.machine,
        "page_size": mmap.PAGESIZE,
        "config_source": source,
        "chain_size": chain if chain is not None else DEFAULT_CHAIN_SIZE,
        "chain_size_source": source if chain is not None else "default",
        "zsmalloc_stat": stat_flag,
        "zsmalloc_debugfs": str(ZSMALLOC_DEBUGFS),
        "zsmalloc_debugfs_readable": debugfs_ok,
        "zram_default_comp": default_comp,
    }
