"""Collect the sections of the reporter plugins a suite lists, after its cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zbench.api.registry import get_registry
from zbench.api.reporter import Reporter, Say


def run_reports(refs: list[Any], results: dict[str, Any], out_dir: Path, say: Say
                ) -> dict[str, dict[str, Any]]:
    """Collect every reporter the suite lists; a failing one is recorded, not fatal."""
    reg = get_registry()
    out: dict[str, dict[str, Any]] = {}
    for ref in refs:
        cls = reg.get("reporter", ref.name)
        rep: Reporter = cls(cls.Options.model_validate(ref.options))
        sec: dict[str, Any] = {"reporter": ref.name, "title": cls.title or ref.name,
                               "options": rep.options.model_dump(mode="json")}
        try:
            sec["record"] = rep.collect(results, out_dir, say)
        except Exception as exc:
            sec["error"] = f"{type(exc).__name__}: {exc}"
            say(f"report {ref.display}: failed: {sec['error']}")
        out[ref.display] = sec
    return out
