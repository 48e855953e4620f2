"""``zbench report RESULTS [--html]``: the tables and plots of a run.

Markdown (default): ``report.md`` plus ``plots/*.png`` in the output directory
(default: beside RESULTS).  ``--html``: one self-contained ``report.html``, the
plots inlined as base64 PNG, no external resources.  Both hold the same sections:
:data:`SECTIONS` builds them in the order and with the titles of report.md
(:func:`zbench.report.tables.report_markdown`).  matplotlib is imported only here
(:mod:`zbench.report.plots`), never by ``zbench run``.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from zbench.api.errors import UserError
from zbench.api.safeio import PUBLIC, write_atomic
from zbench.report.tables import report_markdown
from zbench.run.results import dumps_json

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 0.4em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.none { text-align: center; color: #888; }
td.text { white-space: normal; min-width: 16em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.scroll { overflow-x: auto; }
.note { color: #444; font-size: 13px; max-width: 80em; }
code { background: #f4f4f4; padding: 0 2px; }
ul { font-size: 13px; }
figure { margin: 1em 0 2em; }
figcaption { font-size: 13px; color: #555; }
img { max-width: 100%; }
.meta { color: #555; font-size: 13px; }
"""


def _results_path(path: Path) -> Path:
    return path / "results.json" if path.is_dir() else path


#: (title, body, note): one section of the report; ``body`` is in the requested format
#: (a tabulate format: ``github`` for report.md, ``html`` here), ``note`` is prose in which
#: `backticks` mark names.
Section = tuple[str, str, str]
Builder = Callable[[dict[str, Any], str], list[Section]]

ALLOCATORS_NOTE = ("Pool pages after the workload (effective ratio = original bytes / pool "
                   "bytes); the kernel's own zram front end where the allocator brings one. "
                   "`↳ stored` / `↳ rejected` / `↳ written back`: the pages the allocators "
                   "stored, that zswap rejected and that it wrote back, where they differ.")
FRAGMENTATION_NOTE = ("Sizes in KiB; `eff. ratio` = original bytes / pool bytes; `alloc eff %` = "
                      "compressed bytes / pool bytes.")
ZSWAP_NOTE = "`—`: the counter does not exist in that kernel version."
MIGRATABILITY_NOTE = ("Page migration, evacuation of pageblocks, compaction and LRU reclaim "
                      "after the `migrate` workload (docs/migration.md).")


def _items(lines: list[str], fmt: str) -> str:
    """A bullet list: Markdown, or HTML (``lines`` are prose with `backticks`)."""
    if fmt != "html":
        return "\n".join(f"- {line}" for line in lines)
    return "<ul>" + "".join(f"<li>{_prose(line)}</li>" for line in lines) + "</ul>"


def _failed(results: dict[str, Any], fmt: str) -> list[Section]:
    from zbench.report.tables import FAILED_NOTE, failed_table

    ft = failed_table(results, fmt)
    return [("Failed cases", ft, FAILED_NOTE)] if ft else []


def _side_by_side(results: dict[str, Any], fmt: str) -> list[Section]:
    from zbench.report.tables import comparison_table

    ct = comparison_table(results, fmt)
    return [("Allocators side by side", ct, ALLOCATORS_NOTE)] if ct else []


def _fragmentation(results: dict[str, Any], fmt: str) -> list[Section]:
    from zbench.report.tables import fragmentation_table

    return [("Fragmentation", fragmentation_table(results, fmt), FRAGMENTATION_NOTE)]


def _latency(results: dict[str, Any], fmt: str) -> list[Section]:
    from zbench.report.latency import LATENCY_NOTE, LATENCY_TITLE, latency_table

    lt = latency_table(results, fmt)
    return [(LATENCY_TITLE, lt, LATENCY_NOTE)] if lt else []


def _reporters(results: dict[str, Any], fmt: str) -> list[Section]:
    from zbench.report.sections import sections

    out = sections(results, fmt)
    if fmt == "html":  # "failed: ..." / "(not rendered: ...)" are text, not markup
        out = [(t, body if body.lstrip().startswith("<") else f"<p>{html.escape(body)}</p>", n)
               for t, body, n in out]
    return out


def _zswap(results: dict[str, Any], fmt: str) -> list[Section]:
    from zbench.report.tables import zswap_table

    zt = zswap_table(results, fmt)
    return [("zswap counters", zt, ZSWAP_NOTE)] if zt else []


def _migratability(results: dict[str, Any], fmt: str) -> list[Section]:
    from zbench.report.migtable import (
        EXPLAIN,
        mapped_share,
        migratability_table,
        migratability_text,
    )

    if fmt != "html":
        text = migratability_text(results, fmt)
        return [("Migratability", f"{MIGRATABILITY_NOTE}\n\n{text}", "")] if text else []
    from zbench.report.migtable import rules_lines

    table = migratability_table(results, fmt)
    if table is None:
        return []
    body = (f"<p class=\"note\">{_prose(MIGRATABILITY_NOTE)}</p>{table}"
            f"<p class=\"note\">Migration rules followed:</p>{_items(rules_lines(results), fmt)}")
    return [("Migratability", body, EXPLAIN.format(mapped=mapped_share(results)))]


def _models(results: dict[str, Any], fmt: str) -> list[Section]:
    from zbench.report.tables import models_table

    return [("Models", models_table(results, fmt), "")]


def compressor_lines(results: dict[str, Any]) -> list[str]:
    """One line per compressor × dump the run used: library, dump name, pages, sha256."""
    lines, seen = [], set()
    for c in results["cases"]:
        key = (c["compressor"]["label"], c["dump"]["sha256"])
        if (c.get("failed") and "library" not in c["compressor"]) or key in seen:
            continue
        seen.add(key)
        lines.append(f"`{c['compressor']['label']}`: {c['compressor'].get('library', '')}; "
                     f"dump `{c['dump']['name']}` ({c['dump']['pages']} pages, "
                     f"sha256 {c['dump']['sha256'][:16]}…)")
    return lines


def _compressors(results: dict[str, Any], fmt: str) -> list[Section]:
    return [("Compressors and dumps", _items(compressor_lines(results), fmt), "")]


def _metrics(results: dict[str, Any], fmt: str) -> list[Section]:
    from tabulate import tabulate

    from zbench.api.metrics import METRICS, markdown_table

    if fmt != "html":
        return [("Metrics", markdown_table(), "")]
    rows = [[d.name, d.unit, d.meaning, d.better or "—", d.kind, d.source or "—"]
            for d in METRICS]
    table = tabulate(rows, headers=["metric", "unit", "meaning", "better", "kind",
                                    "kernel counter"], tablefmt="html", disable_numparse=True)
    return [("Metrics", table, "")]


#: Every section of the report in order, the same as report.md's (``tables.report_markdown``).
SECTIONS: tuple[Builder, ...] = (
    _failed, _side_by_side, _fragmentation, _latency, _reporters, _zswap, _migratability,
    _models, _compressors, _metrics)


def report_sections(results: dict[str, Any], fmt: str) -> list[Section]:
    """(title, body, note) of every section the results have, in report order."""
    return [sec for build in SECTIONS for sec in build(results, fmt)]


_NUM_CELL = re.compile(r"<td>(\s*[-+]?\d[\d.,]*\s*(?:%|x|±[^<]*|\([^<]*\))?\s*)</td>")
_NONE_CELL = re.compile(r"<td>(\s*—\s*)</td>")
_LONG_CELL = re.compile(r"<td>([^<]{40,})</td>")


def _align(table: str) -> str:
    """Numbers right-aligned in a tabulate HTML table, the "—" of a missing value
    centred; long prose may wrap, short cells do not."""
    table = _NUM_CELL.sub(r'<td class="num">\1</td>', table)
    table = _NONE_CELL.sub(r'<td class="none">\1</td>', table)
    return _LONG_CELL.sub(r'<td class="text">\1</td>', table)


def _anchor(title: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", title.lower())) or "section"


def _prose(text: str) -> str:
    """Escaped HTML of a note; `name` becomes <code>name</code>."""
    parts = html.escape(text, quote=False).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _meta(results: dict[str, Any]) -> str:
    env = results.get("environment") or {}
    git = env.get("git") or {}
    bits = [f"zbench {env.get('zbench_version', '?')}"]
    for key, label in (("python", "Python"), ("kernel", "kernel"), ("cpu_model", ""),
                       ("date", "")):
        if env.get(key):
            bits.append(f"{label} {env[key]}".strip())
    if git.get("commit"):
        bits.append(f"commit {git['commit'][:12]}{' (dirty)' if git.get('dirty') else ''}")
    return ", ".join(bits)


def render_html(results: dict[str, Any]) -> str:
    """One self-contained HTML page: every section of report.md (a ``<section>`` with an
    ``<h2>`` each, tables as HTML tables), then the plots inlined as base64 PNG."""
    from zbench.report.plots import make_plots

    name = html.escape(str((results.get("suite") or {}).get("name", "")))
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>zbench report: {name}</title><style>{_CSS}</style></head><body>",
             f"<h1>zbench report: {name}</h1>",
             f"<p class=\"meta\">{html.escape(_meta(results))}</p>"]
    ids: set[str] = set()
    for title, body, note in report_sections(results, "html"):
        anchor = base = _anchor(title)
        while anchor in ids:
            anchor = f"{base}-{len(ids)}"
        ids.add(anchor)
        parts.append(f"<section id=\"{anchor}\"><h2>{html.escape(title)}</h2>"
                     f"<div class=\"scroll\">{_align(body)}</div>")
        parts += [f"<p class=\"note\">{_prose(line)}</p>"
                  for line in note.splitlines() if line.strip()]
        parts.append("</section>")
    plots = make_plots(results)
    if plots:
        parts.append("<h2>Plots</h2>")
    for p in plots:
        data = base64.b64encode(p.png).decode("ascii")
        parts.append(f"<figure id=\"{p.name}\"><h3>{html.escape(p.title)}</h3>"
                     f"<img alt=\"{html.escape(p.title)}\" src=\"data:image/png;base64,{data}\">"
                     f"<figcaption>{html.escape(p.caption)}</figcaption></figure>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_markdown(results: dict[str, Any], out_dir: Path,
                   name: str = "report.md") -> tuple[Path, list[Path]]:
    """``name`` (the run's report plus the plots) and ``plots/*.png`` in ``out_dir``."""
    from zbench.report.plots import make_plots

    pngs = []
    lines = [report_markdown(results).rstrip("\n"), "", "## Plots", ""]
    for p in make_plots(results):
        path = out_dir / "plots" / f"{p.name}.png"
        write_atomic(path, p.png, PUBLIC)
        pngs.append(path)
        lines += [f"### {p.title}", "", f"![{p.title}](plots/{p.name}.png)", "", p.caption, ""]
    md = out_dir / name
    write_atomic(md, "\n".join(lines), PUBLIC)
    return md, pngs


@click.command("report")
@click.argument("results", type=click.Path(path_type=Path))
@click.option("--html", "as_html", is_flag=True,
              help="Write one self-contained report.html (plots inlined).")
@click.option("-o", "--out", type=click.Path(path_type=Path),
              help="Output file (FILE.html with --html, FILE.md without; plots go to plots/ "
                   "beside it), or a directory for report.md [default: beside RESULTS].")
def report_cmd(results: Path, as_html: bool, out: Path | None) -> None:
    """Render the tables and plots of a run (RESULTS: results.json or its directory):
    pool pages over the workload, compressed sizes with the class boundaries, per-class
    utilisation, latency distributions."""
    from zbench.report.compare import read

    path = _results_path(results)
    data = read(path)
    if data.get("baseline"):
        raise UserError(f"{path}: a baseline holds no run to report (report the run it was "
                        "made from)")
    if as_html:
        target = out or path.parent / "report.html"
        write_atomic(target, render_html(data), PUBLIC)
        click.echo(f"wrote {target}")
        return
    if out is not None and out.suffix.lower() == ".md":  # a file, not a folder named x.md
        md, pngs = write_markdown(data, out.parent, out.name)
    else:
        md, pngs = write_markdown(data, out or path.parent)
    click.echo(f"wrote {md} and {len(pngs)} plot{'s' * (len(pngs) != 1)} in {md.parent / 'plots'}")


def write_run(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``report.md`` into ``out_dir``, each atomically."""
    res = out_dir / "results.json"
    rep = out_dir / "report.md"
    text = dumps_json(results, str(res))
    report = report_markdown(results)
    write_atomic(res, text, PUBLIC)
    write_atomic(rep, report, PUBLIC)
    return res, rep
