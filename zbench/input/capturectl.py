"""Keeping a captured program contained: it cannot outlive the capture, and nothing
zbench does waits on it forever.

* :func:`subreaper`: while a capture runs, zbench is a child subreaper (``prctl(2)``
  ``PR_SET_CHILD_SUBREAPER``), so a program that double-forks and ``setsid()``s is
  reparented to zbench instead of init and stays findable as its descendant.
* :func:`kill_all`: every process started since the capture began whose parent chain
  reaches zbench (the program, its tree, and orphans reparented to us) is stopped,
  SIGKILLed and reaped, repeated until none is left or :data:`KILL_GRACE_S` passed.
* :func:`interruptible`: SIGTERM, SIGINT and SIGHUP become :class:`CaptureInterrupted`
  (exit code 128 + signal), SIGALRM the hard-deadline error; both are held back while
  cleaning up (``deferred``) so the cleanup always finishes.
* :class:`Drain`: reads a child's pipe by polling, so a pipe an escaped process holds
  open never blocks a reader or a ``close``.

A library caller of :func:`zbench.input.capture.capture` is a subreaper for the duration of the
call; processes it starts from other threads meanwhile would count as the capture's.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO

from zbench.api.errors import UserError

KILL_GRACE_S = 5.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
DEADLINE_GRACE_S = 120.0  # freezing, reading and killing after timeout + settle


class CaptureInterrupted(UserError):
    """SIGTERM, SIGINT or SIGHUP during a capture: exit code 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"capture: interrupted by {signal.Signals(signum).name}: the program "
                         "and its processes were killed, nothing was written")
        self.exit_code = 128 + signum


def signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class Signals:
    """SIGTERM/SIGINT/SIGHUP (and SIGALRM, the deadline) raised as an error once; held
    back while cleaning up (:meth:`deferred`) and raised when the cleanup is done."""

    def __init__(self) -> None:
        self.deferring, self.pending, self.raised = 0, 0, False
        self.deadline_s = 0.0

    def handler(self, signum: int, _frame: object) -> None:
        if self.raised:
            return
        if self.deferring:
            self.pending = self.pending or signum
            return
        self._raise(signum)

    def _raise(self, signum: int) -> None:
        self.raised = True
        if signum == signal.SIGALRM:
            raise UserError(f"capture: not finished within its hard deadline of "
                            f"{self.deadline_s:g} s (--timeout + --settle + "
                            f"{DEADLINE_GRACE_S:g} s); the program was killed")
        raise CaptureInterrupted(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.deferring += 1
        try:
            yield
        finally:
            self.deferring -= 1
            if not self.deferring and self.pending and not self.raised:
                self._raise(self.pending)


_ACTIVE: Signals | None = None


@contextmanager
def interruptible() -> Iterator[Signals | None]:
    """While inside, SIGTERM/SIGINT/SIGHUP raise :class:`CaptureInterrupted` (main thread
    only; nested uses share one handler).  ``zbench capture`` wraps capture and write."""
    global _ACTIVE
    if _ACTIVE is not None or threading.current_thread() is not threading.main_thread():
        yield _ACTIVE
        return
    guard = Signals()
    old = {sig: signal.signal(sig, guard.handler) for sig in (*STOP_SIGNALS, signal.SIGALRM)}
    _ACTIVE = guard
    try:
        yield guard
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _ACTIVE = None
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _prctl(option: int, value: int) -> int | None:
    """``prctl(option, value)`` (GET options: the value read), None if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if option == PR_GET_CHILD_SUBREAPER:
            out = ctypes.c_int(0)
            ok = libc.prctl(option, ctypes.byref(out), 0, 0, 0) == 0
            return out.value if ok else None
        return 0 if libc.prctl(option, value, 0, 0, 0) == 0 else None
    except (OSError, AttributeError):
        return None


@contextmanager
def subreaper() -> Iterator[None]:
    """Make this process a child subreaper, so orphaned descendants reparent to us."""
    before = _prctl(PR_GET_CHILD_SUBREAPER, 0)
    if not before:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    try:
        yield
    finally:
        if before == 0:
            _prctl(PR_SET_CHILD_SUBREAPER, 0)


def _proc_table() -> dict[int, tuple[str, int, int]]:
    """pid -> (state, ppid, start time in clock ticks since boot), from /proc."""
    table: dict[int, tuple[str, int, int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            table[int(name)] = (fields[0].decode(), int(fields[1]), int(fields[19]))
    return table


def ours(since: int) -> tuple[list[int], list[int]]:
    """(live, zombie children) among the processes started at or after tick ``since``
    whose parent chain reaches us: the captured program and everything it forked."""
    me, table = os.getpid(), _proc_table()
    live: list[int] = []
    zombies: list[int] = []
    for pid, (state, ppid, start) in table.items():
        if start < since or pid == me:
            continue
        q, seen = ppid, 0
        while q != me and q in table and q > 1 and seen < 4096:
            q, seen = table[q][1], seen + 1
        if q == me:
            (zombies if state in ("Z", "X") else live).append(pid)
    return live, [z for z in zombies if table[z][1] == me]


def start_tick(pid: int) -> int:
    """When ``pid`` started, in clock ticks since boot (0 if unknown: then every
    descendant of ours counts as the capture's)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def kill_all(proc: subprocess.Popen[bytes], tree: list[int], since: int) -> None:
    """Stop, SIGKILL and reap the program and every descendant it left (orphans included)
    until none is left or :data:`KILL_GRACE_S` passed."""
    signal_all(reversed(tree), signal.SIGKILL)
    end = time.monotonic() + KILL_GRACE_S
    while True:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        live, zombies = ours(since)
        for pid in zombies:
            if pid != proc.pid:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        if not live or time.monotonic() > end:
            break
        signal_all(live, signal.SIGSTOP)  # no more forks while we kill
        signal_all(live, signal.SIGKILL)
        time.sleep(0.005)
    try:
        proc.wait(max(0.1, end - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass


class Drain(threading.Thread):
    """Reads a child's pipe until EOF or :meth:`stop`, remembering the last lines and
    the marker.  It polls, so a pipe held open by an escaped process never blocks it."""

    def __init__(self, stream: IO[bytes], marker: str | None) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.marker = marker.encode() if marker else None
        self.seen = threading.Event()
        self.done = threading.Event()
        self.tail: deque[str] = deque(maxlen=3)

    def run(self) -> None:
        fd, buf = self.stream.fileno(), b""
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not self.done.is_set():
            if not poller.poll(50):
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            *lines, buf = (buf + chunk).split(b"\n")
            if len(buf) >= 1 << 16:
                lines, buf = [*lines, buf], b""
            for line in lines:
                self._line(line)
        self._line(buf)

    def _line(self, line: bytes) -> None:
        if self.marker is not None and self.marker in line:
            self.seen.set()
        text = line.decode("utf-8", "replace").strip()
        if text:
            self.tail.append(text)

    def stop(self) -> None:
        self.done.set()
        self.join(1.0)
        self.stream.close()
