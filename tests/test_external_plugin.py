"""A third-party plugin package, installed into a fresh venv, is discovered, listed and run;
a plugin that raises on import is listed as broken and the others go on."""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import FIXTURES, make_pages

#: builds venvs and wheels, installs packages: the fast lane (-m 'not slow') leaves it out
pytestmark = pytest.mark.slow


def child_venv(env: Path) -> Path:
    """A fresh venv at ``env`` that sees this interpreter's packages (zbench and its
    dependencies) behind its own; its python.  ``system_site_packages`` is not enough: from
    inside a venv it gives the *base* interpreter's packages, not this one's.  A ``.pth``
    file adds this interpreter's site directories (their own ``.pth`` files, such as an
    editable install's, included), after the child's own."""
    venv.EnvBuilder(with_pip=False).create(env)
    purelib = Path(sysconfig.get_path("purelib", "venv", {"base": str(env),
                                                           "platbase": str(env)}))
    dirs = [d for d in [*site.getsitepackages(), site.getusersitepackages()] if d in sys.path]
    assert dirs, sys.path
    (purelib / "zbench-outer-site.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in dirs), encoding="utf-8")
    return env / "bin" / "python"


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    py = child_venv(root)  # zbench and its dependencies come from the test's own environment
    for pkg in ("zbench-tiny", "zbench-broken"):
        src = root.parent / f"src-{pkg}"  # build from a copy: the source tree stays clean
        shutil.copytree(FIXTURES / pkg, src)
        subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet",
                        "--no-deps", "--no-build-isolation", str(src)],
                       check=True, capture_output=True, text=True)
    return py


def zb(py: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(py), "-m", "zbench", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_plugin_is_listed_and_broken_one_is_named(plugin_venv: Path) -> None:
    res = zb(plugin_venv, "plugins", "--json")
    assert res.returncode == 0, res.stderr
    recs = {p["name"]: p for p in json.loads(res.stdout)}
    tiny = recs["tiny"]
    assert tiny["status"] == "ok"
    assert tiny["distribution"] == "zbench-tiny" and tiny["version"] == "0.3.1"
    assert tiny["provides"] == [{"kind": "allocator", "name": "tiny"}]
    broken = recs["broken"]
    assert broken["status"] == "broken"
    assert "RuntimeError: zbench-broken is broken on purpose" in broken["error"]
    table = zb(plugin_venv, "plugins")
    assert table.returncode == 0
    assert "zbench-tiny" in table.stdout and "broken" in table.stdout


def test_plugin_runs_beside_builtins(plugin_venv: Path, tmp_path: Path) -> None:
    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(1024))  # large enough for packing to beat a page per object
    out = tmp_path / "out"
    res = zb(plugin_venv, "run", "--dump", str(dump), "--allocator", "tiny",
             "--allocator", "zsmalloc", "--verify", "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    results = json.loads((out / "results.json").read_text())
    by_alloc = {c["allocator"]["name"]: c for c in results["cases"]}
    tiny = by_alloc["tiny"]
    assert tiny["allocator"]["distribution"] == "zbench-tiny"
    # one object per page: the pool holds one frame per non-same-filled page
    m = tiny["metrics"]
    assert m["pool_pages"] == m["stored_pages"] - m["same_filled_pages"]
    assert m["verified_loads"] >= m["stored_pages"]
    assert by_alloc["zsmalloc"]["metrics"]["pool_pages"] < m["pool_pages"]


def test_suite_needing_broken_plugin_fails_with_its_cause(plugin_venv: Path,
                                                          tmp_path: Path) -> None:
    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(4))
    res = zb(plugin_venv, "run", "--dump", str(dump), "--allocator", "broken")
    assert res.returncode == 2
    assert "broken on purpose" in res.stderr and "Traceback" not in res.stderr
