"""Parallel runs (-j, --executor dask), the case cache and --resume (docs/scale.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from zbench.cli.app import _add_dump_commands, cli
from zbench.run import casecache
from zbench.run.resume import MARK

SUITE = """\
name: par
seed: 5
verify: true
dumps: [{dump}]
compressors: [lz4, {{name: zstd, options: {{level: 3}}}}]
frontends: [{{name: zswap, options: {{kernel: "6.6"}}}}]
allocators:
  - {{name: zsmalloc, options: {{kernel: "6.6"}}}}
  - {{name: zbud, options: {{kernel: "6.6"}}}}
  - {{name: z3fold, options: {{kernel: "6.6"}}}}
workloads: [fill, {{name: churn, options: {{steps: 600, zero_filled_pct: 10}}}}]
"""
N_CASES = 12


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A case cache of this test's own (the session's is shared between tests)."""
    monkeypatch.setenv("ZBENCH_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def suite(tmp_path: Path, raw_dump: Path) -> Path:
    p = tmp_path / "par.yaml"
    p.write_text(SUITE.format(dump=raw_dump), encoding="utf-8")
    return p


def invoke(args: list[str]) -> Result:
    _add_dump_commands()
    return CliRunner().invoke(cli, args)


def run_ok(args: list[str]) -> dict[str, Any]:
    res = invoke(["run", *args, "--json"])
    assert res.exit_code == 0, (res.stdout, res.stderr, res.exception)
    return json.loads(res.stdout)


def deterministic(results: dict[str, Any]) -> list[tuple[str, Any, Any, Any, Any]]:
    """What must not depend on the executor: ids in order, metrics, classes, phases."""
    return [(c["id"], c.get("metrics"), c.get("classes"), c.get("phases"), c.get("skipped"))
            for c in results["cases"]]


def test_pool_and_dask_give_the_results_of_one_process(suite: Path, tmp_path: Path) -> None:
    one = run_ok([str(suite), "-j", "1", "--no-cache", "--out", str(tmp_path / "a")])
    assert len(one["cases"]) == N_CASES and all("metrics" in c for c in one["cases"])
    two = run_ok([str(suite), "-j", "2", "--no-cache", "--out", str(tmp_path / "b")])
    assert deterministic(two) == deterministic(one)
    assert two["distributions"] == one["distributions"]
    pytest.importorskip("dask.distributed")
    dask = run_ok([str(suite), "--executor", "dask", "-j", "2", "--no-cache",
                   "--out", str(tmp_path / "c")])
    assert deterministic(dask) == deterministic(one)
    # the results files themselves, too
    for d in ("a", "b", "c"):
        on_disk = json.loads((tmp_path / d / "results.json").read_text())
        assert deterministic(on_disk) == deterministic(one)
        assert not (tmp_path / d / MARK).exists()


def _cache_files() -> dict[str, tuple[int, float]]:
    d = casecache.cases_dir()
    if not d.is_dir():
        return {}
    return {p.stem: (p.stat().st_mtime_ns, json.loads(p.read_text())["computed_at"])
            for p in d.glob("*.json")}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_interrupted_run_resumes_without_redoing_cases(
        suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str) -> None:
    reference = run_ok([str(suite), "--no-cache", "--out", str(tmp_path / "ref")])
    assert _cache_files() == {}  # --no-cache writes nothing

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    import zbench.run.runner

    finished: list[str] = []

    def interrupting(msg: str) -> None:  # Ctrl-C after the third finished case
        if ": pool " in msg:
            finished.append(msg)
            if len(finished) == 3:
                raise KeyboardInterrupt

    quiet = zbench.run.runner._stderr
    monkeypatch.setattr(zbench.run.runner, "_stderr", interrupting)
    res = invoke(["run", str(suite), "-j", jobs])
    assert res.exit_code != 0
    runs = list((work / "reports").glob("par-*"))
    assert len(runs) == 1 and (runs[0] / MARK).exists()
    assert not (runs[0] / "results.json").exists()  # never a partial results file
    before = _cache_files()
    assert 3 <= len(before) < N_CASES

    monkeypatch.setattr(zbench.run.runner, "_stderr", quiet)
    resumed = invoke(["run", str(suite), "--resume", "-j", jobs, "--json"])
    assert resumed.exit_code == 0, (resumed.stderr, resumed.exception)
    assert f"resuming the run in {Path('reports') / runs[0].name}" in resumed.stderr
    assert resumed.stderr.count("(cached)") == len(before)
    after = _cache_files()
    assert len(after) == N_CASES
    for key, stamp in before.items():  # finished cases were not recomputed
        assert after[key] == stamp
    assert not (runs[0] / MARK).exists()
    got = json.loads((runs[0] / "results.json").read_text())
    assert deterministic(got) == deterministic(reference)
    assert deterministic(json.loads(resumed.stdout)) == deterministic(reference)


def test_cached_cases_are_reused_and_no_cache_bypasses(suite: Path, tmp_path: Path) -> None:
    first = run_ok([str(suite), "--out", str(tmp_path / "a")])
    stamps = _cache_files()
    assert len(stamps) == N_CASES
    res = invoke(["run", str(suite), "--out", str(tmp_path / "b"), "--json"])
    assert res.exit_code == 0 and res.stderr.count("(cached)") == N_CASES
    assert deterministic(json.loads(res.stdout)) == deterministic(first)
    res = invoke(["run", str(suite), "--no-cache", "--out", str(tmp_path / "c"), "--json"])
    assert res.exit_code == 0 and "(cached)" not in res.stderr
    assert _cache_files() == stamps


def test_a_changed_input_is_a_different_key(suite: Path, tmp_path: Path) -> None:
    run_ok([str(suite), "--out", str(tmp_path / "a"), "--workload", "fill"])
    keys = set(_cache_files())
    res = invoke(["run", str(suite), "--out", str(tmp_path / "b"), "--workload", "fill",
                  "--seed", "6", "--json"])
    assert res.exit_code == 0 and "(cached)" not in res.stderr
    assert len(set(_cache_files()) - keys) == len(keys)


def test_a_damaged_cache_file_is_recomputed(suite: Path, tmp_path: Path) -> None:
    first = run_ok([str(suite), "--out", str(tmp_path / "a"), "--workload", "fill"])
    victim = sorted(casecache.cases_dir().glob("*.json"))[0]
    victim.write_text('{"format": 1, "key": "trunc', encoding="utf-8")
    res = invoke(["run", str(suite), "--out", str(tmp_path / "b"), "--workload", "fill",
                  "--json"])
    assert res.exit_code == 0
    assert res.stderr.count("(cached)") == len(first["cases"]) - 1
    assert deterministic(json.loads(res.stdout)) == deterministic(first)


@pytest.mark.parametrize("flags, fragment", [
    (["-j", "0"], "-j/--jobs: must be at least 1"),
    (["-j", "-3"], "-j/--jobs: must be at least 1"),
    (["--executor", "ray"], "--executor: unknown executor 'ray'"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler: only with --executor dask"),
    (["--resume", "--no-cache"], "--resume: needs the case cache"),
    (["--resume"], "--resume: no interrupted run of suite 'par'"),
])
def test_bad_flags_exit_2_with_one_line(suite: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        flags: list[str], fragment: str) -> None:
    monkeypatch.chdir(tmp_path)
    res = invoke(["run", str(suite), *flags])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2, (res.stdout, res.stderr)
    assert len(lines) == 1 and fragment in lines[0], lines
    assert not (tmp_path / "reports").exists()


def test_dask_missing_is_one_line(suite: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails
    res = invoke(["run", str(suite), "--executor", "dask", "-j", "2", "--no-cache",
                  "--out", str(tmp_path / "o")])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2, (res.stdout, res.stderr)
    assert lines[-1] == ("zbench: error: --executor dask: dask.distributed is not installed "
                         "(pip install 'zbench[dask]')")


@pytest.mark.slow
def test_sigint_then_resume_in_a_real_process(tmp_path: Path) -> None:
    """Ctrl-C on a real `zbench run` after some cases: no results file, and --resume
    finishes the run reusing exactly the cases that were cached."""
    import os
    import signal
    import subprocess
    import time

    from zbench.input.dump import default_dump_path

    suite = tmp_path / "big.yaml"
    suite.write_text(SUITE.format(dump=default_dump_path()).replace("name: par", "name: big")
                     .replace("steps: 600", "steps: 20000"), encoding="utf-8")
    env = {**os.environ, "ZBENCH_CACHE": str(tmp_path / "cache")}
    cases = tmp_path / "cache" / "cases"

    def restore_sigint() -> None:  # background jobs may have SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen([sys.executable, "-m", "zbench", "run", str(suite), "--no-timing"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=restore_sigint)
    while proc.poll() is None and len(list(cases.glob("*.json"))) < 2:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0, err  # interrupted, not finished
    (run,) = (tmp_path / "reports").glob("big-*")
    assert (run / MARK).exists() and not (run / "results.json").exists()
    before = {p.name: p.stat().st_mtime_ns for p in cases.glob("*.json")}
    assert 2 <= len(before) < N_CASES

    res = subprocess.run([sys.executable, "-m", "zbench", "run", str(suite), "--no-timing",
                          "--resume", "-j", "2"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("(cached)") == len(before)
    after = {p.name: p.stat().st_mtime_ns for p in cases.glob("*.json")}
    assert len(after) == N_CASES and all(after[k] == v for k, v in before.items())
    assert (run / "results.json").exists() and not (run / MARK).exists()
