"""The report's sections, in one order, for the terminal, report.md and the HTML report.

:data:`SECTIONS` lists every section once.  Each :class:`Part` says how the section is
built for a document (report.md: tabulate ``github``; the HTML report: ``html``) and for
the terminal (``simple`` tables fitted to :data:`WIDTH` columns, a legend under each);
a part that has nothing for the results yields no section.  Plugins' report tables
(:class:`zbench.api.reporter.ReportTable`) have their place in the list, after the
reporter sections.  The tables themselves come from :mod:`zbench.report.casetables`,
:mod:`zbench.report.latency`, :mod:`zbench.report.migtable`,
:mod:`zbench.report.verdict` and, for a suite's ``questions:``, :mod:`zbench.report.answers`.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from zbench.api.metrics import markdown_table
from zbench.report.answers import NOTE as ANSWERS_NOTE
from zbench.report.answers import TITLE as ANSWERS_TITLE
from zbench.report.answers import answers, terminal_answers
from zbench.report.casetables import (
    FAILED_NOTE,
    FRAG_COLUMNS,
    SUB,
    comparison_table,
    failed_rows,
    failed_table,
    fit,
    fit_text,
    fragmentation_legend,
    fragmentation_rows,
    fragmentation_table,
    legend,
    model_rows,
    models_table,
    parse_simple,
    side_by_side,
    side_legend,
    side_note,
    terminal_fragmentation,
    terminal_models,
    terminal_side_by_side,
)
from zbench.report.latency import LATENCY_NOTE, LATENCY_TITLE, latency_table
from zbench.report.migtable import (
    explain,
    migratability_rows,
    migratability_table,
    migratability_text,
    rules_lines,
)
from zbench.report.sections import meaning, metric_defs, sections, table_sections
from zbench.report.text import WIDTH, bullets, prose_html, wrap
from zbench.report.verdict import verdict_text

__all__ = [
    "FAILED_NOTE", "FRAG_COLUMNS", "SECTIONS", "SUB", "WIDTH", "Part", "Section",
    "comparison_table", "compressor_lines", "failed_rows", "failed_table", "fit", "fit_text",
    "fragmentation_rows", "fragmentation_table", "model_rows", "models_table", "parse_simple",
    "report_markdown", "report_sections", "side_by_side", "terminal_report",
]

#: (title, body, note): one section; in a document ``body`` is in the requested format
#: and ``note`` is prose in which `backticks` mark names; on the terminal both are text.
Section = tuple[str, str, str]
DocBuilder = Callable[[dict[str, Any], str], list[Section]]
TermBuilder = Callable[[dict[str, Any], int | None], list[Section]]

FRAGMENTATION_NOTE = ("Sizes in KiB; `eff. ratio` = original bytes / pool bytes; `alloc eff %` = "
                      "compressed bytes / pool bytes.")
MIGRATABILITY_NOTE = ("Page migration, evacuation of pageblocks, compaction and LRU reclaim "
                      "after the `migrate` workload (docs/migration.md).")


@dataclass(frozen=True)
class Part:
    """One section of the report: ``doc`` builds it for report.md and the HTML report,
    ``terminal`` for ``zbench run`` (``None``: not shown there).  ``terminal_last``: the
    terminal prints it after every other section (the failed cases, next to the error
    lines on stderr), where documents print it in its place."""

    name: str
    doc: DocBuilder | None
    terminal: TermBuilder | None
    terminal_last: bool = False


# -- each section, for documents and for the terminal ---------------------------------

def _verdict_term(results: dict[str, Any], width: int | None) -> list[Section]:
    v = verdict_text(results, width)
    return [("Verdict: which allocator did best", v, "")] if v else []


def _answers(results: dict[str, Any], fmt: str) -> list[Section]:
    body = answers(results, fmt)
    return [(ANSWERS_TITLE, body, ANSWERS_NOTE)] if body else []


def _answers_term(results: dict[str, Any], width: int | None) -> list[Section]:
    body = terminal_answers(results, width)
    return [(ANSWERS_TITLE, body, wrap(ANSWERS_NOTE.replace("`", ""), width))] if body else []


def _failed(results: dict[str, Any], fmt: str) -> list[Section]:
    ft = failed_table(results, fmt)
    return [("Failed cases", ft, FAILED_NOTE)] if ft else []


def _failed_term(results: dict[str, Any], width: int | None) -> list[Section]:
    frows = failed_rows(results)
    if not frows:
        return []
    cw = max(len("case"), *(len(r[0]) for r in frows))
    table = tabulate(frows, headers=["case", "failure", "reason"], tablefmt="simple",
                     disable_numparse=True,
                     maxcolwidths=[None, None, max(30, width - cw - 18)] if width else None)
    return [("Failed cases", table, wrap(FAILED_NOTE, width))]


def _side_by_side(results: dict[str, Any], fmt: str) -> list[Section]:
    ct = comparison_table(results, fmt)
    if not ct:
        return []
    if fmt == "html":
        return [("Allocators side by side", ct, side_note(". "))]
    return [("Allocators side by side", f"{side_note()}\n\n{ct}", "")]


def _side_by_side_term(results: dict[str, Any], width: int | None) -> list[Section]:
    ct = terminal_side_by_side(results, width)
    if not ct:
        return []
    return [("Allocators side by side: pool pages (effective ratio)", ct,
             legend(side_legend(), width))]


def _fragmentation(results: dict[str, Any], fmt: str) -> list[Section]:
    return [("Fragmentation", fragmentation_table(results, fmt), FRAGMENTATION_NOTE)]


def _fragmentation_term(results: dict[str, Any], width: int | None) -> list[Section]:
    return [("Fragmentation (deterministic; sizes in KiB)",
             terminal_fragmentation(results, width), fragmentation_legend(width))]


def _latency(results: dict[str, Any], fmt: str) -> list[Section]:
    lt = latency_table(results, fmt)
    return [(LATENCY_TITLE, lt, LATENCY_NOTE)] if lt else []


def _latency_term(results: dict[str, Any], width: int | None) -> list[Section]:
    lt = latency_table(results)
    if not lt:
        return []
    return [(f"{LATENCY_TITLE}: µs per page", fit_text(lt, 4, width),
             wrap(LATENCY_NOTE.replace("`", ""), width))]


def _reporters(results: dict[str, Any], fmt: str) -> list[Section]:
    out = sections(results, fmt)
    if fmt == "html":  # "failed: ..." / "(not rendered: ...)" are text, not markup
        out = [(t, body if body.lstrip().startswith("<") else f"<p>{html.escape(body)}</p>", n)
               for t, body, n in out]
    return out


def _reporters_term(results: dict[str, Any], width: int | None) -> list[Section]:
    return [(title, fit_text(table, 2, width), wrap(note, width) if note else "")
            for title, table, note in sections(results, "simple")]


def _plugin_tables(results: dict[str, Any], fmt: str) -> list[Section]:
    out = []
    for _cls, title, table, note in table_sections(results, fmt):
        if fmt == "html" and not table.lstrip().startswith("<"):
            table = f"<p>{html.escape(table)}</p>"
        out.append((title, table, note))
    return out


def _plugin_tables_term(results: dict[str, Any], width: int | None) -> list[Section]:
    out = []
    for cls, title, table, note in table_sections(results, "simple"):
        pairs = [(h, meaning(k)) for k, h in cls.columns] + list(cls.legend_extra)
        out.append((title, fit_text(table, cls.keys, width),
                    legend(pairs, width) if pairs else wrap(note.replace("`", ""), width)))
    return out


def _migratability(results: dict[str, Any], fmt: str) -> list[Section]:
    if fmt != "html":
        text = migratability_text(results, fmt)
        return [("Migratability", f"{MIGRATABILITY_NOTE}\n\n{text}", "")] if text else []
    table = migratability_table(results, fmt)
    if table is None:
        return []
    body = (f"<p class=\"note\">{prose_html(MIGRATABILITY_NOTE)}</p>{table}"
            f"<p class=\"note\">Migration rules followed:</p>"
            f"{bullets(rules_lines(results), fmt)}")
    return [("Migratability", body, explain(results))]


def _migratability_term(results: dict[str, Any], width: int | None) -> list[Section]:
    headers, rows = migratability_rows(results)
    if not rows:
        return []
    rules = "\n".join(["Migration rules followed:",
                       *(wrap("  " + ln, width) for ln in rules_lines(results))])
    table = fit(headers, rows, 3, width) if width else tabulate(
        rows, headers=headers, tablefmt="simple", disable_numparse=True)
    return [("Migratability (deterministic; docs/migration.md)", table,
             rules + "\n\n" + wrap(explain(results).replace("`", ""), width))]


def _models(results: dict[str, Any], fmt: str) -> list[Section]:
    return [("Models", models_table(results, fmt), "")]


def _models_term(results: dict[str, Any], width: int | None) -> list[Section]:
    return [("Models", terminal_models(results, width), "")]


def compressor_lines(results: dict[str, Any]) -> list[str]:
    """One line per compressor × dump (× page size it was read as) the run used: library,
    dump name, pages, sha256."""
    lines, seen = [], set()
    for c in results["cases"]:
        key = (c["compressor"]["label"], c["dump"]["sha256"], c["dump"].get("page_size"))
        if (c.get("failed") and "library" not in c["compressor"]) or key in seen:
            continue
        seen.add(key)
        lines.append(f"`{c['compressor']['label']}`: {c['compressor'].get('library', '')}; "
                     f"dump `{c['dump']['name']}` ({c['dump']['pages']} pages, "
                     f"sha256 {c['dump']['sha256'][:16]}…)")
    return lines


def _compressors(results: dict[str, Any], fmt: str) -> list[Section]:
    return [("Compressors and dumps", bullets(compressor_lines(results), fmt), "")]


def _metrics(results: dict[str, Any], fmt: str) -> list[Section]:
    defs = metric_defs()
    if fmt != "html":
        return [("Metrics", markdown_table(defs).rstrip("\n"), "")]
    rows = [[d.name, d.unit, d.meaning, d.better or "—", d.kind, d.source or "—"]
            for d in defs]
    table = tabulate(rows, headers=["metric", "unit", "meaning", "better", "kind",
                                    "kernel counter"], tablefmt="html", disable_numparse=True)
    return [("Metrics", table, "")]


#: Every section of the report, in order.
SECTIONS: tuple[Part, ...] = (
    Part("verdict", None, _verdict_term),
    Part("answers", _answers, _answers_term),  # only for a suite with questions:
    Part("failed", _failed, _failed_term, terminal_last=True),
    Part("side by side", _side_by_side, _side_by_side_term),
    Part("fragmentation", _fragmentation, _fragmentation_term),
    Part("latency", _latency, _latency_term),
    Part("reporters", _reporters, _reporters_term),
    Part("plugin tables", _plugin_tables, _plugin_tables_term),
    Part("migratability", _migratability, _migratability_term),
    Part("models", _models, _models_term),
    Part("compressors", _compressors, None),
    Part("metrics", _metrics, None),
)


def report_sections(results: dict[str, Any], fmt: str) -> list[Section]:
    """(title, body, note) of every document section the results have, in report order
    (``fmt``: ``github`` for report.md, ``html`` for the HTML report)."""
    return [sec for part in SECTIONS if part.doc for sec in part.doc(results, fmt)]


def terminal_sections(results: dict[str, Any], width: int | None) -> list[Section]:
    """(title, body, legend) of every terminal section, in terminal order."""
    parts = [p for p in SECTIONS if p.terminal and not p.terminal_last]
    parts += [p for p in SECTIONS if p.terminal and p.terminal_last]
    return [sec for part in parts if part.terminal for sec in part.terminal(results, width)]


def _header(results: dict[str, Any]) -> list[str]:
    env = results["environment"]
    git = env.get("git") or {}
    return [
        f"# zbench report: {results['suite'].get('name', '')}",
        "",
        f"zbench {env['zbench_version']}, Python {env['python']}, kernel {env['kernel']}, "
        f"{env['cpu_model']} ({env['cpu_count']} CPUs), {env['date']}"
        + (f", commit {git['commit'][:12]}{' (dirty)' if git.get('dirty') else ''}"
           if git.get("commit") else ""),
        "",
    ]


def report_markdown(results: dict[str, Any]) -> str:
    """report.md: the run's header, then every section of :data:`SECTIONS`."""
    lines = _header(results)
    for title, body, note in report_sections(results, "github"):
        lines += [f"## {title}", "", *([body] if body else []), ""]
        lines += [note, ""] if note else []
    return "\n".join(lines)


def terminal_report(results: dict[str, Any], wide: bool = False) -> str:
    """Everything ``zbench run`` prints after the cases: the verdict, then each table with
    its legend; each line within :data:`WIDTH` columns unless ``wide``."""
    out: list[str] = []
    for title, body, note in terminal_sections(results, None if wide else WIDTH):
        out.extend([f"\n{title}\n", body])
        if note:
            out.extend(["", note])
    return "\n".join(out)
