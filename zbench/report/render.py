"""``zbench report RESULTS [--html]``: the tables and plots of a run.

Markdown (default): ``report.md`` plus ``plots/*.png`` in the output directory
(default: beside RESULTS).  ``--html``: one self-contained ``report.html``, the
plots inlined as base64 PNG, no external resources.  Both hold the same sections,
in the order of :data:`zbench.report.tables.SECTIONS` (re-exported here), which the
terminal follows too.  matplotlib is imported only here
(:mod:`zbench.report.plots`), never by ``zbench run``.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

import click

from zbench.api.errors import UserError
from zbench.api.safeio import PUBLIC, write_atomic
from zbench.report.tables import SECTIONS, Section, report_markdown, report_sections
from zbench.report.text import prose_html
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


__all__ = ["SECTIONS", "Section", "render_html", "report_cmd", "report_sections",
           "write_markdown", "write_run"]


def _results_path(path: Path) -> Path:
    return path / "results.json" if path.is_dir() else path


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
        parts += [f"<p class=\"note\">{prose_html(line)}</p>"
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
