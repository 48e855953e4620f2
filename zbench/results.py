"""Versioned results files (``results.json``) and the environment they record."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = "zbench.results"
SCHEMA_VERSION = 1


def _git_commit() -> dict[str, Any] | None:
    here = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=5).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha, "dirty": dirty}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(plugins: list[dict[str, Any]]) -> dict[str, Any]:
    from zbench import __version__

    return {
        "zbench_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
        "git": _git_commit(),
        "plugins": plugins,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def make_results(suite: dict[str, Any], env: dict[str, Any],
                 cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": SCHEMA, "version": SCHEMA_VERSION, "suite": suite,
            "environment": env, "cases": cases}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_json(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=2, sort_keys=False) + "\n"


def load_results(path: str | Path) -> dict[str, Any]:
    from zbench.errors import UserError

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{p}: no such results file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{p}: not a readable results file: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UserError(f"{p}: schema: not a zbench results file")
    if data.get("version") != SCHEMA_VERSION:
        raise UserError(f"{p}: version: unsupported results version {data.get('version')!r}")
    return data


def write_run(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``report.md`` into ``out_dir``, each atomically."""
    from zbench.tables import report_markdown

    res = out_dir / "results.json"
    rep = out_dir / "report.md"
    text = dumps_json(results)
    report = report_markdown(results)
    write_atomic(res, text)
    write_atomic(rep, report)
    return res, rep
