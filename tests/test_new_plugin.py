"""``zbench new-plugin`` writes packages that install into a fresh venv, pass their own
tests (zbench's contract suites) as generated, lint clean, and are listed by
``zbench plugins``; bad names and occupied directories are refused with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_external_plugin import child_venv

from zbench.cli.app import cli
from zbench.cli.scaffold import KINDS, PluginNames

#: builds venvs and wheels, installs packages: the fast lane (-m 'not slow') leaves it out
pytestmark = pytest.mark.slow


def new_plugin(*args: str) -> tuple[int, str]:
    from zbench.cli.app import _add_dump_commands

    _add_dump_commands()
    res = CliRunner().invoke(cli, ["new-plugin", *args])
    return res.exit_code, res.output


def test_names() -> None:
    n = PluginNames.of("my-alloc")
    assert (n.name, n.module, n.dist, n.cls) == ("my-alloc", "zbench_my_alloc",
                                                 "zbench-my-alloc", "MyAlloc")
    assert PluginNames.of("zbench-zblock2").name == "zblock2"


@pytest.mark.parametrize("bad", ["My", "1x", "a--b", "a b", "x_"])
def test_bad_names_are_refused(bad: str, tmp_path: Path) -> None:
    code, out = new_plugin(bad, "--kind", "allocator", "--dir", str(tmp_path / "p"))
    assert code == 2 and "use lower-case letters" in out
    assert not (tmp_path / "p").exists()


def test_occupied_directory_and_taken_name_are_refused(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "keep").write_text("x")
    code, out = new_plugin("fresh", "--kind", "allocator", "--dir", str(tmp_path / "p"))
    assert code == 2 and "exists and is not an empty directory" in out
    code, out = new_plugin("zbud", "--kind", "allocator", "--dir", str(tmp_path / "q"))
    assert code == 2 and "already provided by plugin zbud" in out
    code, out = new_plugin("x", "--kind", "reporter")
    assert code == 2


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The three kinds generated side by side and installed into one fresh venv."""
    root = tmp_path_factory.mktemp("generated")
    for kind in KINDS:
        code, out = new_plugin(f"gen-{kind}", "--kind", kind, "--dir", str(root / kind))
        assert code == 0, out
        assert f"wrote zbench-gen-{kind}" in out
    env = root / "venv"
    py = child_venv(env)  # zbench and its dependencies come from this environment
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet",
                    "--no-deps", "--no-build-isolation",
                    *(str(root / kind) for kind in KINDS)],
                   check=True, capture_output=True, text=True, timeout=300)
    return root, py


def test_generated_packages_pass_their_own_tests(generated: tuple[Path, Path]) -> None:
    root, py = generated
    res = subprocess.run([str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *(str(root / kind / "tests") for kind in KINDS)],
                         capture_output=True, text=True, cwd=root, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    summary = res.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary


def test_generated_packages_are_listed_and_lint_clean(generated: tuple[Path, Path]) -> None:
    root, py = generated
    res = subprocess.run([str(py), "-m", "zbench", "plugins", "--json"], capture_output=True,
                         text=True, timeout=120)
    recs = {p["name"]: p for p in json.loads(res.stdout)}
    for kind in KINDS:
        rec = recs[f"gen-{kind}"]
        assert rec["status"] == "ok" and rec["distribution"] == f"zbench-gen-{kind}"
        assert rec["provides"] == [{"kind": kind, "name": f"gen-{kind}"}]
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache",
                           *(str(root / kind) for kind in KINDS)],
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout
    pins = subprocess.run([str(py), "-m", "zbench", "plugins", "--requirements"],
                          capture_output=True, text=True, timeout=120).stdout.splitlines()
    assert {f"zbench-gen-{kind}==0.1.0" for kind in KINDS} <= set(pins)
