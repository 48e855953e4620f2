"""Finished cases, cached by a key over everything they depend on.

A deterministic case is a pure function of its inputs: the plugins (names,
distributions and versions, validated options), the dump's sha256, the seed,
``verify`` and zbench itself.  :func:`case_key` hashes those, plus a digest of
the source of zbench and of the plugin packages in use (so editing a model in a
development checkout, where versions do not change, never returns stale
numbers).  ``zbench run`` stores each finished case as ``cases/<key>.json`` under
the cache directory (``$ZBENCH_CACHE`` or ``~/.cache/zbench``), written
atomically; a later run, or ``--resume`` of an interrupted one, reads them back
instead of recomputing.  A damaged or foreign file is ignored (recomputed).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zbench.compcache import cache_dir

if TYPE_CHECKING:
    from zbench.case import Case, Part

#: bump when the cached outcome's structure changes
FORMAT = 1


def cases_dir() -> Path:
    return cache_dir() / "cases"


@lru_cache(maxsize=64)
def _source_digest(module: str) -> str:
    """sha256 over the ``.py`` files of the package holding ``module`` ("" if unknown)."""
    top = module.split(":", 1)[0].split(".", 1)[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return ""
    if spec is None or spec.origin is None:
        return ""
    origin = Path(spec.origin)
    files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
    h = hashlib.sha256()
    for f in files:
        try:
            h.update(str(f.relative_to(origin.parent)).encode() + b"\0" + f.read_bytes())
        except OSError:
            continue
    return h.hexdigest()


def _part_ident(p: Part) -> dict[str, Any]:
    return {"name": p.name, "options": p.options.model_dump(mode="json"),
            "plugin": p.plugin.name, "distribution": p.plugin.dist,
            "version": p.plugin.version, "source": _source_digest(p.plugin.module)}


def case_key(case: Case, dump_sha256: str) -> str:
    """The hash of a case's inputs (labels are presentation and not part of it)."""
    from zbench import __version__

    ident = {
        "format": FORMAT,
        "zbench": __version__,
        "zbench_source": _source_digest("zbench"),
        "dump": dump_sha256,
        "compressor": _part_ident(case.compressor),
        "frontend": _part_ident(case.frontend),
        "allocator": _part_ident(case.allocator),
        "workload": _part_ident(case.workload),
        "seed": case.seed,
        "verify": case.verify,
    }
    blob = json.dumps(ident, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def load(key: str) -> dict[str, Any] | None:
    """The cached outcome of the case ``key``, or None (missing, damaged, other format)."""
    try:
        data = json.loads((cases_dir() / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        return None
    outcome = data.get("outcome")
    return outcome if isinstance(outcome, dict) else None


def store(key: str, case_id: str, outcome: dict[str, Any]) -> None:
    """Cache ``outcome`` atomically (temporary file + rename); an unwritable cache only
    costs time."""
    d = cases_dir()
    text = json.dumps({"format": FORMAT, "key": key, "id": case_id,
                       "computed_at": time.time(), "outcome": outcome})
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, d / f"{key}.json")
    except OSError:
        Path(tmp).unlink(missing_ok=True)
