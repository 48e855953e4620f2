"""Hostile input and faults for ``zbench capture``: bad options, bad destinations,
programs that daemonize, ignore SIGTERM or hold their stdout open, and signals sent to
zbench mid-capture.  Each case runs zbench in its own session with a timeout and asserts
the exit code, one error line, no traceback, no process left alive, no temporary home
left in TMPDIR and no partial dump."""

from __future__ import annotations

import os
import secrets
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import ROOT, error_lines, in_session

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc only")

PROGRESS = "zbench capture: "  # progress lines, not errors

# Every program first creates DIR/started, so a test can tell whether it was started.
HEAD = "import os, sys, time\nD = sys.argv[1]\nopen(os.path.join(D, 'started'), 'w').close()\n"
READY = HEAD + "print('READY', flush=True)\ntime.sleep(300)\n"
# Double fork + setsid: the daemon is no longer in the child's tree nor its session.
DAEMON = HEAD + """
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open(os.path.join(D, 'daemon.pid'), 'w').write(str(os.getpid()))
        time.sleep(300)
    os._exit(0)
os.wait()
while not os.path.exists(os.path.join(D, 'daemon.pid')):
    time.sleep(0.01)
if sys.argv[2] == 'exit':
    sys.exit(0)
print('READY', flush=True)
time.sleep(300)
"""
# A grandchild in its own process group that outlives its parent and keeps the pipes.
HOLDER = HEAD + """
if os.fork() == 0:
    if os.fork() == 0:
        os.setpgid(0, 0)
        open(os.path.join(D, 'holder.pid'), 'w').write(str(os.getpid()))
        time.sleep(300)
    os._exit(0)
os.wait()
while not os.path.exists(os.path.join(D, 'holder.pid')):
    time.sleep(0.01)
print('READY', flush=True)
time.sleep(300)
"""
NO_TERM = HEAD + "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" \
    "signal.signal(signal.SIGHUP, signal.SIG_IGN)\ntime.sleep(300)\n"


class Env:
    """A test folder: the program, TMPDIR for zbench, and the process check."""

    def __init__(self, base: Path) -> None:
        self.token = "zbhostile" + secrets.token_hex(6)
        self.dir = base / self.token
        self.tmp = base / "tmp"
        self.dir.mkdir()
        self.tmp.mkdir()
        self.out = base / "out.zbdump"

    def prog(self, body: str, *extra: str) -> list[str]:
        path = self.dir / "prog.py"
        path.write_text(body)
        return [sys.executable, str(path), str(self.dir), *extra]

    def started(self) -> bool:
        return (self.dir / "started").exists()

    def alive(self) -> list[int]:
        """Live processes of our program (its argv holds the token)."""
        out = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            try:
                if self.token.encode() not in (d / "cmdline").read_bytes():
                    continue
                state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                out.append(int(d.name))
        return out

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "zbench", "capture", *args], cwd=ROOT,
                              env={**os.environ, "TMPDIR": str(self.tmp)}, capture_output=True,
                              text=True, timeout=timeout, start_new_session=True)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "zbench", "capture", *args], cwd=ROOT,
                                env={**os.environ, "TMPDIR": str(self.tmp)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def assert_clean(self, sid: int | None = None) -> None:
        """No process of the program alive, nothing in TMPDIR, no partial dump."""
        deadline = time.monotonic() + 2  # a SIGKILLed process may take a moment to go
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self.alive(), "a process of the captured program is still alive"
        if sid is not None:
            assert not in_session(sid), "zbench's session still has processes"
        assert not list(self.tmp.iterdir()), list(self.tmp.iterdir())
        stray = [p for p in self.out.parent.iterdir() if p.name.startswith(".out.zbdump")]
        assert not stray, stray

    def kill_all(self) -> None:
        for pid in self.alive():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.kill_all()  # so a failing case leaves nothing running either


def assert_error(stderr: str, stdout: str, *fragments: str) -> str:
    """One error line (progress lines aside), no traceback, holding every fragment."""
    assert "Traceback" not in stderr + stdout, stderr[-4000:]
    lines = [ln for ln in error_lines(stderr) if not ln.startswith(PROGRESS)]
    assert len(lines) == 1, stderr[-4000:]
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    return lines[0]


def wait_started(e: Env, proc: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not e.started():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the program did not start"
        time.sleep(0.02)
    time.sleep(0.2)  # it has set its signal dispositions


BAD_NUMBERS = [("--timeout", v) for v in ("nan", "inf", "0", "-1", "1e309", "1e12", "-inf")] + [
    ("--settle", "nan"), ("--settle", "-1"), ("--settle", "inf"), ("--settle", "1e9"),
    ("--rss-threshold", "0"), ("--rss-threshold", "-5"), ("--rss-threshold", str(1 << 70)),
]


@pytest.mark.parametrize(("option", "value"), BAD_NUMBERS)
def test_bad_number_refused_before_start(env: Env, option: str, value: str) -> None:
    res = env.run("--out", str(env.out), option, value, "--", *env.prog(READY), timeout=30)
    assert res.returncode == 2, res.stderr
    assert_error(res.stderr, res.stdout, f"{option}:")
    assert not env.started() and not env.out.exists()
    env.assert_clean()


@pytest.mark.parametrize("mode", ["ready", "exit"])
@pytest.mark.slow
def test_daemon_does_not_escape(env: Env, mode: str) -> None:
    res = env.run("--out", str(env.out), "--ready-marker", "READY", "--timeout", "20",
                  "--settle", "0", "--", *env.prog(DAEMON, mode), timeout=60)
    daemon = int((env.dir / "daemon.pid").read_text())
    if mode == "ready":
        assert res.returncode == 0, res.stderr
        assert env.out.is_file() and stat.S_IMODE(env.out.stat().st_mode) == 0o600
    else:
        assert res.returncode == 2, res.stderr
        assert_error(res.stderr, res.stdout, "exited with status 0")
        assert not env.out.exists()
    env.assert_clean()
    assert not Path(f"/proc/{daemon}").exists() or daemon not in env.alive()


@pytest.mark.slow
def test_grandchild_holding_stdout_does_not_hang(env: Env) -> None:
    res = env.run("--out", str(env.out), "--ready-marker", "READY", "--timeout", "20",
                  "--settle", "0", "--", *env.prog(HOLDER), timeout=60)
    assert res.returncode == 0, res.stderr
    assert "captured" in res.stderr and env.out.is_file()
    env.assert_clean()


@pytest.mark.slow
def test_child_ignoring_sigterm_is_killed_at_timeout(env: Env) -> None:
    res = env.run("--out", str(env.out), "--timeout", "0.5", "--settle", "0", "--",
                  *env.prog(NO_TERM), timeout=60)
    assert res.returncode == 0, res.stderr
    assert env.out.is_file()
    env.assert_clean()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130),
                                           (signal.SIGHUP, 129)])
def test_signal_mid_capture_kills_tree_and_cleans(env: Env, sig: int, code: int) -> None:
    proc = env.spawn("--out", str(env.out), "--timeout", "120", "--", *env.prog(NO_TERM))
    try:
        wait_started(env, proc)
        assert env.alive()
        os.kill(proc.pid, sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == code, stderr
    assert_error(stderr, stdout, signal.Signals(sig).name)
    assert not env.out.exists()
    env.assert_clean(proc.pid)


def test_sigterm_with_daemon_running(env: Env) -> None:
    proc = env.spawn("--out", str(env.out), "--ready-marker", "NEVER", "--timeout", "120",
                     "--", *env.prog(DAEMON, "ready"))
    try:
        wait_started(env, proc)
        deadline = time.monotonic() + 20
        while not (env.dir / "daemon.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 143, stderr
    assert_error(stderr, stdout, "SIGTERM")
    env.assert_clean(proc.pid)


def test_out_dev_full_refused_untouched(env: Env) -> None:
    if not stat.S_ISCHR(os.stat("/dev/full").st_mode):
        pytest.skip("no /dev/full")
    before = set(os.listdir("/dev"))
    res = env.run("--out", "/dev/full", "--timeout", "0.5", "--", *env.prog(READY), timeout=30)
    assert res.returncode == 2, res.stderr
    assert_error(res.stderr, res.stdout, "/dev/full", "character device")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert not env.started()
    assert not {n for n in set(os.listdir("/dev")) - before if n.startswith(".full")}
    env.assert_clean()


def test_out_fifo_refused_untouched(env: Env) -> None:
    fifo = env.out.parent / "fifo"
    os.mkfifo(fifo)
    res = env.run("--out", str(fifo), "--timeout", "0.5", "--", *env.prog(READY), timeout=30)
    assert res.returncode == 2, res.stderr
    assert_error(res.stderr, res.stdout, str(fifo), "FIFO")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and not env.started()
    assert not [p for p in fifo.parent.iterdir() if p.name.startswith(".fifo")]
    env.assert_clean()


@pytest.mark.parametrize("fmt", ["zbench", "raw"])
def test_out_directory_refused_untouched(env: Env, fmt: str) -> None:
    target = env.out.parent / "adir"
    target.mkdir()
    res = env.run("--out", str(target), "--format", fmt, "--timeout", "0.5", "--",
                  *env.prog(READY), timeout=30)
    assert res.returncode == 2, res.stderr
    assert_error(res.stderr, res.stdout, str(target), "directory")
    assert target.is_dir() and not list(target.iterdir()) and not env.started()
    env.assert_clean()


def test_raw_metadata_fifo_refused_before_start(env: Env) -> None:
    os.mkfifo(env.out.parent / "out.zbdump.json")
    res = env.run("--out", str(env.out), "--format", "raw", "--timeout", "0.5", "--",
                  *env.prog(READY), timeout=30)
    assert res.returncode == 2, res.stderr
    assert_error(res.stderr, res.stdout, "out.zbdump.json", "FIFO")
    assert not env.started() and not env.out.exists()
    env.assert_clean()


def test_missing_and_unexecutable_program(env: Env) -> None:
    res = env.run("--out", str(env.out), "--timeout", "1", "--", "zbench-no-such-program")
    assert res.returncode == 2, res.stderr
    assert_error(res.stderr, res.stdout, "zbench-no-such-program", "not found")
    plain = env.dir / "plain.txt"
    plain.write_text("echo hi\n")
    res = env.run("--out", str(env.out), "--timeout", "1", "--", str(plain))
    assert res.returncode == 2, res.stderr
    assert_error(res.stderr, res.stdout, str(plain), "not executable")
    res = env.run("--out", str(env.out), "--timeout", "1", "--", str(env.dir))
    assert res.returncode == 2, res.stderr
    assert_error(res.stderr, res.stdout, str(env.dir), "not executable")
    assert not env.out.exists()
    env.assert_clean()


def test_hard_deadline_ends_a_stuck_capture(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A phase after the capture point that never ends (here: a freeze that sleeps) is cut
    off by the hard deadline; the program and the temporary home are gone afterwards."""
    import tempfile

    from zbench.api.errors import UserError
    from zbench.input import capture as cap

    monkeypatch.setattr(cap, "DEADLINE_GRACE_S", 0.5)
    monkeypatch.setattr(cap, "freeze_tree", lambda pid: time.sleep(60) or [pid])
    monkeypatch.setattr(tempfile, "tempdir", str(env.tmp))
    with pytest.raises(UserError, match="hard deadline"):
        cap.capture(env.prog(READY), ready_marker="READY", timeout=1)
    assert env.started()
    env.assert_clean()
