"""Scale targets of zbench itself, measured, not asserted.

    python benchmarks/run.py [--quick] [--only NAME ...]

Runs each benchmark as its own ``zbench`` process from the repository root (the
case cache off, so every case really runs), takes the case times from its
``results.json``, the wall time and the peak RSS of the process (``wait4``), and
writes ``benchmarks/results.json`` and ``benchmarks/RESULTS.md``.  The store path
is timed under pyperf by zbench's own timing cases (``zbench run --timing``):
store = same-filled check + live lz4 compression + malloc + copy in, against the
raw ``lz4.block.compress`` of the same pages (the compressor's clocked share of
each store).  ``--quick`` scales the large workloads down 10x (a smoke run; the
recorded figures are from a full run).  Nothing here is a test.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
MiB = 1 << 20


def _zbench(args: list[str], out: Path) -> dict[str, Any]:
    """Run ``zbench ARGS --out OUT``; its wall time, peak RSS and results."""
    z = shutil.which("zbench") or "zbench"
    t0 = time.perf_counter()
    proc = subprocess.Popen([z, *args, "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"zbench {' '.join(args)} failed:\n{err.decode()[-2000:]}")
    results = json.loads((out / "results.json").read_text())
    return {"wall_s": round(wall, 2), "peak_rss_mib": round(usage.ru_maxrss * 1024 / MiB),
            "results": results}


def _cases(run: dict[str, Any]) -> dict[str, float]:
    return {c["id"]: c["elapsed_s"] for c in run["results"]["cases"] if "elapsed_s" in c}


def fill_sizes(tmp: Path, pages: int) -> dict[str, Any]:
    run = _zbench(["run", "--no-cache", "--no-timing", "--allocator", "zsmalloc",
                   "--frontend", "zram", "--compressor", "lz4", "--workload", "fill",
                   "--set", f"fill.scale_pages={pages}", "--set", "fill.payload=sizes"],
                  tmp / "fill")
    case = sum(_cases(run).values())
    return {"name": "fill_1m_sizes", "what": f"zsmalloc fill of {pages} pages, sizes only "
            "(zram 6.18, lz4)", "target": "<= 3 s", "measured": f"{case:.1f} s",
            "ok": case <= 3, "case_s": case, "wall_s": run["wall_s"],
            "peak_rss_mib": run["peak_rss_mib"]}


def churn(tmp: Path, pages: int) -> dict[str, Any]:
    run = _zbench(["run", "--no-cache", "--no-timing", "--allocator", "zbud",
                   "--allocator", "z3fold", "--allocator", "zsmalloc", "--frontend", "zswap",
                   "--compressor", "lz4", "--workload", "churn",
                   "--set", "zswap.kernel=6.6", "--set", "zswap.ram_mb=65536",
                   "--set", f"churn.scale_pages={pages}", "--set", "churn.payload=sizes",
                   "--set", "churn.zero_filled_pct=10"], tmp / "churn")
    cases = _cases(run)
    total = sum(cases.values())
    rss = run["peak_rss_mib"]
    return {"name": "churn_1m", "what": f"churn of {pages} pages, zbud + z3fold + zsmalloc "
            "(zswap 6.6, lz4, sizes only)", "target": "<= 120 s, peak RSS <= 1024 MiB",
            "measured": f"{total:.0f} s, {rss} MiB", "ok": total <= 120 and rss <= 1024,
            "cases_s": cases, "wall_s": run["wall_s"], "peak_rss_mib": rss}


def store_path(tmp: Path) -> dict[str, Any]:
    run = _zbench(["run", "--no-cache", "--timing", "--allocator", "zbud",
                   "--allocator", "z3fold", "--allocator", "zsmalloc", "--frontend", "zswap",
                   "--set", "zswap.kernel=6.6", "--compressor", "lz4", "--workload", "fill"],
                  tmp / "store")
    rows = {}
    for rec in run["results"].get("timing", []):
        s = rec.get("store") or {}
        rows[rec["allocator"]["label"]] = {
            "store_mean_us": round(s.get("mean_ns", 0) / 1000, 2),
            "lz4_share_pct": s.get("compressor_share_pct")}
    worst = min((r["lz4_share_pct"] or 0) for r in rows.values()) if rows else 0
    return {"name": "store_path", "what": "store path (zswap 6.6, real lz4, bytes stored) "
            "vs raw lz4.block.compress of the same pages: lz4's share of each store",
            "target": ">= 50 %", "measured": f"{worst:.0f} % (worst allocator)",
            "ok": worst >= 50, "allocators": rows, "wall_s": run["wall_s"]}


def default_suite(tmp: Path) -> dict[str, Any]:
    run = _zbench(["run", "suites/default.yaml", "--no-cache"], tmp / "default")
    return {"name": "default_suite", "what": "zbench run suites/default.yaml (no case cache)",
            "target": "<= 60 s", "measured": f"{run['wall_s']:.0f} s",
            "ok": run["wall_s"] <= 60, "wall_s": run["wall_s"],
            "peak_rss_mib": run["peak_rss_mib"]}


def main(argv: list[str]) -> None:
    scale = 100_000 if "--quick" in argv else 1_000_000
    only = {a for i, a in enumerate(argv) if i and argv[i - 1] == "--only"}
    tmp = Path(tempfile.mkdtemp(prefix="zbench-bench-"))
    benches = [("fill_1m_sizes", lambda: fill_sizes(tmp, scale)),
               ("store_path", lambda: store_path(tmp)),
               ("default_suite", lambda: default_suite(tmp)),
               ("churn_1m", lambda: churn(tmp, scale))]
    rows = []
    try:
        for name, bench in benches:
            if only and name not in only:
                continue
            load = os.getloadavg()[0]
            row = bench()
            row["load_avg_before"] = round(load, 2)
            rows.append(row)
            print(f"{row['what'][:60]:60s} {row['measured']:>24s}  (target {row['target']})"
                  f"  {'ok' if row['ok'] else 'MISSED'}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_avg_after": [round(x, 2) for x in os.getloadavg()], "scale_pages": scale}
    path = HERE / "results.json"  # with --only, the other benchmarks' last rows stay
    old = json.loads(path.read_text()) if path.exists() else {"benchmarks": []}
    mine = {r["name"] for r in rows}
    kept = [r for r in old["benchmarks"] if r["name"] not in mine]
    for r in rows:
        r["meta"] = meta
    order = [n for n, _ in benches]
    merged = sorted(kept + rows, key=lambda r: order.index(r["name"]))
    path.write_text(json.dumps({"benchmarks": merged}, indent=2) + "\n")
    print(f"wrote {HERE / 'results.json'}")


if __name__ == "__main__":
    main(sys.argv)
