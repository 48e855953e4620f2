"""The plugin kit's smaller pieces: the pytest fixtures, pins of the plugins in use, a
suite's ``requires:``, and zswap loading a plugin allocator as an out-of-tree zpool
driver."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zbench_tiny
from click.testing import CliRunner
from conftest import make_pages

import zbench
from zbench import PageFrames
from zbench.cli.app import cli
from zbench.run.requirements import plugin_pins, unmet

#: builds venvs and wheels, installs packages: the fast lane (-m 'not slow') leaves it out
pytestmark = pytest.mark.slow


def test_fixtures_register_a_plugin_and_run_the_cli(zbench_plugin: Callable[..., Any],
                                                     zbench_cli: Callable[..., Any],
                                                     zbench_pages: Callable[..., Path]) -> None:
    rec = zbench_plugin(zbench_tiny, "tiny")
    assert rec.status == "ok" and rec.provides == [("allocator", "tiny")]
    res = zbench_cli("plugins", "--json")
    assert res.exit_code == 0
    assert {p["name"]: p["status"] for p in json.loads(res.output)}["tiny"] == "ok"
    dump = zbench_pages(8)
    assert dump.stat().st_size == 8 * 4096
    res = zbench_cli("run", "--dump", str(dump), "--allocator", "tiny", "--frontend", "zswap",
                     "--out", str(dump.parent / "out"), "--json")
    assert res.exit_code == 0, res.output
    assert '"name": "tiny"' in res.output


def test_plugin_pins() -> None:
    recs = [{"distribution": "zbench-b", "version": "2.0", "status": "ok"},
            {"distribution": "zbench", "version": "0.1.0", "status": "ok"},
            {"distribution": "zbench", "version": "0.1.0", "status": "ok"},
            {"distribution": "zbench-broken", "version": "1", "status": "broken"},
            {"distribution": "(local)", "version": "0", "status": "ok"}]
    assert plugin_pins(recs) == ["zbench==0.1.0", "zbench-b==2.0"]


def test_plugins_requirements_prints_pins() -> None:
    res = CliRunner().invoke(cli, ["plugins", "--requirements"])
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert f"zbench=={zbench.__version__}" in lines
    assert all(line.count("==") == 1 and " " not in line for line in lines)
    assert lines == sorted(lines, key=lambda pin: pin.split("==")[0].lower())


def suite_file(tmp_path: Path, requires: list[str], dump: str = "nosuch.raw") -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(json.dumps({"name": "r", "dumps": [dump], "compressors": ["lz4"],
                             "allocators": ["zsmalloc"], "workloads": ["fill"],
                             "requires": requires}))
    return p


def test_missing_requirements_stop_the_run_early_and_are_named(tmp_path: Path) -> None:
    suite = suite_file(tmp_path, ["zbench-nosuch>=1", "zbench>=99", "pydantic>=2"])
    res = CliRunner().invoke(cli, ["run", str(suite)])
    assert res.exit_code == 2
    # named before the missing dump is even looked at
    assert "requires: zbench-nosuch>=1 (not installed); zbench>=99 (installed: zbench " \
        in res.output
    assert "pydantic" not in res.output.split("install with:")[0]
    assert "pip install 'zbench-nosuch>=1' 'zbench>=99'" in res.output
    assert "nosuch.raw" not in res.output


def test_malformed_requirement_names_its_index(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["run", str(suite_file(tmp_path, ["zbench", "zbench >>> 1"]))])
    assert res.exit_code == 2
    assert "requires[1]: not a requirement" in res.output


def test_met_requirements_run(tmp_path: Path) -> None:
    dump = tmp_path / "d.raw"
    dump.write_bytes(make_pages(16))
    suite = suite_file(tmp_path, [f"zbench=={zbench.__version__}", "pydantic",
                                  "nosuch; python_version < '3'"], str(dump))
    res = CliRunner().invoke(cli, ["run", str(suite), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert unmet(["nosuch; python_version < '3'"]) == []


@pytest.mark.parametrize(("kernel", "runs"), [("3.11", False), ("3.18", True), ("6.14", True),
                                               ("6.17", True), ("6.18", False)])
def test_zswap_takes_a_plugin_allocator_while_zpool_exists(kernel: str, runs: bool) -> None:
    from zbench_zswap.frontend import Zswap, ZswapOptions

    from zbench import CaseSkipped

    alloc = zbench_tiny.PagePerObject(zbench_tiny.TinyOptions(), PageFrames())
    comp = zbench.get_plugin_class("compressor", "lz4")
    make = lambda: Zswap(ZswapOptions(kernel=kernel), alloc, comp(comp.Options()))  # noqa: E731
    if runs:
        make()
    else:
        with pytest.raises(CaseSkipped, match="not tiny"):
            make()


def test_zswap_still_refuses_an_in_tree_backend_its_kernel_lacked() -> None:
    from zbench_zbud import ZbudOptions, ZbudPool
    from zbench_zswap.frontend import Zswap, ZswapOptions

    from zbench import CaseSkipped

    comp = zbench.get_plugin_class("compressor", "lz4")
    with pytest.raises(CaseSkipped, match=r"offers zsmalloc, or an out-of-tree zpool driver"):
        Zswap(ZswapOptions(kernel="6.15"), ZbudPool(ZbudOptions(kernel="6.14"), PageFrames()),
              comp(comp.Options()))
