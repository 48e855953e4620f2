"""Finished cases, cached by a key over everything they depend on.

A deterministic case is a pure function of its inputs: the plugins (names,
distributions and versions, validated options), the content of every file the
options name (a replay trace, a compression dictionary: :func:`input_files`), the
dump's sha256, the seed, ``verify`` and zbench itself.  :func:`case_key` hashes
those (the case's :class:`~zbench.run.spec.CaseSpec`), plus a digest of the source of
zbench and of the plugin packages in use - the case's own parts and every plugin they
build through the registry (``Allocator.uses``, ``FrontEnd.uses``: aspace's backend
allocator) - so editing a model in a development checkout, where versions do not
change, never returns stale numbers.  ``zbench run`` stores each finished case as
``cases/<key>.json`` under the cache directory (``$ZBENCH_CACHE`` or
``~/.cache/zbench``), written atomically and owner-only, with an HMAC-SHA256 of
its key and outcome under the cache's secret (:func:`zbench.input.compcache.cache_secret`);
a later run, or ``--resume`` of an interrupted one, reads them back instead of
recomputing.  A damaged, edited or foreign file fails the check and is recomputed
(and replaced), never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import stat
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from zbench.api import safeio
from zbench.api.errors import UserError
from zbench.api.frames import PAGE_SIZE
from zbench.input.compcache import cache_dir, cache_secret, digest, read_regular

if TYPE_CHECKING:
    from zbench.run.spec import Case, Part, PartSpec, Use, UseSpec

#: bump when the cached outcome's structure changes
FORMAT = 2
#: bump when what the key covers changes (old entries are then never looked up)
KEY_FORMAT = 2
#: a case file is never larger than this
_MAX_FILE = 1 << 30
#: ``json_schema_extra={"format": ...}`` values that mark a ``str`` option as a file path
PATH_FORMATS = ("path", "file-path")


def cases_dir() -> Path:
    return cache_dir() / "cases"


_SOURCE_SUFFIXES = (".py", ".so", ".pyd")


@lru_cache(maxsize=64)
def _source_digest(module: str) -> str:
    """sha256 over the source (``.py``, extension modules) of the top-level package or
    module holding ``module``: every file of a package, namespace packages included; the
    file itself for a module outside a package ("" if it cannot be found)."""
    top = module.split(":", 1)[0].split(".", 1)[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return ""
    if spec is None:
        return ""
    roots: list[tuple[Path, list[Path]]] = []
    if spec.submodule_search_locations:  # a package, or a namespace package
        for loc in spec.submodule_search_locations:
            root = Path(loc)
            roots.append((root, sorted(f for f in root.rglob("*")
                                       if f.suffix in _SOURCE_SUFFIXES and f.is_file())))
    elif spec.origin and spec.origin not in ("built-in", "frozen"):
        origin = Path(spec.origin)
        roots.append((origin.parent, [origin]))
    else:
        return ""
    h = hashlib.sha256(top.encode() + b"\0")
    for root, files in roots:
        for f in files:
            try:
                h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
            except OSError:
                h.update(str(f).encode() + b"\0unreadable")
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a regular file's content, or a marker (missing, not a regular
    file, unreadable); never raises."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.errno}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    return _content_digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns,
                           st.st_ino, st.st_ctime_ns)


@lru_cache(maxsize=256)
def _content_digest(path: str, _size: int, _mtime: int, _ino: int, _ctime: int) -> str:
    """Memoised on the file's identity and times: a change of content re-hashes."""
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return f"unreadable: {exc.errno}"
    try:
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
    except OSError as exc:
        return f"unreadable: {exc.errno}"
    finally:
        os.close(fd)
    return "sha256:" + h.hexdigest()


def _is_path_field(info: Any) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, dict) and extra.get("format") in PATH_FORMATS


def _walk(value: Any, where: str, as_path: bool = False) -> Iterator[tuple[str, Any]]:
    """``(where, path)`` of every file path in an options value: ``pathlib`` paths
    anywhere (nested models, lists, tuples, sets, dict values), and strings of fields
    marked as paths (``json_schema_extra={"format": "path"}``)."""
    if isinstance(value, PurePath):
        yield where, value
    elif isinstance(value, str):
        if as_path and value:
            yield where, Path(value)
    elif isinstance(value, BaseModel):
        fields = type(value).model_fields
        for name, info in fields.items():
            yield from _walk(getattr(value, name, None), f"{where}.{name}", _is_path_field(info))
        for name, v in (value.model_extra or {}).items():
            yield from _walk(v, f"{where}.{name}")
    elif isinstance(value, dict):
        for k in sorted(value, key=str):
            yield from _walk(value[k], f"{where}.{k}", as_path)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _walk(v, f"{where}[{i}]", as_path)
    elif isinstance(value, set | frozenset):
        for i, v in enumerate(sorted(value, key=str)):
            yield from _walk(v, f"{where}[{i}]", as_path)


def input_files(options: BaseModel) -> dict[str, str]:
    """The content digest of every input file the options name, by where it sits in the
    options (``options.trace``): what a case reads besides the dump."""
    return {where: f"{path}: {_file_digest(Path(path))}"
            for where, path in _walk(options, "options")}


def _class_ident(cls: type) -> dict[str, str]:
    return {"class": f"{cls.__module__}.{cls.__qualname__}",
            "class_source": _source_digest(cls.__module__)}


def _part_ident(spec: PartSpec, p: Part[Any]) -> dict[str, Any]:
    """A part's share of the key: its spec (less the label), the files its options name
    and the source of its plugin, class and options model."""
    return {"name": spec.name, "options": spec.options, "files": input_files(p.options),
            "plugin": spec.plugin, "distribution": spec.distribution,
            "version": spec.version, "source": _source_digest(p.plugin.module),
            **_class_ident(p.cls),
            "options_source": _source_digest(type(p.options).__module__)}


def _use_ident(spec: UseSpec, u: Use) -> dict[str, Any]:
    """A used plugin's share of the key: its provider and the source of its plugin and
    class (an unregistered one: its name only)."""
    ident: dict[str, Any] = {"kind": spec.kind, "name": spec.name, "plugin": spec.plugin,
                             "distribution": spec.distribution, "version": spec.version}
    if u.plugin is not None:
        ident["source"] = _source_digest(u.plugin.module)
    if u.cls is not None:
        ident.update(_class_ident(u.cls))
    return ident


def case_key(case: Case, dump_sha256: str) -> str:
    """The hash of a case's inputs (labels are presentation and not part of it)."""
    from zbench.api.version import __version__

    spec = case.spec(dump_sha256)
    ident: dict[str, Any] = {
        "format": FORMAT,
        "key_format": KEY_FORMAT,
        "zbench": __version__,
        "zbench_source": _source_digest("zbench"),
        "dump": spec.dump.sha256,
        **{p.kind: _part_ident(p, case.part(p.kind)) for p in spec.parts},
        "uses": [_use_ident(s, u) for s, u in zip(spec.uses, case.uses, strict=True)],
        "seed": spec.seed,
        "verify": spec.verify,
    }
    if spec.page_size != PAGE_SIZE:  # 4 K cases keep the keys they had
        ident["page_size"] = spec.page_size
    blob = json.dumps(ident, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _digest(secret: bytes, key: str, outcome: Any) -> str:
    canon = json.dumps(outcome, sort_keys=True, separators=(",", ":")).encode()
    return digest(secret, f"{FORMAT}".encode(), key.encode(), canon).hex()


def load(key: str) -> dict[str, Any] | None:
    """The cached outcome of the case ``key``, or None (missing, damaged, edited, other
    format, or the cache's secret unavailable): the case is then recomputed."""
    secret = cache_secret()
    if secret is None:
        return None
    raw = read_regular(cases_dir() / f"{key}.json", _MAX_FILE)
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return None
    outcome, mac = data.get("outcome"), data.get("digest")
    if not isinstance(outcome, dict) or not isinstance(mac, str):
        return None
    if not hmac.compare_digest(mac, _digest(secret, key, outcome)):
        return None
    return outcome


def store(key: str, case_id: str, outcome: dict[str, Any]) -> None:
    """Cache ``outcome`` atomically (temporary file + rename, owner-only) with its digest;
    an unwritable cache only costs time."""
    secret = cache_secret()
    if secret is None:
        return
    d = cases_dir()
    text = json.dumps({"format": FORMAT, "key": key, "id": case_id,
                       "computed_at": time.time(), "outcome": outcome,
                       "digest": _digest(secret, key, outcome)})
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        safeio.write_atomic(d / f"{key}.json", text, safeio.PRIVATE)
    except (OSError, UserError):
        return  # an unwritable cache only costs time
