"""Interrupted runs and ``zbench run --resume``.

A run marks its output directory with ``.zbench-run.json`` when it starts and
removes the mark once ``results.json`` and ``report.md`` are written (each
atomically, :func:`zbench.results.write_atomic`); a directory that still has the
mark holds an interrupted run and never a partial results file.  The finished
cases themselves live in the case cache (:mod:`zbench.casecache`), so resuming
is running the same suite into the same directory: finished cases come back
from the cache and only the rest are computed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from zbench.errors import UserError
from zbench.results import write_atomic

if TYPE_CHECKING:
    from zbench.runner import Plan

MARK = ".zbench-run.json"
REPORTS = Path("reports")


def interrupted(suite_name: str, reports: Path = REPORTS) -> Path | None:
    """The newest ``reports/<suite>-*`` directory holding an interrupted run."""
    found = sorted(d for d in reports.glob(f"{suite_name}-*") if (d / MARK).is_file())
    return found[-1] if found else None


def begin_run(suite_name: str, plan: Plan, out_dir: Path | None, resume: bool,
              stamp: Callable[[], str]) -> Path:
    """The run's output directory (marked as running); with ``resume``, the interrupted
    run's: ``out_dir`` when given, else the newest unfinished one of this suite."""
    if resume and out_dir is None:
        out_dir = interrupted(suite_name)
        if out_dir is None:
            raise UserError(f"--resume: no interrupted run of suite {suite_name!r} under "
                            f"{REPORTS}/ (name one with --out DIR)")
    ids = [c.id for c in plan.cases]
    if resume:
        assert out_dir is not None
        print(f"zbench: resuming the run in {out_dir}", file=sys.stderr, flush=True)
        if _marked_cases(out_dir) not in (None, ids):
            print("zbench: note: the cases differ from the interrupted run's; only the "
                  "cached ones are reused", file=sys.stderr, flush=True)
    if out_dir is None:
        out_dir = REPORTS / f"{suite_name}-{stamp()}"
    mark = {"suite": suite_name, "state": "running", "cases": ids}
    write_atomic(out_dir / MARK, json.dumps(mark, indent=1) + "\n")
    return out_dir


def _marked_cases(out_dir: Path) -> list[str] | None:
    try:
        cases = json.loads((out_dir / MARK).read_text(encoding="utf-8")).get("cases")
    except (OSError, ValueError, AttributeError):
        return None
    return cases if isinstance(cases, list) else None


def finish_run(out_dir: Path) -> None:
    """The results are written: the run is no longer resumable."""
    (out_dir / MARK).unlink(missing_ok=True)
