"""Plugin distributions a suite requires, and pins of the plugins in use.

A suite may say which distributions (with versions) it needs::

    requires:
      - zbench-zblock>=0.1
      - zbench>=0.1

and a run stops before anything else, exit 2, naming each one that is missing or has the
wrong version.  ``zbench plugins --requirements`` prints ``name==version`` for every
distribution that provides a loaded plugin, ready for ``pip install -r``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

from packaging.requirements import InvalidRequirement, Requirement

from zbench.errors import UserError


def parse_requirement(text: str) -> str:
    """Check one requirement string (PEP 508); a ValueError names what is wrong."""
    try:
        Requirement(text)
    except InvalidRequirement as exc:
        raise ValueError(f"not a requirement ({str(exc).splitlines()[0]})") from None
    return text


def unmet(requires: Iterable[str]) -> list[str]:
    """Each requirement not satisfied here, with what is installed instead."""
    out: list[str] = []
    for text in requires:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            have = version(req.name)
        except PackageNotFoundError:
            out.append(f"{text} (not installed)")
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            out.append(f"{text} (installed: {req.name} {have})")
    return out


def check_requires(requires: Iterable[str], where: str) -> None:
    """Raise a UserError (exit 2) naming every unmet requirement."""
    missing = unmet(requires)
    if missing:
        names = " ".join(f"'{m.split(' (')[0]}'" for m in missing)
        raise UserError(f"{where}: requires: {'; '.join(missing)} - install with: "
                        f"pip install {names}")


def plugin_pins(plugins: Iterable[dict[str, object]]) -> list[str]:
    """``dist==version`` for the distributions that provide loaded (``ok``) plugins."""
    pins = {(str(p["distribution"]), str(p["version"])) for p in plugins
            if p.get("status") == "ok" and p.get("distribution") not in (None, "?", "(local)")}
    return [f"{name}=={ver}" for name, ver in sorted(pins, key=lambda nv: nv[0].lower())]
