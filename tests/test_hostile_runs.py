"""Runs that survive hostile plugins, hangs, bad metrics and signals.

Each hostile plugin is a real entry-point distribution made in a temporary folder
(``NAME.dist-info`` with ``METADATA`` and ``entry_points.txt``, plus the module) and
put on ``PYTHONPATH`` for the ``zbench`` child process, as ``pip install`` would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import (
    ROOT,
    assert_no_leftovers,
    assert_one_line,
    in_session,
    make_plugin,
    snapshot,
    zbench,
)

DUMP = ROOT / "dumps" / "default.zbdump"

ALLOCATOR = '''
import math, os, time
from zbench import PAGE_SIZE, Allocator, PluginOptions, hookimpl


class Opts(PluginOptions):
    pass


class Hostile(Allocator):
    name = "{name}"
    Options = Opts

    def __init__(self, options, frames):
        super().__init__(options, frames)
        self._objs = {{}}

    @property
    def kernel(self):
        return "none (hostile test plugin)"

    def malloc(self, size):
        {malloc}
        pfn = self.frames.alloc(owner="hostile")
        self._objs[pfn] = size
        return pfn

    def free(self, handle):
        del self._objs[handle]
        self.frames.free(handle)

    def write(self, handle, data):
        {write}
        self.frames.page(handle)[:len(data)] = data

    def read(self, handle):
        return bytes(self.frames.page(handle)[:self._objs[handle]])

    def max_size(self):
        return PAGE_SIZE

    def huge_class_size(self):
        return PAGE_SIZE

    def pool_pages(self):
        return {pool}

    def slot_bytes(self):
        return PAGE_SIZE * len(self._objs)

    def stats(self):
        m = dict(super().stats())
        {stats}
        return m


@hookimpl
def register_allocators(register):
    register(Hostile)
'''


def allocator(site: Path, name: str, malloc: str = "pass", write: str = "pass",
              pool: str = "len(self._objs)", stats: str = "pass") -> None:
    make_plugin(site, name, ALLOCATOR.format(name=name, malloc=malloc, write=write, pool=pool,
                                             stats=stats))


HOSTILE = {
    "raising": {"malloc": "raise RuntimeError('malloc exploded')"},
    "hanging": {"malloc": "time.sleep(3600)"},
    "garbage": {"stats": "m['bytes_copied'] = float('nan')"},
    "underreport": {"pool": "max(0, len(self._objs) - 1)"},
    "negative": {"stats": "m['list_ops'] = -5"},
    "stringy": {"stats": "m['list_ops'] = 'lots'"},
    "corrupting": {"write": "data = bytes([data[0] ^ 1]) + data[1:] if data else data"},
    "exiting": {"malloc": "os._exit(3)"},
}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    d = tmp_path / "site"
    d.mkdir()
    for name, kw in HOSTILE.items():
        allocator(d, name, **kw)
    return d


def env_for(site: Path, **extra: str) -> dict[str, str]:
    pp = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")]))
    return {"PYTHONPATH": pp, **extra}


def suite_file(tmp_path: Path, allocators: list[str], **extra: object) -> Path:
    data = {"name": "hostile", "seed": 1, "dumps": [str(DUMP)], "compressors": ["lz4"],
            "frontends": ["zswap"], "allocators": allocators,
            "workloads": [{"name": "fill", "options": {"scale_pages": 64}}], **extra}
    p = tmp_path / "suite.yaml"
    p.write_text(json.dumps(data))  # JSON is YAML
    return p


def cases(out: Path) -> dict[str, dict]:
    res = json.loads((out / "results.json").read_text())
    return {c["allocator"]["name"]: c for c in res["cases"]}


# -- the acceptance test ---------------------------------------------------------------
@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.slow
def test_hostile_plugins_beside_healthy_ones(site: Path, tmp_path: Path, jobs: str) -> None:
    suite = suite_file(tmp_path, ["zbud", "raising", "hanging", "garbage", "zsmalloc"])
    out = tmp_path / "out"
    res = zbench(["run", suite, "--out", out, "-j", jobs, "--case-timeout", "8", "--no-cache"],
                 env=env_for(site), timeout=240)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr + res.stdout
    got = cases(out)
    assert got["raising"]["failed"] == {"kind": "error",
                                        "reason": "RuntimeError: malloc exploded"}
    assert got["hanging"]["failed"] == {"kind": "timeout", "reason": "timed out after 8 s"}
    assert got["garbage"]["failed"]["kind"] == "invariant"
    assert "bytes_copied" in got["garbage"]["failed"]["reason"]
    for bad in ("raising", "hanging", "garbage"):
        assert "metrics" not in got[bad]
    for good in ("zbud", "zsmalloc"):
        assert "failed" not in got[good] and got[good]["metrics"]["stored_pages"] > 0
    report = (out / "report.md").read_text()
    assert "## Failed cases" in report and "malloc exploded" in report
    assert "timed out after 8 s" in report
    assert not (out / ".zbench-run.json").exists()
    for bad in ("raising", "hanging", "garbage"):
        assert f"{bad}/zswap/lz4/fill/default" in res.stderr


def test_healthy_results_are_the_same_in_worker_and_in_process(tmp_path: Path) -> None:
    from zbench import run_suite

    suite = json.loads(suite_file(tmp_path, ["zbud", "zsmalloc"]).read_text())
    direct = run_suite(suite, quiet=True)
    out = tmp_path / "out"
    res = zbench(["run", tmp_path / "suite.yaml", "--out", out, "--no-cache"], timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    via = json.loads((out / "results.json").read_text())
    for a, b in zip(direct["cases"], via["cases"], strict=True):
        a_m = {k: v for k, v in a["metrics"].items()}
        assert a_m == b["metrics"]


# -- single hostile behaviours ----------------------------------------------------------
@pytest.mark.parametrize(("name", "kind", "fragment"), [
    ("raising", "error", "RuntimeError: malloc exploded"),
    ("garbage", "invariant", "bytes_copied"),
    ("underreport", "invariant", "pool_pages"),
    ("negative", "invariant", "list_ops"),
    ("stringy", "invariant", "list_ops"),
    ("exiting", "error", "worker process died"),
])
def test_a_failing_case_is_recorded_and_the_run_goes_on(site: Path, tmp_path: Path, name: str,
                                                       kind: str, fragment: str) -> None:
    out = tmp_path / "out"
    suite = suite_file(tmp_path, [name, "zbud"])
    res = zbench(["run", suite, "--out", out, "--no-cache"], env=env_for(site), timeout=180)
    assert res.returncode == 1, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    got = cases(out)
    assert got[name]["failed"]["kind"] == kind
    assert fragment in got[name]["failed"]["reason"]
    assert got["zbud"]["metrics"]["pool_pages"] > 0


def test_verify_failure_is_recorded_and_results_written(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    suite = suite_file(tmp_path, ["corrupting", "zbud"], verify=True)
    res = zbench(["run", suite, "--out", out, "--no-cache"], env=env_for(site), timeout=180)
    assert res.returncode == 1
    assert "VERIFY FAILED" in res.stderr and "Traceback" not in res.stderr
    got = cases(out)
    assert got["corrupting"]["failed"]["kind"] == "verify"
    assert "load of offset" in got["corrupting"]["failed"]["reason"]
    assert got["zbud"]["metrics"]["verified_loads"] > 0


@pytest.mark.slow
def test_hung_case_killed_and_fresh_worker_takes_the_next(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    suite = suite_file(tmp_path, ["hanging", "zbud", "hanging-too"])
    allocator(site, "hanging-too", malloc="time.sleep(3600)")
    t0 = time.monotonic()
    res = zbench(["run", suite, "--out", out, "--no-cache"], env=env_for(
        site, ZBENCH_CASE_TIMEOUT="3"), timeout=120)
    assert time.monotonic() - t0 < 100
    assert res.returncode == 1
    got = cases(out)
    assert got["hanging"]["failed"]["reason"] == "timed out after 3 s"
    assert got["hanging-too"]["failed"]["kind"] == "timeout"
    assert "metrics" in got["zbud"]


@pytest.mark.slow
def test_failed_cases_are_not_cached(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    suite = suite_file(tmp_path, ["raising"])
    for i in range(2):
        res = zbench(["run", suite, "--out", tmp_path / f"o{i}"],
                     env=env_for(site, ZBENCH_CACHE=str(cache)), timeout=120)
        assert res.returncode == 1
        assert "(cached)" not in res.stderr
    assert not list((cache / "cases").glob("**/*.json")) if (cache / "cases").exists() else True


@pytest.mark.parametrize("value", ["0", "-3", "soon", "nan"])
def test_bad_case_timeout_is_one_line(tmp_path: Path, value: str) -> None:
    out = tmp_path / "out"
    res = zbench(["run", "--out", out, "--case-timeout", value], timeout=60) \
        if value != "soon" else zbench(["run", "--out", out], timeout=60,
                                       env={"ZBENCH_CASE_TIMEOUT": value})
    assert_one_line(res, 2, "seconds")
    assert not out.exists()


# -- plugin imports ---------------------------------------------------------------------
@pytest.fixture
def hung_import(tmp_path: Path) -> Path:
    d = tmp_path / "hung"
    d.mkdir()
    make_plugin(d, "sleepy", "import time\ntime.sleep(3600)\n")
    make_plugin(d, "boom", "raise ImportError('no such luck')\n")
    return d


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["plugins"],
                                  ["plugins", "--json"]])
@pytest.mark.slow
def test_hanging_import_does_not_hang_commands(hung_import: Path, args: list[str]) -> None:
    t0 = time.monotonic()
    res = zbench(args, env=env_for(hung_import, ZBENCH_IMPORT_TIMEOUT="2"), timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert time.monotonic() - t0 < 40
    if args[0] == "plugins":
        assert "import timed out after 2 s" in res.stdout
        assert "sleepy" in res.stdout and "no such luck" in res.stdout


@pytest.mark.slow
def test_hanging_import_does_not_stop_a_run(hung_import: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = zbench(["run", "--out", out, "--allocator", "zbud", "--frontend", "zswap"],
                 env=env_for(hung_import, ZBENCH_IMPORT_TIMEOUT="2"), timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    plugins = json.loads((out / "results.json").read_text())["environment"]["plugins"]
    sleepy = next(p for p in plugins if p["name"] == "sleepy")
    assert sleepy["status"] == "broken" and "timed out" in sleepy["error"]


def test_version_needs_no_plugins(hung_import: Path) -> None:
    res = zbench(["--version"], env=env_for(hung_import, ZBENCH_IMPORT_TIMEOUT="30"), timeout=20)
    assert res.returncode == 0 and "version" in res.stdout


# -- output folder lock, empty plans ------------------------------------------------------
@pytest.mark.slow
def test_second_run_into_a_busy_out_is_refused(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    suite = suite_file(tmp_path, ["hanging"])
    first = subprocess.Popen([sys.executable, "-m", "zbench", "run", suite, "--out", str(out),
                              "--no-cache"], cwd=ROOT, env={**os.environ, **env_for(site)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / ".zbench-run.json").exists():
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.2)
        for extra in ([], ["--resume"]):
            res = zbench(["run", suite, "--out", out, *extra], env=env_for(site), timeout=60)
            line = assert_one_line(res, 2, f"--out {out}: another zbench run (pid ")
            assert "is writing there" in line
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    # the dead run left no stale lock: a new run may write there
    res = zbench(["run", "--out", out, "--allocator", "zbud", "--frontend", "zswap"],
                 timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert not (out / ".zbench-lock").exists()


def test_every_case_excluded_exits_2(tmp_path: Path) -> None:
    suite = suite_file(tmp_path, ["zbud"], exclude=[{"allocators": ["zbud"]}])
    before = snapshot(tmp_path)
    res = zbench(["run", suite, "--out", tmp_path / "out"], timeout=60)
    assert_one_line(res, 2, str(suite), "exclude")
    assert_no_leftovers(tmp_path, before)


# -- processes and signals --------------------------------------------------------------
def _start_hung_run(site: Path, tmp_path: Path, jobs: str,
                    stderr: int = subprocess.DEVNULL) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / "out"
    suite = suite_file(tmp_path, ["hanging", "hanging-too"])
    allocator(site, "hanging-too", malloc="time.sleep(3600)")
    proc = subprocess.Popen([sys.executable, "-m", "zbench", "run", suite, "--out", str(out),
                             "-j", jobs, "--no-cache"], cwd=ROOT,
                            env={**os.environ, **env_for(site)}, stdout=subprocess.DEVNULL,
                            stderr=stderr, start_new_session=True)
    deadline = time.monotonic() + 90
    while len(in_session(proc.pid)) < 1 + int(jobs):  # the run and its workers
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    time.sleep(1.0)
    return proc, out


def _gone(sid: int, within: float = 15) -> list[int]:
    deadline = time.monotonic() + within
    while in_session(sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return in_session(sid)


def test_sigkill_of_a_parallel_run_leaves_nothing(site: Path, tmp_path: Path) -> None:
    proc, _ = _start_hung_run(site, tmp_path, "2", stderr=subprocess.PIPE)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        left = _gone(proc.pid)
        assert not left, left
        assert proc.stderr is not None
        import select
        ready, _, _ = select.select([proc.stderr], [], [], 15)
        assert ready, "stderr pipe still open"
        proc.stderr.read()  # EOF: nobody holds the pipe any more
    finally:
        for pid in in_session(proc.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_kills_workers_and_leaves_the_run_resumable(site: Path, tmp_path: Path,
                                                           sig: signal.Signals) -> None:
    proc, out = _start_hung_run(site, tmp_path, "2", stderr=subprocess.PIPE)
    try:
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 128 + sig
        assert "Traceback" not in err.decode()
        assert f"interrupted by {sig.name}" in err.decode()
        assert not _gone(proc.pid)
        assert (out / ".zbench-run.json").exists() and not (out / "results.json").exists()
    finally:
        for pid in in_session(proc.pid):
            os.kill(pid, signal.SIGKILL)


def test_no_tracker_process_with_jobs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "zbench", "run", "--out", str(out), "-j", "2",
                             "--allocator", "zbud", "--allocator", "zsmalloc", "--frontend",
                             "zswap", "--no-cache"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    seen: set[str] = set()
    while proc.poll() is None:
        for pid in in_session(proc.pid):
            try:
                seen.add(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
            except OSError:
                pass
        time.sleep(0.1)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert not any("multiprocessing" in c for c in seen), seen
    assert any("zbench.run.worker" in c for c in seen), seen
    assert not _gone(proc.pid, 5)


@pytest.mark.slow
def test_reports_show_failed_cases(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = zbench(["run", suite_file(tmp_path, ["raising", "zbud"]), "--out", out, "--no-cache"],
                 env=env_for(site), timeout=180)
    assert res.returncode == 1
    assert "Failed cases" in res.stdout and "malloc exploded" in res.stdout
    html = zbench(["report", out, "--html"], timeout=180)
    assert html.returncode == 0, html.stderr[-2000:]
    page = (out / "report.html").read_text()
    assert "<h2>Failed cases</h2>" in page and "malloc exploded" in page


# -- timing: a hanging plugin never hangs the pyperf phase --------------------------------
@pytest.mark.slow
def test_timing_skips_an_allocator_whose_case_failed(site: Path, tmp_path: Path) -> None:
    suite = suite_file(tmp_path, ["zbud", "hanging"],
                       timing={"pages": 8, "processes": 1, "values": 1, "warmups": 0,
                               "rounds": 1})
    out = tmp_path / "out"
    res = zbench(["run", suite, "--out", out, "--case-timeout", "5", "--no-cache"],
                 env=env_for(site), timeout=240)
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr + res.stdout
    timing = {t["allocator"]["name"]: t
              for t in json.loads((out / "results.json").read_text())["timing"]}
    assert timing["hanging"]["skipped"] == "a deterministic case of it failed"
    assert "store" in timing["zbud"] and "error" not in timing["zbud"]


@pytest.mark.slow
def test_a_plugin_hanging_under_pyperf_is_killed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    allocator(site, "slowtimed", malloc="if 'pyperf' in sys.modules: time.sleep(3600)")
    src = (site / "zbench_slowtimed.py").read_text().replace("import math, os, time",
                                                              "import math, os, sys, time")
    (site / "zbench_slowtimed.py").write_text(src)
    suite = suite_file(tmp_path, ["slowtimed"],
                       timing={"pages": 8, "processes": 1, "values": 1, "warmups": 0,
                               "rounds": 1})
    out = tmp_path / "out"
    t0 = time.monotonic()
    res = zbench(["run", suite, "--out", out, "--case-timeout", "10", "--no-cache"],
                 env=env_for(site), timeout=240)
    assert time.monotonic() - t0 < 120
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr + res.stdout
    results = json.loads((out / "results.json").read_text())
    assert "metrics" in results["cases"][0]  # the deterministic case itself was fine
    (rec,) = results["timing"]
    assert "timed out after 10 s" in rec["error"]
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit()
                and _cmdline(p).startswith(f"{sys.executable} -m zbench.run.bench")
                and str(tmp_path) in _cmdline(p)]


def _cmdline(p: Path) -> str:
    try:
        return (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
