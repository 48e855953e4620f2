"""Timing cases: store / load latency under pyperf, one subprocess per case.

``zbench run`` calls :func:`run_timing` after the deterministic cases when the
suite has a ``timing:`` section (:mod:`zbench.run.timing`).  Each timing case is an
(allocator, front end, compressor, dump) of the suite; it runs
``python -m zbench.run.bench`` (:mod:`zbench.run.bench`, which hosts the pyperf Runner),
keeps the pyperf JSON as ``<out>/pyperf/<case>.json`` beside ``results.json``
and returns one record per case for ``results["timing"]``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zbench.api.frames import PAGE_SIZE
from zbench.run.spec import TIMED_PARTS, Case, CaseSpec, Plan
from zbench.run.suite import Suite
from zbench.run.timing import PRESETS, TimingSpec, slug

#: environment variables the pyperf workers keep (pyperf drops most of the environment)
INHERIT_ENV = ("ZBENCH_CACHE", "ZBENCH_LOAD_PLUGINS", "ZBENCH_DISABLE_PLUGINS", "ZBENCH_NATIVE")
OPS = ("store", "load")
#: the order of the parts in a timing record
TIMING_RECORD_PARTS = ("allocator", "frontend", "compressor")

Reporter = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class TimingCase:
    id: str
    case: Case  # the first case of the group (its workload does not matter)
    skip_reason: str = ""


def timing_cases(plan: Plan, only: list[str] | None = None) -> list[TimingCase]:
    """One timing case per (allocator, front end, compressor, dump), in suite order;
    ``only``: the allocator labels to time (``timing.allocators``).  Cases of another page
    size than 4096 are not timed (the pyperf program, :mod:`zbench.run.bench`, stores
    4096-byte pages)."""
    out: dict[str, TimingCase] = {}
    for case in plan.cases:
        tid = "/".join((case.allocator.label, case.frontend.label, case.compressor.label,
                        case.dump_name))
        have = out.get(tid)
        if have is not None and not (have.skip_reason and not case.skip_reason):
            continue
        reason = case.skip_reason
        if not reason and case.page_size != PAGE_SIZE:
            reason = f"not timed ({case.page_size}-byte pages: timing stores 4096-byte pages)"
        elif not case.allocator.cls.timeable:
            reason = "not timed (the running kernel)"
        elif only and case.allocator.label not in only:
            reason = "not in timing.allocators"
        out[tid] = TimingCase(tid, case, reason)
    return list(out.values())


def case_spec(tc: TimingCase, sha256: str) -> CaseSpec:
    """The timing case's :class:`CaseSpec`: its compressor, front end and allocator."""
    return tc.case.spec(sha256, TIMED_PARTS)


def _spec(tc: TimingCase, suite: Suite, timing: TimingSpec, sha256: str,
          git_commit: str) -> dict[str, Any]:
    """The JSON :mod:`zbench.run.bench` reads: the case, its id, the pyperf settings."""
    spec = replace(case_spec(tc, sha256), seed=suite.seed)  # the suite's seed times it
    return {"id": tc.id, "git_commit": git_commit, "case": spec.to_json(),
            "timing": timing.model_dump(mode="json")}


def _pyperf_summary(path: Path) -> dict[str, dict[str, Any]]:
    import pyperf

    out: dict[str, dict[str, Any]] = {}
    for bench in pyperf.BenchmarkSuite.load(str(path)).get_benchmarks():
        op = bench.get_name().rsplit(" ", 1)[-1]
        values = [v * 1e9 for v in bench.get_values()]
        out[op] = {
            "mean_ns": round(bench.mean() * 1e9, 1),
            "std_ns": round(bench.stdev() * 1e9, 1) if len(values) > 1 else 0.0,
            "values_ns": [round(v, 1) for v in values],
            "runs": bench.get_nrun(),
            "loops": bench.get_metadata().get("loops"),
        }
    return out


def _spawn(cmd: list[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run the pyperf program in a session of its own; past ``timeout`` seconds the whole
    session (pyperf's workers too) is killed and the result says so (exit -9)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException as exc:  # the timeout, or the run being stopped: nothing left over
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        if not isinstance(exc, subprocess.TimeoutExpired):
            raise
        err = (err or "") + f"\ntimed out after {timeout:g} s"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _run_one(tc: TimingCase, spec: dict[str, Any], pyperf_path: Path,
             preset: str, timeout: float | None = None) -> dict[str, Any]:
    """Run the pyperf program for one case; the timing record (or ``error``)."""
    pyperf_path.unlink(missing_ok=True)  # pyperf refuses to overwrite
    with tempfile.TemporaryDirectory(prefix="zbench-timing-") as tmp:
        spec_path, hist_path = Path(tmp) / "spec.json", Path(tmp) / "hist.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        cmd = [sys.executable, "-m", "zbench.run.bench", "--spec", str(spec_path),
               "--hist-out", str(hist_path), "-o", str(pyperf_path), "--quiet",
               "--inherit-environ", ",".join(INHERIT_ENV)]
        if preset != "suite":
            cmd.append(f"--{preset}")
        proc = _spawn(cmd, timeout)
        if proc.returncode or not hist_path.exists() or not pyperf_path.exists():
            lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            return {"error": f"pyperf program failed (exit {proc.returncode}): "
                             + (lines[-1] if lines else "no output")}
        hist = json.loads(hist_path.read_text(encoding="utf-8"))
    rec: dict[str, Any] = {"kernel": {"allocator": hist["info"]["allocator_kernel"],
                                      "frontend": hist["info"]["frontend_kernel"]},
                           "compressor_library": hist["info"]["compressor_library"],
                           "path": hist["info"]["path"], "rounds": hist["rounds"]}
    perf = _pyperf_summary(pyperf_path)
    for op in OPS:
        rec[op] = {**perf.get(op, {}), **hist[op]}
    return rec


def us(ns: float | None, digits: int = 2) -> str:
    """Nanoseconds as microseconds for a table cell (an em dash when unknown)."""
    return "—" if ns is None else f"{ns / 1000:.{digits}f}"


def failed_timing_ids(results: dict[str, Any]) -> set[str]:
    """Timing case ids whose allocator failed a deterministic case (it is not timed)."""
    return {"/".join((c["allocator"]["label"], c["frontend"]["label"],
                      c["compressor"]["label"], c["dump"]["name"]))
            for c in results.get("cases", []) if "failed" in c}


def run_timing(suite: Suite, plan: Plan, out_dir: Path, preset: str = "suite",
               report: Reporter = _stderr, timeout: float | None = None,
               failed: set[str] | None = None) -> list[dict[str, Any]]:
    """Time every timing case of the plan; pyperf JSON files go to ``out_dir/pyperf``.
    Each pyperf program gets ``timeout`` seconds; a case in ``failed`` (its allocator
    failed a deterministic case) is skipped."""
    from zbench.run.results import git_commit

    if preset not in PRESETS:
        raise ValueError(f"unknown pyperf preset {preset!r}")
    timing = suite.timing or TimingSpec()
    git = git_commit() or {}
    cases = timing_cases(plan, timing.allocators)
    records: list[dict[str, Any]] = []
    for i, tc in enumerate(cases):
        dump = plan.dumps[tc.case.dump_path]
        spec = case_spec(tc, dump.sha256)
        rec: dict[str, Any] = {
            "id": tc.id, **{k: spec.part(k).record() for k in TIMING_RECORD_PARTS},
            "dump": {"name": spec.dump.name, "sha256": spec.dump.sha256, "pages": dump.n_pages},
            "pages": min(timing.pages, dump.n_pages),
            "pyperf": {"preset": preset, "processes": timing.processes,
                       "values": timing.values, "warmups": timing.warmups,
                       "loops": timing.loops},
        }
        head = f"[timing {i + 1}/{len(cases)}] {tc.id}"
        reason = tc.skip_reason or ("a deterministic case of it failed"
                                    if tc.id in (failed or ()) else "")
        if reason:
            rec["skipped"] = reason
            records.append(rec)
            report(f"{head}: skipped ({reason})")
            continue
        report(f"{head} ...")
        t0 = time.perf_counter()
        rel = Path("pyperf") / f"{slug(tc.id)}.json"
        (out_dir / "pyperf").mkdir(parents=True, exist_ok=True)
        bench_spec = _spec(tc, suite, timing, dump.sha256, git.get("commit", ""))
        result = _run_one(tc, bench_spec, out_dir / rel, preset, timeout)
        rec.update(result)
        rec["elapsed_s"] = round(time.perf_counter() - t0, 3)
        if "error" in result:
            report(f"{head}: FAILED: {result['error']}")
        else:
            rec["pyperf_json"] = rel.as_posix()
            rec["compressor"]["library"] = rec.pop("compressor_library")
            report(f"{head}: store {us(rec['store'].get('mean_ns'))} µs, "
                   f"load {us(rec['load'].get('mean_ns'))} µs ({rec['elapsed_s']:.1f} s)")
        records.append(rec)
    return records
