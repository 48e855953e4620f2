"""Boot a user-mode Linux kernel once, run op streams through its driver, collect the results.

The guest's root is a hostfs folder of our own (``rootfstype=hostfs``): it holds
busybox (static) as ``/bin/busybox``, an ``/init`` script and the op streams.
``/init`` mounts /proc, writes ``OPS OUT`` to ``/proc/zbench`` once per stream
(the driver runs the stream inside that write), syncs and powers off.  The UML
process runs in a session of its own with no terminal; a boot that outlives its
timeout is killed with its whole process group, and its folder removed.  Nothing
here touches the host kernel: UML is an ordinary process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from zbench import UserError, cache_dir

from .stream import StreamResult, StreamWriter, parse_result

BUSYBOX = Path("/bin/busybox")
DEFAULT_TIMEOUT_S = 600.0


class BootError(UserError):
    """The kernel did not boot, hung or crashed: the reason, one line."""


@dataclass
class Boot:
    """One boot's outcome: a result per stream, the console log and the wall time."""

    results: list[StreamResult]
    console: str
    seconds: float

    def warnings(self) -> list[str]:
        """Kernel WARN/BUG lines printed during the boot."""
        return [ln for ln in self.console.splitlines()
                if "WARNING:" in ln or "BUG:" in ln or "Kernel panic" in ln]


def new_stream(backend: str, compressor: str = "", flags: int = 0
               ) -> tuple[Path, BinaryIO, StreamWriter]:
    """A stream file of our own under the cache (``.ops``), open for writing."""
    base = cache_dir() / "uml" / "run"
    base.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="stream-", suffix=".ops", dir=base)
    f = os.fdopen(fd, "w+b")
    return Path(name), f, StreamWriter(f, backend, compressor, 0, flags)


@contextmanager
def guest_root() -> Iterator[Path]:
    """A fresh folder to be a guest's hostfs root, with busybox; removed afterwards."""
    if not BUSYBOX.is_file():
        raise BootError(f"{BUSYBOX} is missing: install Debian's busybox-static "
                        "(apt-get install busybox-static)")
    base = cache_dir() / "uml" / "run"
    base.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="boot-", dir=base))
    try:
        for d in ("bin", "proc", "sys", "dev"):
            (root / d).mkdir()
        shutil.copy2(BUSYBOX, root / "bin" / "busybox")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def static_helper(src: Path) -> Path:
    """A guest helper program (C, in ``guest/``) built static on the host once, keyed by
    its source's hash, under the kernels' cache."""
    import hashlib

    from .build import kernels_dir

    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    out = kernels_dir() / f"{src.stem}-{digest}"
    if out.is_file():
        return out
    kernels_dir().mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    r = subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", str(tmp), str(src)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        raise UserError(f"building {src.name} (gcc -static) failed: {last}")
    tmp.rename(out)
    return out


def run_guest(linux: Path, root: Path, init_lines: list[str], *, extra_args: tuple[str, ...] = (),
              mem_mb: int = 1024, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[str, float]:
    """Boot ``linux`` on ``root`` with an ``/init`` of ``init_lines`` (busybox sh, then
    sync and power off); return the console's text and the wall time.  A kernel that
    outlives ``timeout_s`` is killed with its process group (BootError)."""
    init = root / "init"
    init.write_text("\n".join(["#!/bin/busybox sh", "/bin/busybox mount -t proc proc /proc",
                               *init_lines, "/bin/busybox sync",
                               "/bin/busybox poweroff -f", ""]))
    init.chmod(0o755)
    console = root / "console.log"
    cmd = [str(linux), f"mem={mem_mb}M", "root=/dev/root", "rootfstype=hostfs",
           f"rootflags={root}", "rw", "init=/init", "con=null", "con0=null,fd:1",
           "ssl=null", f"umid=zbench-{os.getpid()}-{root.name}", f"uml_dir={root}",
           *extra_args]
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(root)}
    t0 = time.perf_counter()
    proc: subprocess.Popen[bytes] | None = None
    try:
        with open(console, "wb") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, cwd=root, env=env,
                                    start_new_session=True)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                raise BootError(f"{linux.parent.name}: the kernel did not finish in "
                                f"{timeout_s:g} s; killed") from None
    finally:
        if proc is not None:
            _kill(proc)  # on a timeout, and UML's helper processes should any outlive it
    return console.read_text(errors="replace"), time.perf_counter() - t0


def boot(linux: Path, streams: list[Path], *, mem_mb: int = 1024,
         timeout_s: float = DEFAULT_TIMEOUT_S) -> Boot:
    """Boot ``linux`` once and run each op stream file (closed with ``end()``) in
    order; the files are moved into the guest's root and removed with it."""
    try:
        with guest_root() as root:
            names = []
            for i, path in enumerate(streams):
                name = f"s{i}.ops"
                shutil.move(path, root / name)
                names.append(name)
            lines = [f"echo '/{n} /{n}.out' > /proc/zbench" for n in names]
            text, seconds = run_guest(linux, root, lines, mem_mb=mem_mb, timeout_s=timeout_s)
            results = [parse_result(root / f"{n}.out") for n in names]
    finally:
        for path in streams:
            path.unlink(missing_ok=True)
    if all(r.status == "missing" for r in results):
        tail = " | ".join(text.strip().splitlines()[-3:])[-300:]
        raise BootError(f"{linux.parent.name}: the kernel ran no stream: "
                        f"{tail or 'no console output'}")
    return Boot(results, text, seconds)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
