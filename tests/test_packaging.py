"""The wheel ships the suites and the default dump; a wheel install runs them by name from any
folder; ``zbench validate`` keeps kernel sizes in the cache and leaves the checkout as it was."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, make_pages
from test_external_plugin import child_venv

from zbench import load_dump

#: builds venvs and wheels, installs packages: the fast lane (-m 'not slow') leaves it out
pytestmark = pytest.mark.slow

SHIPPED_SUITES = {"default", "quick", "zram", "zblock", "zram-tuning"}
DATA = "zbench-0.1.0.data/data/share/zbench/"
BUILD_LEFTOVERS = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__",
                                         ".pytest_cache", ".ruff_cache", ".hypothesis",
                                         "reports", ".venv")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """zbench's wheel, built from a copy of the tree (the build leaves the checkout alone)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(ROOT, src, ignore=BUILD_LEFTOVERS, symlinks=True)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                          "--no-build-isolation", "--disable-pip-version-check", str(src),
                          "-w", str(root / "dist")],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    (whl,) = (root / "dist").glob("zbench-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a fresh venv (its dependencies seen from this environment);
    the venv's python."""
    py = child_venv(tmp_path_factory.mktemp("wheel-venv") / "venv")
    res = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install",
                          "--quiet", "--no-deps", "--ignore-installed",
                          "--disable-pip-version-check", str(wheel)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return py


def py_run(py: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``py ARGS`` in ``cwd``, seeing only what the venv sees (no PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(py), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)


def zb(py: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return py_run(py, cwd, "-m", "zbench", *args)


def test_wheel_holds_the_suites_and_the_dump(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        dump = z.getinfo(DATA + "dumps/default.zbdump")
    assert {DATA + f"suites/{s}.yaml" for s in SHIPPED_SUITES} <= names
    assert DATA + "dumps/default.zbdump.ksizes.json" in names
    assert DATA + "dumps/default-first-half.zstd.dict" in names  # zram-tuning's dictionary
    assert dump.file_size == (ROOT / "dumps" / "default.zbdump").stat().st_size
    assert wheel.stat().st_size < 8 << 20  # the dump is the bulk: nothing else big slipped in
    assert not any(n.startswith(("tests/", "suites/", "dumps/", "reports/")) for n in names)


def test_installed_zbench_lists_and_runs_shipped_suites_from_anywhere(
        installed: Path, tmp_path: Path) -> None:
    where = py_run(installed, tmp_path, "-c", "import zbench; print(zbench.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(installed.parent.parent), where.stdout
    res = zb(installed, tmp_path, "suites", "--json")
    assert res.returncode == 0, res.stderr
    listed = {r["name"]: r for r in json.loads(res.stdout)}
    assert set(listed) == SHIPPED_SUITES
    assert all(r["description"] for r in listed.values())
    assert all(Path(r["path"]).is_relative_to(installed.parent.parent) for r in listed.values())
    table = zb(installed, tmp_path, "suites")
    assert table.returncode == 0 and "quick" in table.stdout and "verified" in table.stdout
    # no suite: the shipped dump, found from a folder that is not a checkout
    res = zb(installed, tmp_path, "run", "--no-timing", "--out", str(tmp_path / "adhoc"))
    assert res.returncode == 0, res.stderr
    case = json.loads((tmp_path / "adhoc" / "results.json").read_text())["cases"][0]
    assert case["metrics"]["stored_pages"] == 4096
    # a bare name is a shipped suite; its dump resolves beside the installed copy
    res = zb(installed, tmp_path, "run", "quick", "--no-timing", "--out", str(tmp_path / "q"))
    assert res.returncode == 0, res.stderr
    cases = json.loads((tmp_path / "q" / "results.json").read_text())["cases"]
    assert len(cases) == 2 and all(c["metrics"]["verified_loads"] > 0 for c in cases)


def test_unknown_suite_name_lists_the_shipped_ones(installed: Path, tmp_path: Path) -> None:
    res = zb(installed, tmp_path, "run", "defualt", "--no-timing")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith("zbench: error: defualt: ")
    assert all(name in lines[0] for name in SHIPPED_SUITES)
    assert list(tmp_path.iterdir()) == []  # no reports/, no stray file


def test_a_path_still_wins_over_a_shipped_name(tmp_path: Path, monkeypatch:
                                               pytest.MonkeyPatch) -> None:
    from zbench.run.suite import load_suite

    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(8))
    (tmp_path / "quick").write_text(f"name: mine\ndumps: [{dump}]\ncompressors: [lz4]\n"
                                    "allocators: [zsmalloc]\nworkloads: [fill]\n")
    monkeypatch.chdir(tmp_path)
    suite, base = load_suite("quick")
    assert suite.name == "mine" and base == Path(".")
    suite, base = load_suite("zram")
    assert suite.name == "zram" and (base / suite.dumps[0].path).is_file()


# -- validate: kernel sizes go to the cache ----------------------------------------------

def _cli(args: list[str]) -> Any:
    from zbench.api.registry import get_registry
    from zbench.cli.app import _add_dump_commands, cli

    _add_dump_commands()
    get_registry().register_commands(cli)
    return CliRunner().invoke(cli, args)


@pytest.fixture
def fake_kernel(monkeypatch: pytest.MonkeyPatch,
                tmp_path_factory: pytest.TempPathFactory) -> None:
    """zram 'there', and a kernel run that records python-lz4's sizes: no device is made.
    A cache of its own: the fake sizes of the shipped dump must never reach other tests."""
    monkeypatch.setenv("ZBENCH_CACHE", str(tmp_path_factory.mktemp("fake-kernel-cache")))
    import lz4.block
    from zbench_zramkernel import validate
    from zbench_zramkernel.device import PageRecord

    def kernel_run(dump: Any, algorithm: str, workload: Any) -> dict[str, Any]:
        records = {}
        for i in range(dump.n_pages):
            page = dump.page(i)
            same = page == page[:8] * 512
            n = 0 if same else min(4096, len(lz4.block.compress(page, store_size=False)))
            records[i] = PageRecord(i, n, same, n == 4096)
        phase = {"pool_pages": 100, "stored_pages": 100, "same_filled_pages": 1,
                 "huge_pages": 1, "compressed_bytes": 4096, "pages_compacted": 0}
        return {"phases": {p: dict(phase) for p in validate.PHASES}, "records": records}

    monkeypatch.setattr(validate, "zram_available", lambda _alg: None)
    monkeypatch.setattr(validate, "kernel_run", kernel_run)


def test_validate_leaves_the_shipped_dump_and_its_sizes_alone(fake_kernel: None) -> None:
    from zbench_zramkernel.kernelsizes import cache_path, load_sizes, sidecar_path

    from zbench import cache_dir, default_dump_path

    dumps = default_dump_path().parent
    before = {p.name: p.read_bytes() for p in dumps.iterdir()}
    res = _cli(["validate", "--json", "--max-error", "1e9"])
    assert res.exit_code == 0, res.output
    assert {p.name: p.read_bytes() for p in dumps.iterdir()} == before
    out = json.loads(res.stdout)
    assert out["sizes_saved"] is None
    dump = load_dump(default_dump_path())
    cached = cache_path(dump.sha256)
    assert out["sizes_cached"] == str(cached) and cached.is_relative_to(cache_dir())
    entry = load_sizes(dump.path, dump.sha256, "lz4", os.uname().release)
    assert entry["source"] == str(cached) and len(entry["sizes"]) == dump.n_pages
    assert sidecar_path(dump.path).read_bytes() == before[sidecar_path(dump.path).name]


def test_validate_save_sizes_writes_beside_the_dump(fake_kernel: None, tmp_path: Path) -> None:
    from zbench_zramkernel.kernelsizes import sidecar_path

    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(64, seed=641))  # a dump of its own: sizes are cached by content
    res = _cli(["validate", "--dump", str(dump), "--json", "--max-error", "1e9"])
    assert res.exit_code == 0, res.output
    assert not sidecar_path(dump).exists()
    res = _cli(["validate", "--dump", str(dump), "--json", "--max-error", "1e9",
                "--save-sizes"])
    assert res.exit_code == 0, res.output
    saved = json.loads(sidecar_path(dump).read_text())
    assert saved["entries"][f"{os.uname().release}/lz4"]["sizes"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.pages", "d.pages.ksizes.json"]


def test_reader_prefers_the_cache_then_the_sidecar(tmp_path: Path) -> None:
    from zbench_zramkernel.kernelsizes import cache_path, load_sizes, save_sizes, sidecar_path

    dump_path = tmp_path / "d.pages"
    dump_path.write_bytes(make_pages(4, seed=41))  # a dump of its own (cached by content)
    sha = load_dump(dump_path).sha256
    save_sizes(dump_path, sha, "9.9.9-test", "lzo", [9, 9, 9, 9], [], [], beside=True)
    cache_path(sha).unlink()  # lzo: beside the dump only
    save_sizes(dump_path, sha, "9.9.9-test", "lz4", [1, 2, 3, 4], [], [], beside=True)
    save_sizes(dump_path, sha, "9.9.9-test", "lz4", [5, 6, 7, 8], [], [])  # the cache only
    got = load_sizes(dump_path, sha, "lz4", "9.9.9-test")
    assert got["sizes"] == [5, 6, 7, 8] and got["source"] == str(cache_path(sha))
    got = load_sizes(dump_path, sha, "lzo", "9.9.9-test")  # not in the cache: beside the dump
    assert got["sizes"] == [9, 9, 9, 9] and got["source"] == str(sidecar_path(dump_path))
