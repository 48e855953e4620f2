"""zbench.input.capture on small child programs we start ourselves (Linux /proc only)."""

from __future__ import annotations

import os
import secrets
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from zbench.api.errors import UserError
from zbench.api.frames import PAGE_SIZE
from zbench.cli.dumpcli import capture_cmd
from zbench.input.capture import Vma, capture, capture_running, classify, clean_env, read_status
from zbench.input.dump import load_dump


def _pagemap_readable() -> bool:
    try:
        with open("/proc/self/pagemap", "rb") as f:
            return len(f.read(8)) == 8
    except OSError:
        return False


needs_proc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _pagemap_readable(),
    reason="needs Linux with a readable /proc/PID/pagemap",
)
KPAGEFLAGS = os.access("/proc/kpageflags", os.R_OK)
N_PATTERN = 256

# The child: 256 page-aligned pages of a known pattern in a private anonymous mapping,
# 16 MiB of private anonymous memory that is only *read* (so it maps the shared zero
# page), then READY; it sleeps until the capture kills it.
CHILD = f"""
import mmap, time
pat = mmap.mmap(-1, {N_PATTERN} * 4096, flags=mmap.MAP_PRIVATE)
for i in range({N_PATTERN}):
    head = b"ZBPATTERN page %05d " % i
    pat[i * 4096:(i + 1) * 4096] = (head * 300)[:4096]
zero = mmap.mmap(-1, 16 << 20, flags=mmap.MAP_PRIVATE)
touched = sum(zero[i] for i in range(0, 16 << 20, 4096))
print("READY", touched, flush=True)
time.sleep(120)
"""


def expected_page(i: int) -> bytes:
    return ((b"ZBPATTERN page %05d " % i) * 300)[:PAGE_SIZE]


def pages_of(data: bytes) -> list[bytes]:
    return [data[i : i + PAGE_SIZE] for i in range(0, len(data), PAGE_SIZE)]


def gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}") or read_status(pid).get("State", "Z")[0] == "Z"


def test_classify_rules() -> None:
    def cls(perms: str, name: str, cow: bool = False) -> str | None:
        return classify(Vma(0, 4096, perms, name), cow)[0]

    assert cls("rw-p", "") == "anon"
    assert cls("rw-p", "[heap]") == "heap"
    assert cls("rw-p", "[stack]") == "stack"
    assert cls("rw-p", "[anon:glibc malloc]") == "anon"
    assert cls("rw-s", "") is None  # shared anon (shmem)
    assert cls("rw-s", "/dev/shm/x") is None
    assert cls("---p", "") is None
    for special in ("[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]"):
        assert cls("r--p", special) is None and cls("r-xp", special, True) is None
    assert cls("rw-p", "/usr/lib/libc.so.6") is None
    assert cls("rw-p", "/usr/lib/libc.so.6", cow=True) == "file-cow"
    assert cls("r--p", "/usr/lib/libc.so.6", cow=True) is None


def test_clean_env_inherits_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZBENCH_TEST_SECRET", "x")
    env = clean_env(tmp_path / "h", tmp_path / "t")
    assert set(env) == {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONHASHSEED"}
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin" and env["PYTHONHASHSEED"] == "0"


@needs_proc
def test_capture_child_pattern_env_and_zero_pfn(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "zbsecret-" + secrets.token_hex(16)
    monkeypatch.setenv("ZBENCH_TEST_SECRET", secret)
    res = capture([sys.executable, "-c", CHILD], ready_marker="READY", timeout=30,
                  rss_threshold_kb=None, settle=0.05)  # fmt: skip
    cap = res.meta["captured"]
    assert cap["trigger"] == "ready_marker"
    pid = cap["tree"][0]["pid"]
    assert gone(pid), "the child must be killed and reaped after the capture"
    got = pages_of(res.pages)
    found = set(got)
    assert all(expected_page(i) in found for i in range(N_PATTERN))
    # Clean environment: the child's own variables are in its memory, ours are not.
    assert b"PYTHONHASHSEED=0" in res.pages
    assert secret.encode() not in res.pages
    assert cap["env_keys"] == ["HOME", "LANG", "PATH", "PYTHONHASHSEED", "TMPDIR"]
    c = cap["counters"]
    assert c["dumped"] == res.n_pages == len(got) and c["read_err"] == 0
    assert {r for r, _s, _a, _n in res.meta["page_runs"]} <= {"anon", "heap", "stack"}
    if KPAGEFLAGS and cap["zero_pfn_detection"] == ["kpageflags"]:
        assert c["zero_pfn"] >= 4096  # the 16 MiB read-only mapping
        assert sum(p == bytes(PAGE_SIZE) for p in got) < 256  # ...and none of it was dumped
    else:
        assert cap["zero_pfn_detection"][0].startswith("unavailable")


@needs_proc
def test_capture_picks_largest_process_of_tree() -> None:
    cmd = ["sh", "-c", '"$0" -c "$1"; echo done', sys.executable, CHILD]
    res = capture(cmd, ready_marker="READY", timeout=30, settle=0.05)
    cap = res.meta["captured"]
    assert len(cap["tree"]) == 2 and cap["tree"][0]["comm"] == "sh"
    assert len(cap["processes"]) == 1 and cap["processes"][0]["pid"] == cap["tree"][1]["pid"]
    assert expected_page(7) in set(pages_of(res.pages))
    assert all(gone(p["pid"]) for p in cap["tree"])


@needs_proc
def test_capture_triggers_and_early_exit() -> None:
    grow = "import time\nb = []\nwhile True:\n    b.append(bytearray(b'g' * (1 << 20)))\n" \
           "    time.sleep(0.002)\n"  # fmt: skip
    res = capture([sys.executable, "-c", grow], rss_threshold_kb=30_000, timeout=30)
    assert res.meta["captured"]["trigger"] == "rss_threshold"
    assert res.n_pages * PAGE_SIZE >= 30_000 * 1024 * 0.8
    res = capture([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.3)
    assert res.meta["captured"]["trigger"] == "timeout"
    with pytest.raises(UserError, match="exited with status 3 before the capture point"):
        capture([sys.executable, "-c", "import sys; sys.exit(3)"], ready_marker="READY",
                timeout=30)  # fmt: skip
    with pytest.raises(UserError, match="not found"):
        capture(["zbench-no-such-program"], timeout=1)


@needs_proc
@pytest.mark.slow
def test_cli_capture_writes_0600_dump(tmp_path: Path) -> None:
    out = tmp_path / "child.zbdump"
    args = ["--out", str(out), "--ready-marker", "READY", "--timeout", "30"]
    res = CliRunner().invoke(capture_cmd, [*args, "--", sys.executable, "-c", CHILD])
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    d = load_dump(out)
    assert d.format == "zbench" and d.meta["captured"]["trigger"] == "ready_marker"
    assert expected_page(3) in {d.page(i) for i in range(d.n_pages)}
    assert d.source(0) in ("python", "python3") or d.source(0).startswith("python")


def test_capture_running_refuses_without_opt_in() -> None:
    with pytest.raises(UserError, match="--allow-running"):
        capture_running(os.getpid())
    with pytest.raises(UserError, match="--allow-running"):
        capture_running(os.getppid(), allow_running=False)
    res = CliRunner().invoke(capture_cmd, ["--out", "/nonexistent/x", "--pid", "1"])
    assert isinstance(res.exception, UserError) and "--allow-running" in str(res.exception)


@needs_proc
def test_capture_running_refuses_self_and_resumes_own_child() -> None:
    with pytest.raises(UserError, match="itself or its ancestor"):
        capture_running(os.getpid(), allow_running=True)
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                             env=clean_env(Path("/tmp"), Path("/tmp")))  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().startswith(b"READY")
        res = capture_running(child.pid, allow_running=True)
        assert expected_page(0) in set(pages_of(res.pages))
        time.sleep(0.05)
        assert child.poll() is None, "a running process must survive capture_running"
        assert read_status(child.pid)["State"][0] in "SR", "and be resumed (SIGCONT)"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
