"""Comparison tables from a results mapping (terminal, report.md)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from zbench.metrics import markdown_table

FRAG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("stored_pages", "stored"),
    ("same_filled_pages", "same"),
    ("huge_pages", "huge"),
    ("compressed_bytes", "compr KiB"),
    ("pool_pages", "pool pages"),
    ("effective_ratio", "eff. ratio"),
    ("allocator_efficiency", "alloc eff %"),
    ("internal_fragmentation_bytes", "int frag KiB"),
    ("external_fragmentation_bytes", "ext frag KiB"),
    ("pages_compacted", "compacted"),
)
_KIB = {"compressed_bytes", "internal_fragmentation_bytes", "external_fragmentation_bytes"}


def _fmt(name: str, value: Any) -> Any:
    if value is None:
        return "—"
    if name in _KIB:
        return f"{value / 1024:.1f}"
    if isinstance(value, float):
        return f"{value:.3f}" if name.endswith("ratio") else f"{value:.2f}"
    return value


def fragmentation_rows(results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    headers = ["allocator", "front end", "compressor", "workload", "dump"]
    headers += [label for _, label in FRAG_COLUMNS]
    any_skipped = any(c.get("skipped") or c.get("failed") for c in results["cases"])
    if any_skipped:
        headers.append("note")
    rows = []
    for c in results["cases"]:
        row: list[Any] = [c["allocator"]["label"], c["frontend"]["label"],
                          c["compressor"]["label"], c["workload"]["label"], c["dump"]["name"]]
        if c.get("skipped"):
            rows.append(row + ["—"] * len(FRAG_COLUMNS) + [f"skipped: {c['skipped']}"])
            continue
        if c.get("failed") or not isinstance(c.get("metrics"), dict):
            kind = (c.get("failed") or {}).get("kind", "error")
            rows.append(row + ["—"] * len(FRAG_COLUMNS) + [f"FAILED ({kind})"])
            continue
        m = c["metrics"]
        row += [_fmt(k, m.get(k)) for k, _ in FRAG_COLUMNS]
        rows.append(row + ([""] if any_skipped else []))
    return headers, rows


def comparison_table(results: dict[str, Any], fmt: str = "simple",
                     metric: str = "pool_pages") -> str | None:
    """Allocators side by side: one row per (dump, compressor, front end, workload), one
    column per allocator, cells ``metric`` (pool pages) and effective ratio.  ``None``
    when there is only one allocator."""
    allocs: list[str] = []
    rows: dict[tuple[str, ...], dict[str, str]] = {}
    for c in results["cases"]:
        a = c["allocator"]["label"]
        if a not in allocs:
            allocs.append(a)
        fe = "" if c["frontend"]["name"] == c["allocator"]["name"] else c["frontend"]["label"]
        key = (c["dump"]["name"], c["compressor"]["label"], fe, c["workload"]["label"])
        if c.get("skipped"):
            cell = "skipped"
        elif c.get("failed") or not isinstance(c.get("metrics"), dict):
            cell = "FAILED"
        else:
            m = c["metrics"]
            cell = f"{m.get(metric)} ({m.get('effective_ratio', 0):.2f}x)"
        rows.setdefault(key, {})[a] = cell
    if len(allocs) < 2:
        return None
    headers = ["dump", "compressor", "front end", "workload", *allocs]
    body = [[*k, *(v.get(a, "") for a in allocs)] for k, v in rows.items()]
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)


def fragmentation_table(results: dict[str, Any], fmt: str = "simple") -> str:
    headers, rows = fragmentation_rows(results)
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


ZSWAP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("stored_pages", "stored"),
    ("same_filled_pages", "same"),
    ("pool_total_size", "pool KiB"),
    ("pool_limit_hit", "limit hit"),
    ("written_back_pages", "written back"),
    ("reject_compress_poor", "rej poor"),
    ("reject_alloc_fail", "rej alloc"),
    ("reject_reclaim_fail", "rej reclaim"),
    ("duplicate_entry", "dup"),
    ("stored_incompressible_pages", "raw"),
)


def zswap_table(results: dict[str, Any], fmt: str = "simple") -> str | None:
    """The zswap debugfs counters of every case that ran under zswap (None if none did)."""
    rows = []
    for c in results["cases"]:
        if c["frontend"]["name"] != "zswap" or c.get("skipped") or c.get("failed"):
            continue
        m = c["metrics"]
        row: list[Any] = [c["allocator"]["label"], c["frontend"]["label"],
                          c["compressor"]["label"], c["workload"]["label"]]
        for k, _ in ZSWAP_COLUMNS:
            v = m.get(k)
            row.append("—" if v is None else (f"{v / 1024:.0f}" if k == "pool_total_size" else v))
        rows.append(row)
    if not rows:
        return None
    headers = ["allocator", "front end", "compressor", "workload"]
    headers += [label for _, label in ZSWAP_COLUMNS]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def models_table(results: dict[str, Any], fmt: str = "simple") -> str:
    seen: dict[tuple[str, str], str] = {}
    for c in results["cases"]:
        if c.get("skipped") or c.get("failed"):
            continue
        for kind in ("allocator", "frontend"):
            part = c[kind]
            key = (part["label"], part.get("kernel", ""))
            seen.setdefault(key, part.get("simplifications", ""))
    rows = [[label, kernel, simp] for (label, kernel), simp in seen.items()]
    return tabulate(rows, headers=["model", "kernel rules followed", "simplified"], tablefmt=fmt)


def failed_rows(results: dict[str, Any]) -> list[list[str]]:
    """(case, kind, reason) of every failed case."""
    return [["/".join((c["allocator"]["label"], c["frontend"]["label"],
                       c["compressor"]["label"], c["workload"]["label"], c["dump"]["name"])),
             str(c["failed"].get("kind", "")), str(c["failed"].get("reason", ""))]
            for c in results["cases"] if c.get("failed")]


def failed_table(results: dict[str, Any], fmt: str = "simple") -> str | None:
    """The failed cases with the kind of failure and its reason (None when none failed)."""
    rows = failed_rows(results)
    if not rows:
        return None
    return tabulate(rows, headers=["case", "failure", "reason"], tablefmt=fmt,
                    disable_numparse=True)


FAILED_NOTE = ("error: the case raised; timeout: it ran longer than the case timeout and was "
               "killed; verify: a load returned other bytes than were stored; invariant: its "
               "metrics are inconsistent (docs/scale.md).")


def report_markdown(results: dict[str, Any]) -> str:
    env = results["environment"]
    suite = results["suite"]
    git = env.get("git") or {}
    lines = [
        f"# zbench report: {suite.get('name', '')}",
        "",
        f"zbench {env['zbench_version']}, Python {env['python']}, kernel {env['kernel']}, "
        f"{env['cpu_model']} ({env['cpu_count']} CPUs), {env['date']}"
        + (f", commit {git['commit'][:12]}{' (dirty)' if git.get('dirty') else ''}"
           if git.get("commit") else ""),
        "",
    ]
    ft = failed_table(results, "github")
    if ft:
        lines += ["## Failed cases", "", ft, "", FAILED_NOTE, ""]
    ct = comparison_table(results, "github")
    if ct:
        lines += ["## Allocators side by side", "",
                  "Pool pages after the workload (effective ratio = original bytes / pool "
                  "bytes); the kernel's own zram front end where the allocator brings one.",
                  "", ct, ""]
    lines += [
        "## Fragmentation",
        "",
        fragmentation_table(results, "github"),
        "",
        "Sizes in KiB; `eff. ratio` = original bytes / pool bytes; `alloc eff %` = "
        "compressed bytes / pool bytes.",
        "",
    ]
    from zbench.latency import LATENCY_NOTE, LATENCY_TITLE, latency_table

    lt = latency_table(results, "github")
    if lt:
        lines += [f"## {LATENCY_TITLE}", "", lt, "", LATENCY_NOTE, ""]
    from zbench.reporter import sections

    for title, table, note in sections(results, "github"):
        lines += [f"## {title}", "", table, ""] + ([note, ""] if note else [])
    zt = zswap_table(results, "github")
    if zt:
        lines += ["## zswap counters", "", zt, "",
                  "`—`: the counter does not exist in that kernel version.", ""]
    from zbench.migtable import migratability_text

    mt = migratability_text(results, "github")
    if mt:
        lines += ["## Migratability", "",
                  "Page migration, evacuation of pageblocks, compaction and LRU reclaim after "
                  "the `migrate` workload (docs/migration.md).", "", mt, ""]
    lines += [
        "## Models",
        "",
        models_table(results, "github"),
        "",
        "## Compressors and dumps",
        "",
    ]
    seen = set()
    for c in results["cases"]:
        key = (c["compressor"]["label"], c["dump"]["sha256"])
        if c.get("failed") and "library" not in c["compressor"]:
            continue
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"- `{c['compressor']['label']}`: {c['compressor'].get('library', '')}; "
                     f"dump `{c['dump']['name']}` ({c['dump']['pages']} pages, "
                     f"sha256 {c['dump']['sha256'][:16]}…)")
    lines += ["", "## Metrics", "", markdown_table()]
    return "\n".join(lines)
