"""Reporter plugins: a suite's ``reports:`` run after the cases; the record is kept in
results.json and rendered in the terminal, report.md and the HTML report; a failing
reporter is recorded without losing the run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import make_pages

from zbench import Reporter, hookimpl
from zbench.api.registry import get_registry, reset_registry
from zbench.cli.app import _add_dump_commands, cli


class Counting(Reporter):
    name = "counting"
    title = "Counted cases"

    def collect(self, results: dict[str, Any], out_dir: Path, say: Any) -> dict[str, Any]:
        (out_dir / "counting.txt").write_text("seen\n")
        return {"n": len(results["cases"])}

    @classmethod
    def render(cls, record: dict[str, Any], fmt: str) -> tuple[str, str]:
        return f"{record['n']} cases counted ({fmt})", "a note"


class Failing(Reporter):
    name = "failing"
    title = "Never"

    def collect(self, results: dict[str, Any], out_dir: Path, say: Any) -> dict[str, Any]:
        raise RuntimeError("the measurement broke")

    @classmethod
    def render(cls, record: dict[str, Any], fmt: str) -> tuple[str, str]:
        raise AssertionError("never rendered")


class _Plugin:
    @staticmethod
    @hookimpl
    def register_reporters(register: Callable[[type], None]) -> None:
        register(Counting)
        register(Failing)


@pytest.fixture
def registry() -> Any:
    reset_registry()
    reg = get_registry()
    reg.register_plugin(_Plugin, "test-reporters")
    yield reg
    reset_registry()


def test_reports_are_collected_kept_and_rendered_everywhere(tmp_path: Path,
                                                            registry: Any) -> None:
    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(8))
    s = tmp_path / "s.yaml"
    s.write_text(f"name: t\ndumps: [{dump}]\ncompressors: [lz4]\nallocators: [zsmalloc]\n"
                 "workloads: [fill]\nreports: [counting, {name: failing, label: f}]\n")
    out = tmp_path / "out"
    _add_dump_commands()
    res = CliRunner().invoke(cli, ["run", str(s), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Counted cases" in res.stdout and "1 cases counted (simple)" in res.stdout
    assert "failed: RuntimeError: the measurement broke" in res.stdout
    data = json.loads((out / "results.json").read_text())
    assert data["reports"]["counting"]["record"] == {"n": 1}
    assert "the measurement broke" in data["reports"]["f"]["error"]
    assert (out / "counting.txt").read_text() == "seen\n"
    md = (out / "report.md").read_text()
    assert "## Counted cases" in md and "1 cases counted (github)" in md and "a note" in md
    res = CliRunner().invoke(cli, ["report", str(out), "--html", "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert "1 cases counted (html)" in (tmp_path / "r.html").read_text()
