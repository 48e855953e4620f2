"""Cases in worker processes, each under a deadline (``zbench run``).

A worker is ``python -m zbench.run.worker``: a plain subprocess in its own process
group that reads one JSON case description per line and answers one JSON outcome
per line, on a pipe of its own (fd 1 is pointed at stderr, so a plugin's prints
cannot garble the answers).  It asks the kernel for SIGTERM when the run dies
(``prctl(PR_SET_PDEATHSIG)``; a plugin's clean-up, such as removing a real zram
device, runs), is gone :data:`GRACE_S` seconds later whatever the plugin does, and
checks its parent is still the one that started it, so a ``kill -9`` of the run
leaves nothing behind.  No multiprocessing, hence no resource tracker.

The run gives each case ``timeout`` seconds; a case that takes longer has its
worker's process group stopped (SIGTERM, SIGKILL after :data:`GRACE_S` seconds),
is recorded as failed (kind ``timeout``), and a fresh worker takes the next case.
A worker that dies mid-case (a crash, an ``os._exit`` in a plugin) fails that case
the same way (kind ``error``).
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

TIMEOUT_ENV = "ZBENCH_CASE_TIMEOUT"
DEFAULT_TIMEOUT = 3600.0
PARENT_ENV = "ZBENCH_WORKER_PARENT"
_PR_SET_PDEATHSIG = 1

Outcome = dict[str, Any]


def case_timeout(flag: float | None) -> float:
    """The per-case timeout: ``--case-timeout``, else ``$ZBENCH_CASE_TIMEOUT``, else 3600 s."""
    from zbench.api.errors import UserError

    if flag is not None:
        value, where = flag, "--case-timeout"
    else:
        raw = os.environ.get(TIMEOUT_ENV)
        if raw is None:
            return DEFAULT_TIMEOUT
        where = f"${TIMEOUT_ENV}"
        try:
            value = float(raw)
        except ValueError:
            raise UserError(f"{where}: not a number of seconds: {raw!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise UserError(f"{where}: must be a positive number of seconds (got {value})")
    return value


#: seconds a worker gets to clean up after SIGTERM (a plugin holding a real zram
#: device removes it) before SIGKILL
GRACE_S = 5.0


def die_with_parent() -> None:
    """Have the kernel send SIGTERM to this process when its parent dies (Linux; else a
    no-op), so a plugin's own clean-up runs; a thread makes sure it is gone
    :data:`GRACE_S` seconds later even if the plugin ignores SIGTERM."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        time.sleep(GRACE_S)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="zbench-orphan-watch", daemon=True).start()


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class RunStopped(BaseException):
    """SIGTERM, SIGINT or SIGHUP arrived: unwind (killing the workers) and exit."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclass
class StopState:
    out_dir: Path | None = None  # the run's directory, once there is one


@contextmanager
def stop_on_signals() -> Iterator[StopState]:
    """While the block runs, SIGTERM/SIGINT/SIGHUP unwind it (the worker pool kills its
    workers on the way out; the run's mark stays, so it can be resumed) and the process
    exits with 128 + the signal's number and one line on stderr."""
    state = StopState()

    def handler(signum: int, _frame: object) -> None:
        for sig in _STOP_SIGNALS:  # a second signal must not cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        raise RunStopped(signum)

    old = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield state
    except RunStopped as exc:
        where = f"; continue it with --resume --out {state.out_dir}" if state.out_dir else ""
        print(f"zbench: error: interrupted by {signal.Signals(exc.signum).name}{where}",
              file=sys.stderr, flush=True)
        raise SystemExit(128 + exc.signum) from None
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def failed(kind: str, reason: str) -> Outcome:
    return {"failed": {"kind": kind, "reason": reason}}


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    out: IO[bytes]
    buf: bytes = b""
    job: Any = None  # the case running, None when idle
    deadline: float = 0.0

    def signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self, grace: float = GRACE_S) -> None:
        """SIGTERM to the worker's process group, SIGKILL after ``grace`` seconds (or at
        once when it is gone), so plugins clean up what they hold when they can."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        self.signal(signal.SIGKILL)  # the worker and whatever it left in its group
        self.proc.wait()
        self.out.close()
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass


@dataclass
class WorkerPool:
    """Up to ``size`` workers; :meth:`run` feeds them jobs and collects outcomes."""

    size: int
    timeout: float
    workers: list[_Worker] = field(default_factory=list)

    def _spawn(self) -> _Worker:
        r, w = os.pipe()
        env = {**os.environ, PARENT_ENV: str(os.getpid()), "ZBENCH_WORKER_FD": str(w)}
        proc = subprocess.Popen([sys.executable, "-m", "zbench.run.worker"],
                                stdin=subprocess.PIPE, stdout=None, env=env, pass_fds=(w,),
                                process_group=0)
        os.close(w)
        worker = _Worker(proc, os.fdopen(r, "rb", buffering=0))
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        """Stop every worker (their process groups: SIGTERM, then SIGKILL after
        :data:`GRACE_S` seconds) and wait for them."""
        for w in self.workers:
            if w.proc.poll() is None:
                w.signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        for w in self.workers:
            w.kill(max(0.0, deadline - time.monotonic()))
        self.workers.clear()

    def run(self, jobs: Iterable[tuple[Any, dict[str, Any]]],
            finish: Callable[[Any, Outcome], None]) -> None:
        """Run each (key, description); ``finish(key, outcome)`` as each ends."""
        queue = list(jobs)
        queue.reverse()
        try:
            while queue or any(w.job is not None for w in self.workers):
                while queue and (len(self.workers) < self.size
                                 or any(w.job is None for w in self.workers)):
                    idle = next((w for w in self.workers if w.job is None), None) or self._spawn()
                    key, desc = queue.pop()
                    try:
                        assert idle.proc.stdin is not None
                        idle.proc.stdin.write(json.dumps(desc).encode() + b"\n")
                        idle.proc.stdin.flush()
                    except OSError:  # died while idle: a fresh one takes the case
                        self._drop(idle)
                        queue.append((key, desc))
                        continue
                    idle.job, idle.deadline = key, time.monotonic() + self.timeout
                self._wait(finish)
        finally:
            self.close()

    def _drop(self, w: _Worker) -> None:
        w.kill()
        self.workers.remove(w)

    def _wait(self, finish: Callable[[Any, Outcome], None]) -> None:
        busy = [w for w in self.workers if w.job is not None]
        if not busy:
            return
        now = time.monotonic()
        wait = max(0.0, min(w.deadline for w in busy) - now)
        ready, _, _ = select.select([w.out for w in busy], [], [], wait)
        for w in busy:
            if w.out in ready:
                chunk = w.out.read(1 << 20)
                if not chunk:
                    key = w.job
                    code = w.proc.wait()
                    self._drop(w)
                    finish(key, failed("error", f"the worker process died (exit status "
                                                f"{code}) while running the case"))
                    continue
                w.buf += chunk
                if b"\n" in w.buf:
                    line, _, w.buf = w.buf.partition(b"\n")
                    key, w.job = w.job, None
                    finish(key, json.loads(line))
            elif time.monotonic() >= w.deadline:
                key = w.job
                self._drop(w)
                finish(key, failed("timeout", f"timed out after {self.timeout:g} s"))
