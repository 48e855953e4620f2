"""Shared checks for the hostile-input corpus (tests/test_hostile_*.py).

Every hostile case runs zbench as a user would, in a child process with a timeout
(a hang fails the test instead of blocking it), and asserts the exit code, that
stderr is one line with no traceback, and that nothing was left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def zbench(args: Sequence[str | os.PathLike[str]], cwd: Path | None = None,
           timeout: float = 120, env: dict[str, str] | None = None,
           stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m zbench ARGS`` in ``cwd`` (default: the repository), killed after
    ``timeout`` seconds (``subprocess.TimeoutExpired`` fails the test)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "zbench", *map(str, args)], cwd=cwd or ROOT,
                          env=full_env, input=stdin.decode() if stdin is not None else None,
                          capture_output=True, text=True, timeout=timeout,
                          start_new_session=True)


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip()]


def assert_one_line(res: subprocess.CompletedProcess[str], code: int = 2,
                    *fragments: str) -> str:
    """``res`` exited with ``code`` and one line on stderr holding every fragment."""
    lines = error_lines(res.stderr)
    assert res.returncode == code, (res.returncode, res.stdout[-2000:], res.stderr[-2000:])
    assert "Traceback" not in res.stderr + res.stdout, res.stderr[-4000:]
    assert len(lines) == 1, res.stderr[-4000:]
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    return lines[0]


def make_plugin(site: Path, name: str, source: str) -> Path:
    """A plugin distribution in the folder ``site`` (put on PYTHONPATH): ``zbench-NAME``
    with entry point NAME = module ``zbench_NAME`` holding ``source``; the module's path."""
    mod = f"zbench_{name.replace('-', '_')}"
    path = site / f"{mod}.py"
    path.write_text(source)
    info = site / f"{mod}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: zbench-{name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[zbench]\n{name} = {mod}\n")
    return path


def snapshot(folder: Path) -> set[Path]:
    """Every path under ``folder`` (to compare before and after a command)."""
    return set(folder.rglob("*")) if folder.exists() else set()


def assert_no_leftovers(folder: Path, before: set[Path]) -> None:
    """Nothing new under ``folder`` since ``before`` was taken."""
    new = snapshot(folder) - before
    assert not new, sorted(map(str, new))[:20]


def descendants(pid: int) -> list[int]:
    """Live processes whose parent chain reaches ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(d.name)] = int(fields[1])
    out = []
    for p in parents:
        q = p
        while q in parents and q > 1:
            q = parents[q]
            if q == pid:
                out.append(p)
                break
    return out


def in_session(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(d.name))
    return out
