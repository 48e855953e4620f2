"""Interrupted runs and ``zbench run --resume``.

A run marks its output directory with ``.zbench-run.json`` when it starts and
removes the mark once ``results.json`` and ``report.md`` are written (each
atomically, :func:`zbench.api.safeio.write_atomic`); a directory that still has the
mark holds an interrupted run and never a partial results file.  The finished
cases themselves live in the case cache (:mod:`zbench.run.casecache`), so resuming
is running the same suite into the same directory: finished cases come back
from the cache and only the rest are computed.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from zbench.api.errors import UserError
from zbench.api.safeio import PUBLIC, make_dirs, write_atomic

if TYPE_CHECKING:
    from zbench.run.spec import Plan

MARK = ".zbench-run.json"
LOCK = ".zbench-lock"
REPORTS = Path("reports")


def interrupted(suite_name: str, reports: Path = REPORTS) -> Path | None:
    """The newest ``reports/<suite>-*`` directory holding an interrupted run."""
    found = sorted(d for d in reports.glob(f"{suite_name}-*") if (d / MARK).is_file())
    return found[-1] if found else None


class OutLock:
    """``fcntl.flock`` on ``DIR/.zbench-lock`` while a run writes into DIR.  The kernel
    drops the lock when the process dies, so a dead run never leaves a stale one; the
    file holds the pid for the message a second run prints."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / LOCK
        self.fd: int | None = None

    def acquire(self) -> None:
        folder = self.path.parent
        created = [d for d in (folder, *folder.parents) if not d.exists()]
        try:
            make_dirs(folder)
            self.fd = self._lock()
        except BaseException:
            for d in created:  # innermost first: leave nothing behind on failure
                try:
                    d.rmdir()
                except OSError:
                    break
            raise

    def _lock(self) -> int:
        folder = self.path.parent
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise UserError(f"--out {folder}: cannot write there: "
                                f"{exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise UserError(f"--out {folder}: another zbench run (pid {pid}) "
                                f"is writing there") from None
            try:  # the holder before us may have removed the file: lock the one in place
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            os.close(fd)
            self.path.unlink(missing_ok=True)
            raise UserError(f"--out {folder}: cannot write there: "
                            f"{exc.strerror or exc}") from None
        return fd

    def release(self) -> None:
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)  # still held: nobody else has it open locked
        os.close(self.fd)
        self.fd = None


def begin_run(suite_name: str, plan: Plan, out_dir: Path | None, resume: bool,
              stamp: Callable[[], str], lock: OutLock | None = None) -> Path:
    """The run's output directory (locked by ``lock`` when given, then marked as running);
    with ``resume``, the interrupted run's: ``out_dir`` when given, else the newest
    unfinished one of this suite."""
    if resume and out_dir is None:
        out_dir = interrupted(suite_name)
        if out_dir is None:
            raise UserError(f"--resume: no interrupted run of suite {suite_name!r} under "
                            f"{REPORTS}/ (name one with --out DIR)")
    ids = [c.id for c in plan.cases]
    if out_dir is None:
        out_dir = REPORTS / f"{suite_name}-{stamp()}"
    if lock is not None:
        lock.path = out_dir / LOCK
        lock.acquire()
    if resume:
        print(f"zbench: resuming the run in {out_dir}", file=sys.stderr, flush=True)
        if _marked_cases(out_dir) not in (None, ids):
            print("zbench: note: the cases differ from the interrupted run's; only the "
                  "cached ones are reused", file=sys.stderr, flush=True)
    mark = {"suite": suite_name, "state": "running", "cases": ids}
    write_atomic(out_dir / MARK, json.dumps(mark, indent=1) + "\n", PUBLIC)
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
