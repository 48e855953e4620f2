"""``zbench kernel build``: a user-mode Linux kernel with the allocators and zbench's driver.

The source is Debian's ``linux-source-<version>`` package (installed with apt
when missing).  The build: ``make ARCH=um defconfig``, the options of
``kconfig.py`` switched on with ``scripts/config``, ``olddefconfig``, the driver
``driver/zbench_drv.c`` copied to ``mm/`` as ``obj-y``, ``make ARCH=um linux``.
The result (the ``linux`` binary, its ``.config`` and ``kernel.json``) is cached
under ``$ZBENCH_CACHE/uml/<version>-<key>/``, the key a hash of the source
package's version, the options and the driver's source: a changed driver or
option is a new build, an unchanged one is reused.  A build happens in a
temporary folder and is moved into place only when it succeeded, so a failed
or interrupted build leaves no entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zbench import UserError, cache_dir

from .kconfig import declared, options_for, recipe

VERSIONS = ("6.1", "6.12")
DRIVER = Path(__file__).parent / "driver" / "zbench_drv.c"
#: bump when the recipe below changes what a build produces
RECIPE = 1
TOOLS = {"gcc": "build-essential", "make": "build-essential", "flex": "flex",
         "bison": "bison", "bc": "bc"}
HEADERS = {"/usr/include/gelf.h": "libelf-dev"}

Progress = Callable[[str], None]


class BuildError(UserError):
    """A kernel could not be built: the reason, one line."""


@dataclass(frozen=True)
class BuiltKernel:
    version: str  # "6.12"
    release: str  # "6.12.117"
    package: str  # Debian's source package version
    key: str
    path: Path  # the folder: linux, .config, kernel.json
    build_seconds: float

    @property
    def linux(self) -> Path:
        return self.path / "linux"

    def config(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in (self.path / "config").read_text().splitlines():
            if line.startswith("CONFIG_") and "=" in line:
                k, _, v = line.partition("=")
                out[k] = v.strip('"')
        return out


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise BuildError(f"--version {version}: zbench builds {', '.join(VERSIONS)} "
                         "(Debian's linux-source packages)")


def kernels_dir() -> Path:
    """Where builds are kept: ``$ZBENCH_UML_KERNELS``, else ``$ZBENCH_CACHE/uml/kernels``."""
    env = os.environ.get("ZBENCH_UML_KERNELS")
    return Path(env) if env else cache_dir() / "uml" / "kernels"


def _package(version: str) -> str:
    return f"linux-source-{version}"


def _tarball(version: str) -> Path:
    return Path("/usr/src") / f"{_package(version)}.tar.xz"


def package_version(version: str) -> str | None:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", _package(version)],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def build_key(version: str, pkg: str) -> str:
    h = hashlib.sha256()
    h.update(f"{RECIPE}\0{version}\0{pkg}\0".encode())
    h.update(recipe().encode())
    h.update(DRIVER.read_bytes())
    return h.hexdigest()[:16]


def _apt_install(packages: list[str], progress: Progress) -> None:
    if shutil.which("apt-get") is None:
        raise BuildError(f"{' '.join(packages)} missing and there is no apt-get to install "
                         "them; install them by hand")
    if os.geteuid() != 0:
        raise BuildError(f"{' '.join(packages)} missing; installing needs root "
                         f"(apt-get install {' '.join(packages)})")
    progress(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-qq", *packages]
    for attempt in range(2):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode == 0:
            return
        if attempt == 0:  # an old package list: update once and try again
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
    last = (r.stderr.strip().splitlines() or ["no output"])[-1]
    raise BuildError(f"apt-get install {' '.join(packages)} failed: {last}")


def ensure_prerequisites(version: str, progress: Progress) -> str:
    """Install what the build needs; return the source package's version."""
    need: list[str] = []
    for tool, pkg in TOOLS.items():
        if shutil.which(tool) is None and pkg not in need:
            need.append(pkg)
    for header, pkg in HEADERS.items():
        if not Path(header).is_file() and pkg not in need:
            need.append(pkg)
    if not Path("/bin/busybox").is_file():
        need.append("busybox-static")
    if not _tarball(version).is_file():
        need.append(_package(version))
    if need:
        _apt_install(need, progress)
    pkg = package_version(version)
    if pkg is None or not _tarball(version).is_file():
        raise BuildError(f"{_package(version)} is not installed ({_tarball(version)} missing)")
    return pkg


def find(version: str) -> BuiltKernel | None:
    """The cached build of ``version`` for the installed source package, driver and
    options, or ``None``."""
    _check_version(version)
    pkg = package_version(version)
    if pkg is None:
        return None
    path = kernels_dir() / f"{version}-{build_key(version, pkg)}"
    return load(path) if (path / "kernel.json").is_file() else None


def load(path: Path) -> BuiltKernel:
    meta = json.loads((path / "kernel.json").read_text())
    return BuiltKernel(meta["version"], meta["release"], meta["package"], meta["key"],
                       path, meta["build_seconds"])


def list_built() -> list[BuiltKernel]:
    d = kernels_dir()
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.iterdir()):
        try:
            out.append(load(p))
        except (OSError, ValueError, KeyError):
            continue
    return out


def _run(cmd: list[str], cwd: Path, log: Path, progress: Progress, what: str) -> None:
    """Run a build step, its output to ``log``; progress: the step and the last target."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd), "LC_ALL": "C"}
    t0 = time.monotonic()
    last = 0.0
    with open(log, "a") as f, subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT, text=True,
                                               env=env) as p:
        assert p.stdout is not None
        for line in p.stdout:
            f.write(line)
            now = time.monotonic()
            if now - last > 2.0:
                last = now
                progress(f"{what}: {now - t0:5.0f} s  {line.strip()[:70]}")
        p.wait()
    if p.returncode != 0:
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-1:]
        raise BuildError(f"{what} failed (exit {p.returncode}; log {log}): "
                         f"{tail[0][:200] if tail else ''}")


def _configure(src: Path, version: str, log: Path, progress: Progress) -> list[str]:
    _run(["make", "ARCH=um", "defconfig"], src, log, progress, "defconfig")
    opts = options_for(declared(src))
    args = ["./scripts/config"]
    for opt in opts:
        name, _, value = opt.partition("=")
        if value == "y":
            args += ["-e", name]
        elif value == "n":
            args += ["-d", name]
        else:
            args += ["--set-val", name, value]
    _run(args, src, log, progress, "config")
    _run(["make", "ARCH=um", "olddefconfig"], src, log, progress, "olddefconfig")
    have = (src / ".config").read_text()
    missing = [o for o in opts if not o.endswith("=n")
               and not re.search(rf"^CONFIG_{re.escape(o)}\b", have, re.M)]
    if missing:
        raise BuildError(f"{version}: the kernel's Kconfig did not take {', '.join(missing)}")
    return opts


def build(version: str, *, jobs: int | None = None, progress: Progress | None = None,
          force: bool = False) -> BuiltKernel:
    """Build (or find cached) the UML kernel ``version``; see the module's docstring."""
    _check_version(version)
    say: Progress = progress or (lambda m: print(m, file=sys.stderr, flush=True))
    pkg = ensure_prerequisites(version, say)
    key = build_key(version, pkg)
    dest = kernels_dir() / f"{version}-{key}"
    if (dest / "kernel.json").is_file() and not force:
        return load(dest)
    kernels_dir().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".build-{version}-", dir=kernels_dir()))
    t0 = time.monotonic()
    try:
        log = work / "build.log"
        say(f"unpacking {_tarball(version).name} ({pkg})")
        subprocess.run(["tar", "xf", str(_tarball(version)), "-C", str(work)], check=True)
        src = work / _package(version)
        opts = _configure(src, version, log, say)
        shutil.copy2(DRIVER, src / "mm" / "zbench_drv.c")
        with open(src / "mm" / "Makefile", "a") as mk:
            mk.write("\n# zbench's driver (zbench kernel build)\nobj-y += zbench_drv.o\n")
        _run(["make", "ARCH=um", f"-j{jobs or os.cpu_count() or 1}", "linux"], src, log, say,
             f"make linux ({version})")
        release = (src / "include" / "config" / "kernel.release").read_text().strip()
        out = work / "out"
        out.mkdir()
        shutil.copy2(src / "linux", out / "linux")
        shutil.copy2(src / ".config", out / "config")
        seconds = round(time.monotonic() - t0, 1)
        (out / "kernel.json").write_text(json.dumps({
            "version": version, "release": release, "package": pkg, "key": key,
            "build_seconds": seconds, "recipe": RECIPE, "options": opts,
        }, indent=1) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        out.rename(dest)
        say(f"built {release} in {seconds:.0f} s: {dest / 'linux'}")
        return load(dest)
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"unpacking {_tarball(version)} failed: {exc}") from None
    finally:
        if (work / "build.log").is_file():  # kept for a look after a failure
            shutil.copy2(work / "build.log", kernels_dir() / f"build-{version}.log")
        shutil.rmtree(work, ignore_errors=True)
