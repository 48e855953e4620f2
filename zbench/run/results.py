"""Versioned results files (``results.json``) and the environment they record."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zbench.api.safeio import json_text
from zbench.run.schema import SCHEMA, SCHEMA_VERSION, read_results


def git_commit() -> dict[str, Any] | None:
    here = Path(__file__).resolve().parents[2]
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
    from zbench.api.version import __version__

    return {
        "zbench_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
        "git": git_commit(),
        "plugins": plugins,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def make_results(suite: dict[str, Any], env: dict[str, Any],
                 cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": SCHEMA, "version": SCHEMA_VERSION, "suite": suite,
            "environment": env, "cases": cases}


def dumps_json(results: dict[str, Any], where: str = "results.json") -> str:
    """Strict JSON of a results file; a NaN or infinity is an error naming its path."""
    return json_text(results, where, indent=2)


def load_results(path: str | Path) -> dict[str, Any]:
    """A results (or baseline) file, opened without blocking, parsed as strict JSON and
    checked against the schema (:mod:`zbench.run.schema`); a UserError, one line per
    problem, naming the file and the JSON path otherwise."""
    return read_results(path)
