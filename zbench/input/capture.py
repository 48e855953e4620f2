"""Capture the private anonymous memory of a program we start ourselves.

Method (docs/dumps.md has the full rules):
start CMD with a clean environment in its own session; capture at the first of
ready marker on stdout / tree RssAnon threshold / timeout (an earlier exit is an
error: nothing can be read from a dead process); ``SIGSTOP`` the tree (found via
``/proc/PID/task/*/children``); dump the largest-RssAnon process (or all); keep
private readable anon, ``[heap]``, ``[stack]``, ``[anon:*]`` VMAs (``file-cow``
opt-in), skip shared, file, ``[vvar]``, ``[vvar_vclock]``, ``[vdso]``,
``[vsyscall]``; take pagemap-present pages with bit 61 clear, drop zero-PFN pages
via ``/proc/kpageflags`` bit 24 when readable; read ``/proc/PID/mem`` in
coalesced runs tolerating EIO; ``SIGKILL`` and ``wait``.  Pages that are not
present are never read: that would map the zero page or allocate shmem.

Containment (:mod:`zbench.input.capturectl`): nothing the program forks outlives the
capture, the capture has a hard deadline, and SIGTERM/SIGINT/SIGHUP clean up first.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zbench.api.errors import UserError
from zbench.input.capturectl import (
    DEADLINE_GRACE_S,
    Drain,
    Signals,
    interruptible,
    kill_all,
    signal_all,
    start_tick,
    subreaper,
)
from zbench.input.dump import host_meta, merge_runs

CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"
SKIP_NAMES = frozenset({"[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]"})
PM_PRESENT = 1 << 63
PM_SWAPPED = 1 << 62
PM_FILE_OR_SHARED = 1 << 61
PM_PFN_MASK = (1 << 55) - 1
KPF_THP = 1 << 22
KPF_ZERO_PAGE = 1 << 24
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")  # the kernel's: pagemap's unit, the dump's page size
PAGE_SHIFT = PAGE_SIZE.bit_length() - 1
MAX_RUN_PAGES = 4096  # 16 MiB per /proc/PID/mem read (of 4 KiB pages)
PAGEMAP_CHUNK = 1 << 16  # entries per pagemap read
COUNTERS = ("present", "swapped", "file_or_shared", "zero_pfn", "thp", "read_err", "dumped")
METHOD = (
    "spawn with clean env; SIGSTOP tree; private anon/heap/stack VMAs from /proc/PID/maps; "
    "present, non-file pages from /proc/PID/pagemap; zero-PFN dropped via /proc/kpageflags; "
    "coalesced reads of /proc/PID/mem; SIGKILL"
)

MAX_TIMEOUT_S = 86_400.0  # a day
MAX_SETTLE_S = 3_600.0
MAX_RSS_KB = 1 << 40  # 1 PiB

Progress = Callable[[str], None]


def check_number(option: str, value: float | None, low: float, high: float,
                 low_ok: bool = False) -> None:
    """``value`` is finite, above ``low`` (or equal, with ``low_ok``) and at most ``high``."""
    if value is None:
        return
    if not low <= value <= high or (value == low and not low_ok):  # NaN fails too
        rel = ">=" if low_ok else ">"
        raise UserError(f"capture: {option}: must be a finite number {rel} {low:g} and "
                        f"<= {high:g}, not {value!r}")


def check_options(timeout: float, settle: float, rss_threshold_kb: int | None) -> None:
    """Every numeric capture option, before anything is started."""
    check_number("--timeout", timeout, 0, MAX_TIMEOUT_S)
    check_number("--settle", settle, 0, MAX_SETTLE_S, low_ok=True)
    check_number("--rss-threshold", rss_threshold_kb, 0, MAX_RSS_KB)


@dataclass
class Segment:
    """``count`` captured pages starting at page ``start``, virtually contiguous from ``vaddr``."""

    region: str
    source: str
    vaddr: int
    start: int
    count: int


@dataclass
class CaptureResult:
    pages: bytes
    meta: dict[str, Any]
    segments: list[Segment] = field(default_factory=list)

    @property
    def n_pages(self) -> int:
        return len(self.pages) // PAGE_SIZE


@dataclass
class Vma:
    start: int
    end: int
    perms: str
    name: str

    @property
    def n_pages(self) -> int:
        return (self.end - self.start) >> PAGE_SHIFT


def clean_env(home: Path, tmp: Path) -> dict[str, str]:
    """The whole environment a captured program gets: nothing is inherited."""
    return {
        "PATH": CLEAN_PATH,
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
    }


def parse_maps(pid: int) -> list[Vma]:
    out: list[Vma] = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.rstrip("\n").split(maxsplit=5)
            lo, hi = parts[0].split("-")
            out.append(Vma(int(lo, 16), int(hi, 16), parts[1], parts[5] if len(parts) > 5 else ""))
    return out


def classify(vma: Vma, include_file_cow: bool = False) -> tuple[str | None, str]:
    """(region class, "") for a VMA to dump, or (None, reason) for one to skip."""
    name, perms = vma.name, vma.perms
    if name in SKIP_NAMES:
        return None, "special"
    if perms[3] != "p" or perms[0] != "r":
        return None, "shared" if perms[3] != "p" else "unreadable"
    name = "" if name.startswith("[anon:") else "[stack]" if name.startswith("[stack:") else name
    if name in _NAMED:
        return _NAMED[name], ""
    if name.startswith("["):
        return None, "special"
    return ("file-cow", "") if include_file_cow and perms[1] == "w" else (None, "file")


_NAMED = {"": "anon", "[heap]": "heap", "[stack]": "stack"}


def read_status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                out[key] = value.strip()
    except OSError:
        pass
    return out


def rss_anon_kb(pid: int) -> int:
    value = read_status(pid).get("RssAnon", "0 kB").split()
    return int(value[0]) if value else 0


def children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(x) for x in f.read().split())
        except OSError:
            continue
    return kids


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, parents before children."""
    order, queue, seen = [], deque([root]), {root}
    while queue:
        pid = queue.popleft()
        order.append(pid)
        for kid in children(pid):
            if kid not in seen:
                seen.add(kid)
                queue.append(kid)
    return order


def freeze_tree(root: int, timeout: float = 3.0) -> list[int]:
    """SIGSTOP ``root`` and its descendants until the tree is stable and all stopped."""
    stopped: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        new = [pid for pid in process_tree(root) if pid not in stopped]
        if not new:
            break
        if time.monotonic() > deadline:
            raise UserError(f"capture: the process tree kept growing for {timeout:g} s")
        signal_all(new, signal.SIGSTOP)
        stopped.extend(new)
    for pid in stopped:
        while read_status(pid).get("State", "X")[:1] not in ("T", "t", "Z", "X"):
            if time.monotonic() > deadline:
                raise UserError(f"process {pid} did not stop within {timeout:g} s")
            time.sleep(0.002)
    return stopped


def _zero_checker() -> tuple[int | None, str]:
    try:
        return os.open("/proc/kpageflags", os.O_RDONLY | os.O_CLOEXEC), "kpageflags"
    except OSError as e:
        return None, f"unavailable: /proc/kpageflags: {e.strerror}"


def _page_flags(kfd: int, pfns: list[int]) -> list[int]:
    """kpageflags of each PFN, reading runs of consecutive PFNs in one pread."""
    flags = [0] * len(pfns)
    i = 0
    while i < len(pfns):
        j = i + 1
        while j < len(pfns) and pfns[j] == pfns[j - 1] + 1 and j - i < 8192:
            j += 1
        try:
            raw = os.pread(kfd, 8 * (j - i), pfns[i] * 8)
        except OSError:
            raw = b""  # unknown flags: keep the pages
        words = memoryview(raw)[: len(raw) // 8 * 8].cast("Q")
        flags[i : i + len(words)] = list(words)
        i = j
    return flags


class _Collector:
    """The pages read so far and their virtually contiguous segments."""

    def __init__(self) -> None:
        self.pages = bytearray()
        self.segments: list[Segment] = []

    def add(self, data: bytes, region: str, source: str, addr: int) -> None:
        n, start = len(data) // PAGE_SIZE, len(self.pages) // PAGE_SIZE
        last = self.segments[-1] if self.segments else None
        if (
            last is not None
            and (last.region, last.source) == (region, source)
            and last.start + last.count == start
            and last.vaddr + (last.count << PAGE_SHIFT) == addr
        ):
            last.count += n
        else:
            self.segments.append(Segment(region, source, addr, start, n))
        self.pages += data


def dump_process(pid: int, out: _Collector, include_file_cow: bool = False) -> dict[str, Any]:
    """Append the selected pages of a *stopped* process to ``out``; return its stats."""
    status = read_status(pid)
    source = status.get("Name", f"pid{pid}")
    regions: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    totals = dict.fromkeys(COUNTERS, 0)
    kfd, zero_detection = _zero_checker()
    saw_pfn = False
    try:
        pm = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY | os.O_CLOEXEC)
        mem = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        hint = "needs ptrace access: run as root or capture a child of this process"
        raise UserError(f"cannot read the memory of pid {pid}: {e.strerror} ({hint})") from None
    try:
        for vma in parse_maps(pid):
            region, reason = classify(vma, include_file_cow)
            if region is None:
                skipped.append(
                    dict(name=vma.name, perms=vma.perms, pages=vma.n_pages, reason=reason)
                )
                continue
            stats = dict.fromkeys(COUNTERS, 0)
            for first in range(0, vma.n_pages, PAGEMAP_CHUNK):
                vaddr0 = vma.start + (first << PAGE_SHIFT)
                n = min(PAGEMAP_CHUNK, vma.n_pages - first)
                raw = os.pread(pm, 8 * n, (vaddr0 >> PAGE_SHIFT) * 8)
                want: list[int] = []
                pfns: list[int] = []
                for k, entry in enumerate(memoryview(raw)[: len(raw) // 8 * 8].cast("Q")):
                    if entry & PM_SWAPPED:
                        stats["swapped"] += 1
                    if not entry & PM_PRESENT:
                        continue  # never read: it would fault in the zero page
                    stats["present"] += 1
                    if entry & PM_FILE_OR_SHARED:
                        stats["file_or_shared"] += 1
                        continue
                    want.append(k)
                    pfns.append(entry & PM_PFN_MASK)
                saw_pfn = saw_pfn or any(pfns)
                if kfd is not None and pfns and saw_pfn:
                    kept = []
                    for k, fl in zip(want, _page_flags(kfd, pfns), strict=True):
                        if fl & KPF_ZERO_PAGE:
                            stats["zero_pfn"] += 1
                            continue
                        stats["thp"] += bool(fl & KPF_THP)
                        kept.append(k)
                    want = kept
                _read_runs(mem, vaddr0, want, (region, source), out, stats)
            for key in COUNTERS:
                totals[key] += stats[key]
            span = dict(start=hex(vma.start), end=hex(vma.end), perms=vma.perms, name=vma.name)
            regions.append({**span, "class": region, **stats})
    finally:
        os.close(pm)
        os.close(mem)
        if kfd is not None:
            os.close(kfd)
    if kfd is not None and not saw_pfn and totals["present"]:
        zero_detection = "unavailable: pagemap PFNs hidden (needs CAP_SYS_ADMIN)"
    rss = int(status.get("RssAnon", "0 kB").split()[0])
    return dict(pid=pid, source=source, rss_anon_kb=rss, zero_pfn_detection=zero_detection,
                counters=totals, regions=regions, skipped=skipped)  # fmt: skip


def _read_runs(mem: int, vaddr0: int, want: list[int], label: tuple[str, str], out: _Collector,
               stats: dict[str, int]) -> None:  # fmt: skip
    """Read the wanted page indexes (relative to vaddr0) in coalesced runs, tolerating EIO."""
    i = 0
    while i < len(want):
        j = i + 1
        while j < len(want) and want[j] == want[j - 1] + 1 and j - i < MAX_RUN_PAGES:
            j += 1
        addrs = [vaddr0 + (want[k] << PAGE_SHIFT) for k in range(i, j)]
        data = _pread(mem, (j - i) * PAGE_SIZE, addrs[0])
        if len(data) == (j - i) * PAGE_SIZE:
            out.add(data, *label, addrs[0])
            stats["dumped"] += j - i
        else:  # page by page: keep what reads, count what does not
            for a in addrs:
                one = _pread(mem, PAGE_SIZE, a)
                if len(one) == PAGE_SIZE:
                    out.add(one, *label, a)
                    stats["dumped"] += 1
                else:
                    stats["read_err"] += 1
        i = j


def _pread(fd: int, n: int, offset: int) -> bytes:
    try:
        return os.pread(fd, n, offset)
    except OSError:
        return b""


def _dump_tree(tree: list[int], target: str, include_file_cow: bool, progress: Progress
               ) -> tuple[_Collector, list[dict[str, Any]]]:  # fmt: skip
    rss = {pid: rss_anon_kb(pid) for pid in tree}
    if target not in ("largest", "all"):
        raise UserError(f"unknown capture target {target!r} (use largest or all)")
    chosen = [max(tree, key=lambda p: rss[p])] if target == "largest" else list(tree)
    out = _Collector()
    procs = []
    for pid in chosen:
        progress(f"reading pid {pid} ({read_status(pid).get('Name', '?')}, RssAnon {rss[pid]} kB)")
        procs.append(dump_process(pid, out, include_file_cow))
    return out, procs


def _finish(out: _Collector, procs: list[dict[str, Any]], captured: dict[str, Any]
            ) -> CaptureResult:  # fmt: skip
    pages, segments = out.pages, out.segments
    if not pages:
        raise UserError("capture found no private anonymous pages to dump")
    totals = dict.fromkeys(COUNTERS, 0)
    for p in procs:
        for key in COUNTERS:
            totals[key] += p["counters"][key]
    labels: list[tuple[str, str]] = []
    for s in segments:
        labels.extend([(s.region, s.source)] * s.count)
    zero = sorted({p["zero_pfn_detection"] for p in procs})
    captured.update(method=METHOD, date=datetime.now(UTC).isoformat(timespec="seconds"),
                    counters=totals, zero_pfn_detection=zero, processes=procs,
                    n_segments=len(segments))  # fmt: skip
    meta = {"captured": captured, "page_runs": merge_runs(labels), **host_meta(),
            "page_size": PAGE_SIZE}
    return CaptureResult(bytes(pages), meta, segments)


def _quiet(_msg: str) -> None:
    pass


def capture(
    cmd: list[str],
    *,
    ready_marker: str | None = None,
    timeout: float = 60.0,
    rss_threshold_kb: int | None = None,
    settle: float = 0.0,
    target: str = "largest",
    include_file_cow: bool = False,
    progress: Progress | None = None,
) -> CaptureResult:
    """Start ``cmd``, capture its tree's private anon memory, kill it (module docstring).

    The options are checked first (:func:`check_options`); then the program and every
    process it forks are killed at the end, on errors, at the hard deadline and on
    SIGTERM/SIGINT/SIGHUP (:class:`~zbench.input.capturectl.CaptureInterrupted`).
    """
    if not cmd:
        raise UserError("capture: no command given")
    check_options(timeout, settle, rss_threshold_kb)
    exe = _executable(cmd[0])
    with interruptible() as guard, subreaper():
        if guard is not None:  # the hard deadline, cleared by _capture's cleanup
            guard.deadline_s = timeout + settle + DEADLINE_GRACE_S
            signal.setitimer(signal.ITIMER_REAL, guard.deadline_s)
        return _capture(cmd, exe, guard, progress or _quiet, ready_marker=ready_marker,
                        timeout=timeout, rss_threshold_kb=rss_threshold_kb, settle=settle,
                        target=target, include_file_cow=include_file_cow)


def _executable(name: str) -> str:
    exe = name if "/" in name else shutil.which(name, path=CLEAN_PATH)
    if exe is None:
        raise UserError(f"capture: command {name!r} not found in {CLEAN_PATH}")
    if not os.path.isfile(exe) or not os.access(exe, os.X_OK):
        raise UserError(f"capture: {exe}: not executable (not a file, or no execute permission)")
    return exe


def _capture(cmd: list[str], exe: str, guard: Signals | None, say: Progress, *,
             ready_marker: str | None, timeout: float, rss_threshold_kb: int | None,
             settle: float, target: str, include_file_cow: bool) -> CaptureResult:
    hold = guard.deferred if guard is not None else nullcontext
    tree: list[int] = []
    since = 0
    proc: subprocess.Popen[bytes] | None = None
    drains: list[Drain] = []
    work: Path | None = None
    try:
        with hold():  # a signal here would leak the temp home or the child
            work = Path(tempfile.mkdtemp(prefix="zbench-capture-"))
            home, tmp = work / "home", work / "tmp"
            home.mkdir(mode=0o700)
            tmp.mkdir(mode=0o700)
            env = clean_env(home, tmp)
            try:
                proc = subprocess.Popen([exe, *cmd[1:]], env=env, cwd=home,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, start_new_session=True,
                                        close_fds=True)  # fmt: skip
            except OSError as e:
                raise UserError(f"capture: cannot start {cmd[0]!r}: {e.strerror or e}") from None
            since = start_tick(proc.pid)
            assert proc.stdout is not None and proc.stderr is not None
            out, err = Drain(proc.stdout, ready_marker), Drain(proc.stderr, None)
            drains = [out, err]
            out.start()
            err.start()
        say(f"started pid {proc.pid}: {' '.join(cmd)}")
        t0 = time.monotonic()
        trigger = _wait_trigger(proc, out, rss_threshold_kb, timeout, t0)
        if trigger == "exited":
            _exited(proc, cmd, "before the capture point", err)
        say(f"capture point: {trigger} after {time.monotonic() - t0:.2f} s")
        end = time.monotonic() + settle
        while time.monotonic() < end and proc.poll() is None:
            time.sleep(0.01)
        if proc.poll() is not None:
            _exited(proc, cmd, "during the settle time", err)
        tree = freeze_tree(proc.pid)
        say(f"stopped {len(tree)} process(es): {tree}")
        collected, procs = _dump_tree(tree, target, include_file_cow, say)
        captured: dict[str, Any] = dict(
            command=list(cmd), executable=exe, trigger=trigger, ready_marker=ready_marker,
            rss_threshold_kb=rss_threshold_kb, timeout_s=timeout, settle_s=settle,
            elapsed_s=round(time.monotonic() - t0, 3), target=target,
            include_file_cow=include_file_cow, env_keys=sorted(env), tree=_tree_info(tree),
        )  # fmt: skip
        result = _finish(collected, procs, captured)
        say(f"captured {result.n_pages} pages ({result.meta['captured']['counters']})")
        return result
    finally:
        with hold():
            if guard is not None:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if proc is not None:
                kill_all(proc, tree, since)
            for drain in drains:
                drain.stop()
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)


def _wait_trigger(proc: subprocess.Popen[bytes], out: Drain, rss_kb: int | None,
                  timeout: float, t0: float) -> str:  # fmt: skip
    while True:
        if out.seen.is_set():
            return "ready_marker"
        if proc.poll() is not None:
            out.join(0.5)
            if out.seen.is_set():
                return "ready_marker"  # exits are caught right after
            return "exited"
        if rss_kb is not None:
            peak = max((rss_anon_kb(p) for p in process_tree(proc.pid)), default=0)
            if peak >= rss_kb:
                return "rss_threshold"
        if time.monotonic() - t0 >= timeout:
            return "timeout"
        time.sleep(0.01)


def _exited(proc: subprocess.Popen[bytes], cmd: list[str], when: str, err: Drain) -> None:
    err.join(0.5)
    last = f"; last stderr: {err.tail[-1]}" if err.tail else ""
    raise UserError(
        f"capture: {cmd[0]} exited with status {proc.returncode} {when}, nothing can be read "
        f"(capture happens at the ready marker, RSS threshold or timeout){last}"
    )


def capture_running(
    pid: int,
    allow_running: bool = False,
    *,
    target: str = "largest",
    include_file_cow: bool = False,
    progress: Progress | None = None,
) -> CaptureResult:
    """Opt-in capture of an already running process we own; it is resumed, not killed.

    Refused unless ``allow_running`` is true, the process has our real and
    effective uid, and we are not part of its process tree.
    """
    say = progress or _quiet
    if not allow_running:
        raise UserError(
            f"refusing to capture running pid {pid}: pass --allow-running to capture a process "
            "zbench did not start"
        )
    status = read_status(pid)
    if not status:
        raise UserError(f"pid {pid}: no such process")
    uids = status.get("Uid", "").split()
    if len(uids) < 2 or int(uids[0]) != os.getuid() or int(uids[1]) != os.getuid():
        raise UserError(f"refusing to capture pid {pid}: it does not run as our uid {os.getuid()}")
    tree = process_tree(pid)
    if os.getpid() in tree or pid in _ancestors(os.getpid()):
        raise UserError(f"refusing to capture pid {pid}: it is zbench itself or its ancestor")
    stopped: list[int] = []
    try:
        stopped = freeze_tree(pid)
        say(f"stopped {len(stopped)} process(es): {stopped}")
        collected, procs = _dump_tree(stopped, target, include_file_cow, say)
        captured = dict(command=_cmdline(pid), trigger="running", target=target,
                        include_file_cow=include_file_cow, tree=_tree_info(stopped))  # fmt: skip
        return _finish(collected, procs, captured)
    finally:
        signal_all(stopped, signal.SIGCONT)


def _tree_info(tree: list[int]) -> list[dict[str, Any]]:
    return [{"pid": p, "comm": read_status(p).get("Name", "")} for p in tree]


def _ancestors(pid: int) -> set[int]:
    out: set[int] = set()
    while pid > 1 and pid not in out:
        out.add(pid)
        ppid = read_status(pid).get("PPid", "0")
        pid = int(ppid) if ppid.isdigit() else 0
    return out


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
