#!/usr/bin/env python3
"""Regenerate ``dumps/default.zbdump`` end to end (docs/dumps.md).

    cd /work/main && PYTHONPATH=.:plugins python scripts/make_default_dump.py

Runs five real programs on generated data with :func:`zbench.input.capture.capture`
(python+numpy, node, gcc's cc1, sqlite3 ``:memory:``, GNU sort), samples runs
of 16 contiguous pages from each, stratified by source with a fixed seed, and
writes the dump (mode 0600) with per-page source and region class.  Needs
root (or CAP_SYS_ADMIN) to drop zero-PFN pages; about 30-60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = Path(__file__).resolve().parent / "capture_workloads"
sys.path[:0] = [str(ROOT), str(WORKLOADS)]

from gen_inputs import write_inputs  # noqa: E402

from zbench.api.frames import PAGE_SIZE  # noqa: E402
from zbench.input.capture import CLEAN_PATH, METHOD, CaptureResult, capture  # noqa: E402
from zbench.input.dump import host_meta, load_dump, merge_runs, write_dump  # noqa: E402

RUN = 16  # pages per sampled run (64 KiB)


@dataclass
class Source:
    name: str
    weight: float
    cmd: list[str]
    opts: dict[str, Any] = field(default_factory=dict)


def sources(work: Path, c_file: Path, log_file: Path) -> list[Source]:
    w = str(WORKLOADS)
    out = [
        Source("python", 0.25, [sys.executable, f"{w}/py_workload.py"], {"ready_marker": "READY"}),
        Source("node", 0.25, ["node", f"{w}/node_workload.js"], {"ready_marker": "READY"}),
        Source(
            "cc1",
            0.25,
            ["gcc", "-O2", "-w", "-c", str(c_file), "-o", str(work / "gen.o")],
            {"rss_threshold_kb": 150_000, "settle": 1.0},
        ),
        Source(
            "sqlite3",
            0.125,
            ["sqlite3", ":memory:", f".read {w}/sqlite_workload.sql"],
            {"ready_marker": "READY"},
        ),
        Source(
            "sort",
            0.125,
            ["sort", "-S", "300M", "--parallel=1", str(log_file), "-o", str(work / "sorted.log")],
            {"rss_threshold_kb": 50_000},
        ),
    ]
    if shutil.which("node", path=CLEAN_PATH) is None:
        print("node not found: its share goes to python", file=sys.stderr)
        out = [s for s in out if s.name != "node"]
        out[0].weight += 0.25
    return out


def _portable(arg: str, work: Path) -> str:
    """A command argument with this machine's paths replaced by placeholders."""
    if arg == sys.executable:
        return "python3"
    return arg.replace(str(work), "$WORK").replace(str(ROOT), "$ZBENCH")


def tool_versions() -> dict[str, str]:
    env = {"PATH": CLEAN_PATH, "LANG": "C.UTF-8"}
    probes = {
        "gcc": ["gcc", "-dumpfullversion"],
        "sqlite3": ["sqlite3", "--version"],
        "node": ["node", "--version"],
        "sort": ["sort", "--version"],
        "numpy": [sys.executable, "-c", "import numpy; print(numpy.__version__)"],
    }
    out = {}
    for name, cmd in probes.items():
        try:
            text = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30).stdout
        except OSError:
            continue
        if text.strip():
            out[name] = " ".join(text.splitlines()[0].split()[:4])
    return out


def blocks_per_source(srcs: list[Source], total_blocks: int) -> dict[str, int]:
    """Largest-remainder apportionment of ``total_blocks`` by weight."""
    wsum = sum(s.weight for s in srcs)
    exact = {s.name: s.weight / wsum * total_blocks for s in srcs}
    out = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: out[k] - exact[k])[: total_blocks - sum(out.values())]:
        out[k] += 1
    return out


def sample(result: CaptureResult, name: str, k: int, seed: int) -> list[tuple[int, str]]:
    """``k`` runs of RUN virtually contiguous pages: (first page, region), in address order."""
    cands = [
        (seg.start + off, seg.region)
        for seg in result.segments
        for off in range(0, seg.count - RUN + 1, RUN)
    ]
    if len(cands) < k:
        raise SystemExit(f"{name}: only {len(cands)} runs of {RUN} pages captured, need {k}")
    return sorted(random.Random(f"{seed}:{name}").sample(cands, k))


def ratios(data: bytes) -> dict[str, float]:
    import lz4.block
    import zstandard

    zc = zstandard.ZstdCompressor(level=3)
    n = len(data) // PAGE_SIZE
    pages = [data[i * PAGE_SIZE : (i + 1) * PAGE_SIZE] for i in range(n)]
    lz4_sz = sum(min(len(lz4.block.compress(p, store_size=False)), PAGE_SIZE) for p in pages)
    zstd_sz = sum(min(len(zc.compress(p)), PAGE_SIZE) for p in pages)
    return {"lz4": round(len(data) / lz4_sz, 3), "zstd-3": round(len(data) / zstd_sz, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "dumps" / "default.zbdump")
    ap.add_argument("--pages", type=int, default=4096, help="total pages (multiple of 16)")
    ap.add_argument("--seed", type=int, default=20251125)
    args = ap.parse_args()
    if args.pages <= 0 or args.pages % RUN:
        raise SystemExit(f"--pages must be a positive multiple of {RUN}")
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="zbench-default-"))
    try:
        c_file, log_file = write_inputs(work, c_funcs=1500, log_lines=500_000)
        srcs = sources(work, c_file, log_file)
        quota = blocks_per_source(srcs, args.pages // RUN)
        chunks: list[bytes] = []
        labels: list[tuple[str, str]] = []
        per_source: dict[str, Any] = {}
        totals: dict[str, int] = {}
        for src in srcs:
            print(f"[{time.monotonic() - t0:5.1f}s] capturing {src.name} ...", file=sys.stderr)
            opts = {"timeout": 90.0, "settle": 0.3, **src.opts}
            res = capture(src.cmd, **opts)
            cap = res.meta["captured"]
            picked = sample(res, src.name, quota[src.name], args.seed)
            regions: dict[str, int] = {}
            for start, region in picked:
                chunks.append(res.pages[start * PAGE_SIZE : (start + RUN) * PAGE_SIZE])
                labels.extend([(region, src.name)] * RUN)
                regions[region] = regions.get(region, 0) + RUN
            captured_regions: dict[str, int] = {}
            for seg in res.segments:
                captured_regions[seg.region] = captured_regions.get(seg.region, 0) + seg.count
            for key, value in cap["counters"].items():
                totals[key] = totals.get(key, 0) + value
            proc = cap["processes"][0]
            per_source[src.name] = {
                "command": [_portable(a, work) for a in src.cmd],
                "trigger": cap["trigger"],
                "options": opts,
                "elapsed_s": cap["elapsed_s"],
                "target": proc["source"],
                "rss_anon_kb": proc["rss_anon_kb"],
                "captured_pages": res.n_pages,
                "captured_regions": captured_regions,
                "counters": cap["counters"],
                "zero_pfn_detection": cap["zero_pfn_detection"],
                "sampled_pages": len(picked) * RUN,
                "sampled_regions": regions,
            }
            print(f"    {res.n_pages} pages captured, sampled {regions}", file=sys.stderr)
        pages = b"".join(chunks)
        host = host_meta()
        meta = {
            "description": (
                f"zbench default dump: {len(pages) // PAGE_SIZE} private anonymous pages in runs "
                f"of {RUN}, sampled from {', '.join(per_source)} on generated data"
            ),
            "captured": {
                "command": [
                    "scripts/make_default_dump.py",
                    "--pages",
                    str(args.pages),
                    "--seed",
                    str(args.seed),
                ],
                "method": METHOD,
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "trigger": "per source, see sources",
                "counters": totals,
            },
            "sampling": {
                "seed": args.seed,
                "run_pages": RUN,
                "weights": {s.name: s.weight for s in srcs},
                "runs": quota,
                "how": "runs of 16 virtually contiguous captured pages, chosen uniformly per "
                "source with random.Random(f'{seed}:{source}'), kept in address order",
            },
            "sources": per_source,
            "page_runs": merge_runs(labels),
            "tools": {**host["tools"], **tool_versions()},
        }
        meta["ratios"] = ratios(pages)
        write_dump(args.out, pages, meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    d = load_dump(args.out)
    size = args.out.stat().st_size
    print(f"[{time.monotonic() - t0:5.1f}s] wrote {args.out}: {d.n_pages} pages, {size} bytes, "
          f"sha256 {d.sha256[:16]}...", file=sys.stderr)  # fmt: skip
    for name, per in d.breakdown().items():
        print(f"    {name:<8} {sum(per.values()):5d} pages  {per}", file=sys.stderr)
    print(f"    ratios (4 KiB pages, capped at 4096): {meta['ratios']}", file=sys.stderr)


if __name__ == "__main__":
    main()
