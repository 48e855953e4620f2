"""The suites and the dump shipped with zbench: where they are, in a checkout or installed.

The repository keeps them at its top level, ``suites/*.yaml`` and
``dumps/default.zbdump`` (with its ``.ksizes.json`` sidecar); a suite names its
dump relative to itself (``../dumps/default.zbdump``).  A wheel installs the same
two folders, in the same layout, under ``<prefix>/share/zbench/`` (pyproject.toml's
``[tool.setuptools.data-files]``), so those relative paths hold for the installed
copies too.

:func:`data_root` looks first in the checkout the package was imported from (an
editable install, or running from the source tree), then where an installer put
the data files: beside the package (``pip install --target``), the interpreter's
data scheme (a venv or ``sys.prefix``), the user scheme (``pip install --user``),
and last the files the installed distribution records.
"""

from __future__ import annotations

import re
import site
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

DUMP = Path("dumps") / "default.zbdump"
SUITES = "suites"
SHARE = Path("share") / "zbench"
#: A bare suite name (``default``), as opposed to a path (``suites/default.yaml``).
SUITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _holds_data(root: Path) -> bool:
    return (root / SUITES).is_dir() and (root / DUMP).is_file()


def _checkout() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and _holds_data(root):
        return root
    return None


def _installed_candidates() -> list[Path]:
    package_parent = Path(__file__).resolve().parents[2]
    out = [package_parent / SHARE, Path(sysconfig.get_path("data")) / SHARE,
           Path(sys.prefix) / SHARE]
    if site.ENABLE_USER_SITE:
        out.append(Path(site.getuserbase()) / SHARE)
    return out


def _recorded() -> Path | None:
    """The data folder as the installed distribution's RECORD names it."""
    try:
        files = metadata.distribution("zbench").files or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.parts[-4:] == ("share", "zbench", *DUMP.parts):
            return Path(str(f.locate())).resolve().parent.parent
    return None


def data_root() -> Path | None:
    """The folder holding ``suites/`` and ``dumps/`` (checkout first, then installed), or
    None when neither is there."""
    root = _checkout()
    if root is not None:
        return root
    for cand in _installed_candidates():
        if _holds_data(cand):
            return cand
    rec = _recorded()
    return rec if rec is not None and _holds_data(rec) else None


def default_dump() -> Path:
    """The shipped dump; where it would be installed when it is nowhere (callers check
    that it exists)."""
    root = data_root()
    return (root if root is not None else _installed_candidates()[1]) / DUMP


def shipped_suites() -> dict[str, Path]:
    """The shipped suites by name (the file's stem), sorted."""
    root = data_root()
    if root is None:
        return {}
    return {p.stem: p for p in sorted((root / SUITES).glob("*.yaml")) if p.is_file()}


def is_suite_name(arg: str) -> bool:
    """Whether ``arg`` reads as a bare suite name rather than a path to a suite file."""
    return SUITE_NAME.fullmatch(arg) is not None and not arg.endswith((".yaml", ".yml"))


def suite_description(path: Path) -> str:
    """The ``description:`` of a shipped suite, '' when it has none or does not parse."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return ""
    value = data.get("description") if isinstance(data, dict) else None
    return " ".join(str(value).split()) if value else ""
