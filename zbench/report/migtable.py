"""The migratability table (terminal and report.md) from a results mapping.

One row per case that ran migration experiments (the ``migrate`` workload); the
rules each allocator's migration follows are listed under the table.  The core's
columns come first, then those plugins add (``ReportTable.migration_columns``, e.g. a
front end's LRU reclaim), each with its phrase in the legend.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from zbench.report.sections import migration_columns, migration_explains

#: The core's (metric, column header); "—": the case did not measure it.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("migrate_success_pct", "migr %"),
    ("migrate_objects_per_page", "objs/pg"),
    ("migrate_updates_per_page", "upd/pg"),
    ("migrate_reverse_lookups_per_page", "rlook/pg"),
    ("load_success_pct", "loaded %"),
    ("load_waited", "waited"),
    ("evac_emptied_pct", "evac %"),
    ("evac_pool_emptied_pct", "pool blk %"),
    ("evac_pinned_frames", "pinned"),
    ("pageblocks_mixed", "mixed blk"),
    ("compact_pages_per_mib", "cmp pg/MiB"),
)

EXPLAIN = (
    "`migr %`: pool pages migrated, nothing mapped (each copies one page, 4096 B); "
    "`objs/pg`, `upd/pg`, `rlook/pg`: per migrated page, objects moved, handle + index "
    "entries rewritten, reverse look-ups; `loaded %`: pool pages migrated while {mapped} of "
    "the stored objects were mapped (in-flight loads), `waited`: of those, migrations that "
    "first waited for an unmap; `evac %`: pageblocks emptied as CMA would (`pool blk %`: of "
    "those holding pool pages); `pinned`: pool pages that refused isolation; `mixed blk`: "
    "pageblocks holding movable and unmovable pages; `cmp pg/MiB`: pool pages freed by "
    "compaction per MiB it moved"
)
NOT_MEASURED = "`—`: not measured."


def columns() -> list[tuple[str, str]]:
    """The table's metric columns: :data:`COLUMNS`, then the plugins'."""
    return [*COLUMNS, *migration_columns()]


def explain(results: dict[str, Any]) -> str:
    """What the columns mean: :data:`EXPLAIN` (with the share of objects mapped during
    the loaded pass), the plugins' phrases, then what "—" means."""
    return "; ".join([EXPLAIN.format(mapped=mapped_share(results)), *migration_explains(),
                      NOT_MEASURED])


def _cell(value: Any) -> Any:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return value


def migratability_rows(results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    cols = columns()
    headers = ["allocator", "front end", "compressor", *[h for _, h in cols], "evac ms"]
    rows = []
    for c in results["cases"]:
        rec = c.get("migration")
        if c.get("skipped") or not rec:
            continue
        m = c["metrics"]
        rows.append([c["allocator"]["label"], c["frontend"]["label"], c["compressor"]["label"],
                     *[_cell(m.get(k)) for k, _ in cols],
                     _cell(rec.get("evacuation_ms"))])
    return headers, rows


def rules_lines(results: dict[str, Any]) -> list[str]:
    """``label: rules`` once per allocator / front-end pair that ran the experiments."""
    seen: dict[str, str] = {}
    for c in results["cases"]:
        rec = c.get("migration")
        if c.get("skipped") or not rec:
            continue
        seen.setdefault(c["allocator"]["label"], rec.get("rules", ""))
    return [f"{label}: {rules}" for label, rules in seen.items()]


def migratability_table(results: dict[str, Any], fmt: str = "simple") -> str | None:
    """The table, ``None`` when no case ran migration experiments."""
    headers, rows = migratability_rows(results)
    if not rows:
        return None
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def mapped_share(results: dict[str, Any]) -> str:
    for c in results["cases"]:
        if c.get("migration") and not c.get("skipped"):
            pct = c["workload"]["options"].get("mapped_pct")
            if pct is not None:
                return f"{pct:g} %"
    return "a share of the"


def migratability_text(results: dict[str, Any], fmt: str = "simple") -> str | None:
    """Table, the rules each row follows, and what the columns mean."""
    table = migratability_table(results, fmt)
    if table is None:
        return None
    bullet = "- " if fmt == "github" else "  "
    lines = [table, "", "Migration rules followed:"]
    lines += [f"{bullet}{line}" for line in rules_lines(results)]
    lines += ["", explain(results)]
    return "\n".join(lines)
