"""The latency table of the models, from the timing records of a results mapping
(``results["timing"]``, written by :mod:`zbench.run.timer`): each row says what ran, the
native engines' batch or the Python model operation by operation."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from zbench.run.timer import OPS, us


def timing_metrics(rec: dict[str, Any]) -> dict[str, float]:
    """A timing record flattened to the timing metrics of :mod:`zbench.api.metrics`."""
    out: dict[str, float] = {}
    for op in OPS:
        r = rec.get(op) or {}
        for stat in ("mean", "std", "p50", "p90", "p99"):
            v = r.get(f"{stat}_ns")
            if v is not None:
                out[f"{op}_{stat}_ns"] = v
        if r.get("compressor_share_pct") is not None:
            out[f"{op}_compressor_share_pct"] = r["compressor_share_pct"]
    return out


def runs_on(rec: dict[str, Any]) -> str:
    """What a timing record timed, in a word: ``C`` (the native engines' batch: zram's
    loop, the allocator's engine and the compressor's C face) or ``Py`` (the Python
    model)."""
    path = rec.get("path") or ""
    if not path:
        return "—" if rec.get("skipped") or rec.get("error") else "Py"
    return "Py" if path.startswith("the Python model") else "C"


def latency_table(results: dict[str, Any], fmt: str = "simple") -> str | None:
    """Store and load per timing case: pyperf mean ± std, p50 / p99 per operation and the
    compressor's share, in µs per page; ``None`` when the run had no timing."""
    recs = results.get("timing") or []
    if not recs:
        return None
    rows = []
    for r in recs:
        row: list[Any] = [r["allocator"]["label"], r["frontend"]["label"],
                          r["compressor"]["label"], r["dump"]["name"], runs_on(r)]
        if r.get("skipped") or r.get("error"):
            note = f"skipped: {r['skipped']}" if r.get("skipped") else f"failed: {r['error']}"
            rows.append(row + ["—"] * 8 + [note])
            continue
        for op in OPS:
            s = r[op]
            row += [f"{us(s.get('mean_ns'))} ± {us(s.get('std_ns'))}", us(s.get("p50_ns")),
                    us(s.get("p99_ns")), f"{s.get('compressor_share_pct', 0):.0f}"]
        rows.append(row + [""])
    headers = ["allocator", "front end", "compressor", "dump", "in",
               "store µs", "p50", "p99", "cmp %", "load µs", "p50", "p99", "dcmp %",
               "note"]
    if not any(row[-1] for row in rows):
        headers.pop()
        rows = [row[:-1] for row in rows]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


#: the heading of the models' latency table: what it times is the models, not the kernel
LATENCY_TITLE = "Latency of the models (the model's own cost, not the kernel's)"
LATENCY_NOTE = ("µs per page of zbench's models, not of kernel code (the real "
                "allocators' latency is the `kernel-latency` section, docs/kernel.md). "
                "`in`: `C` for a case timed as one batch on the native engines (zram's "
                "write and read paths, the allocator's engine and the compressor's C face, "
                "as a case of bytes runs when they are built), `Py` for the Python model "
                "operation by operation. "
                "`store µs` / `load µs`: pyperf mean ± standard deviation over all "
                "values (each a pass over the timed pages, in a worker process); `p50` / `p99`: "
                "per-operation percentiles from passes timed one operation at a time; "
                "`cmp %` / `dcmp %`: the share of that time spent compressing / decompressing. "
                "The pyperf JSON of each case is in `pyperf/` (`python -m pyperf stats`).")
