"""Store and load latency of the real allocators, timed inside a UML kernel.

One *pass* stores every page of a sample (``STORE_PAGE``: the kernel's crypto
compressor, then ``malloc`` + map + memcpy + unmap), loads each back (map +
decompress + unmap; verified outside the timed region) and frees it.  The
passes of all backend × compressor combinations are interleaved inside a boot,
in an order rotated per pass, and repeated over several boots, so that a slow
moment of the shared machine falls on all of them alike.  A figure is the mean
over a pass; the interval is over the passes (t-based, 95 %); two allocators
differ significantly when Welch's test on their pass means gives p < 0.01.

The driver times with ``ktime_get_ns`` (UML: the host's monotonic clock) around
the allocator calls only; it runs on one CPU (UML is uniprocessor) with no
other load inside the guest.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zbench import PAGE_SIZE, Dump, welch_p, write_atomic

from .boot import BootError, boot, new_stream
from .build import BuiltKernel
from .stream import Op

T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26,
       10: 2.23, 15: 2.13, 20: 2.09, 30: 2.04}
ALPHA = 0.01


def _t95(df: int) -> float:
    return T95.get(df) or T95[max(k for k in T95 if k <= df)] if df > 0 else math.inf


@dataclass
class Series:
    """Timings of one backend × compressor: per-pass means and all samples (ns)."""

    backend: str
    compressor: str
    #: per pass and op: mean total (compressor included) and mean of the compressor alone
    total: dict[str, list[float]] = field(default_factory=lambda: {"store": [], "load": []})
    comp: dict[str, list[float]] = field(default_factory=lambda: {"store": [], "load": []})
    #: every operation's allocator time (total − compressor)
    alloc_all: dict[str, list[float]] = field(default_factory=lambda: {"store": [],
                                                                       "load": []})

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.compressor}"

    def alloc_pass_ns(self, op: str) -> list[float]:
        """Per pass: the allocator's own mean time per page (the compressor's taken out)."""
        return [t - c for t, c in zip(self.total[op], self.comp[op], strict=True)]

    def add_pass(self, op: str, total: list[float], comp: list[float]) -> None:
        self.total[op].append(statistics.fmean(total))
        self.comp[op].append(statistics.fmean(comp))
        self.alloc_all[op] += [t - c for t, c in zip(total, comp, strict=True)]

    def summary(self, op: str) -> dict[str, float]:
        alloc = self.alloc_pass_ns(op)
        samples = sorted(self.alloc_all[op])
        mean = statistics.fmean(self.total[op])
        return {
            "alloc_mean_ns": round(statistics.fmean(alloc), 1),
            "alloc_ci95_ns": _ci95(alloc),
            "alloc_p50_ns": round(samples[len(samples) // 2], 1),
            "alloc_p99_ns": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 1),
            "total_mean_ns": round(mean, 1),
            "total_ci95_ns": _ci95(self.total[op]),
            "compressor_share_pct": round(100.0 * statistics.fmean(self.comp[op]) / mean, 1),
            "passes": len(alloc),
        }


def _ci95(values: list[float]) -> float | None:
    """The 95 % half-interval of the mean; None for one pass (JSON has no infinity)."""
    if len(values) < 2:
        return None
    return round(_t95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values)), 1)


def _pass_stream(pages: list[bytes], backend: str, compressor: str) -> Path:
    path, f, w = new_stream(backend, compressor)
    with f:
        for slot, page in enumerate(pages):
            w.store_page(slot, page)
        for slot in range(len(pages)):
            w.load(slot)
        for slot in range(len(pages)):
            w.free(slot)
        w.end()
    return path


def measure(kernel: BuiltKernel, dump: Dump, backends: list[str], compressors: list[str], *,
            pages: int = 1024, passes: int = 5, boots: int = 3, seed: int = 1,
            progress: Callable[[str], None] | None = None) -> list[Series]:
    """Time every backend × compressor: ``passes`` passes in each of ``boots`` boots."""
    rng = random.Random(seed)
    idx = rng.sample(range(dump.n_pages), min(pages, dump.n_pages))
    sample = [dump.page(i) for i in idx]
    series = {f"{b}/{c}": Series(b, c) for b in backends for c in compressors}
    order = list(series.values())
    for b in range(boots):
        # a warm-up pass of each first (not counted): the guest's first touch of its
        # memory costs host page faults that later passes do not pay
        streams: list[tuple[Series | None, Path]] = [
            (None, _pass_stream(sample, s.backend, s.compressor)) for s in order]
        for p in range(passes):
            shift = (b * passes + p) % len(order)
            for s in order[shift:] + order[:shift]:
                streams.append((s, _pass_stream(sample, s.backend, s.compressor)))
        if progress is not None:
            progress(f"kernel latency: boot {b + 1}/{boots}, {len(streams)} passes of "
                     f"{len(sample)} pages ({len(order)} warm-up)")
        run = boot(kernel.linux, [p for _, p in streams])
        for (s, _), res in zip(streams, run.results, strict=True):
            if s is None:
                continue
            if not res.ok or res.summary.get("mismatches"):
                raise BootError(f"kernel latency, {s.key}: {res.status} {res.error} "
                                f"({res.summary.get('mismatches', 0)} mismatches)")
            s.add_pass("store", *res.timings(Op.STORE_PAGE))
            s.add_pass("load", *res.timings(Op.LOAD))
    return order


def rankings(series: list[Series], op: str) -> list[dict[str, Any]]:
    """Each pair of backends with one compressor, on the allocator's own time per page
    (the compressor's taken out): the faster, by how much, p, significant."""
    out = []
    by_comp: dict[str, list[Series]] = {}
    for s in series:
        by_comp.setdefault(s.compressor, []).append(s)
    for comp, group in by_comp.items():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                va, vb = a.alloc_pass_ns(op), b.alloc_pass_ns(op)
                ma, mb = statistics.fmean(va), statistics.fmean(vb)
                p = welch_p(va, vb) if len(va) > 1 and len(vb) > 1 else 1.0
                fast, slow = (a, b) if ma <= mb else (b, a)
                out.append({"op": op, "compressor": comp, "faster": fast.backend,
                            "slower": slow.backend,
                            "ratio": round(max(ma, mb) / min(ma, mb), 3),
                            "p": p, "significant": p < ALPHA})
    return out


def record(kernel: BuiltKernel, series: list[Series], pages: int) -> dict[str, Any]:
    """The JSON record: per series the summaries, and the significant rankings."""
    return {
        "kernel": kernel.release, "page_size": PAGE_SIZE, "pages_per_pass": pages,
        "series": {s.key: {"backend": s.backend, "compressor": s.compressor,
                           "store": s.summary("store"), "load": s.summary("load"),
                           "store_alloc_pass_ns": s.alloc_pass_ns("store"),
                           "load_alloc_pass_ns": s.alloc_pass_ns("load")}
                   for s in series},
        "rankings": rankings(series, "store") + rankings(series, "load"),
    }


def write_pyperf(path: Path, kernel: BuiltKernel, s: Series) -> None:
    """pyperf's JSON (one run, one value per pass, seconds) for ``pyperf stats``/compare."""
    benches = []
    for op in ("store", "load"):
        for what, values in (("", s.total[op]), (" allocator", s.alloc_pass_ns(op))):
            benches.append({
                "metadata": {"name": f"{s.key} {op}{what}", "unit": "second",
                             "description": f"real {s.backend} {op}{what} per page, "
                                            f"{kernel.release} user-mode Linux (TSC, mean "
                                            "of one pass)"},
                "runs": [{"metadata": {"kernel": kernel.release},
                          "values": [v / 1e9 for v in values]}],
            })
    write_atomic(path, json.dumps({"version": "1.0", "benchmarks": benches,
                                   "metadata": {"kernel": kernel.release}}) + "\n", mode=0o644)


def _us(ns: float | None) -> str:
    return f"{ns / 1000:.2f}" if ns is not None and math.isfinite(ns) else "—"  # one pass


def table(rec: dict[str, Any], fmt: str = "simple") -> tuple[str, str]:
    """The latency table (µs per page) and, as its note, the legend and the rankings."""
    from tabulate import tabulate

    rows = []
    for s in rec["series"].values():
        row = [s["backend"], s["compressor"]]
        for op in ("store", "load"):
            x = s[op]
            row += [f"{_us(x['alloc_mean_ns'])} ± {_us(x['alloc_ci95_ns'])}",
                    _us(x["alloc_p50_ns"]), _us(x["alloc_p99_ns"]),
                    _us(x["total_mean_ns"]), f"{x['compressor_share_pct']:.0f}"]
        rows.append(row)
    head = (f"Real-code latency, {rec['kernel']} user-mode Linux, µs per page "
            f"({rec['pages_per_pass']} pages a pass)")
    text = tabulate(rows, tablefmt=fmt, headers=["allocator", "comp", "store alloc", "p50", "p99",
                                   "+comp", "comp%", "load alloc", "p50", "p99", "+comp",
                                   "comp%"])
    legend = ("alloc: the allocator's own time (malloc + map + copy + unmap; load: map + "
              "unmap around the\ndecompression), compressor taken out, mean ± 95 % interval "
              "over passes; p50/p99 of single\noperations; +comp: with the kernel's "
              "compressor; comp%: the compressor's share of +comp.")
    lines = []
    for r in rec["rankings"]:
        verdict = "significant" if r["significant"] else "not significant"
        lines.append(f"  {r['op']:5} {r['compressor']:5} {r['faster']:8} faster than "
                     f"{r['slower']:8} by {100 * (r['ratio'] - 1):5.1f} % "
                     f"(p {r['p']:.2g}, {verdict})")
    note = "\n".join([legend, "", f"Allocator time, pairwise (Welch's t-test on pass means, "
                                  f"p < {ALPHA}):", *lines])
    if fmt == "html":
        from html import escape

        return f"<p>{escape(head)}</p>\n{text}", note
    return f"{head}\n\n{text}", note
