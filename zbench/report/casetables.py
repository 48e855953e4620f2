"""The core's tables of a results mapping: the allocators side by side, fragmentation,
models, failed cases; and fitting tables and legends into the terminal's width.

:mod:`zbench.report.tables` puts them, with the other modules' tables and the
plugins' (:mod:`zbench.report.sections`), into the report's sections.
"""

from __future__ import annotations

import re
from typing import Any

from tabulate import tabulate

from zbench.report.sections import meaning, side_rows
from zbench.report.text import WIDTH, blen, wrap

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


#: What marks a sub-row of the side-by-side table.
SUB = "↳ "


def _sum(m: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    vals = [m[k] for k in keys if isinstance(m.get(k), int | float)]
    return int(sum(vals)) if vals else None


def side_by_side(results: dict[str, Any], metric: str = "pool_pages"
                 ) -> tuple[list[str], list[tuple[tuple[str, ...], dict[str, str]]]]:
    """Allocator labels, and rows ``((dump, compressor, front end, workload), {allocator:
    cell})``; under a row, the sub-rows (:func:`zbench.report.sections.side_rows`:
    ``↳ stored`` and the plugins', e.g. pages a front end rejected) whose sums differ
    between the allocators of the row: pool pages alone mislead when one allocator stored
    fewer pages."""
    allocs: list[str] = []
    rows: dict[tuple[str, ...], dict[str, str]] = {}
    ok: dict[tuple[str, ...], dict[str, dict[str, Any]]] = {}
    for c in results["cases"]:
        a = c["allocator"]["label"]
        if a not in allocs:
            allocs.append(a)
        fe = "" if c["frontend"]["name"] == c["allocator"]["name"] else c["frontend"]["label"]
        key: tuple[str, ...] = (c["dump"]["name"], c["compressor"]["label"], fe,
                                c["workload"]["label"])
        if c.get("skipped"):
            cell = "skipped"
        elif c.get("failed") or not isinstance(c.get("metrics"), dict):
            cell = "FAILED"
        else:
            m = c["metrics"]
            cell = f"{m.get(metric)} ({m.get('effective_ratio', 0):.2f}x)"
            ok.setdefault(key, {})[a] = m
        rows.setdefault(key, {})[a] = cell
    out: list[tuple[tuple[str, ...], dict[str, str]]] = []
    extra = side_rows()
    for key, cells in rows.items():
        out.append((key, cells))
        present = ok.get(key, {})
        for sub in extra:
            vals = {a: _sum(m, sub.keys) for a, m in present.items()}
            if len(present) > 1 and len(set(vals.values())) > 1:
                out.append(((key[0], key[1], key[2], SUB + sub.label),
                            {a: "—" if v is None else str(v) for a, v in vals.items()}))
    return allocs, out


def comparison_table(results: dict[str, Any], fmt: str = "simple",
                     metric: str = "pool_pages") -> str | None:
    """Allocators side by side: one row per (dump, compressor, front end, workload), one
    column per allocator, cells ``metric`` (pool pages) and effective ratio, with the
    sub-rows of :func:`side_by_side` under it.  ``None`` when there is only one
    allocator."""
    allocs, rows = side_by_side(results, metric)
    if len(allocs) < 2:
        return None
    headers = ["dump", "compressor", "front end", "workload", *allocs]
    body = [[*k, *(v.get(a, "") for a in allocs)] for k, v in rows]
    return tabulate(body, headers=headers, tablefmt=fmt, disable_numparse=True)


def fragmentation_table(results: dict[str, Any], fmt: str = "simple") -> str:
    headers, rows = fragmentation_rows(results)
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def model_rows(results: dict[str, Any]) -> list[list[str]]:
    """(label, kernel rules, simplifications) of every model that ran, once each."""
    seen: dict[tuple[str, str], str] = {}
    for c in results["cases"]:
        if c.get("skipped") or c.get("failed"):
            continue
        for kind in ("allocator", "frontend"):
            part = c[kind]
            key = (part["label"], part.get("kernel", ""))
            seen.setdefault(key, part.get("simplifications", ""))
    return [[label, kernel, simp] for (label, kernel), simp in seen.items()]


def models_table(results: dict[str, Any], fmt: str = "simple") -> str:
    rows = model_rows(results)
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


# --- the terminal: every table within WIDTH columns, a legend under each -----------------

def parse_simple(text: str) -> tuple[list[str], list[list[str]]] | None:
    """Headers and rows of a tabulate ``simple`` table (one line a row), read back by the
    column spans of its dashed rule; ``None`` when ``text`` is not one."""
    lines = text.splitlines()
    if len(lines) < 2 or not re.fullmatch(r"-+( +-+)*", lines[1]):
        return None
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    spans[-1] = (spans[-1][0], 1 << 30)

    def cells(line: str) -> list[str]:
        return [line[a:b].strip() for a, b in spans]

    return cells(lines[0]), [cells(ln) for ln in lines[2:] if ln.strip()]


def fit(headers: list[str], rows: list[list[Any]], keys: int, width: int | None = WIDTH
        ) -> str:
    """``rows`` as tabulate ``simple`` tables no wider than ``width``: key columns (the
    first ``keys``) that hold one value in every row become a caption line, and the other
    columns are split over as many tables as needed, each repeating the key columns."""
    if width is None or not rows:
        return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)
    cols = list(range(len(headers)))
    caption = []
    for i in range(keys):
        vals = {str(r[i]) for r in rows}
        if len(vals) == 1 and len(rows) > 1 and keys > 1:
            caption.append(f"{headers[i]}: {vals.pop()}")
            cols.remove(i)
    empty = [i for i in cols if i >= keys and all(str(r[i]) in ("—", "") for r in rows)]
    if empty:
        caption.append("not measured here: " + ", ".join(str(headers[i]) for i in empty))
        cols = [i for i in cols if i not in empty]
    key_cols = [i for i in cols if i < keys]

    def w(i: int) -> int:
        """Bytes the column takes: tabulate pads headers by 2 and puts 2 spaces between
        columns; a cell of multi-byte characters takes more bytes than columns."""
        cells = [str(headers[i]), *(str(r[i]) for r in rows)]
        chars = max(len(cells[0]) + 2, *(len(c) for c in cells[1:]))
        return chars + max(blen(c) - len(c) for c in cells) + 2

    groups: list[list[int]] = []
    used = sum(w(i) for i in key_cols)
    for i in (i for i in cols if i >= keys):
        if not groups or used + w(i) - 2 > width:
            groups.append([])
            used = sum(w(k) for k in key_cols)
        groups[-1].append(i)
        used += w(i)
    parts = []
    for g in groups or [[]]:
        sel = key_cols + g
        parts.append(tabulate([[r[i] for i in sel] for r in rows],
                              headers=[headers[i] for i in sel], tablefmt="simple",
                              disable_numparse=True))
    text = "\n\n".join(parts)
    return "; ".join(caption) + "\n" + text if caption else text


def fit_text(text: str, keys: int, width: int | None = WIDTH) -> str:
    """Every tabulate ``simple`` table inside ``text`` fitted (:func:`fit`), prose wrapped."""
    if width is None:
        return text
    out: list[str] = []
    blocks = text.split("\n\n")
    for block in blocks:
        parsed = parse_simple(block)
        out.append(fit(*parsed, keys, width) if parsed else wrap(block, width))
    return "\n\n".join(out)


def legend(pairs: list[tuple[str, str]], width: int | None = WIDTH) -> str:
    """``label: meaning; ...``, wrapped."""
    return wrap("; ".join(f"{label}: {meaning}" for label, meaning in pairs) + ".", width)


def terminal_side_by_side(results: dict[str, Any], width: int | None = WIDTH) -> str | None:
    """The side-by-side table, one table per front end with the allocators that ran
    behind it (``--wide``: one table, as in report.md)."""
    if width is None:
        return comparison_table(results)
    allocs, rows = side_by_side(results)
    if len(allocs) < 2:
        return None
    by_fe: dict[str, list[tuple[tuple[str, ...], dict[str, str]]]] = {}
    for key, cells in rows:
        by_fe.setdefault(key[2], []).append((key, cells))
    parts = []
    for fe, group in by_fe.items():
        cols = [a for a in allocs if any(a in cells for _, cells in group)]
        body = [[k[0], k[1], k[3], *(cells.get(a, "") for a in cols)] for k, cells in group]
        title = f"behind {fe}" if fe else "with their own front end"
        parts.append(f"{title}:\n" + fit(["dump", "compressor", "workload", *cols], body, 3,
                                         width))
    return "\n\n".join(parts)


CELLS = "pool pages after the workload (effective ratio = original bytes / pool bytes)"
#: What the front-end column leaves blank (report.md and the HTML report).
OWN_FRONTEND = "the kernel's own zram front end where the allocator brings one"


def _and(phrases: list[str]) -> str:
    """``a, b and c``."""
    return phrases[0] if len(phrases) < 2 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def side_note(sep: str = "; ") -> str:
    """The side-by-side table's note in report.md (``sep`` "; ") and the HTML report
    (". "): the cells, then what each sub-row counts."""
    rows = side_rows()
    marks = " / ".join(f"`{SUB}{r.label}`" for r in rows)
    return (f"{CELLS[0].upper()}{CELLS[1:]}; {OWN_FRONTEND}{sep}{marks}: the "
            f"{_and([r.meaning for r in rows])}, where they differ.")


def side_legend() -> list[tuple[str, str]]:
    """The terminal's legend pairs under the side-by-side table."""
    rows = side_rows()
    return [("cells", CELLS),
            (SUB + " / ".join(r.label for r in rows),
             f"{_and([r.meaning for r in rows])}, shown where they differ: compare pool "
             "pages with them")]


def terminal_fragmentation(results: dict[str, Any], width: int | None = WIDTH) -> str:
    if width is None:
        return fragmentation_table(results)
    headers, rows = fragmentation_rows(results)
    n = 5 + len(FRAG_COLUMNS)
    shown = [r[:n] for r in rows if not str(r[-1]).startswith("skipped")] if len(
        headers) > n else rows
    text = fit(headers[:n], shown, 5, width)
    skipped: dict[str, list[str]] = {}
    for r in rows:
        if len(r) > n and str(r[-1]).startswith("skipped"):
            skipped.setdefault(str(r[-1])[len("skipped: "):], []).append("/".join(r[:4]))
    for reason, ids in skipped.items():
        text += "\n" + wrap(f"skipped ({reason}): {', '.join(ids)}", width)
    return text


def fragmentation_legend(width: int | None = WIDTH) -> str:
    return legend([(label, meaning(k)) for k, label in FRAG_COLUMNS]
                  + [("KiB", "1024 bytes"), ("—", "not measured")], width)


def terminal_models(results: dict[str, Any], width: int | None = WIDTH) -> str:
    if width is None:
        return models_table(results)
    rows = model_rows(results)
    lw = max([len("model"), *(len(r[0]) for r in rows)])
    kw = min(40, max([len("kernel rules followed"), *(len(r[1]) for r in rows)]))
    return tabulate(rows, headers=["model", "kernel rules followed", "simplified"],
                    tablefmt="simple", maxcolwidths=[None, kw, max(20, width - lw - kw - 8)])
