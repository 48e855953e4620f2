"""Plugin distributions a suite requires, and pins of the plugins in use.

A suite may say which distributions (with versions) it needs::

    requires:
      - zbench-zblock>=0.1
      - zbench>=0.1

and a run stops before anything else, exit 2, naming each one that is missing or has the
wrong version.  ``zbench plugins --requirements`` prints ``name==version`` for every
distribution that provides a loaded plugin, and for the compression libraries (python-lz4,
zstandard, and whatever a compressor plugin names in its ``library`` attribute: their releases
can compress pages to other sizes), ready for ``pip install -r``.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement

from zbench.api.errors import UserError

if TYPE_CHECKING:
    from zbench.api.registry import Registry


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


#: compression libraries whose releases change results, pinned whether or not a plugin
#: names them
COMPRESSION_LIBRARIES = ("lz4", "zstandard")


def library_pins(libraries: Iterable[str]) -> list[tuple[str, str]]:
    """``(distribution, version)`` of each library installed as a distribution (a name is a
    distribution or an importable module); the standard library and the kernel's own
    compressors (no distribution) are left out."""
    modules = packages_distributions()
    out: set[tuple[str, str]] = set()
    for lib in libraries:
        for dist in [lib, *modules.get(lib, [])]:
            try:
                out.add((dist, version(dist)))
                break
            except PackageNotFoundError:
                continue
    return sorted(out)


def plugin_pins(plugins: Iterable[dict[str, object]],
                libraries: Iterable[str] = ()) -> list[str]:
    """``dist==version`` for the distributions that provide loaded (``ok``) plugins, and for
    the installed ``libraries`` (:func:`library_pins`), sorted by name."""
    pins = {(str(p["distribution"]), str(p["version"])) for p in plugins
            if p.get("status") == "ok" and p.get("distribution") not in (None, "?", "(local)")}
    have = {name.lower() for name, _ in pins}
    pins |= {(n, v) for n, v in library_pins(libraries) if n.lower() not in have}
    return [f"{name}=={ver}" for name, ver in sorted(pins, key=lambda nv: nv[0].lower())]


def compressor_libraries(registry: Registry) -> list[str]:
    """The ``library`` each loaded compressor plugin declares, with
    :data:`COMPRESSION_LIBRARIES`."""
    declared = [getattr(registry.get("compressor", n), "library", "")
                for n in registry.names("compressor")]
    return sorted({*COMPRESSION_LIBRARIES, *(d for d in declared if d)})
