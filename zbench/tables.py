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
    rows = []
    for c in results["cases"]:
        row: list[Any] = [c["allocator"]["label"], c["frontend"]["label"],
                          c["compressor"]["label"], c["workload"]["label"], c["dump"]["name"]]
        if c.get("skipped"):
            rows.append(row + [f"skipped: {c['skipped']}"] + [""] * (len(FRAG_COLUMNS) - 1))
            continue
        m = c["metrics"]
        row += [_fmt(k, m.get(k)) for k, _ in FRAG_COLUMNS]
        rows.append(row)
    return headers, rows


def fragmentation_table(results: dict[str, Any], fmt: str = "simple") -> str:
    headers, rows = fragmentation_rows(results)
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def models_table(results: dict[str, Any], fmt: str = "simple") -> str:
    seen: dict[tuple[str, str], str] = {}
    for c in results["cases"]:
        for kind in ("allocator", "frontend"):
            part = c[kind]
            key = (part["label"], part.get("kernel", ""))
            seen.setdefault(key, part.get("simplifications", ""))
    rows = [[label, kernel, simp] for (label, kernel), simp in seen.items()]
    return tabulate(rows, headers=["model", "kernel rules followed", "simplified"], tablefmt=fmt)


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
        "## Fragmentation",
        "",
        fragmentation_table(results, "github"),
        "",
        "Sizes in KiB; `eff. ratio` = original bytes / pool bytes; `alloc eff %` = "
        "compressed bytes / pool bytes.",
        "",
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
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"- `{c['compressor']['label']}`: {c['compressor'].get('library', '')}; "
                     f"dump `{c['dump']['name']}` ({c['dump']['pages']} pages, "
                     f"sha256 {c['dump']['sha256'][:16]}…)")
    lines += ["", "## Metrics", "", markdown_table()]
    return "\n".join(lines)
