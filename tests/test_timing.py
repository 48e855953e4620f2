"""Latency under pyperf: the worker subprocess, the pyperf JSON, the latency table.

The pyperf runs here are tiny (16 pages, one process, two values) so the tests stay
short; nothing asserts how fast anything is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import make_pages

from zbench.api.errors import UserError
from zbench.api.registry import get_registry
from zbench.cli.app import _add_dump_commands, cli
from zbench.report.latency import latency_table
from zbench.run.bench import histogram, percentile
from zbench.run.runner import expand
from zbench.run.suite import parse_suite
from zbench.run.timer import timing_cases
from zbench.run.timing import TimingSpec, slug

TINY = {"pages": 16, "processes": 1, "values": 2, "warmups": 0, "loops": 1, "rounds": 1}


def invoke(args: list[str]) -> tuple[int, str, str]:
    _add_dump_commands()
    res = CliRunner().invoke(cli, args)
    return res.exit_code, res.stdout, res.stderr


def _suite(dump: Path, **extra: Any) -> dict[str, Any]:
    return {"name": "lat", "seed": 5, "dumps": [str(dump)], "compressors": ["lz4"],
            "frontends": [{"name": "zswap", "label": "zswap-6.6", "options": {"kernel": "6.6"}}],
            "allocators": [{"name": "zsmalloc", "options": {"kernel": "6.6"}},
                           {"name": "zbud", "options": {"kernel": "6.6"}}],
            "workloads": ["fill", {"name": "churn", "options": {"steps": 40}}], **extra}


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """One timed run (two timing cases) shared by the tests below: (out dir, stdout, dump)."""
    d = tmp_path_factory.mktemp("timing")
    dump = d / "d.pages"
    dump.write_bytes(make_pages(48))
    suite = d / "s.yaml"
    suite.write_text(json.dumps(_suite(dump, timing=TINY)))
    code, out, err = invoke(["run", str(suite), "--out", str(d / "out")])
    assert code == 0, err
    return d / "out", out, dump


@pytest.mark.slow
def test_run_prints_the_latency_table_next_to_fragmentation(timed: tuple[Path, str, Path]
                                                            ) -> None:
    out_dir, stdout, _ = timed
    frag, lat = stdout.index("Fragmentation"), stdout.index("Latency of the models")
    assert frag < lat
    table = stdout[lat:].split("\n\n")[1]
    for col in ("in", "store µs", "p50", "p99", "cmp %", "load µs", "dcmp %"):
        assert col in table
    assert "zsmalloc" in table and "zbud" in table
    report = (out_dir / "report.md").read_text()
    assert "## Latency of the models (the model's own cost" in report


def test_results_hold_pyperf_values_percentiles_and_shares(timed: tuple[Path, str, Path]
                                                          ) -> None:
    out_dir, _, _ = timed
    res = json.loads((out_dir / "results.json").read_text())
    assert res["suite"]["timing"]["pages"] == 16
    recs = res["timing"]
    assert [r["id"] for r in recs] == ["zsmalloc/zswap-6.6/lz4/d", "zbud/zswap-6.6/lz4/d"]
    for r in recs:
        assert r["pages"] == 16 and r["rounds"] == 1
        assert "mm/zswap.c" in r["kernel"]["frontend"]
        for op in ("store", "load"):
            s = r[op]
            assert len(s["values_ns"]) == 2 and all(v > 0 for v in s["values_ns"])
            assert s["mean_ns"] > 0 and s["std_ns"] >= 0
            assert 0 < s["p50_ns"] <= s["p90_ns"] <= s["p99_ns"] <= s["max_ns"]
            assert s["samples"] == 16 and sum(s["histogram"]["counts"]) == 16
            assert 0 < s["compressor_share_pct"] < 100


def test_pyperf_json_loads_with_pyperf(timed: tuple[Path, str, Path]) -> None:
    import pyperf

    out_dir, _, dump = timed
    from zbench.input.dump import load_dump

    sha = load_dump(dump).sha256
    res = json.loads((out_dir / "results.json").read_text())
    for rec in res["timing"]:
        path = out_dir / rec["pyperf_json"]
        assert path.parent.name == "pyperf" and path.name == f"{slug(rec['id'])}.json"
        proc = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(path)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "Number of benchmarks: 2" in proc.stdout and "Mean:" in proc.stdout
        suite = pyperf.BenchmarkSuite.load(str(path))
        names = suite.get_benchmark_names()
        assert names == [f"{rec['id']} store", f"{rec['id']} load"]
        for bench in suite.get_benchmarks():
            meta = bench.get_metadata()
            assert meta["allocator"] == rec["allocator"]["label"]
            assert meta["compressor"] == "lz4" and meta["dump_sha256"] == sha
            assert meta["allocator_plugin"].endswith(f"({rec['allocator']['distribution']} "
                                                     f"{rec['allocator']['version']})")
            assert "mm/zswap.c" in meta["kernel_rules"] and "kernel" not in meta["zbench_case"]
            assert meta["inner_loops"] == 16 and meta["timed_pages"] == 16
    a = out_dir / res["timing"][0]["pyperf_json"]
    proc = subprocess.run([sys.executable, "-m", "pyperf", "compare_to", str(a), str(a)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_timing_cases_one_per_allocator_frontend_compressor_dump(tmp_path: Path) -> None:
    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(8))
    data = _suite(dump, compressors=["lz4", "zstd"])
    data["allocators"].append("zram-kernel")
    suite = parse_suite(data, "t")
    cases = timing_cases(expand(suite, tmp_path, "t", get_registry()))
    assert [c.id for c in cases] == [
        "zsmalloc/zswap-6.6/lz4/d", "zbud/zswap-6.6/lz4/d", "zram-kernel/zram-kernel/lz4/d",
        "zsmalloc/zswap-6.6/zstd/d", "zbud/zswap-6.6/zstd/d", "zram-kernel/zram-kernel/zstd/d"]
    assert [bool(c.skip_reason) for c in cases] == [False, False, True, False, False, True]


def test_timing_section_in_a_suite(tmp_path: Path) -> None:
    dump = tmp_path / "d.pages"
    assert parse_suite(_suite(dump, timing=True), "t").timing == TimingSpec()
    assert parse_suite(_suite(dump, timing=False), "t").timing is None
    assert parse_suite(_suite(dump), "t").timing is None
    with pytest.raises(UserError, match=r"t: timing.pages"):
        parse_suite(_suite(dump, timing={"pages": 0}), "t")
    with pytest.raises(UserError, match=r"t: timing.repeat"):
        parse_suite(_suite(dump, timing={"repeat": 3}), "t")


@pytest.mark.parametrize(("flags", "preset", "timed"), [
    ([], None, True), (["--no-timing"], None, False), (["--fast"], "--fast", True),
    (["--rigorous"], "--rigorous", True)])
def test_flags_reach_pyperf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            flags: list[str], preset: str | None, timed: bool) -> None:
    """--fast / --rigorous go to the pyperf program as they are; --no-timing skips it."""
    import zbench.run.timer as latency

    seen: list[list[str]] = []

    def fake_spawn(cmd: list[str], timeout: float | None = None
                   ) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 3, "", "boom")

    monkeypatch.setattr(latency, "_spawn", fake_spawn)
    dump = tmp_path / "d.pages"
    dump.write_bytes(make_pages(8))
    suite = tmp_path / "s.yaml"
    suite.write_text(json.dumps(_suite(dump, timing=TINY)))
    code, out, err = invoke(["run", str(suite), "--out", str(tmp_path / "o"), *flags])
    if not timed:
        assert code == 0 and not seen and "Latency" not in out
        return
    assert code == 1 and "timing failed" in err  # the fake pyperf program failed
    assert len(seen) == 2
    for cmd in seen:
        assert cmd[1:3] == ["-m", "zbench.run.bench"] and "--spec" in cmd and "-o" in cmd
        assert ("--fast" in cmd, "--rigorous" in cmd) == (preset == "--fast",
                                                         preset == "--rigorous")
        assert "ZBENCH_CACHE" in cmd[cmd.index("--inherit-environ") + 1]
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert all("exit 3" in r["error"] for r in res["timing"])
    assert "failed: pyperf program failed" in (latency_table(res) or "")


def test_percentiles_and_histogram() -> None:
    s = list(range(1, 101))
    assert (percentile(s, 50), percentile(s, 90), percentile(s, 99)) == (50, 90, 99)
    assert percentile([7], 99) == 7 and percentile([], 50) == 0
    h = histogram(sorted([100, 150, 1000, 1000, 99_000]))
    assert sum(h["counts"]) == 5 and len(h["edges_ns"]) == len(h["counts"]) + 1
    assert h["edges_ns"][0] <= 100 and h["edges_ns"][-1] > 99_000
